"""Futex words and the primitives built on them, across threads and processes."""

from __future__ import annotations

import mmap
import os
import signal
import struct
import threading
import time

import pytest

from conformance._support import ON_WINDOWS
from vllsi import errors, memory
from vllsi import thread as T

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="platform: no fork")


def _wait_child(pid: int) -> int:
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st)


@pytest.mark.covers("thread.futex_wait", "thread.futex_wake")
def test_futex_wait_value_mismatch_timeout_and_wake() -> None:
    buf = bytearray(8)
    struct.pack_into("I", buf, 4, 7)
    T.futex_wait(buf, 1, offset=4)  # the word holds 7, not 1: returns at once
    T.futex_wait(buf, 1, 0, offset=4)  # timeout 0 still compares: no TimedOut
    with pytest.raises(errors.TimedOut) as ei:
        T.futex_wait(buf, 7, 0.02, offset=4)
    assert ei.value.syscall == "futex"
    assert T.futex_wake(buf, 1, offset=4) == 0  # nobody waits

    woke = threading.Event()

    def waiter() -> None:
        while struct.unpack_from("I", buf, 4)[0] == 7:
            T.futex_wait(buf, 7, 30, offset=4)
        woke.set()

    t = threading.Thread(target=waiter)
    t.start()
    struct.pack_into("I", buf, 4, 8)
    for _ in range(3000):
        if T.futex_wake(buf, 1, offset=4) == 1 or woke.is_set():
            break
        time.sleep(0.001)
    t.join(30)
    assert woke.is_set()


@pytest.mark.covers("thread.futex_wait", "thread.futex_wake", "thread.Mutex")
def test_word_validation() -> None:
    with pytest.raises(TypeError):
        T.futex_wait(b"\0\0\0\0", 0, 0)  # read-only
    with pytest.raises(ValueError):
        T.futex_wait(bytearray(8), 0, 0, offset=6)  # out of range
    with pytest.raises(ValueError):
        T.futex_wake(bytearray(8), 1, offset=2)  # unaligned
    with pytest.raises(ValueError):
        T.futex_wake(bytearray(8), 0)
    with pytest.raises(ValueError):
        T.futex_wait(bytearray(4), 0, -1)
    with pytest.raises(ValueError):
        T.Mutex(bytearray(3))
    with pytest.raises(TypeError):
        T.Mutex(42)
    ba = bytearray(8)
    m = T.Mutex(ba)
    with pytest.raises(BufferError):
        ba.extend(b"x")  # the word is pinned: the buffer cannot move under the lock
    del m


@pytest.mark.covers("thread.Mutex")
def test_mutex_basics_and_timeout() -> None:
    m = T.Mutex()
    assert not m.locked()
    assert m.acquire() and m.locked()
    assert not m.try_acquire()
    with pytest.raises(errors.TimedOut):
        m.acquire(timeout=0.02)
    m.release()
    with pytest.raises(RuntimeError):
        m.release()
    with m:
        assert m.locked()
    assert not m.locked()


@pytest.mark.covers("thread.Mutex")
def test_mutex_threads_exclusion() -> None:
    m = T.Mutex()
    box = [0]

    def work() -> None:
        for _ in range(2000):
            with m:
                v = box[0]
                if v % 97 == 0:
                    T.thread_yield()  # invite a preemption inside the critical section
                box[0] = v + 1

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert box[0] == 8000


def _increment_in_children(make_lock: object, shared: object, nproc: int, n: int) -> None:
    pids = []
    for _ in range(nproc):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                lock = make_lock()  # type: ignore[operator]
                view = memoryview(shared).cast("B")  # type: ignore[arg-type]
                for i in range(n):
                    with lock:
                        v = struct.unpack_from("Q", view, 8)[0]
                        if i % 250 == 0:
                            os.sched_yield()
                        struct.pack_into("Q", view, 8, v + 1)
                view.release()
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    assert [_wait_child(p) for p in pids] == [0] * nproc


@needs_fork
@pytest.mark.covers("thread.Mutex")
def test_mutex_across_processes_4x5000() -> None:
    shm = memory.os_alloc(4096, shared=True)
    try:
        _increment_in_children(lambda: T.Mutex(shm, 0), shm, 4, 5000)
        with memoryview(shm) as v:
            assert struct.unpack_from("Q", v, 8)[0] == 20000
            assert struct.unpack_from("I", v, 0)[0] == 0  # unlocked at the end
    finally:
        shm.close()


@needs_fork
@pytest.mark.covers("thread.Mutex", "thread.SpinLock")
def test_locks_over_anonymous_mmap_across_processes() -> None:
    mm = mmap.mmap(-1, 4096)
    _increment_in_children(lambda: T.SpinLock(mm, 4), mm, 3, 1000)
    assert struct.unpack_from("Q", mm, 8)[0] == 3000
    struct.pack_into("Q", mm, 8, 0)
    _increment_in_children(lambda: T.Mutex(mm, 0), mm, 3, 1000)
    assert struct.unpack_from("Q", mm, 8)[0] == 3000


@pytest.mark.covers("thread.SpinLock")
def test_spinlock_basics_threads_and_timeout() -> None:
    s = T.SpinLock()
    with s:
        assert s.locked() and not s.try_acquire()
        with pytest.raises(errors.TimedOut):
            s.acquire(timeout=0.01)
    assert not s.locked()
    with pytest.raises(RuntimeError):
        s.release()
    box = [0]

    def work() -> None:
        for _ in range(1000):
            with s:
                box[0] += 1

    ts = [threading.Thread(target=work) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert box[0] == 3000


@pytest.mark.covers("thread.Condvar", "thread.Mutex")
def test_condvar_across_threads_producer_consumer() -> None:
    m, cv = T.Mutex(), T.Condvar()
    queue: list[int] = []
    got: list[int] = []

    def consumer() -> None:
        while len(got) < 200:
            with m:
                cv.wait_for(lambda: queue, m, timeout=30)
                got.append(queue.pop(0))

    t = threading.Thread(target=consumer)
    t.start()
    for i in range(200):
        with m:
            queue.append(i)
        cv.notify()
    t.join(60)
    assert got == list(range(200))


@pytest.mark.covers("thread.Condvar")
def test_condvar_timeout_reacquires_mutex() -> None:
    m, cv = T.Mutex(), T.Condvar()
    with m:
        with pytest.raises(errors.TimedOut):
            cv.wait(m, timeout=0.02)
        assert m.locked()
        with pytest.raises(errors.TimedOut):
            cv.wait_for(lambda: False, m, timeout=0.02)
        assert m.locked()
    with pytest.raises(TypeError):
        cv.wait(threading.Lock())  # type: ignore[arg-type]
    assert cv.notify_all() == 0


@needs_fork
@pytest.mark.covers("thread.Condvar", "thread.Mutex")
def test_condvar_across_processes() -> None:
    shm = memory.os_alloc(4096, shared=True)
    try:
        m, cv = T.Mutex(shm, 0), T.Condvar(shm, 4)
        view = memoryview(shm)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                with m:
                    cv.wait_for(lambda: view[8] == 1, m, timeout=60)
                    view[9] = 1  # answer
                code = 0
            finally:
                os._exit(code)
        time.sleep(0.05)
        with m:
            view[8] = 1
        cv.notify_all()
        assert _wait_child(pid) == 0
        assert view[9] == 1
        view.release()
        del m, cv
    finally:
        import gc

        gc.collect()
        shm.close()


@pytest.mark.skipif(ON_WINDOWS, reason="platform: no setitimer on Windows")
@pytest.mark.covers("thread.Condvar")
def test_eintr_does_not_lose_a_wakeup() -> None:
    # The main thread waits (signals are delivered to it) while an interval timer
    # interrupts the futex wait over and over; a worker notifies once. The wait must
    # end through that notify, however it interleaves with EINTR and the handler.
    m, cv = T.Mutex(), T.Condvar()
    state = {"ready": False}
    hits = [0]

    def handler(signum: int, frame: object) -> None:
        hits[0] += 1

    def notifier() -> None:
        while hits[0] < 5:
            time.sleep(0.002)
        with m:
            state["ready"] = True
        cv.notify()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.002, 0.002)
    t = threading.Thread(target=notifier)
    t.start()
    try:
        with m:
            assert cv.wait_for(lambda: state["ready"], m, timeout=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        t.join()
    assert hits[0] >= 5


@pytest.mark.covers("thread.Semaphore")
def test_semaphore_counts_and_timeout() -> None:
    s = T.Semaphore(initial=2)
    assert s.value == 2
    assert s.acquire() and s.try_acquire() and not s.try_acquire()
    with pytest.raises(errors.TimedOut):
        s.acquire(timeout=0.02)
    s.release(2)
    assert s.value == 2
    with s:
        assert s.value == 1
    with pytest.raises(ValueError):
        s.release(0)
    with pytest.raises(ValueError):
        T.Semaphore(initial=-1)
    big = T.Semaphore(initial=(1 << 32) - 1)
    with pytest.raises(ValueError):
        big.release()
    assert big.value == (1 << 32) - 1


@needs_fork
@pytest.mark.covers("thread.Semaphore")
def test_semaphore_across_processes() -> None:
    shm = memory.os_alloc(4096, shared=True)
    try:
        sem = T.Semaphore(shm, 0, initial=0)
        pids = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    child = T.Semaphore(shm, 0)  # attach without resetting
                    child.release()
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        for _ in range(3):
            sem.acquire(timeout=60)
        assert [_wait_child(p) for p in pids] == [0, 0, 0]
        assert sem.value == 0
        del sem
    finally:
        import gc

        gc.collect()
        shm.close()


@pytest.mark.covers("thread.Semaphore")
def test_semaphore_threads_wake() -> None:
    s = T.Semaphore()
    got: list[int] = []

    def taker() -> None:
        s.acquire(timeout=30)
        got.append(1)

    ts = [threading.Thread(target=taker) for _ in range(4)]
    for t in ts:
        t.start()
    s.release(4)
    for t in ts:
        t.join(30)
    assert got == [1, 1, 1, 1] and s.value == 0
