"""Windows backend of :mod:`vllsi.locking`: LockFileEx / UnlockFileEx.

Windows locks belong to the *handle* (like Linux OFD locks to the open file
description), are **mandatory** (other handles' ReadFile/WriteFile into a locked
range fail with ERROR_LOCK_VIOLATION), and are not POSIX records: the OS neither
merges nor splits them, unlocking needs the exact (offset, length) of a lock,
and a handle conflicts with its own exclusive lock. To give the portable
contract, this backend keeps the ranges each handle holds (in this process) and:

- length 0 ("to EOF, including growth") locks the whole rest of the 64-bit
  range, ``[start, 2**64)``;
- locking a range this handle already holds with the same kind is a no-op;
  with the other kind it converts: shared -> exclusive releases the shared lock
  and takes the exclusive one (re-taking the shared lock if that fails, so a
  failed upgrade leaves the shared lock held; the switch is not atomic),
  exclusive -> shared takes the shared lock first, then releases the exclusive
  (Windows allows a handle's shared lock over its own exclusive one);
- unlocking releases every held lock inside the range and re-locks the parts of
  partly covered locks that lie outside it; unlocking bytes not held is not an
  error (as with fcntl).
The bookkeeping is per handle value: :func:`forget` drops it when vllsi closes the
handle (``file_ops.close``); a handle closed by other means while it holds vllsi
locks leaves stale entries (the OS released the locks), so close through vllsi.
Conflicts raise LockConflict (owner_pid -1: Windows does not say who). Timed
waits poll with backoff; ``timeout=None`` waits in LockFileEx. Windows has no
EINTR (PEP 475 retries do not apply).
"""

from __future__ import annotations

import errno as _errno
import threading
import time

from vllsi import errors
from vllsi.windows import consts as C
from vllsi.windows import kernel32

_END = 1 << 64
_EX = C.LOCKFILE_EXCLUSIVE_LOCK
_NOW = C.LOCKFILE_FAIL_IMMEDIATELY
_held: dict[int, dict[tuple[int, int], int]] = {}  # handle -> {(start, end): kind}
_mutex = threading.Lock()


def _end(start: int, length: int) -> int:
    return _END if length == 0 else start + length


def _os_lock(fd: int, start: int, end: int, kind: int, wait: bool) -> None:
    flags = (_EX if kind == 2 else 0) | (0 if wait else _NOW)
    kernel32.lock_file_ex(fd, start, min(end - start, _END - 1), flags)


def _os_unlock(fd: int, start: int, end: int) -> None:
    kernel32.unlock_file_ex(fd, start, min(end - start, _END - 1))


def _acquire(fd: int, start: int, end: int, kind: int, wait: bool) -> None:
    with _mutex:
        mine = _held.setdefault(fd, {})
        have = mine.get((start, end))
    if have == kind:
        return
    if have is None:
        _os_lock(fd, start, end, kind, wait)
    elif kind == 1:  # exclusive -> shared: shared over own exclusive, then drop it
        _os_lock(fd, start, end, 1, wait)
        _os_unlock(fd, start, end)
    else:  # shared -> exclusive
        _os_unlock(fd, start, end)
        try:
            _os_lock(fd, start, end, 2, wait)
        except BaseException:
            _os_lock(fd, start, end, 1, False)
            raise
    with _mutex:
        _held.setdefault(fd, {})[(start, end)] = kind


def _release(fd: int, start: int, end: int) -> None:
    with _mutex:
        mine = _held.get(fd, {})
        hit = [(s, e, k) for (s, e), k in mine.items() if s < end and start < e]
    for s, e, k in hit:
        _os_unlock(fd, s, e)
        with _mutex:
            mine.pop((s, e), None)
        for ps, pe in ((s, start), (end, e)):
            if ps < pe:  # the part outside the unlocked range stays locked
                _os_lock(fd, ps, pe, k, False)
                with _mutex:
                    mine[(ps, pe)] = k
    if not mine:
        with _mutex:
            _held.pop(fd, None)


def forget(fd: int) -> None:
    """Drop the bookkeeping of handle ``fd`` (it is being closed: the OS releases its locks)."""
    with _mutex:
        _held.pop(fd, None)


def try_set_lock(fd: int, start: int, length: int, kind: int) -> None:
    """LockFileEx(FAIL_IMMEDIATELY) for kind 1/2, UnlockFileEx for kind 0."""
    end = _end(start, length)
    if kind == 0:
        _release(fd, start, end)
    else:
        _acquire(fd, start, end, kind, False)


def set_lock(fd: int, start: int, length: int, kind: int, timeout: float | None) -> None:
    """LockFileEx waiting in the kernel (timeout None), or FAIL_IMMEDIATELY polled
    with backoff until ``timeout`` seconds -> TimedOut."""
    end = _end(start, length)
    if timeout is None:
        _acquire(fd, start, end, kind, True)
        return
    deadline = time.monotonic() + timeout
    pause = 0.0005
    while True:
        try:
            _acquire(fd, start, end, kind, False)
            return
        except errors.LockConflict:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            raise errors.from_errno(_errno.ETIMEDOUT, syscall="LockFileEx",
                                    cls=errors.TimedOut,
                                    message=f"lock not acquired within {timeout} s")
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)


def get_lock_owner(fd: int, start: int, length: int, kind: int) -> int | None:
    """None if a lock of ``kind`` could be placed now (probed with LockFileEx
    FAIL_IMMEDIATELY and released at once), else -1: Windows does not name owners."""
    end = _end(start, length)
    try:
        _os_lock(fd, start, end, kind, False)
    except errors.LockConflict:
        return -1
    _os_unlock(fd, start, end)
    return None
