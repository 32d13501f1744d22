"""Clocks: vllsi.time_ops.monotonic_ns (vDSO from C) vs time.monotonic_ns and a raw syscall.

Goal P4 (../shared/reference/anchors.md §17.2): <= 1.5x ``time.monotonic_ns()``
and <= 0.4x a raw ``clock_gettime`` syscall (vllsi's own trampoline, the kernel
crossing the vDSO avoids). Each benchmarked callable runs N calls (``ops=N``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

time_ops = pytest.importorskip("vllsi.time_ops")

N = 1000
GROUP = "monotonic_ns"


def _loop0(fn: Callable[[], Any]) -> Callable[[], None]:
    r = range(N)

    def run() -> None:
        for _ in r:
            fn()

    return run


def test_monotonic_vllsi(benchmark: Any) -> None:
    benchmark.group = GROUP
    benchmark.extra_info.update(role="vllsi", label="vllsi.time_ops.monotonic_ns", ops=N)
    benchmark(_loop0(time_ops.monotonic_ns))


def test_monotonic_time_module(benchmark: Any) -> None:
    benchmark.group = GROUP
    benchmark.extra_info.update(role="baseline", target=1.5, label="time.monotonic_ns", ops=N)
    benchmark(_loop0(time.monotonic_ns))


def test_monotonic_raw_syscall(benchmark: Any) -> None:
    linux = pytest.importorskip("vllsi.linux", reason="platform: raw syscalls are Linux only")
    from vllsi.linux._ffi import addr, ffi

    benchmark.group = GROUP
    benchmark.extra_info.update(role="baseline", target=0.4,
                                label="raw clock_gettime syscall", ops=N)
    ts = ffi.new("struct timespec *")
    a = addr(ts)
    nr = linux.NR["clock_gettime"]
    call = linux.syscall6
    r = range(N)

    def run() -> None:
        for _ in r:
            call(nr, 1, a)

    benchmark(run)


def test_realtime_vllsi(benchmark: Any) -> None:
    benchmark.group = "realtime_ns"
    benchmark.extra_info.update(role="vllsi", label="vllsi.time_ops.realtime_ns", ops=N)
    benchmark(_loop0(time_ops.realtime_ns))


def test_realtime_time_module(benchmark: Any) -> None:
    benchmark.group = "realtime_ns"
    benchmark.extra_info.update(role="baseline", target=1.5, label="time.time_ns", ops=N)
    benchmark(_loop0(time.time_ns))
