"""Typed wrappers for the clock syscalls: clock_gettime, clock_getres, clock_nanosleep.

These are the real syscalls (a kernel crossing each); the vDSO fast path used by
``vllsi.time_ops`` lives in ``vllsi.linux.vdso`` and ``_fast``. Times are
``(seconds, nanoseconds)`` pairs, as ``struct timespec``.
"""

from __future__ import annotations

from typing import Final

from vllsi.linux import _syscall as _s
from vllsi.linux._ffi import addr, ffi

__all__ = [
    "CLOCK_BOOTTIME", "CLOCK_MONOTONIC", "CLOCK_MONOTONIC_COARSE", "CLOCK_MONOTONIC_RAW",
    "CLOCK_PROCESS_CPUTIME_ID", "CLOCK_REALTIME", "CLOCK_REALTIME_COARSE", "CLOCK_TAI",
    "CLOCK_THREAD_CPUTIME_ID", "TIMER_ABSTIME", "clock_getres", "clock_gettime",
    "clock_nanosleep",
]

# include/uapi/linux/time.h
CLOCK_REALTIME: Final = 0
CLOCK_MONOTONIC: Final = 1
CLOCK_PROCESS_CPUTIME_ID: Final = 2
CLOCK_THREAD_CPUTIME_ID: Final = 3
CLOCK_MONOTONIC_RAW: Final = 4
CLOCK_REALTIME_COARSE: Final = 5
CLOCK_MONOTONIC_COARSE: Final = 6
CLOCK_BOOTTIME: Final = 7
CLOCK_TAI: Final = 11
TIMER_ABSTIME: Final = 1

_NR_GETTIME = _s.NR["clock_gettime"]
_NR_GETRES = _s.NR["clock_getres"]
_NR_NANOSLEEP = _s.NR["clock_nanosleep"]


def _clock_arg(clock_id: object) -> int:
    if isinstance(clock_id, bool) or not isinstance(clock_id, int):
        raise TypeError(f"clock_id must be an int, not {type(clock_id).__name__}")
    if not -(1 << 31) <= clock_id < (1 << 31):
        raise ValueError(f"clock_id {clock_id} does not fit a clockid_t")
    return int(clock_id) & 0xFFFFFFFF if clock_id < 0 else int(clock_id)


def clock_gettime(clock_id: int) -> tuple[int, int]:
    """clock_gettime(clock_id): the raw syscall (not the vDSO).

    Returns: ``(seconds, nanoseconds)``. Raises: TypeError/ValueError before the
    call; InvalidArgument/EINVAL for an unknown clock. Availability: Linux.
    """
    ts = ffi.new("struct timespec *")
    _s.check(_s.syscall(_NR_GETTIME, _clock_arg(clock_id), addr(ts)), "clock_gettime")
    return int(ts.tv_sec), int(ts.tv_nsec)


def clock_getres(clock_id: int) -> tuple[int, int]:
    """clock_getres(clock_id): the clock's resolution as ``(seconds, nanoseconds)``.

    Raises: TypeError/ValueError before the call; InvalidArgument/EINVAL.
    Availability: Linux.
    """
    ts = ffi.new("struct timespec *")
    _s.check(_s.syscall(_NR_GETRES, _clock_arg(clock_id), addr(ts)), "clock_getres")
    return int(ts.tv_sec), int(ts.tv_nsec)


def clock_nanosleep(clock_id: int, flags: int, seconds: int, nanoseconds: int = 0) -> None:
    """clock_nanosleep(clock_id, flags, request): sleep, releasing the GIL.

    With ``TIMER_ABSTIME`` the request is a deadline on ``clock_id``; otherwise a
    duration. EINTR follows PEP 475: Python signal handlers run (and may raise),
    then the sleep resumes -- with the remaining time the kernel reported for a
    relative sleep, with the same deadline for an absolute one.
    Raises: TypeError/ValueError (negative or out-of-range parts) before the
    call; InvalidArgument/EINVAL, Unsupported/ENOTSUP (clock cannot sleep).
    Availability: Linux.
    """
    clk = _clock_arg(clock_id)
    for v, n in ((flags, "flags"), (seconds, "seconds"), (nanoseconds, "nanoseconds")):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{n} must be an int, not {type(v).__name__}")
    if seconds < 0 or not 0 <= nanoseconds < 1_000_000_000:
        raise ValueError("clock_nanosleep needs seconds >= 0 and 0 <= nanoseconds < 1e9")
    req = ffi.new("struct timespec *", (seconds, nanoseconds))
    rem = ffi.new("struct timespec *")
    while True:
        r = _s.syscall_blocking(_NR_NANOSLEEP, clk, flags & 0xFFFFFFFF, addr(req), addr(rem))
        if r != -_s.EINTR:
            break
        # the loop's next bytecode runs pending Python signal handlers (PEP 475)
        if not flags & TIMER_ABSTIME:
            req.tv_sec, req.tv_nsec = rem.tv_sec, rem.tv_nsec
    _s.check(r, "clock_nanosleep")

