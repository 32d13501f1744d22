"""Linux backend of :mod:`vllsi.locking`: open-file-description (OFD) locks.

``fcntl(F_OFD_SETLK / F_OFD_SETLKW / F_OFD_GETLK)`` with a ``struct flock``
(asm-generic layout, SEEK_SET). Kinds: 0 unlock, 1 shared, 2 exclusive. Length 0
means "to the end of the file, however far it grows". Tier asm builds the struct
on the C stack (``_fast.ofd_setlk``, ``_fast.fcntl_flock``); tier libc goes through cffi.
"""

from __future__ import annotations

import errno as _errno
import time
from collections.abc import Callable

from vllsi import errors
from vllsi.linux import _syscall as _s
from vllsi.linux import fs

_TYPE = (fs.F_UNLCK, fs.F_RDLCK, fs.F_WRLCK)
_CONFLICT = frozenset({_errno.EAGAIN, _errno.EACCES})
_EINTR = -_errno.EINTR



def _raw_cffi(fd: int, cmd: int, typ: int, start: int, length: int) -> int:
    try:
        fs.fcntl_lock(fd, cmd, fs.Flock(typ, fs.SEEK_SET, start, length, 0))
    except errors.VllsiError as exc:
        return -(exc.errno or _errno.EIO)
    return 0


_raw: Callable[[int, int, int, int, int], int] = _raw_cffi
if _s.TIER == "asm":
    from vllsi.linux import _fast

    _raw = _fast.fcntl_flock


def _conflict_error(code: int) -> errors.VllsiError:
    if code in _CONFLICT:
        return errors.from_errno(code, syscall="fcntl", cls=errors.LockConflict,
                                 message="byte-range lock held by another owner")
    return errors.from_errno(code, syscall="fcntl")


def _fail(r: int) -> errors.VllsiError:
    return _conflict_error(-r)


def _try_set_lock(fd: int, start: int, length: int, kind: int) -> None:
    """F_OFD_SETLK: one attempt; LockConflict (owner_pid unset) on conflict;
    EINTR: Python handlers run, then the call is retried."""
    typ = _TYPE[kind]
    r = _raw(fd, fs.F_OFD_SETLK, typ, start, length)
    while r < 0:
        if r != _EINTR:
            raise _fail(r)
        r = _raw(fd, fs.F_OFD_SETLK, typ, start, length)


try_set_lock: Callable[[int, int, int, int], None] = _try_set_lock
if _s.TIER == "asm":
    _s.c_error_rule("fcntl", _conflict_error)  # fcntl from C: only this lock path
    try_set_lock = _fast.ofd_setlk  # the same, with the struct on the C stack


def set_lock(fd: int, start: int, length: int, kind: int, timeout: float | None) -> None:
    """F_OFD_SETLKW (timeout None), or a F_OFD_SETLK poll with backoff until
    ``timeout`` seconds (the kernel has no timed lock wait); expiry -> TimedOut.
    EINTR: Python handlers run (and may raise), then the wait resumes."""
    typ = _TYPE[kind]
    if timeout is None:
        while True:
            r = _raw(fd, fs.F_OFD_SETLKW, typ, start, length)
            if r >= 0:
                return
            if r != _EINTR:
                raise _fail(r)
    deadline = time.monotonic() + timeout
    pause = 0.0005
    while True:
        r = _raw(fd, fs.F_OFD_SETLK, typ, start, length)
        if r >= 0:
            return
        if r != _EINTR and -r not in _CONFLICT:
            raise _fail(r)
        left = deadline - time.monotonic()
        if left <= 0:
            raise errors.from_errno(_errno.ETIMEDOUT, syscall="fcntl", cls=errors.TimedOut,
                                    message=f"lock not acquired within {timeout} s")
        time.sleep(min(pause, left))  # PEP 475: sleep resumes after handlers
        pause = min(pause * 2, 0.05)


def get_lock_owner(fd: int, start: int, length: int, kind: int) -> int | None:
    """F_OFD_GETLK: None if a lock of ``kind`` could be placed now; else the pid of
    a conflicting classic (process-owned) lock, or -1 for an OFD lock (the kernel
    does not say whose)."""
    got = fs.fcntl_lock(fd, fs.F_OFD_GETLK, fs.Flock(_TYPE[kind], fs.SEEK_SET, start,
                                                     length, 0))
    if got.l_type == fs.F_UNLCK:
        return None
    return int(got.l_pid) if got.l_pid > 0 else -1

