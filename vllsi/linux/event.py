"""Typed wrappers for the event syscalls: epoll, eventfd, io_uring.

One call each, named after the syscall, decoded by the single error factory.
Blocking calls (epoll_pwait, epoll_pwait2, io_uring_enter) release the GIL and
follow PEP 475: on EINTR, Python signal handlers run and the call is retried
with the remaining timeout. The engine drivers of :mod:`vllsi.linux.io` are
built on these (and on the ring helpers of ``_native/csrc/ffi/uring.c``).

``struct epoll_event`` is packed on x86_64 (12 bytes) and naturally aligned on
aarch64 (16 bytes); ``conformance/linux/test_layouts.py`` checks both against
the compiler.
"""

from __future__ import annotations

import struct as _struct
import time as _time
from typing import Any, Final, NamedTuple

import cffi

from vllsi._platform import ARCH as _ARCH
from vllsi.linux import _syscall as _s
from vllsi.linux._ffi import addr as _addr
from vllsi.linux._ffi import buffer as _buffer

__all__ = [
    "EFD_CLOEXEC",
    "EFD_NONBLOCK",
    "EFD_SEMAPHORE",
    "EPOLLERR",
    "EPOLLET",
    "EPOLLEXCLUSIVE",
    "EPOLLHUP",
    "EPOLLIN",
    "EPOLLONESHOT",
    "EPOLLOUT",
    "EPOLLPRI",
    "EPOLLRDHUP",
    "EPOLL_CLOEXEC",
    "EPOLL_CTL_ADD",
    "EPOLL_CTL_DEL",
    "EPOLL_CTL_MOD",
    "IoUringParams",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_pwait2",
    "eventfd2",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
]

# include/uapi/linux/eventpoll.h, include/uapi/linux/eventfd.h (= O_* values)
EPOLLIN: Final = 0x001
EPOLLPRI: Final = 0x002
EPOLLOUT: Final = 0x004
EPOLLERR: Final = 0x008
EPOLLHUP: Final = 0x010
EPOLLRDHUP: Final = 0x2000
EPOLLEXCLUSIVE: Final = 1 << 28
EPOLLONESHOT: Final = 1 << 30
EPOLLET: Final = 1 << 31
EPOLL_CTL_ADD: Final = 1
EPOLL_CTL_DEL: Final = 2
EPOLL_CTL_MOD: Final = 3
EPOLL_CLOEXEC: Final = 0o2000000
EFD_SEMAPHORE: Final = 1
EFD_CLOEXEC: Final = 0o2000000
EFD_NONBLOCK: Final = 0o4000

PACKED_EPOLL_EVENT: Final = _ARCH == "x86_64"

ffi = cffi.FFI()
ffi.cdef(
    "struct epoll_event { uint32_t events; uint64_t data; };",
    packed=PACKED_EPOLL_EVENT,
)
ffi.cdef("""
struct io_sqring_offsets { uint32_t head; uint32_t tail; uint32_t ring_mask;
    uint32_t ring_entries; uint32_t flags; uint32_t dropped; uint32_t array;
    uint32_t resv1; uint64_t user_addr; };
struct io_cqring_offsets { uint32_t head; uint32_t tail; uint32_t ring_mask;
    uint32_t ring_entries; uint32_t overflow; uint32_t cqes; uint32_t flags;
    uint32_t resv1; uint64_t user_addr; };
struct io_uring_params { uint32_t sq_entries; uint32_t cq_entries; uint32_t flags;
    uint32_t sq_thread_cpu; uint32_t sq_thread_idle; uint32_t features; uint32_t wq_fd;
    uint32_t resv[3]; struct io_sqring_offsets sq_off; struct io_cqring_offsets cq_off; };
struct __kernel_timespec { int64_t tv_sec; int64_t tv_nsec; };
""")

EPOLL_EVENT_SIZE: Final = ffi.sizeof("struct epoll_event")
_EV_FMT: Final = "=IQ" if PACKED_EPOLL_EVENT else "=I4xQ"

_NR_EPOLL_CREATE1: Final = _s.NR["epoll_create1"]
_NR_EPOLL_CTL: Final = _s.NR["epoll_ctl"]
_NR_EPOLL_PWAIT: Final = _s.NR["epoll_pwait"]
_NR_EPOLL_PWAIT2: Final = _s.NR["epoll_pwait2"]
_NR_EVENTFD2: Final = _s.NR["eventfd2"]
_NR_URING_SETUP: Final = _s.NR["io_uring_setup"]
_NR_URING_ENTER: Final = _s.NR["io_uring_enter"]
_NR_URING_REGISTER: Final = _s.NR["io_uring_register"]


def _int(v: Any, name: str) -> int:
    if type(v) is int:
        return v
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be int, not {type(v).__name__}")
    return int(v)


def _u32(v: Any, name: str) -> int:
    x = _int(v, name)
    if not 0 <= x <= 0xFFFFFFFF:
        raise ValueError(f"{name} {x} outside 0..2**32-1")
    return x


def epoll_create1(flags: int = EPOLL_CLOEXEC) -> int:
    """epoll_create1(flags): a new epoll instance.

    Args: flags: 0 or EPOLL_CLOEXEC (the default here; the syscall itself is literal).
    Returns: the epoll descriptor.
    Raises: InvalidArgument/EINVAL (bad flags), ResourceExhausted/EMFILE, ENFILE, ENOMEM.
    Availability: Linux.
    """
    f = _u32(flags, "flags")
    return _s.check(_s.syscall(_NR_EPOLL_CREATE1, f), "epoll_create1")


def epoll_ctl(epfd: Any, op: int, fd: Any, events: int = 0, data: int = 0) -> None:
    """epoll_ctl(epfd, op, fd, &{events, data}): add, modify or delete an interest.

    Args:
        epfd: the epoll descriptor. op: EPOLL_CTL_ADD/MOD/DEL.
        fd: the watched descriptor. events: EPOLL* mask. data: a 64-bit cookie
            returned with each event (the engine uses it, the kernel does not).
    Raises: BadDescriptor/EBADF, AlreadyExists/EEXIST (ADD twice), NotFound/ENOENT
        (MOD/DEL of an unwatched fd), PermissionDenied/EPERM (a regular file or
        directory: epoll refuses them), InvalidArgument/EINVAL, ResourceExhausted/ENOMEM.
        ValueError for an op outside 1..3 or data outside 64 bits.
    Availability: Linux.
    """
    e = _s.fd_arg(epfd, name="epfd")
    f = _s.fd_arg(fd)
    o = _int(op, "op")
    if o not in (EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD):
        raise ValueError(f"op {o} is not EPOLL_CTL_ADD/MOD/DEL")
    d = _int(data, "data")
    if not 0 <= d < 1 << 64:
        raise ValueError("data must fit 64 unsigned bits")
    ev = ffi.new("struct epoll_event *")
    ev.events = _u32(events, "events")
    ev.data = d
    _s.check(_s.syscall(_NR_EPOLL_CTL, e, o, f, _addr(ev)), "epoll_ctl")


def _timeout_ns(timeout: Any) -> int | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a number of seconds or None, "
                        f"not {type(timeout).__name__}")
    if timeout != timeout:
        raise ValueError("timeout is NaN")
    return max(0, int(timeout * 1e9))


def _decode(buf: Any, n: int) -> list[tuple[int, int]]:
    return [(data, events) for events, data in
            _struct.iter_unpack(_EV_FMT, ffi.buffer(buf, n * EPOLL_EVENT_SIZE))]


def _maxevents(maxevents: Any) -> int:
    m = _int(maxevents, "maxevents")
    if not 1 <= m <= 1 << 20:
        raise ValueError("maxevents must be in 1..2**20")
    return m


def epoll_pwait(epfd: Any, maxevents: int = 64, timeout: float | None = None
                ) -> list[tuple[int, int]]:
    """epoll_pwait(epfd, events, maxevents, timeout_ms, NULL): wait for events.

    Args:
        epfd: the epoll descriptor. maxevents: at most this many events returned.
        timeout: seconds (None waits forever, 0 never waits); rounded *up* to the
            millisecond the syscall takes, so a wait never ends early.
    Returns: ``[(data, events), ...]``, possibly empty on timeout.
    Raises: BadDescriptor/EBADF, InvalidArgument/EINVAL (not an epoll fd).
        Blocking, releases the GIL; EINTR is retried with the remaining time (PEP 475).
    Availability: Linux.
    """
    e = _s.fd_arg(epfd, name="epfd")
    m = _maxevents(maxevents)
    t = _timeout_ns(timeout)
    buf = ffi.new("struct epoll_event[]", m)
    a = _addr(buf)
    deadline = None if t is None else _time.monotonic_ns() + t
    while True:
        if deadline is None:
            ms = -1
        else:
            left = max(0, deadline - _time.monotonic_ns())
            ms = min((left + 999_999) // 1_000_000, 0x7FFFFFFF)
        r = _s.syscall_blocking(_NR_EPOLL_PWAIT, e, a, m, ms, 0, 8)
        if r != -_s.EINTR:
            break
    n = _s.check(r, "epoll_pwait")
    return _decode(buf, n)


def epoll_pwait2(epfd: Any, maxevents: int = 64, timeout: float | None = None
                 ) -> list[tuple[int, int]]:
    """epoll_pwait2(epfd, events, maxevents, &timespec, NULL): wait with ns precision.

    Same as :func:`epoll_pwait` but the timeout is a ``struct timespec``
    (nanoseconds). Raises as epoll_pwait, plus Unsupported/ENOSYS before Linux 5.11.
    Blocking, releases the GIL, EINTR retried with the remaining time.
    Availability: Linux >= 5.11.
    """
    e = _s.fd_arg(epfd, name="epfd")
    m = _maxevents(maxevents)
    t = _timeout_ns(timeout)
    buf = ffi.new("struct epoll_event[]", m)
    a = _addr(buf)
    ts = ffi.new("struct __kernel_timespec *")
    deadline = None if t is None else _time.monotonic_ns() + t
    while True:
        if deadline is None:
            pts = 0
        else:
            left = max(0, deadline - _time.monotonic_ns())
            ts.tv_sec, ts.tv_nsec = divmod(left, 1_000_000_000)
            pts = _addr(ts)
        r = _s.syscall_blocking(_NR_EPOLL_PWAIT2, e, a, m, pts, 0, 8)
        if r != -_s.EINTR:
            break
    n = _s.check(r, "epoll_pwait2")
    return _decode(buf, n)


def eventfd2(initval: int = 0, flags: int = EFD_CLOEXEC) -> int:
    """eventfd2(initval, flags): a new event counter descriptor.

    Args: initval: the starting count (0..2**32-1). flags: EFD_CLOEXEC (default),
        EFD_NONBLOCK, EFD_SEMAPHORE.
    Returns: the descriptor (read/write 8-byte native integers).
    Raises: InvalidArgument/EINVAL, ResourceExhausted/EMFILE, ENFILE, ENOMEM;
        ValueError for initval outside 32 bits.
    Availability: Linux.
    """
    v = _u32(initval, "initval")
    f = _u32(flags, "flags")
    return _s.check(_s.syscall(_NR_EVENTFD2, v, f), "eventfd2")


class IoUringParams(NamedTuple):
    """What io_uring_setup reports in ``struct io_uring_params``."""

    sq_entries: int
    cq_entries: int
    flags: int
    features: int
    sq_off: dict[str, int]
    cq_off: dict[str, int]


_SQ_FIELDS = ("head", "tail", "ring_mask", "ring_entries", "flags", "dropped", "array")
_CQ_FIELDS = ("head", "tail", "ring_mask", "ring_entries", "overflow", "cqes", "flags")


def io_uring_setup(entries: int, flags: int = 0, *, cq_entries: int = 0,
                   sq_thread_cpu: int = 0, sq_thread_idle: int = 0, wq_fd: int = 0
                   ) -> tuple[int, IoUringParams]:
    """io_uring_setup(entries, &params): create an io_uring instance.

    Args:
        entries: submission queue size (1..32768; the kernel rounds up to a power of 2).
        flags: IORING_SETUP_* (CQSIZE is implied when ``cq_entries`` is given).
        cq_entries, sq_thread_cpu, sq_thread_idle, wq_fd: the matching params fields.
    Returns: ``(ring_fd, IoUringParams)`` with the kernel's offsets for mmap.
    Raises: PermissionDenied/EPERM (seccomp, ``kernel.io_uring_disabled``),
        Unsupported/ENOSYS (no io_uring), InvalidArgument/EINVAL,
        ResourceExhausted/ENOMEM or EMFILE; ValueError for entries out of range.
    Availability: Linux >= 5.1.
    """
    n = _u32(entries, "entries")
    if not 1 <= n <= 32768:
        raise ValueError("entries must be in 1..32768")
    p = ffi.new("struct io_uring_params *")
    p.flags = _u32(flags, "flags")
    if cq_entries:
        p.cq_entries = _u32(cq_entries, "cq_entries")
        p.flags |= 1 << 3  # IORING_SETUP_CQSIZE
    p.sq_thread_cpu = _u32(sq_thread_cpu, "sq_thread_cpu")
    p.sq_thread_idle = _u32(sq_thread_idle, "sq_thread_idle")
    p.wq_fd = _u32(wq_fd, "wq_fd")
    fd = _s.check(_s.syscall(_NR_URING_SETUP, n, _addr(p)), "io_uring_setup")
    return fd, IoUringParams(
        int(p.sq_entries), int(p.cq_entries), int(p.flags), int(p.features),
        {f: int(getattr(p.sq_off, f)) for f in _SQ_FIELDS},
        {f: int(getattr(p.cq_off, f)) for f in _CQ_FIELDS},
    )


def io_uring_enter(fd: Any, to_submit: int, min_complete: int, flags: int,
                   arg: Any = None) -> int:
    """io_uring_enter(fd, to_submit, min_complete, flags, arg, argsz): submit and/or wait.

    Args:
        fd: the ring descriptor. to_submit: SQEs to consume from the SQ ring.
        min_complete: with IORING_ENTER_GETEVENTS, wait for this many CQEs.
        flags: IORING_ENTER_*. arg: None, or a buffer passed with its size (a
            sigset, or ``struct io_uring_getevents_arg`` with IORING_ENTER_EXT_ARG).
    Returns: the number of SQEs consumed.
    Raises: BadDescriptor/EBADF, Busy/EBUSY (CQ overflow backlog), TimedOut/ETIME
        (EXT_ARG timeout expired), InvalidArgument/EINVAL, WouldBlock/EAGAIN.
        Blocking, releases the GIL; EINTR is retried as is (PEP 475: an EXT_ARG
        timeout restarts in full; the engine recomputes its own).
    Availability: Linux >= 5.1.
    """
    f = _s.fd_arg(fd)
    ts = _u32(to_submit, "to_submit")
    mc = _u32(min_complete, "min_complete")
    fl = _u32(flags, "flags")
    if arg is None:
        a, sz, keep = 0, 0, None
    else:
        keep = _buffer(arg, writable=False)
        a, sz = _addr(keep), len(keep)
    r = _s.retry(lambda: _s.syscall_blocking(_NR_URING_ENTER, f, ts, mc, fl, a, sz))
    del keep
    return _s.check(r, "io_uring_enter")


def io_uring_register(fd: Any, opcode: int, arg: Any = None, nr_args: int = 0) -> int:
    """io_uring_register(fd, opcode, arg, nr_args): register resources with a ring.

    Args:
        fd: the ring descriptor. opcode: IORING_REGISTER_* (e.g. 8 = PROBE,
            4 = EVENTFD). arg: None or a buffer holding the opcode's argument
            (the kernel may write into it, e.g. PROBE). nr_args: as the opcode says.
    Returns: the kernel's non-negative result.
    Raises: BadDescriptor/EBADF, InvalidArgument/EINVAL, Busy/EBUSY,
        ResourceExhausted/ENOMEM, Unsupported/EOPNOTSUPP.
    Availability: Linux >= 5.1.
    """
    f = _s.fd_arg(fd)
    op = _u32(opcode, "opcode")
    n = _u32(nr_args, "nr_args")
    keep = None if arg is None else _buffer(arg, writable=False)
    a = 0 if keep is None else _addr(keep)
    r = _s.retry(lambda: _s.syscall_blocking(_NR_URING_REGISTER, f, op, a, n))
    del keep
    return _s.check(r, "io_uring_register")
