"""The ring accesses compile to the ordered instructions the io_uring protocol needs:
acquire loads and release stores (ldar/stlr on aarch64; plain moves on x86_64,
whose TSO already orders them). Checked on the built extension of the running
interpreter's architecture (so the aarch64 run under qemu checks ldar/stlr, even
though qemu-user cannot run io_uring itself)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from conformance._support import linux_only, skip
from vllsi import _platform

pytestmark = linux_only

EXPECT = {
    "x86_64": {"vllsi_uring_load_acquire": r"\bmov\s+\(%rdi\),%eax",
               "vllsi_uring_store_release": r"\bmov\s+%esi,\(%rdi\)"},
    "aarch64": {"vllsi_uring_load_acquire": r"\bldar\s+w0, \[x0\]",
                "vllsi_uring_store_release": r"\bstlr\s+w1, \[x0\]"},
}


def _objdump() -> str:
    arch = _platform.ARCH
    if arch not in EXPECT:
        skip("platform", f"no expectation for {arch}")
    for name in ([f"{arch}-linux-gnu-objdump"] if arch != "x86_64" else []) + ["objdump"]:
        path = shutil.which(name)
        if path:
            return path
    skip("environment", "objdump is not installed")
    raise AssertionError


@pytest.mark.covers("linux.io.IoUringDriver")
def test_ring_index_accesses_are_acquire_release() -> None:
    try:
        from vllsi.linux import _trampoline
    except ImportError:
        skip("environment", "native extension not built")
    objdump = _objdump()
    so = _trampoline.__file__
    for sym, pattern in EXPECT[_platform.ARCH].items():
        out = subprocess.run([objdump, "-d", f"--disassemble={sym}", so], capture_output=True,
                             text=True)
        if out.returncode != 0 or f"<{sym}>:" not in out.stdout:
            skip("environment", f"this objdump cannot disassemble {so}")
        body = out.stdout.split(f"<{sym}>:", 1)[1].split("\n\n", 1)[0]
        assert re.search(pattern, body), f"{sym}:\n{body}"
    if _platform.ARCH == "aarch64":
        from vllsi.linux import _fast

        dis = subprocess.run([objdump, "-d", _fast.__file__], capture_output=True,
                             text=True).stdout
        assert re.search(r"\bldar\b", dis) and re.search(r"\bstlr\b", dis)
