"""Time: monotonic and wall clocks in nanoseconds, clock ids, sleeping.

L: clock_gettime through the vDSO when the kernel maps one (found and parsed by
:mod:`vllsi.linux.vdso`, called from C: one call, no kernel crossing), else the
raw syscall; D clock_gettime_nsec_np / mach_absolute_time; W
QueryPerformanceCounter and GetSystemTimePreciseAsFileTime.

``monotonic_ns()`` never decreases (across threads too: CLOCK_MONOTONIC is one
system-wide clock); ``realtime_ns()`` is the wall clock and may jump.
``sleep_ns(ns)`` sleeps towards an absolute monotonic deadline, so a signal
that interrupts it (EINTR) runs its Python handler and the sleep resumes for
exactly the remaining time (PEP 475); a handler that raises ends the sleep.

Backend interface (``vllsi.<os>.impl.time_ops``; arguments arrive validated):
``monotonic_ns() -> int``, ``realtime_ns() -> int``, ``clock_gettime(id) ->
(sec, nsec)``, ``clock_getres(id) -> (sec, nsec)``, ``sleep_ns(ns)``; errors
through vllsi.errors.from_errno.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from vllsi import _platform

__all__ = ["Timespec", "clock_getres", "clock_gettime", "monotonic_ns", "realtime_ns",
           "sleep_ns"]

__laws__ = ("monotonic_never_decreases",)

_impl = _platform.os_module("time_ops")


class Timespec(NamedTuple):
    """``struct timespec``: ``tv_sec`` and ``tv_nsec`` (0 <= tv_nsec < 1e9)."""

    tv_sec: int
    tv_nsec: int

    def to_ns(self) -> int:
        """The time in nanoseconds."""
        return self.tv_sec * 1_000_000_000 + self.tv_nsec


monotonic_ns: Callable[[], int] = _impl.monotonic_ns
"""monotonic_ns(): clock_gettime(CLOCK_MONOTONIC) in nanoseconds (L vDSO)."""
realtime_ns: Callable[[], int] = _impl.realtime_ns
"""realtime_ns(): clock_gettime(CLOCK_REALTIME) in nanoseconds (L vDSO)."""


def _clock_arg(clock_id: Any) -> int:
    if isinstance(clock_id, bool) or not isinstance(clock_id, int):
        raise TypeError(f"clock_id must be an int, not {type(clock_id).__name__}")
    if not 0 <= clock_id < (1 << 31):
        raise ValueError(f"clock_id {clock_id} out of range")
    return int(clock_id)


def clock_gettime(clock_id: int) -> Timespec:
    """clock_gettime(clock_id) (L vDSO, else the syscall).

    Args: clock_id: a CLOCK_* id (``time.CLOCK_MONOTONIC``... have the host's values).
    Returns: a :class:`Timespec`.
    Raises: TypeError/ValueError before the call; InvalidArgument/EINVAL for a
        clock the kernel does not have.
    Availability: Linux, macOS, Windows (REALTIME and MONOTONIC).
    """
    sec, nsec = _impl.clock_gettime(_clock_arg(clock_id))
    return Timespec(sec, nsec)


def clock_getres(clock_id: int) -> Timespec:
    """clock_getres(clock_id): the clock's resolution.

    Raises: TypeError/ValueError before the call; InvalidArgument/EINVAL.
    Availability: Linux, macOS, Windows.
    """
    sec, nsec = _impl.clock_getres(_clock_arg(clock_id))
    return Timespec(sec, nsec)


def sleep_ns(ns: int) -> None:
    """clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, now + ns), releasing the GIL.

    EINTR: Python signal handlers run, then the sleep resumes with the remaining
    time (same deadline); an exception from a handler propagates.
    Args: ns: nanoseconds (>= 0; 0 returns at once).
    Raises: TypeError/ValueError (negative) before the call.
    Availability: Linux, macOS, Windows.
    """
    if isinstance(ns, bool) or not isinstance(ns, int):
        raise TypeError(f"ns must be an int, not {type(ns).__name__}")
    if ns < 0:
        raise ValueError("sleep_ns needs ns >= 0")
    if ns:
        _impl.sleep_ns(int(ns))
