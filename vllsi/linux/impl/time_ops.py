"""Linux backend of :mod:`vllsi.time_ops`: clock_gettime through the vDSO.

Tier ``asm``: ``_fast.monotonic_ns``/``realtime_ns``/``clock_gettime`` call the
vDSO's clock_gettime (address found by vllsi.linux.vdso and installed once at
import) in one C call, falling back to the raw syscall when there is no vDSO.
Tier ``libc``: the same vDSO address called through cffi ABI mode (no compiler
needed), or the clock_gettime syscall through libc's syscall(2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vllsi import errors
from vllsi.linux import _syscall as _s
from vllsi.linux import time as _t
from vllsi.linux import vdso as _vdso
from vllsi.linux._ffi import ffi

__all__ = ["VDSO_ADDRESS", "clock_getres", "clock_gettime", "monotonic_ns", "realtime_ns",
           "sleep_ns"]

VDSO_ADDRESS: int = _vdso.resolve("clock_gettime") or 0

monotonic_ns: Callable[[], int]
realtime_ns: Callable[[], int]
_raw_gettime: Callable[[int], Any]

if _s.TIER == "asm":
    from vllsi.linux import _fast

    _fast.vdso_install(VDSO_ADDRESS)
    monotonic_ns = _fast.monotonic_ns
    realtime_ns = _fast.realtime_ns
    _raw_gettime = _fast.clock_gettime
else:
    if VDSO_ADDRESS:
        _cgt: Any = ffi.cast("int(*)(int, struct timespec *)", VDSO_ADDRESS)

        def _raw_gettime(clock_id: int) -> Any:
            ts = ffi.new("struct timespec *")
            r = _cgt(clock_id, ts)
            return r if r < 0 else (ts.tv_sec, ts.tv_nsec)
    else:
        _NR = _s.NR["clock_gettime"]

        def _raw_gettime(clock_id: int) -> Any:
            ts = ffi.new("struct timespec *")
            r = _s.syscall(_NR, clock_id, int(ffi.cast("uintptr_t", ts)))
            return r if r < 0 else (ts.tv_sec, ts.tv_nsec)

    def monotonic_ns() -> int:
        t = _raw_gettime(_t.CLOCK_MONOTONIC)
        return int(t[0]) * 1_000_000_000 + int(t[1])

    def realtime_ns() -> int:
        t = _raw_gettime(_t.CLOCK_REALTIME)
        return int(t[0]) * 1_000_000_000 + int(t[1])


def clock_gettime(clock_id: int) -> tuple[int, int]:
    """(sec, nsec) of clock_id (validated int); raises through the factory."""
    t = _raw_gettime(clock_id)
    if type(t) is int:
        raise errors.from_errno(-t, syscall="clock_gettime")
    return int(t[0]), int(t[1])


def clock_getres(clock_id: int) -> tuple[int, int]:
    """The clock_getres syscall (the vDSO's is no faster for a value that never changes)."""
    return _t.clock_getres(clock_id)


def sleep_ns(ns: int) -> None:
    """clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, now + ns): EINTR resumes
    towards the same deadline, so the remaining time is exactly what is slept."""
    now = monotonic_ns()
    deadline = now + ns
    _t.clock_nanosleep(_t.CLOCK_MONOTONIC, _t.TIMER_ABSTIME, deadline // 1_000_000_000,
                       deadline % 1_000_000_000)
