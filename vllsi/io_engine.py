"""The I/O completion engine: one contract, several kernels.

A program hands the engine *operations* (frozen dataclasses: :class:`Read`,
:class:`Write`, :class:`Accept`, :class:`Connect`, :class:`Send`, :class:`Recv`,
:class:`Timeout`, :class:`Close`, :class:`Nop`, :class:`Fsync`, :class:`Cancel`)
and later reaps :class:`CompletionResult` s carrying the kernel's answer.
Every driver honours the same contract (the conformance suite
``conformance/io_engine/`` runs it over each of them):

- ``submit(op) -> SubmissionId`` and ``submit_many(ops) -> list[SubmissionId]``.
  Bad Python input (wrong types, a read-only buffer for a read, ``len`` beyond
  the buffer) raises TypeError/ValueError before anything reaches the kernel;
  in ``submit_many`` nothing of the batch is submitted then. An engine holds at
  most ``capacity`` unreaped operations; beyond that ``submit_many`` raises
  :class:`vllsi.errors.WouldBlock` with ``.submitted`` (how many went in) and
  ``.ids`` (their ids): an operation is never silently dropped.
- ``submit_reads(fd, buffers, offsets)`` / ``submit_writes(...)``: the batch
  form of Read/Write (one op per buffer, whole buffers), without building op
  objects: per-op Python overhead is what eats io_uring's gain, so the hot
  storage path takes arrays. Same ids, results and errors as ``submit_many``.
- ``poll(timeout=None) -> list[CompletionResult]``: None waits for at least one
  completion (or a :meth:`IOEngine.wake` from another thread), 0 never waits,
  ``t > 0`` waits at most ``t`` seconds. Per-operation failures are data
  (negative errno in ``result``); ``poll`` itself raises only for engine faults.
- ``cancel(id)``: ask for the cancellation of an in-flight op; it then
  completes with ``-ECANCELED`` (unless it already finished). A :class:`Cancel`
  op does the same and reports 0, ``-ENOENT`` (no such op in flight) or
  ``-EALREADY`` (running, cannot be stopped).
- ``wake()``: thread-safe; interrupts a ``poll`` blocked in another thread.
- ``shutdown()``: cancels and reaps everything in flight, releases every pinned
  buffer and closes the engine's own descriptors; idempotent. The engine is a
  context manager that shuts down on exit.

Threading: one thread at a time may call submit/poll/cancel/shutdown on an
engine (they are not locked; the epoll driver's C core refuses a second,
concurrent caller with RuntimeError rather than race); :meth:`IOEngine.wake` is
safe from any thread.

Buffers: any buffer-protocol object (bytearray, memoryview, mmap, AlignedBuffer);
the engine holds it exported (pinned: a bytearray cannot be resized, an mmap
cannot be closed) until its completion is reaped or the engine shuts down.

Results: ``result >= 0`` is the value (bytes transferred, the new fd of an
Accept, 0), negative is ``-errno`` (host errno). An expired Timeout completes
with 0, a cancelled op with ``-ECANCELED``. Accept results carry the peer in
``.address`` in the :mod:`socket` module's form.

Backends (``IoEngineConfig.backend``): ``"io_uring"`` and ``"epoll"`` (Linux,
:mod:`vllsi.linux.io`), ``"sync"`` (:class:`vllsi.embedded.SyncEngine`, every
OS), later ``"kqueue"`` and ``"iocp"``. :func:`create_io_engine` picks the best
one by probing and warns once (:class:`EngineFallbackWarning`) when it has to
fall back. OS backend interface (``vllsi/<os>/impl/io_engine.py``):
``create(config) -> IOEngine`` (None backend: probe and choose) and
``BACKENDS: tuple[str, ...]``.
"""

from __future__ import annotations

import dataclasses
import errno as _errno
import math
import operator
import sys
import threading
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from vllsi import _platform, errors

__all__ = [
    "Accept",
    "Cancel",
    "Close",
    "CompletionOp",
    "CompletionResult",
    "Connect",
    "EngineFallbackWarning",
    "Fsync",
    "IOEngine",
    "IoEngineConfig",
    "Nop",
    "Read",
    "Recv",
    "Send",
    "SubmissionId",
    "Timeout",
    "Write",
    "create_io_engine",
]

SubmissionId = int
CQE_F_MORE = 2  # IORING_CQE_F_MORE: every driver sets it on a multishot op's non-final results

_MAX_FD = 0x7FFFFFFF


def _fd(v: Any, name: str = "fd") -> int:
    if type(v) is int:
        x = v
    elif isinstance(v, bool) or not (isinstance(v, int) or hasattr(v, "fileno")):
        raise TypeError(f"{name} must be an int or have fileno(), not {type(v).__name__}")
    else:
        x = int(v) if isinstance(v, int) else v.fileno()
    if not 0 <= x <= _MAX_FD:
        raise ValueError(f"{name} {x} is not a valid descriptor")
    return x


def _opt_len(v: Any) -> None:
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"len must be int or None, not {type(v).__name__}")
    if not 0 <= v <= 0x7FFFF000:
        raise ValueError(f"len {v} outside 0..0x7ffff000")


def _int_field(v: Any, name: str, lo: int, hi: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be int, not {type(v).__name__}")
    if not lo <= v <= hi:
        raise ValueError(f"{name} {v} outside {lo}..{hi}")


def _check_buffer(buf: Any, writable: bool) -> None:
    try:
        m = memoryview(buf)
    except TypeError:
        raise TypeError(f"buf must support the buffer protocol, not {type(buf).__name__}") from None
    try:
        if writable and m.readonly:
            raise TypeError(f"a read needs a writable buffer, not a read-only {type(buf).__name__}")
        if not m.c_contiguous:
            raise ValueError("buf must be C-contiguous")
    finally:
        m.release()


_osa = object.__setattr__
_MAX_LEN = 0x7FFFF000
_MAX_OFF = (1 << 63) - 1


def _buf_fields(self: Any, fd: Any, buf: Any, length: Any, last: Any, last_name: str,
                writable: bool) -> None:
    # Fast path for the common types; the slow helpers give the precise errors.
    if type(fd) is not int or not 0 <= fd <= _MAX_FD:
        fd = _fd(fd)
    if type(buf) is not bytearray:
        _check_buffer(buf, writable)
    if length is not None and (type(length) is not int or not 0 <= length <= _MAX_LEN):
        _opt_len(length)
    if last_name == "offset":
        if type(last) is not int or not -1 <= last <= _MAX_OFF:
            _int_field(last, "offset", -1, _MAX_OFF)
    elif type(last) is not int or not 0 <= last <= 0xFFFFFFFF:
        _int_field(last, "flags", 0, 0xFFFFFFFF)
    _osa(self, "fd", fd)
    _osa(self, "buf", buf)
    _osa(self, "len", length)
    _osa(self, last_name, last)


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Read:
    """Read up to ``len`` bytes (None: the buffer's size) from ``fd`` into ``buf``
    at ``offset`` (-1: the file position, which then advances)."""

    fd: int
    buf: Any = dataclasses.field(repr=False)
    len: int | None = None
    offset: int = -1

    def __init__(self, fd: int, buf: Any, len: int | None = None, offset: int = -1) -> None:
        _buf_fields(self, fd, buf, len, offset, "offset", True)


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Write:
    """Write ``len`` bytes (None: all) of ``buf`` to ``fd`` at ``offset`` (-1: position)."""

    fd: int
    buf: Any = dataclasses.field(repr=False)
    len: int | None = None
    offset: int = -1

    def __init__(self, fd: int, buf: Any, len: int | None = None, offset: int = -1) -> None:
        _buf_fields(self, fd, buf, len, offset, "offset", False)


@dataclasses.dataclass(frozen=True, slots=True)
class Accept:
    """Accept a connection on listening socket ``fd``. The result is the new
    descriptor (close-on-exec and non-blocking); ``.address`` is the peer.

    ``multishot=True`` keeps accepting: one completion per connection under the
    same SubmissionId, each with ``.more`` True while the op stays in flight; the
    last one (an error, or -ECANCELED after a Cancel) has ``.more`` False.
    io_uring does it in the kernel (IORING_ACCEPT_MULTISHOT, Linux >= 5.19), the
    epoll driver re-arms after each accept, SyncEngine accepts once.
    """

    fd: int
    multishot: bool = False

    def __post_init__(self) -> None:
        _osa(self, "fd", _fd(self.fd))
        if not isinstance(self.multishot, bool):
            raise TypeError("multishot must be a bool")


@dataclasses.dataclass(frozen=True, slots=True)
class Connect:
    """Connect socket ``fd`` to ``address`` ((host, port), (host, port, flow, scope)
    or a Unix path). Completes with 0 or -errno (the socket's SO_ERROR)."""

    fd: int
    address: Any

    def __post_init__(self) -> None:
        _osa(self, "fd", _fd(self.fd))
        a = self.address
        if isinstance(a, list):
            a = tuple(a)
            _osa(self, "address", a)
        if not isinstance(a, (tuple, str, bytes)):
            raise TypeError(f"address must be a tuple or a path, not {type(a).__name__}")


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Send:
    """send(fd, buf[:len], flags) on a socket (MSG_NOSIGNAL is always added)."""

    fd: int
    buf: Any = dataclasses.field(repr=False)
    len: int | None = None
    flags: int = 0

    def __init__(self, fd: int, buf: Any, len: int | None = None, flags: int = 0) -> None:
        _buf_fields(self, fd, buf, len, flags, "flags", False)


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Recv:
    """recv(fd, buf[:len], flags) on a socket; 0 means the peer shut down."""

    fd: int
    buf: Any = dataclasses.field(repr=False)
    len: int | None = None
    flags: int = 0

    def __init__(self, fd: int, buf: Any, len: int | None = None, flags: int = 0) -> None:
        _buf_fields(self, fd, buf, len, flags, "flags", True)


@dataclasses.dataclass(frozen=True, slots=True)
class Timeout:
    """Complete with 0 after ``duration`` seconds (or -ECANCELED if cancelled first)."""

    duration: float

    def __post_init__(self) -> None:
        d = self.duration
        if isinstance(d, bool) or not isinstance(d, (int, float)):
            raise TypeError(f"duration must be seconds (int or float), not {type(d).__name__}")
        if not (d >= 0 and math.isfinite(d)):
            raise ValueError(f"duration must be finite and >= 0, not {d!r}")


@dataclasses.dataclass(frozen=True, slots=True)
class Close:
    """Close ``fd``. Ops still queued on it in the engine complete with -ECANCELED."""

    fd: int

    def __post_init__(self) -> None:
        _osa(self, "fd", _fd(self.fd))


@dataclasses.dataclass(frozen=True, slots=True)
class Nop:
    """Complete with 0 (a round trip through the engine)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Fsync:
    """fsync(fd), or fdatasync(fd) when ``datasync``."""

    fd: int
    datasync: bool = False

    def __post_init__(self) -> None:
        _osa(self, "fd", _fd(self.fd))
        if not isinstance(self.datasync, bool):
            raise TypeError("datasync must be a bool")


@dataclasses.dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel in-flight op ``target``: 0 if found (it completes with -ECANCELED),
    -ENOENT if not in flight, -EALREADY if it is running and cannot be stopped."""

    target: int

    def __post_init__(self) -> None:
        _int_field(self.target, "target", 0, (1 << 63) - 1)


# The Python __init__ of each buffer op is the reference. On Linux with the shim
# built, a C initialiser (``_native/csrc/fast/engine.c``) takes its place as the
# class's __init__ (a method descriptor, so no Python frame runs): it checks the
# common case (exact ints in range, a bytearray or a contiguous buffer, writable
# for reads) and stores the slots itself; anything else (keywords, fileno()
# objects, int subclasses, every error) goes to the reference.
# conformance/io_engine/test_properties.py checks that both agree.
PY_INIT: dict[type, Any] = {cls: cls.__init__ for cls in (Read, Write, Send, Recv)}


def _accelerate_inits() -> None:
    if _platform.OS != "linux":
        return
    try:
        _platform._load_native("_fast")
    except ImportError:
        return
    make = getattr(sys.modules.get("vllsi.linux._fast"), "op_initializer", None)
    if make is None:
        return
    for cls, writable, is_offset in ((Read, True, True), (Write, False, True),
                                     (Send, False, False), (Recv, True, False)):
        cls.__init__ = make(cls, writable, is_offset, PY_INIT[cls])  # type: ignore[method-assign]


_accelerate_inits()


CompletionOp = (Read | Write | Accept | Connect | Send | Recv | Timeout | Close | Nop | Fsync
                | Cancel)
OP_TYPES: tuple[type, ...] = (Read, Write, Accept, Connect, Send, Recv, Timeout, Close, Nop,
                              Fsync, Cancel)


class CompletionResult(NamedTuple):
    """One completed op: ``result >= 0`` is its value, negative is ``-errno``.

    ``flags`` are the kernel's CQE flags (0 outside io_uring); ``address`` is the
    peer of an Accept, else None.
    """

    submission_id: int
    result: int
    flags: int = 0
    address: Any = None

    @property
    def error(self) -> errors.VllsiError | None:
        """None on success, else the error factory's exception for ``-result``."""
        if self.result >= 0:
            return None
        return errors.from_errno(-self.result, syscall="io_engine")

    def value(self) -> int:
        """The result, or raise :attr:`error`."""
        if self.result < 0:
            raise errors.from_errno(-self.result, syscall="io_engine")
        return self.result

    @property
    def more(self) -> bool:
        """True when the op stays in flight and will complete again (multishot)."""
        return bool(self.flags & CQE_F_MORE)

    @property
    def cancelled(self) -> bool:
        """True when the op completed with -ECANCELED."""
        return self.result == -_errno.ECANCELED


_result_new = tuple.__new__
_get_result = operator.itemgetter(1)


def make_result(sid: int, res: int, flags: int = 0, address: Any = None
                ) -> CompletionResult:
    """Fast constructor used by the drivers."""
    return _result_new(CompletionResult, (sid, res, flags, address))


@dataclasses.dataclass(frozen=True)
class IoEngineConfig:
    """Engine settings.

    Args:
        entries: submission ring size (io_uring rounds up to a power of two);
            ``capacity`` (max unreaped ops) is twice this.
        backend: None (probe: io_uring, else epoll on Linux) or a name from
            ``BACKENDS`` of the OS ("io_uring", "epoll", "sync", ...).
        warn_on_fallback: warn once (EngineFallbackWarning) when the probe falls back.
        batch_submit: io_uring only: ``submit`` fills SQEs and leaves them for the
            next ``poll`` (one io_uring_enter submits and waits), flushing early
            only when the SQ ring is full. Off by default: ops then reach the
            kernel at submit, as on every other driver.
    """

    entries: int = 256
    backend: str | None = None
    warn_on_fallback: bool = True
    batch_submit: bool = False

    def __post_init__(self) -> None:
        _int_field(self.entries, "entries", 1, 32768)
        if self.backend is not None and not isinstance(self.backend, str):
            raise TypeError("backend must be a str or None")
        if not isinstance(self.batch_submit, bool) or not isinstance(self.warn_on_fallback, bool):
            raise TypeError("batch_submit and warn_on_fallback must be bools")


class EngineFallbackWarning(RuntimeWarning):
    """The preferred engine backend is unavailable here; a slower one is used."""


@runtime_checkable
class IOEngine(Protocol):
    """The completion-engine contract (see the module docstring)."""

    backend: str
    capacity: int

    def submit(self, op: Any) -> SubmissionId: ...
    def submit_many(self, ops: Iterable[Any]) -> list[SubmissionId]: ...
    def submit_reads(self, fd: Any, buffers: Iterable[Any], offsets: Iterable[int]
                     ) -> list[SubmissionId]: ...
    def submit_writes(self, fd: Any, buffers: Iterable[Any], offsets: Iterable[int]
                      ) -> list[SubmissionId]: ...
    def poll(self, timeout: float | None = None) -> list[CompletionResult]: ...
    def cancel(self, submission_id: SubmissionId) -> None: ...
    def wake(self) -> None: ...
    def shutdown(self) -> None: ...
    def statistics(self) -> dict[str, int]: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: object) -> None: ...


def check_timeout(timeout: Any) -> float | None:
    """Validate a poll timeout (seconds or None); TypeError/ValueError."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be seconds or None, not {type(timeout).__name__}")
    if timeout != timeout:
        raise ValueError("timeout is NaN")
    return max(0.0, float(timeout))


def would_block(ids: Sequence[int], capacity: int) -> errors.WouldBlock:
    """The WouldBlock raised when a batch exceeds the engine's capacity."""
    err = errors.from_errno(_errno.EAGAIN, syscall="io_engine.submit",
                            message=f"engine full: {capacity} ops unreaped; "
                                    f"{len(ids)} of the batch went in")
    assert isinstance(err, errors.WouldBlock)
    err.submitted = len(ids)
    setattr(err, "ids", list(ids))  # noqa: B010
    return err


def closed_error() -> errors.VllsiError:
    return errors.from_errno(_errno.EBADF, syscall="io_engine", message="engine is shut down")


_warn_lock = threading.Lock()
_warned: set[str] = set()


def warn_fallback(chosen: str, why: str) -> None:
    """Warn once per process that the engine fell back to ``chosen``."""
    with _warn_lock:
        if chosen in _warned:
            return
        _warned.add(chosen)
    warnings.warn(f"vllsi.io_engine: using the {chosen} backend ({why})",
                  EngineFallbackWarning, stacklevel=3)


_impl = _platform.os_module("io_engine")


def create_io_engine(config: IoEngineConfig | None = None) -> IOEngine:
    """Create the best engine this OS offers (or the one ``config.backend`` names).

    On Linux: io_uring when io_uring_setup works and every opcode the contract
    needs is supported (IORING_REGISTER_PROBE) and EXT_ARG waits exist; else
    the epoll driver, with a one-time :class:`EngineFallbackWarning`.
    ``backend="sync"`` gives :class:`vllsi.embedded.SyncEngine` everywhere.

    Raises: TypeError for a non-IoEngineConfig; ValueError for an unknown
    backend name; Unsupported when the named backend cannot run here (e.g.
    "io_uring" refused by the kernel: ``.errno`` says why).
    Availability: every OS (the sync backend); Linux io_uring/epoll.
    """
    if config is None:
        config = IoEngineConfig()
    elif not isinstance(config, IoEngineConfig):
        raise TypeError(f"config must be an IoEngineConfig, not {type(config).__name__}")
    if config.backend == "sync":
        from vllsi.embedded import SyncEngine

        return SyncEngine(config)
    engine: IOEngine = _impl.create(config)
    return engine
