"""Bad Python input to file_ops is rejected before any syscall (strace sees none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance._support import linux_only
from conformance._support.strace import bad_input_script, traced_window

pytestmark = linux_only

WATCHED = ("openat", "close", "pread64", "pwrite64", "preadv2", "pwritev2", "preadv", "pwritev",
           "ftruncate", "newfstatat", "faccessat2", "faccessat", "getrandom", "unlinkat",
           "mkdirat", "renameat2")


@pytest.mark.covers("file_ops.pread", "file_ops.pwrite", "file_ops.pread_exact",
                    "file_ops.pwrite_all", "file_ops.preadv", "file_ops.pwritev",
                    "file_ops.file_size", "file_ops.truncate", "file_ops.access",
                    "file_ops.random_bytes", "file_ops.open", "file_ops.remove",
                    "file_ops.mkdir", "file_ops.rename", "file_ops.write_all")
def test_rejected_before_the_syscall(tmp_path: Path) -> None:
    code = bad_input_script("from vllsi import file_ops as F\nfd = os.open('/dev/null', 0)", [
        "F.pread(fd, b'read-only', 0)", "F.pread(fd, bytearray(4), -1)",
        "F.pread('3', bytearray(4), 0)", "F.pwrite(fd, b'x', -2)", "F.pwrite(fd, 'text', 0)",
        "F.pread_exact(fd, b'ro', 0)", "F.pwrite_all(fd, b'x', -1)",
        "F.preadv(fd, [b'ro'], 0)", "F.preadv(fd, bytearray(3), 0)",
        "F.pwritev(fd, [b'x'], -1)", "F.pwritev(fd, [b'x'], 0, -1)", "F.file_size(None)",
        "F.truncate(fd, -1)", "F.access('/', 8)", "F.access('a\\0b', 0)",
        "F.random_bytes(b'ro')", "F.open('/x', 1 << 20)", "F.open('', 0)",
        "F.open('/x', F.OpenFlags.WRITE | F.OpenFlags.READ_WRITE)", "F.remove(None)",
        "F.mkdir('/x', 0o17777)", "F.rename('a', 'b\\0')", "F.write_all('/x', 'text')",
    ])
    lines = traced_window(code, WATCHED, tmp_path)
    assert lines == [], "syscalls made for rejected input:\n" + "\n".join(lines)
