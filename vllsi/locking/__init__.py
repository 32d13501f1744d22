"""Advisory byte-range file locks that behave the same way on every OS.

Three kinds of file lock exist on POSIX systems, and they differ in who owns the
lock:

- **Classic POSIX record locks** (``fcntl(F_SETLK)``, ``lockf``) belong to the
  *process*. Two descriptors of one file in one process never conflict (the
  second lock silently "succeeds" and merges), and closing *any* descriptor of
  the file releases *all* of the process's locks on it, even ones taken
  through another descriptor a library still uses. Locks are not inherited by
  ``fork()`` children. This is SQLite's long-standing complaint.
- **BSD ``flock()``** locks belong to the *open file description*, but cover
  only the whole file (no byte ranges), are inherited across ``fork()`` (the
  child shares the description), and on Linux do not interact with fcntl locks.
- **OFD locks** (Linux 3.15+, ``F_OFD_SETLK``=37): byte ranges like POSIX locks,
  owned like flock by the open file description. Two ``open()`` calls in one
  process conflict with each other; closing an unrelated descriptor of the same
  file keeps the lock; the lock ends when the last descriptor sharing the
  description (``dup``, ``fork``) closes, or on explicit unlock. After
  ``fork()`` parent and child share the description and therefore the lock:
  neither conflicts with the other through the inherited descriptor, and either
  can release it for both. OFD and POSIX
  locks on Linux do see each other, so they exclude each other across processes
  (that is how :mod:`vllsi.locking.sqlite` interoperates with SQLite).

vllsi uses OFD locks on Linux, classic ``F_SETLK`` on macOS (with Darwin's own
``struct flock`` layout and values; process-owned, so two descriptors of one
process do not conflict there), and ``LockFileEx`` on Windows (mandatory: other
handles' I/O to a locked range fails; length 0 means to the end of the 64-bit
range). A file system that cannot lock (some NFS set-ups) raises an error,
never a false success.

Regions: ``LockRegion(start, length)``; ``length`` 0 or -1 means "to the end of
the file, including growth" (both are normalised to 0). Conflict raises
:class:`~vllsi.errors.LockConflict` whose ``owner_pid`` is the holder's pid when
the OS can say (a classic lock on Linux/macOS), else -1 (OFD locks, Windows).

Handles: :func:`try_lock` and :func:`lock` return a :class:`LockHandle`;
:func:`unlock` (or ``handle.unlock()``, or leaving its ``with``) consumes it, a
second unlock raises ValueError. A handle dropped while held warns
(ResourceWarning) and releases. Locks of one owner merge: unlocking a handle
also releases any overlapping bytes another handle of the same descriptor
(same description) holds, exactly as the kernel does.

Backend interface (``vllsi.<os>.impl.locking``):
``try_set_lock(fd, start, length, kind)``: one attempt, never waits; kind 0
unlock / 1 shared / 2 exclusive, length 0 = to EOF; LockConflict on conflict
(``owner_pid`` filled in here). ``set_lock(fd, start, length, kind, timeout)``:
wait for the lock, forever when ``timeout`` is None, else give up after
``timeout`` seconds with TimedOut. Both EINTR-safe (handlers run, then retry).
``get_lock_owner(fd, start, length, kind) -> int | None``: None if no lock
conflicts, else the holder's pid or -1.
"""

from __future__ import annotations

import contextlib
import enum
import errno as _errno
import math
import warnings
from typing import Any

from vllsi import _platform, errors

__all__ = [
    "LockHandle",
    "LockKind",
    "LockRegion",
    "lock",
    "try_lock",
    "try_lock_byte_exclusive",
    "try_lock_byte_shared",
    "try_lock_region",
    "unlock",
    "unlock_region",
]

_impl: Any = _platform.os_module("locking")
_try_set = _impl.try_set_lock
_MAX = (1 << 63) - 1


class LockKind(enum.IntEnum):
    """Shared (many readers) or Exclusive (one writer)."""

    Shared = 1
    Exclusive = 2


class LockRegion(tuple[int, int]):
    """A byte range ``[start, start + length)``; length 0 (or -1) = to end of file.

    Validated when built: start in 0..2**63-1, length >= 0 or -1 (stored as 0),
    end below 2**63 (TypeError/ValueError otherwise). A tuple ``(start, length)``.
    """

    __slots__ = ()

    def __new__(cls, start: int, length: int) -> LockRegion:
        return tuple.__new__(cls, _range(start, length))

    @property
    def start(self) -> int:
        return self[0]

    @property
    def length(self) -> int:
        return self[1]

    @classmethod
    def to_eof(cls, start: int = 0) -> LockRegion:
        """The range from ``start`` to the end of the file, including growth."""
        return cls(start, 0)

    @classmethod
    def byte(cls, offset: int) -> LockRegion:
        """The single byte at ``offset``."""
        return cls(offset, 1)

    def overlaps(self, other: LockRegion) -> bool:
        """Half-open interval overlap; length 0 is infinite; adjacent ranges do not overlap."""
        def end(r: tuple[int, int]) -> float:
            return math.inf if r[1] == 0 else r[0] + r[1]

        return self[0] < end(other) and other[0] < end(self)

    def __repr__(self) -> str:
        return f"LockRegion(start={self[0]}, length={self[1]})"


def _fd(fd: Any) -> int:
    if type(fd) is int and fd >= 0:
        return fd
    if isinstance(fd, bool) or not (isinstance(fd, int) or hasattr(fd, "fileno")):
        raise TypeError(f"fd must be an int or have fileno(), not {type(fd).__name__}")
    v = int(fd) if isinstance(fd, int) else fd.fileno()
    if type(v) is not int or v < 0:
        raise ValueError(f"fd {v!r} is not a valid descriptor")
    return v


def _region(region: Any) -> tuple[int, int]:
    if not isinstance(region, tuple) or len(region) != 2:
        raise TypeError(f"region must be a LockRegion, not {type(region).__name__}")
    start, length = region
    return _range(start, length)


def _range(start: Any, length: Any) -> tuple[int, int]:
    for v, name in ((start, "start"), (length, "length")):
        if type(v) is not int and (isinstance(v, bool) or not isinstance(v, int)):
            raise TypeError(f"{name} must be int, not {type(v).__name__}")
    start, length = int(start), int(length)
    if start < 0 or start > _MAX:
        raise ValueError(f"start must be in 0..2**63-1, got {start}")
    if length == -1:
        length = 0
    if length < 0 or start + length > _MAX:
        raise ValueError(f"length must be >= 0 (or -1 = to EOF) and end below 2**63, got {length}")
    return start, length


def _kind(kind: Any) -> LockKind:
    if isinstance(kind, LockKind):
        return kind
    if isinstance(kind, int) and not isinstance(kind, bool) and kind in (1, 2):
        return LockKind(kind)
    raise TypeError(f"kind must be a LockKind, not {kind!r}")


class LockHandle:
    """A held byte-range lock. Consumed by :func:`unlock` / :meth:`unlock`.

    Attributes: ``fd``, ``region`` (LockRegion, length 0 = to EOF), ``kind``,
    ``active``. A context manager (releases on exit). Dropping a held handle
    warns with ResourceWarning and releases the lock.
    """

    __slots__ = ("active", "fd", "kind", "region")

    def __init__(self, fd: int, region: LockRegion, kind: LockKind) -> None:
        self.fd = fd
        self.region = region
        self.kind = kind
        self.active = True


    def unlock(self) -> None:
        """fcntl(F_OFD_SETLK, F_UNLCK) over the region: release and consume the handle.

        Raises: ValueError if already released; BadDescriptor/EBADF if the fd was
        closed (the handle is consumed anyway: the kernel released the lock when
        the description's last fd closed). Availability: all.
        """
        if not self.active:
            raise ValueError("lock handle already released")
        self.active = False
        start, length = self.region
        _try_set(self.fd, start, length, 0)

    def __enter__(self) -> LockHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.active:
            self.unlock()

    def __del__(self) -> None:
        try:
            if not self.active:
                return
        except AttributeError:  # __init__ never ran
            return
        self.active = False
        warnings.warn(f"unreleased {self!r}", ResourceWarning, stacklevel=2)
        start, length = self.region
        with contextlib.suppress(OSError):
            _try_set(self.fd, start, length, 0)

    def __repr__(self) -> str:
        state = "held" if self.active else "released"
        return (f"LockHandle(fd={self.fd}, region=({self.region[0]}, {self.region[1]}), "
                f"kind={self.kind.name}, {state})")


def _conflict(exc: errors.VllsiError, fd: int, start: int, length: int, kind: int) -> None:
    if isinstance(exc, errors.LockConflict):
        try:
            owner = _impl.get_lock_owner(fd, start, length, kind)
        except OSError:
            owner = None
        exc.owner_pid = -1 if owner is None else owner


def try_lock(fd: Any, region: LockRegion, kind: LockKind) -> LockHandle:
    """fcntl(fd, F_OFD_SETLK, &flock): take a byte-range lock without waiting.

    Args: fd (int or fileno()); region: LockRegion (length 0/-1 = to EOF);
        kind: LockKind.Shared (fd open for reading) or Exclusive (for writing).
    Returns: a held LockHandle.
    Raises: LockConflict/EAGAIN with ``owner_pid`` (-1 for OFD holders);
        BadDescriptor/EBADF (closed fd, or an exclusive lock on a read-only fd);
        InvalidArgument/EINVAL; VllsiError/ENOLCK (file system without locks);
        TypeError/ValueError for bad arguments (before the call).
    Availability: Linux (F_OFD_SETLK), macOS (F_SETLK, process-owned),
        Windows (LockFileEx LOCKFILE_FAIL_IMMEDIATELY).
    """
    if type(fd) is not int or fd < 0:
        fd = _fd(fd)
    if type(region) is not LockRegion:
        region = LockRegion(*_region(region))
    if type(kind) is not LockKind:
        kind = _kind(kind)
    try:
        _try_set(fd, region[0], region[1], kind)
    except errors.VllsiError as exc:
        _conflict(exc, fd, region[0], region[1], kind)
        raise
    return LockHandle(fd, region, kind)


def lock(fd: Any, region: LockRegion, kind: LockKind, timeout: float | None = None) -> LockHandle:
    """fcntl(fd, F_OFD_SETLKW, &flock): take a byte-range lock, waiting for it.

    Args: as :func:`try_lock`; timeout: None waits forever (in the kernel), 0
        tries once, else seconds (polled with backoff: the kernel has no timed
        lock wait).
    Returns: a held LockHandle.
    Raises: TimedOut/ETIMEDOUT when ``timeout`` expires; VllsiError/EDEADLK (classic locks only); as
        :func:`try_lock` otherwise. EINTR: Python signal handlers run (and may
        raise), then the wait resumes with the remaining time (PEP 475).
    Availability: Linux (F_OFD_SETLKW), macOS (F_SETLKW), Windows (LockFileEx).
    """
    f = _fd(fd)
    start, length = _region(region)
    k = _kind(kind)
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")
        if math.isnan(timeout) or timeout < 0:
            raise ValueError("timeout must be >= 0 or None")
    if timeout == 0:
        try:
            _try_set(f, start, length, k)
        except errors.LockConflict as exc:
            _conflict(exc, f, start, length, k)
            raise errors.from_errno(_errno.ETIMEDOUT, syscall="fcntl",
                                    cls=errors.TimedOut,
                                    message="lock not available (timeout 0)") from exc
    else:
        _impl.set_lock(f, start, length, k, None if timeout is None else float(timeout))
    return LockHandle(f, LockRegion(start, length), k)


def unlock(handle: LockHandle) -> None:
    """fcntl(fd, F_OFD_SETLK, F_UNLCK): release and consume a handle.

    Raises: ValueError for a handle already released; TypeError for a non-handle;
    BadDescriptor/EBADF if its fd was closed meanwhile. Availability: all.
    """
    if type(handle) is not LockHandle:
        raise TypeError(f"unlock needs a LockHandle, not {type(handle).__name__}")
    handle.unlock()


def try_lock_byte_exclusive(fd: Any, offset: int) -> LockHandle:
    """F_OFD_SETLK F_WRLCK on the single byte at ``offset``; see :func:`try_lock`."""
    return try_lock(fd, LockRegion.byte(offset), LockKind.Exclusive)


def try_lock_byte_shared(fd: Any, offset: int) -> LockHandle:
    """F_OFD_SETLK F_RDLCK on the single byte at ``offset``; see :func:`try_lock`."""
    return try_lock(fd, LockRegion.byte(offset), LockKind.Shared)


def try_lock_region(fd: Any, kind: LockKind, start: int, length: int) -> None:
    """F_OFD_SETLK over ``[start, start+length)`` without a handle (the original's raw
    form; release with :func:`unlock_region`). length 0/-1 = to EOF.

    Raises: LockConflict with ``owner_pid``; as :func:`try_lock`. Availability: all.
    """
    f = _fd(fd)
    s, n = _range(start, length)
    k = _kind(kind)
    try:
        _try_set(f, s, n, k)
    except errors.VllsiError as exc:
        _conflict(exc, f, s, n, k)
        raise


def unlock_region(fd: Any, start: int, length: int) -> None:
    """F_OFD_SETLK F_UNLCK over ``[start, start+length)`` (unlocking an unheld range is
    not an error, as in the kernel). Raises: BadDescriptor/EBADF. Availability: all.
    """
    f = _fd(fd)
    s, n = _range(start, length)
    _try_set(f, s, n, 0)
