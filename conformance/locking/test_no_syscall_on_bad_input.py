"""Bad Python input to locking is rejected before any syscall (strace sees none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance._support import linux_only
from conformance._support.strace import bad_input_script, traced_window

pytestmark = linux_only


@pytest.mark.covers("locking.try_lock", "locking.lock", "locking.try_lock_region",
                    "locking.unlock_region", "locking.try_lock_byte_exclusive",
                    "locking.try_lock_byte_shared", "locking.LockRegion", "locking.unlock")
def test_rejected_before_the_syscall(tmp_path: Path) -> None:
    code = bad_input_script(
        "from vllsi import locking as L\nfd = os.open('/dev/null', 0)\n"
        "R, EX = L.LockRegion(0, 1), L.LockKind.Exclusive", [
            "L.try_lock(fd, R, 'x')", "L.try_lock(fd, (0, -5), EX)", "L.try_lock('3', R, EX)",
            "L.try_lock(fd, 5, EX)", "L.lock(fd, R, EX, timeout=-1)",
            "L.lock(fd, R, EX, timeout='1')", "L.try_lock_region(fd, EX, -1, 1)",
            "L.unlock_region(fd, 0, -3)", "L.try_lock_byte_exclusive(fd, -1)",
            "L.try_lock_byte_shared(fd, 2**63)", "L.LockRegion(-1, 1)", "L.unlock('h')",
        ])
    lines = traced_window(code, ("fcntl",), tmp_path)
    assert lines == [], "syscalls made for rejected input:\n" + "\n".join(lines)
