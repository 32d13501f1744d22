"""Positional file I/O: vllsi.pread/pwrite/preadv against os.pread/os.preadv/os.pwrite.

Rows (group): "pread 4 KiB", "pwrite 4 KiB", "preadv 4x1 KiB"; targets <= 1.05x.
Warm page cache, one 1 MiB file, 4 KiB blocks walked in order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import vllsi

SIZE = 1 << 20
BLOCK = 4096


@pytest.fixture
def fd(tmp_path: Path) -> Iterator[int]:
    p = tmp_path / "data"
    p.write_bytes(os.urandom(SIZE))
    f = os.open(p, os.O_RDWR)
    os.pread(f, SIZE, 0)  # warm the cache
    yield f
    os.close(f)


def _walker() -> Iterator[int]:
    while True:
        yield from range(0, SIZE, BLOCK)


def _role(benchmark: Any, group: str, role: str, target: float | None = None) -> None:
    benchmark.group = group
    info: dict[str, Any] = {"role": role}
    if target is not None:
        info["target"] = target
    benchmark.extra_info.update(info)


def test_pread_vllsi(benchmark: Any, fd: int) -> None:
    _role(benchmark, "pread 4 KiB", "vllsi")
    buf, offs, pread = bytearray(BLOCK), _walker(), vllsi.pread
    benchmark(lambda: pread(fd, buf, next(offs)))


def test_pread_os_preadv(benchmark: Any, fd: int) -> None:
    _role(benchmark, "pread 4 KiB", "baseline", 1.05)
    bufs, offs = [memoryview(bytearray(BLOCK))], _walker()
    benchmark(lambda: os.preadv(fd, bufs, next(offs)))


def test_pread_os_pread(benchmark: Any, fd: int) -> None:
    _role(benchmark, "pread 4 KiB", "baseline", 1.05)
    offs = _walker()
    benchmark(lambda: os.pread(fd, BLOCK, next(offs)))


def test_pwrite_vllsi(benchmark: Any, fd: int) -> None:
    _role(benchmark, "pwrite 4 KiB", "vllsi")
    data, offs, pwrite = os.urandom(BLOCK), _walker(), vllsi.pwrite
    benchmark(lambda: pwrite(fd, data, next(offs)))


def test_pwrite_os(benchmark: Any, fd: int) -> None:
    _role(benchmark, "pwrite 4 KiB", "baseline", 1.05)
    data, offs = os.urandom(BLOCK), _walker()
    benchmark(lambda: os.pwrite(fd, data, next(offs)))


def test_preadv_vllsi(benchmark: Any, fd: int) -> None:
    _role(benchmark, "preadv 4x1 KiB", "vllsi")
    bufs, offs, preadv = [bytearray(1024) for _ in range(4)], _walker(), vllsi.preadv
    benchmark(lambda: preadv(fd, bufs, next(offs)))


def test_preadv_os(benchmark: Any, fd: int) -> None:
    _role(benchmark, "preadv 4x1 KiB", "baseline", 1.05)
    bufs, offs = [bytearray(1024) for _ in range(4)], _walker()
    benchmark(lambda: os.preadv(fd, bufs, next(offs)))
