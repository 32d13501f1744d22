"""Bad Python input is rejected before any syscall: strace sees none of the wrapped calls."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance._support import UNDER_QEMU, linux_only, skip
from conformance._support.cc import python_argv

pytestmark = linux_only

CHILD = r"""
import os, vllsi.linux as L
bad = [
    lambda: L.openat(L.AT_FDCWD, "a\0b", 0), lambda: L.openat("3", "/etc/passwd", 0),
    lambda: L.openat(L.AT_FDCWD, "/etc/passwd", 0, 0o177777),
    lambda: L.read(0, b"ro"), lambda: L.read(-3, bytearray(1)),
    lambda: L.write(1, "str"), lambda: L.pread64(0, bytearray(4), -1),
    lambda: L.pread64(0, b"ro", 0), lambda: L.pwrite64(1, b"x", -7),
    lambda: L.close(-1), lambda: L.close(None), lambda: L.fstat("1"),
    lambda: L.newfstatat(L.AT_FDCWD, None), lambda: L.statx(L.AT_FDCWD, "x\0y"),
    lambda: L.syscall_raw(L.NR["close"], "1"), lambda: L.syscall_raw(L.NR["close"], 2**64),
]
for f in bad:  # warm every code path first (imports, cffi types)
    try: f()
    except (TypeError, ValueError): pass
os.write(2, b"<<BEGIN>>")
for f in bad:
    try:
        f()
    except (TypeError, ValueError):
        pass
    else:
        raise SystemExit("accepted bad input")
os.write(2, b"<<END>>")
"""

WATCHED = ("openat", "close", "read", "write", "pread64", "pwrite64", "newfstatat", "statx",
           "fstat")


@pytest.mark.covers("linux.openat", "linux.read", "linux.write", "linux.pread64",
                    "linux.pwrite64", "linux.close", "linux.fstat", "linux.newfstatat",
                    "linux.statx", "linux.syscall_raw")
def test_rejected_before_the_syscall(tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        skip("environment", "strace is not installed")
    if UNDER_QEMU:
        skip("environment", "strace would trace qemu's host syscalls, not the guest's")
    log = tmp_path / "trace"
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([strace, "-f", "-qq", "-o", str(log), "-e", "trace=" + ",".join(
        ("write", *WATCHED)), *python_argv("-c", CHILD)], cwd=root, env=dict(os.environ),
        capture_output=True, text=True)
    if r.returncode != 0 and "ptrace" in r.stderr:
        skip("privilege", f"strace cannot attach: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, r.stderr
    text = log.read_text()
    assert "<<BEGIN>>" in text and "<<END>>" in text
    window = text.split("<<BEGIN>>", 1)[1].split("<<END>>", 1)[0]
    lines = [ln for ln in window.splitlines()[1:-1] if ln.strip()]
    assert lines == [], "syscalls made for rejected input:\n" + "\n".join(lines)
