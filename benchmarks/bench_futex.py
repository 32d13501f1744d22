"""Uncontended lock + unlock: vllsi.thread.Mutex (futex word, no syscall when
uncontended) vs threading.Lock and multiprocessing.Lock (a POSIX semaphore),
the two things a Python user would otherwise reach for. No ratio target is set
by the issue: the rows report where vllsi stands."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest

thread = pytest.importorskip("vllsi.thread")

N = 1000
GROUP = "mutex acquire+release"


def _with_loop(lock: Any) -> Any:
    r = range(N)

    def run() -> None:
        for _ in r:
            with lock:
                pass

    return run


def test_mutex_vllsi(benchmark: Any) -> None:
    benchmark.group = GROUP
    benchmark.extra_info.update(role="vllsi", label="vllsi.thread.Mutex (private word)", ops=N)
    benchmark(_with_loop(thread.Mutex()))


def test_mutex_vllsi_shared(benchmark: Any) -> None:
    from vllsi import memory

    benchmark.group = "shared mutex acquire+release"
    benchmark.extra_info.update(role="vllsi", label="vllsi.thread.Mutex (MAP_SHARED)", ops=N)
    shm = memory.os_alloc(4096, shared=True)
    benchmark(_with_loop(thread.Mutex(shm)))


def test_mutex_multiprocessing_shared(benchmark: Any) -> None:
    benchmark.group = "shared mutex acquire+release"
    benchmark.extra_info.update(role="baseline", label="multiprocessing.Lock", ops=N)
    benchmark(_with_loop(multiprocessing.Lock()))


def test_mutex_threading_lock(benchmark: Any) -> None:
    benchmark.group = GROUP
    benchmark.extra_info.update(role="baseline", label="threading.Lock", ops=N)
    benchmark(_with_loop(threading.Lock()))


def test_mutex_multiprocessing_lock(benchmark: Any) -> None:
    benchmark.group = GROUP
    benchmark.extra_info.update(role="baseline", label="multiprocessing.Lock", ops=N)
    benchmark(_with_loop(multiprocessing.Lock()))
