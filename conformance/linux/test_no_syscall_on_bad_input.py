"""Bad Python input to the file wrappers is rejected before any syscall (strace sees none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance._support import linux_only
from conformance._support.strace import bad_input_script, traced_window

pytestmark = linux_only

CALLS = [
    'L.openat(L.AT_FDCWD, "a\\0b", 0)',
    'L.openat("3", "/etc/passwd", 0)',
    'L.openat(L.AT_FDCWD, "/etc/passwd", 0, 0o177777)',
    'L.read(0, b"ro")',
    'L.read(-3, bytearray(1))',
    'L.write(1, "str")',
    'L.pread64(0, bytearray(4), -1)',
    'L.pread64(0, b"ro", 0)',
    'L.pwrite64(1, b"x", -7)',
    'L.close(-1)',
    'L.close(None)',
    'L.fstat("1")',
    'L.newfstatat(L.AT_FDCWD, None)',
    'L.statx(L.AT_FDCWD, "x\\0y")',
    'L.syscall_raw(L.NR["close"], "1")',
    'L.syscall_raw(L.NR["close"], 2**64)',
]

WATCHED = ("openat", "close", "read", "write", "pread64", "pwrite64", "newfstatat", "statx",
           "fstat")


@pytest.mark.covers("linux.openat", "linux.read", "linux.write", "linux.pread64",
                    "linux.pwrite64", "linux.close", "linux.fstat", "linux.newfstatat",
                    "linux.statx", "linux.syscall_raw")
def test_rejected_before_the_syscall(tmp_path: Path) -> None:
    lines = traced_window(bad_input_script('import vllsi.linux as L\n', CALLS), WATCHED, tmp_path)
    assert lines == [], "syscalls made for rejected input:\n" + "\n".join(lines)
