"""Bad Python input to durability is rejected before any syscall (strace sees none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance._support import linux_only
from conformance._support.strace import bad_input_script, traced_window

pytestmark = linux_only

WATCHED = ("openat", "close", "fsync", "fdatasync", "syncfs", "renameat2", "unlinkat",
           "newfstatat", "getrandom", "fchmod")


@pytest.mark.covers("durability.full_fsync", "durability.data_only_fsync",
                    "durability.sync_directory", "durability.atomic_write",
                    "durability.atomic_write_many")
def test_rejected_before_the_syscall(tmp_path: Path) -> None:
    code = bad_input_script("from vllsi import durability as D", [
        "D.full_fsync('3')", "D.full_fsync(-1)", "D.data_only_fsync(None)",
        "D.sync_directory('')", "D.sync_directory('a\\0b')", "D.atomic_write('/tmp/x', 'text')",
        "D.atomic_write('/tmp/', b'')", "D.atomic_write('/tmp/x', b'', mode=0o10000)",
        "D.atomic_write_many([('/tmp/x',)])", "D.atomic_write_many([('/tmp/x', 'text')])",
    ])
    lines = traced_window(code, WATCHED, tmp_path)
    assert lines == [], "syscalls made for rejected input:\n" + "\n".join(lines)
