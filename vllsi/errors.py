"""The exception tree of vllsi and its single factory.

Every OS failure is an :class:`OSError`. :class:`VllsiError` adds ``.syscall``
(the OS call that failed) and keeps ``.errno``, ``.strerror``, ``.filename`` and,
on Windows, ``.winerror``. Leaves also inherit the matching builtin, so
``except FileNotFoundError`` keeps working.

All of them are built by :func:`from_errno` (or :func:`from_winerror` on
Windows, which maps to an errno and calls it). Errno values are the *host's*
(Linux and macOS differ); unknown codes stay representable as a plain
:class:`VllsiError`.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import Any

__all__ = [
    "AlreadyExists",
    "AlreadyInitialized",
    "BadDescriptor",
    "BrokenPipe",
    "Busy",
    "ConnectionAborted",
    "ConnectionRefused",
    "ConnectionReset",
    "ContextError",
    "InitError",
    "Interrupted",
    "InvalidArgument",
    "InvalidConfig",
    "InvalidSlot",
    "LockConflict",
    "NotFound",
    "PermissionDenied",
    "PlatformError",
    "ResourceExhausted",
    "SlotEmpty",
    "SlotOccupied",
    "StackOverflow",
    "StackUnderflow",
    "TimedOut",
    "Unsupported",
    "VllsiError",
    "WouldBlock",
    "class_for_errno",
    "from_errno",
    "from_winerror",
    "unsupported",
]


class VllsiError(OSError):
    """An OS call failed. ``.syscall`` names the call; ``.errno`` is the host errno."""

    syscall: str | None

    def __init__(self, *args: Any, syscall: str | None = None) -> None:
        super().__init__(*args)
        self.syscall = syscall

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.syscall, self.filename))

    def __str__(self) -> str:
        base = super().__str__()
        return f"{self.syscall}: {base}" if self.syscall else base


def _rebuild(cls: type[VllsiError], args: tuple[Any, ...], syscall: str | None,
             filename: Any) -> VllsiError:
    err = cls(*args, syscall=syscall)
    if filename is not None and len(args) < 3:
        err.filename = filename
    return err


class NotFound(VllsiError, FileNotFoundError):
    """ENOENT."""


class PermissionDenied(VllsiError, PermissionError):
    """EACCES, EPERM."""


class WouldBlock(VllsiError, BlockingIOError):
    """EAGAIN / EWOULDBLOCK / EINPROGRESS / EALREADY.

    ``.submitted`` is set by engines that stop part-way through a batch.
    """

    submitted: int | None = None


class LockConflict(WouldBlock):
    """A byte-range lock is held by someone else. ``.owner_pid`` is the holder, or -1."""

    owner_pid: int = -1


class TimedOut(VllsiError, TimeoutError):
    """ETIMEDOUT, or a vllsi timeout expired."""


class Interrupted(VllsiError, InterruptedError):
    """EINTR surfaced (only where a call documents it does not retry)."""


class AlreadyExists(VllsiError, FileExistsError):
    """EEXIST."""


class Busy(VllsiError):
    """EBUSY, ETXTBSY."""


class ResourceExhausted(VllsiError):
    """ENOMEM, ENOSPC, EMFILE, ENFILE, EDQUOT, ENOBUFS."""


class ConnectionRefused(VllsiError, ConnectionRefusedError):
    """ECONNREFUSED."""


class ConnectionReset(VllsiError, ConnectionResetError):
    """ECONNRESET."""


class ConnectionAborted(VllsiError, ConnectionAbortedError):
    """ECONNABORTED."""


class BrokenPipe(VllsiError, BrokenPipeError):
    """EPIPE, ESHUTDOWN."""


class InvalidArgument(VllsiError):
    """EINVAL from the kernel.

    Deliberately not a ValueError: Python-side mistakes raise ValueError *before*
    the call, so the two stay distinguishable.
    """


class BadDescriptor(VllsiError):
    """EBADF: the descriptor is not open (or not open for this operation)."""


class Unsupported(VllsiError, NotImplementedError):
    """ENOSYS, EOPNOTSUPP, or a layer that does not exist on this OS."""


# Domain errors -----------------------------------------------------------------

class ContextError(VllsiError):
    """Misuse of the TLS slot table or the context system."""


class StackOverflow(ContextError):
    """A frame push past CONTEXT_STACK_DEPTH."""


class StackUnderflow(ContextError):
    """A frame pop at the root frame."""


class SlotOccupied(ContextError):
    """An exclusive set of a slot that already holds a value."""


class SlotEmpty(ContextError):
    """A typed read of a slot that holds nothing."""


class InvalidSlot(ContextError):
    """A slot number outside 0..MAX_CONTEXT_SLOTS-1."""


class InitError(VllsiError):
    """vllsi.init failed."""


class AlreadyInitialized(InitError):
    """init() called twice."""


class InvalidConfig(InitError):
    """The InitConfig does not validate."""


class PlatformError(InitError):
    """The platform refused a step of init."""


def _code(name: str) -> int | None:
    return getattr(_errno, name, None)


_BY_ERRNO: dict[int, type[VllsiError]] = {}
for _cls, _names in (
    (NotFound, ("ENOENT",)),
    (PermissionDenied, ("EACCES", "EPERM")),
    (WouldBlock, ("EAGAIN", "EWOULDBLOCK", "EINPROGRESS", "EALREADY")),
    (TimedOut, ("ETIMEDOUT", "ETIME")),
    (Interrupted, ("EINTR",)),
    (AlreadyExists, ("EEXIST",)),
    (Busy, ("EBUSY", "ETXTBSY")),
    (ResourceExhausted, ("ENOMEM", "ENOSPC", "EMFILE", "ENFILE", "EDQUOT", "ENOBUFS")),
    (InvalidArgument, ("EINVAL",)),
    (BadDescriptor, ("EBADF",)),
    (Unsupported, ("ENOSYS", "EOPNOTSUPP", "ENOTSUP")),
    (ConnectionRefused, ("ECONNREFUSED",)),
    (ConnectionReset, ("ECONNRESET",)),
    (ConnectionAborted, ("ECONNABORTED",)),
    (BrokenPipe, ("EPIPE", "ESHUTDOWN")),
):
    for _name in _names:
        _c = _code(_name)
        if _c is not None:
            _BY_ERRNO.setdefault(_c, _cls)


def class_for_errno(code: int) -> type[VllsiError]:
    """The exception class :func:`from_errno` uses for ``code`` (host errno)."""
    return _BY_ERRNO.get(code, VllsiError)


def from_errno(
    code: int,
    *,
    syscall: str,
    filename: Any = None,
    filename2: Any = None,
    cls: type[VllsiError] | None = None,
    message: str | None = None,
) -> VllsiError:
    """Build (not raise) the exception for a failed OS call.

    Args:
        code: the host errno (positive).
        syscall: the OS call's name, kept as ``.syscall``.
        filename, filename2: paths involved, as in ``OSError``.
        cls: a domain class (e.g. :class:`LockConflict`) to use instead of the
            errno's default; it must derive from :class:`VllsiError`.
        message: overrides ``os.strerror(code)``.
    Returns:
        The exception instance, ready to ``raise``.
    """
    if code < 0:
        code = -code
    kind = cls if cls is not None else class_for_errno(code)
    text = message if message is not None else os.strerror(code)
    if filename2 is not None:
        return kind(code, text, filename, None, filename2, syscall=syscall)
    if filename is not None:
        return kind(code, text, filename, syscall=syscall)
    return kind(code, text, syscall=syscall)


def from_winerror(
    winerror: int,
    *,
    syscall: str,
    errno: int,
    message: str,
    filename: Any = None,
    cls: type[VllsiError] | None = None,
) -> VllsiError:
    """Build the exception for a failed Win32 call, keeping ``.winerror``.

    The caller supplies the errno its Win32 code maps to (vllsi.windows does the
    mapping), so the class follows the same errno rules as everywhere else.
    """
    err = from_errno(errno, syscall=syscall, filename=filename, cls=cls, message=message)
    setattr(err, "winerror", winerror)  # noqa: B010 (OSError.winerror exists on Windows only)
    return err


def unsupported(what: str, *, syscall: str = "vllsi") -> Unsupported:
    """An :class:`Unsupported` for a layer or call that does not exist on this OS."""
    code = _errno.ENOSYS
    msg = f"{what} is not supported here"
    err = from_errno(code, syscall=syscall, cls=Unsupported, message=msg)
    assert isinstance(err, Unsupported)
    return err
