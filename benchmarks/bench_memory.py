"""OS memory: os_advise vs mmap.madvise on one 4 KiB page (P28: <= 1.2x), and
os_alloc + os_free vs an mmap.mmap open/close pair (reference)."""

from __future__ import annotations

import mmap
from typing import Any

import pytest

memory = pytest.importorskip("vllsi.memory")
from vllsi.types import MemAdvice  # noqa: E402

N = 1000


def test_advise_vllsi(benchmark: Any) -> None:
    benchmark.group = "madvise 4 KiB"
    benchmark.extra_info.update(role="vllsi", label="vllsi.memory.os_advise", ops=N)
    m = memory.os_alloc(4096)
    advise, normal = memory.os_advise, MemAdvice.Normal
    r = range(N)

    def run() -> None:
        for _ in r:
            advise(m, normal)

    benchmark(run)


def test_advise_mmap_module(benchmark: Any) -> None:
    if not hasattr(mmap.mmap, "madvise"):
        pytest.skip("platform: mmap.madvise is missing")
    benchmark.group = "madvise 4 KiB"
    benchmark.extra_info.update(role="baseline", target=1.2, label="mmap.madvise", ops=N)
    mm = mmap.mmap(-1, 4096)
    advise, normal = mm.madvise, mmap.MADV_NORMAL
    r = range(N)

    def run() -> None:
        for _ in r:
            advise(normal)

    benchmark(run)


def test_alloc_free_vllsi(benchmark: Any) -> None:
    benchmark.group = "alloc+free 64 KiB"
    benchmark.extra_info.update(role="vllsi", label="os_alloc + os_free", ops=100)
    alloc, free = memory.os_alloc, memory.os_free
    r = range(100)

    def run() -> None:
        for _ in r:
            free(alloc(65536))

    benchmark(run)


def test_alloc_free_mmap_module(benchmark: Any) -> None:
    benchmark.group = "alloc+free 64 KiB"
    benchmark.extra_info.update(role="baseline", label="mmap.mmap(-1) + close", ops=100)
    r = range(100)

    def run() -> None:
        for _ in r:
            mmap.mmap(-1, 65536).close()

    benchmark(run)
