"""vllsi.time_ops: differential against the time module; EINTR resumption."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance._support import ON_LINUX, ON_WINDOWS
from vllsi import errors, time_ops


@pytest.mark.covers("time_ops.monotonic_ns")
def test_monotonic_within_1ms_of_time_module() -> None:
    for _ in range(1000):
        a = time.monotonic_ns()
        b = time_ops.monotonic_ns()
        c = time.monotonic_ns()
        assert a - 1_000_000 <= b <= c + 1_000_000


@pytest.mark.covers("time_ops.realtime_ns")
def test_realtime_matches_time_ns() -> None:
    a = time.time_ns()
    b = time_ops.realtime_ns()
    c = time.time_ns()
    assert a - 1_000_000 <= b <= c + 1_000_000


@pytest.mark.covers("time_ops.monotonic_ns")
@pytest.mark.law("time_ops.monotonic_never_decreases")
def test_monotonic_never_decreases_across_threads() -> None:
    # Each thread takes a reading, then publishes it under a lock; any later reading
    # by any thread must be >= every reading published before it was taken.
    lock = threading.Lock()
    published = [0]
    bad: list[tuple[int, int]] = []

    def worker() -> None:
        for _ in range(5000):
            with lock:
                floor = published[0]
                now = time_ops.monotonic_ns()
                if now < floor:
                    bad.append((floor, now))
                published[0] = now

    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert bad == []


@pytest.mark.covers("time_ops.monotonic_ns")
@pytest.mark.law("time_ops.monotonic_never_decreases")
@settings(max_examples=50, deadline=None)
@given(st.integers(1, 200))
def test_monotonic_sequence_sorted(n: int) -> None:
    xs = [time_ops.monotonic_ns() for _ in range(n)]
    assert xs == sorted(xs)


CLOCKS = [c for c in ("CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_MONOTONIC_RAW", "CLOCK_BOOTTIME",
                      "CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID", "CLOCK_TAI")
          if hasattr(time, c)] or [pytest.param(  # Windows: no oracle clocks in `time`
    "none", marks=pytest.mark.skip(reason="platform: the time module has no CLOCK_* here"))]


@pytest.mark.covers("time_ops.clock_gettime", "time_ops.Timespec")
@pytest.mark.parametrize("name", CLOCKS)
def test_clock_gettime_matches_time_module(name: str) -> None:
    cid = getattr(time, name)
    a = time.clock_gettime_ns(cid)
    ts = time_ops.clock_gettime(cid)
    b = time.clock_gettime_ns(cid)
    assert isinstance(ts, time_ops.Timespec)
    assert 0 <= ts.tv_nsec < 1_000_000_000
    slack = 50_000_000 if "CPUTIME" in name else 1_000_000
    assert a - slack <= ts.to_ns() <= b + slack


@pytest.mark.covers("time_ops.clock_getres", "time_ops.Timespec")
@pytest.mark.parametrize("name", CLOCKS)
def test_clock_getres_matches_time_module(name: str) -> None:
    cid = getattr(time, name)
    res = time_ops.clock_getres(cid)
    assert res.to_ns() == round(time.clock_getres(cid) * 1e9)


@pytest.mark.covers("time_ops.clock_gettime", "time_ops.clock_getres")
def test_bad_clock_ids() -> None:
    for f in (time_ops.clock_gettime, time_ops.clock_getres):
        with pytest.raises(TypeError):
            f("1")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            f(-1)
        if ON_LINUX:
            with pytest.raises(errors.InvalidArgument):
                f(99)


@pytest.mark.covers("time_ops.sleep_ns")
def test_sleep_ns_validation_and_zero() -> None:
    with pytest.raises(ValueError):
        time_ops.sleep_ns(-1)
    with pytest.raises(TypeError):
        time_ops.sleep_ns(0.5)  # type: ignore[arg-type]
    time_ops.sleep_ns(0)
    a = time.monotonic_ns()
    time_ops.sleep_ns(2_000_000)
    assert time.monotonic_ns() - a >= 2_000_000


@pytest.mark.skipif(ON_WINDOWS, reason="platform: no SIGALRM/setitimer on Windows")
@pytest.mark.covers("time_ops.sleep_ns")
def test_sleep_ns_resumes_after_eintr_with_the_remaining_time() -> None:
    fired: list[int] = []

    def handler(signum: int, frame: object) -> None:
        fired.append(time.monotonic_ns())

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)  # several interruptions
        start = time.monotonic_ns()
        time_ops.sleep_ns(150_000_000)
        end = time.monotonic_ns()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, old)
    interrupted = [t for t in fired if start < t < end]
    assert interrupted, "no signal landed during the sleep"
    assert end - start >= 150_000_000  # the full duration was slept despite EINTR


@pytest.mark.skipif(ON_WINDOWS, reason="platform: no SIGALRM/setitimer on Windows")
@pytest.mark.covers("time_ops.sleep_ns")
def test_sleep_ns_handler_exception_propagates() -> None:
    class Stop(Exception):
        pass

    def handler(signum: int, frame: object) -> None:
        raise Stop

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        with pytest.raises(Stop):
            time_ops.sleep_ns(5_000_000_000)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
