"""Windows backend of :mod:`vllsi.time_ops`.

- ``monotonic_ns``: QueryPerformanceCounter scaled by QueryPerformanceFrequency
  (read once; it is fixed at boot). System-wide, never decreasing.
- ``realtime_ns``: GetSystemTimePreciseAsFileTime (100-ns units since 1601)
  converted to the Unix epoch.
- Clock ids keep the Linux numbering (Python's ``time`` has no CLOCK_* on
  Windows): 0 CLOCK_REALTIME, 1 CLOCK_MONOTONIC, 4 CLOCK_MONOTONIC_RAW (the same
  counter), 7 CLOCK_BOOTTIME (QPC keeps counting across sleep); any other id is
  InvalidArgument/EINVAL. Resolutions: one QPC tick, 100 ns for the wall clock.
- ``sleep_ns``: a high-resolution waitable timer (falling back to an ordinary one
  where CREATE_WAITABLE_TIMER_HIGH_RESOLUTION is unknown) re-armed until the
  QPC deadline is reached, so an early wake sleeps the remainder. Windows has no
  EINTR; the wait is not alertable.
"""

from __future__ import annotations

import errno as _errno
import threading

from vllsi import errors
from vllsi.windows import consts as C
from vllsi.windows import kernel32

__all__ = ["clock_getres", "clock_gettime", "monotonic_ns", "realtime_ns", "sleep_ns"]

_FREQ = kernel32.query_performance_frequency()
_EPOCH_100NS = 116444736000000000
_qpc = kernel32.query_performance_counter
_ft = kernel32.get_system_time_precise_as_file_time
_MONOTONIC = frozenset({1, 4, 7})
_tls = threading.local()


def monotonic_ns() -> int:
    c = _qpc()
    return (c // _FREQ) * 1_000_000_000 + (c % _FREQ) * 1_000_000_000 // _FREQ


def realtime_ns() -> int:
    return (_ft() - _EPOCH_100NS) * 100


def _bad(clock_id: int, call: str) -> errors.VllsiError:
    return errors.from_errno(_errno.EINVAL, syscall=call,
                             message=f"clock id {clock_id} is not available on Windows")


def clock_gettime(clock_id: int) -> tuple[int, int]:
    if clock_id == 0:
        ns = realtime_ns()
    elif clock_id in _MONOTONIC:
        ns = monotonic_ns()
    else:
        raise _bad(clock_id, "QueryPerformanceCounter")
    return divmod(ns, 1_000_000_000)


def clock_getres(clock_id: int) -> tuple[int, int]:
    if clock_id == 0:
        return (0, 100)
    if clock_id in _MONOTONIC:
        return (0, max(1, -(-1_000_000_000 // _FREQ)))
    raise _bad(clock_id, "QueryPerformanceFrequency")


def _timer() -> int:
    t: int | None = getattr(_tls, "timer", None)
    if t is None:
        try:
            t = kernel32.create_waitable_timer_ex(high_resolution=True)
        except errors.VllsiError:
            t = kernel32.create_waitable_timer_ex(high_resolution=False)
        _tls.timer = t  # one per thread, kept for the thread's life
    return t


def sleep_ns(ns: int) -> None:
    if ns <= 0:
        return
    deadline = monotonic_ns() + ns
    timer = _timer()
    while True:
        left = deadline - monotonic_ns()
        if left <= 0:
            return
        kernel32.set_waitable_timer(timer, -max(1, -(-left // 100)))
        kernel32.wait_for_single_object(timer, C.INFINITE)
