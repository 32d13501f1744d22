"""Build and run small C programs at test time (oracles from the host headers)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from conformance._support import skip
from vllsi import _platform


def native_cc() -> str:
    """Path of a C compiler that targets this interpreter's arch, or skip (environment)."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        skip("environment", "no C compiler on this machine")
    assert cc is not None
    machine = subprocess.run([cc, "-dumpmachine"], capture_output=True, text=True).stdout
    arch = {"amd64": "x86_64"}.get(_platform.ARCH, _platform.ARCH)
    if not machine.startswith(arch):
        skip("environment", f"the C compiler targets {machine.strip()}, not {arch}")
    return cc


def run_c(source: str, *, args: tuple[str, ...] = ()) -> str:
    """Compile ``source`` as a program, run it, return its stdout."""
    cc = native_cc()
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "t.c"), os.path.join(d, "t")
        with open(src, "w") as f:
            f.write(source)
        subprocess.run([cc, "-O0", "-o", exe, src, *args], check=True, capture_output=True)
        return subprocess.run([exe], check=True, capture_output=True, text=True).stdout


def build_shared(source: str, path: str) -> str:
    """Compile ``source`` into a shared library at ``path``."""
    cc = native_cc()
    src = path + ".c"
    with open(src, "w") as f:
        f.write(source)
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", path, src, "-ldl"], check=True,
                   capture_output=True)
    return path
