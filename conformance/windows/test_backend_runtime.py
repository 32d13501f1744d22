"""time_ops (and later memory, thread, tls) on their Windows backend.

Run once the portable modules are on the branch (module-level importorskip)."""

from __future__ import annotations

import threading
import time

import pytest

from conformance._support.pending import need

time_ops = pytest.importorskip("vllsi.time_ops")

from vllsi import errors  # noqa: E402
from vllsi.windows import kernel32  # noqa: E402


@pytest.mark.covers("time_ops.monotonic_ns", "time_ops.realtime_ns", "time_ops.clock_gettime",
                    "time_ops.clock_getres", "time_ops.Timespec")
def test_clocks_against_the_time_module() -> None:
    a = time_ops.monotonic_ns()
    b = time.perf_counter_ns()  # QPC too on Windows: a direct oracle
    c = time_ops.monotonic_ns()
    assert a <= c and abs(b - a) < 10**9 + (c - a)
    assert abs(time_ops.realtime_ns() - time.time_ns()) < 2 * 10**9
    ts = time_ops.clock_gettime(1)
    assert isinstance(ts, time_ops.Timespec) and 0 <= ts.tv_nsec < 10**9
    assert abs(ts.to_ns() - time_ops.monotonic_ns()) < 10**9
    assert abs(time_ops.clock_gettime(0).to_ns() - time.time_ns()) < 2 * 10**9
    res = time_ops.clock_getres(1)
    assert res.tv_sec == 0 and res.tv_nsec == max(1, -(-10**9 // kernel32.query_performance_frequency()))
    assert time_ops.clock_getres(0) == (0, 100)
    with pytest.raises(errors.InvalidArgument):
        time_ops.clock_gettime(3)


@pytest.mark.law("time_ops.monotonic_never_decreases")
@pytest.mark.covers("time_ops.monotonic_ns")
def test_monotonic_across_threads() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def run() -> None:
        for _ in range(2000):
            with lock:
                seen.append(time_ops.monotonic_ns())

    ts = [threading.Thread(target=run) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen == sorted(seen)


@pytest.mark.covers("time_ops.sleep_ns")
def test_sleep_ns_sleeps_at_least() -> None:
    for ns in (0, 1, 2_000_000, 30_000_000):
        t0 = time.perf_counter_ns()
        time_ops.sleep_ns(ns)
        assert time.perf_counter_ns() - t0 >= ns


@pytest.mark.covers("thread.get_thread_id", "thread.num_online_cpus", "thread.thread_yield",
                    "thread.thread_spawn", "thread.thread_join", "thread.ThreadHandle",
                    "thread.thread_detach")
def test_threads_on_windows() -> None:
    import os

    thread = need("vllsi.thread")
    assert thread.get_thread_id() == threading.get_native_id()
    assert thread.num_online_cpus() == os.cpu_count()
    thread.thread_yield()
    seen: list[int] = []
    h = thread.thread_spawn(lambda a: seen.append(a) or kernel32.get_current_thread_id(), 7,
                            stack_size=256 * 1024)
    assert isinstance(h, thread.ThreadHandle)
    tid = thread.thread_join(h)
    assert seen == [7] and tid == h.id != threading.get_native_id()
    done = threading.Event()
    d = thread.thread_spawn(lambda _a: done.set(), None)
    thread.thread_detach(d)
    assert done.wait(30)
    with pytest.raises(ValueError):
        thread.thread_join(d)


@pytest.mark.covers("thread.Mutex", "thread.futex_wait", "thread.futex_wake")
def test_atomic_thunks_under_contention() -> None:
    thread = need("vllsi.thread")
    m = thread.Mutex()
    counter = [0]

    def work() -> None:
        for _ in range(300):
            with m:
                v = counter[0]
                time.sleep(0) if v % 50 == 0 else None
                counter[0] = v + 1

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert counter[0] == 1200
    word = bytearray(4)
    assert thread.futex_wake(word, 5) == 0  # nobody waits
    with pytest.raises(errors.TimedOut):
        thread.futex_wait(word, 0, 0.01)


@pytest.mark.covers("tls.tls_get_base")
def test_tls_base_is_the_teb() -> None:
    tls = need("vllsi.tls")
    from vllsi.windows import ntdll
    from vllsi.windows._ffi import ffi

    base = tls.tls_get_base()
    assert base == ntdll.nt_current_teb()
    assert int(ffi.cast("uintptr_t *", base + 0x30)[0]) == base  # NT_TIB.Self
    other: list[int] = []
    t = threading.Thread(target=lambda: other.append(tls.tls_get_base()))
    t.start()
    t.join()
    assert other[0] != base
