"""SQLite's five-state file-locking protocol on vllsi's byte-range locks.

A database file is locked by byte ranges far beyond any real data (so the bytes
never need to exist), at SQLite's own offsets:

- ``PENDING_BYTE`` 0x40000000: a *write* lock here announces a writer waiting
  for readers to leave (no new reader may start); a reader takes a short
  *shared* lock here before taking its read lock, so a pending writer blocks it.
- ``RESERVED_BYTE`` 0x40000001: write-locked by the one connection that
  intends to write (RESERVED); readers may continue.
- ``SHARED_FIRST`` 0x40000002 .. +``SHARED_SIZE`` (510 bytes): read-locked as a
  whole by every reader (SHARED); write-locked as a whole by the writer
  (EXCLUSIVE).

The transitions follow SQLite's ``os_unix.c`` (``unixLock``/``posixUnlock``/
``unixCheckReservedLock``):

- UNLOCKED -> SHARED: read-lock PENDING (shared, not exclusive: two readers
  starting together must not collide), read-lock the SHARED range, drop PENDING.
  Conflict on either step: stay UNLOCKED.
- SHARED -> RESERVED: write-lock RESERVED. Conflict: stay SHARED.
- RESERVED -> EXCLUSIVE: write-lock PENDING (state PENDING), then
  write-lock the SHARED range. If the second step conflicts, the state stays
  PENDING with PENDING held (new readers are kept out) and a later
  ``lock(EXCLUSIVE)`` retries only the second step. ``lock(PENDING)`` performs
  just the first step (SQLite does it only on the way to EXCLUSIVE).
- unlock to SHARED: read-lock the SHARED range (downgrading a write lock
  atomically), then unlock PENDING and RESERVED. To UNLOCKED: unlock everything.
- ``check_reserved()``: True if this connection holds RESERVED or more, else
  whether anyone holds a lock that conflicts with a write lock on RESERVED
  (F_OFD_GETLK / F_GETLK, no lock taken).

On Linux the locks are OFD locks; the stdlib ``sqlite3`` uses classic POSIX
locks, and the two kinds conflict across processes, so a :class:`SqliteLock`
and a real SQLite connection in another process exclude each other in every
state. (Within one process, OFD locks held through separate ``open()`` calls
also exclude each other, unlike SQLite's own per-process bookkeeping.) On
Windows SQLite's ``os_win.c`` uses a different scheme (a random byte of the
SHARED range); interoperation there is not claimed.
"""

from __future__ import annotations

import enum
from typing import Any, Final

from vllsi import errors
from vllsi import locking as _locking

__all__ = [
    "PENDING_BYTE",
    "RESERVED_BYTE",
    "SHARED_FIRST",
    "SHARED_SIZE",
    "LockState",
    "SqliteLock",
]

PENDING_BYTE: Final = 0x40000000
RESERVED_BYTE: Final = PENDING_BYTE + 1
SHARED_FIRST: Final = PENDING_BYTE + 2
SHARED_SIZE: Final = 510

_UN, _SH, _EX = 0, 1, 2  # backend kinds: unlock, shared (F_RDLCK), exclusive (F_WRLCK)


class LockState(enum.IntEnum):
    """SQLite's lock levels, with SQLite's own numbering (sqlite3.h SQLITE_LOCK_*)."""

    UNLOCKED = 0
    SHARED = 1
    RESERVED = 2
    PENDING = 3
    EXCLUSIVE = 4


class SqliteLock:
    """The lock state machine of one SQLite database file descriptor.

    ``SqliteLock(fd)``; ``.state`` is a :class:`LockState`; a context manager
    that releases to UNLOCKED on exit. The descriptor stays the caller's.
    """

    def __init__(self, fd: Any) -> None:
        self._fd = _locking._fd(fd)
        self.state = LockState.UNLOCKED

    @property
    def fd(self) -> int:
        return self._fd

    def _set(self, start: int, length: int, kind: int) -> None:
        _locking._try_set(self._fd, start, length, kind)

    def _take(self, start: int, length: int, kind: int) -> None:
        try:
            self._set(start, length, kind)
        except errors.VllsiError as exc:
            _locking._conflict(exc, self._fd, start, length, kind)
            raise

    def lock(self, state: LockState) -> None:
        """fcntl(F_OFD_SETLK) steps of SQLite's unixLock: raise the lock to ``state``.

        Args: state: SHARED, RESERVED, PENDING or EXCLUSIVE. A state at or below
            the current one is a no-op.
        Raises: LockConflict (SQLITE_BUSY) with the state left where SQLite
            leaves it (see the module docstring); ValueError for a transition
            SQLite's pager never makes (UNLOCKED -> above SHARED; PENDING or
            EXCLUSIVE below RESERVED);
            BadDescriptor/EBADF and other VllsiError from the OS.
        Availability: all (interoperation with SQLite: Linux, macOS).
        """
        target = _state(state)
        cur = self.state
        if target <= cur:
            return
        if cur == LockState.UNLOCKED and target != LockState.SHARED:
            raise ValueError(f"UNLOCKED -> {target.name}: take SHARED first")
        if target >= LockState.PENDING and cur < LockState.RESERVED:
            raise ValueError(f"{cur.name} -> {target.name}: take RESERVED first")
        if target == LockState.SHARED:
            self._take(PENDING_BYTE, 1, _SH)
            try:
                self._take(SHARED_FIRST, SHARED_SIZE, _SH)
            finally:
                self._set(PENDING_BYTE, 1, _UN)
            self.state = LockState.SHARED
            return
        if target == LockState.RESERVED:
            self._take(RESERVED_BYTE, 1, _EX)
            self.state = LockState.RESERVED
            return
        if cur < LockState.PENDING:
            self._take(PENDING_BYTE, 1, _EX)
            self.state = LockState.PENDING
        if target == LockState.EXCLUSIVE:
            self._take(SHARED_FIRST, SHARED_SIZE, _EX)
            self.state = LockState.EXCLUSIVE

    def unlock(self, state: LockState = LockState.UNLOCKED) -> None:
        """fcntl(F_OFD_SETLK) steps of SQLite's posixUnlock: lower the lock to ``state``.

        Args: state: SHARED or UNLOCKED (a state at or above the current one is a
            no-op).
        Raises: ValueError for another state; VllsiError from the OS (the state is
            then left unchanged, as SQLite reports SQLITE_IOERR_UNLOCK).
        Availability: all.
        """
        target = _state(state)
        if target not in (LockState.SHARED, LockState.UNLOCKED):
            raise ValueError("unlock goes to SHARED or UNLOCKED")
        if target >= self.state:
            return
        if self.state > LockState.SHARED:
            if target == LockState.SHARED:
                self._set(SHARED_FIRST, SHARED_SIZE, _SH)
            self._set(PENDING_BYTE, 2, _UN)
            self.state = LockState.SHARED
        if target == LockState.UNLOCKED:
            self._set(0, 0, _UN)
            self.state = LockState.UNLOCKED

    def check_reserved(self) -> bool:
        """fcntl(F_OFD_GETLK) on RESERVED_BYTE: does any connection hold RESERVED or more?

        True at once if this one does; else asks the OS whether a write lock on
        RESERVED_BYTE would conflict (no lock is taken).
        Raises: BadDescriptor/EBADF and other VllsiError. Availability: all.
        """
        if self.state >= LockState.RESERVED:
            return True
        return _locking._impl.get_lock_owner(self._fd, RESERVED_BYTE, 1, _EX) is not None

    def __enter__(self) -> SqliteLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlock(LockState.UNLOCKED)

    def __repr__(self) -> str:
        return f"SqliteLock(fd={self._fd}, state={self.state.name})"


def _state(state: Any) -> LockState:
    if isinstance(state, bool) or not isinstance(state, int):
        raise TypeError(f"state must be a LockState, not {type(state).__name__}")
    try:
        return LockState(state)
    except ValueError:
        raise ValueError(f"{state!r} is not a LockState") from None
