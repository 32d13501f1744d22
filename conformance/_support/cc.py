"""Build and run small C programs at test time (oracles from the host headers).

Natively the host gcc builds and the program runs directly. Under qemu-user
(aarch64 runs of the suite) the cross compiler ``<arch>-linux-gnu-gcc`` builds
against the emulated interpreter's sysroot and the program runs through
``$VL_QEMU_PREFIX`` (there is no binfmt_misc here).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile

from conformance._support import UNDER_QEMU, skip
from vllsi import _platform


def _arch() -> str:
    return {"amd64": "x86_64"}.get(_platform.ARCH, _platform.ARCH)


def compiler() -> list[str]:
    """The compiler command (with flags) for this interpreter's arch, or skip."""
    if UNDER_QEMU:
        cc = shutil.which(f"{_arch()}-linux-gnu-gcc")
        sysroot = os.environ.get("QEMU_LD_PREFIX")
        if cc is None or not sysroot:
            skip("environment", f"no {_arch()} cross compiler for the emulated interpreter")
        assert cc is not None
        return [cc, f"--sysroot={sysroot}"]
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        skip("environment", "no C compiler on this machine")
    assert cc is not None
    machine = subprocess.run([cc, "-dumpmachine"], capture_output=True, text=True).stdout
    if not machine.startswith(_arch()):
        skip("environment", f"the C compiler targets {machine.strip()}, not {_arch()}")
    return [cc]


def run_prefix() -> list[str]:
    """Argv prefix that runs a target-arch program (empty natively)."""
    return shlex.split(os.environ["VL_QEMU_PREFIX"]) if UNDER_QEMU else []


def native_cc() -> str:
    """Path of the C compiler (see :func:`compiler`)."""
    return compiler()[0]


def run_c(source: str, *, args: tuple[str, ...] = ()) -> str:
    """Compile ``source`` as a program, run it, return its stdout."""
    cc = compiler()
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "t.c"), os.path.join(d, "t")
        with open(src, "w") as f:
            f.write(source)
        subprocess.run([*cc, "-O0", "-o", exe, src, *args], check=True, capture_output=True)
        return subprocess.run([*run_prefix(), exe], check=True, capture_output=True,
                              text=True).stdout


def build_shared(source: str, path: str) -> str:
    """Compile ``source`` into a shared library at ``path``."""
    cc = compiler()
    src = path + ".c"
    with open(src, "w") as f:
        f.write(source)
    subprocess.run([*cc, "-shared", "-fPIC", "-O1", "-o", path, src, "-ldl"], check=True,
                   capture_output=True)
    return path


def python_argv(*args: str, env_for_guest: dict[str, str] | None = None) -> list[str]:
    """Argv that starts this interpreter (through qemu when emulated). ``env_for_guest``
    sets variables for the emulated program only (qemu ``-E``), e.g. LD_PRELOAD."""
    import sys

    if UNDER_QEMU:
        pre = run_prefix()
        extra = [x for k, v in (env_for_guest or {}).items() for x in ("-E", f"{k}={v}")]
        return [pre[0], *extra, *pre[1:], sys.executable, *args]
    return [sys.executable, *args]
