"""MMIO read32/write32 on an anonymous mapping (anchor P27): vllsi's exact-width
volatile accessors vs ``memoryview.cast('I')``, a python-periphery-style ctypes
access, and python-periphery itself (over a file mapping: it needs /dev/mem
otherwise). Peers from the benchmark venv (importorskip).

Every side runs as the same statement in timeit's compiled loop (N operations
per timed round)."""

from __future__ import annotations

import ctypes
import mmap
import tempfile
import timeit
from collections.abc import Iterator
from typing import Any

import pytest

from vllsi import mmio

OFF = 64
VAL = 0xDEADBEEF
N = 1000


@pytest.fixture()
def mapping() -> Iterator[mmap.mmap]:
    m = mmap.mmap(-1, mmap.PAGESIZE)
    m[OFF:OFF + 4] = VAL.to_bytes(4, "little")
    yield m
    m.close()


def _run(benchmark: Any, group: str, role: str, stmt: str, ns: dict[str, Any],
         target: float | None = None) -> None:
    benchmark.group = group
    info: dict[str, Any] = {"role": role, "ops_per_round": N}
    if target is not None:
        info["target"] = target
    benchmark.extra_info.update(info)
    benchmark(timeit.Timer(stmt, globals=ns).timeit, N)


G_READ = "mmio read32 (anonymous mapping)"
G_WRITE = "mmio write32 (anonymous mapping)"
G_REG = "mmio Register(Volatile).read()"
G_LOAD = "mmio volatile_load(region, off, 32)"


def test_read32_vllsi(benchmark: Any, mapping: mmap.mmap) -> None:
    with mmio.MemoryRegion(mapping) as r:
        assert r.read32(OFF) == VAL
        _run(benchmark, G_READ, "vllsi", "r.read32(64)", {"r": r})


def test_read32_memoryview(benchmark: Any, mapping: mmap.mmap) -> None:
    mv = memoryview(mapping).cast("I")
    assert mv[OFF // 4] == VAL
    _run(benchmark, G_READ, "baseline", "mv[16]", {"mv": mv}, 1.5)
    mv.release()


def test_read32_ctypes_periphery_style(benchmark: Any, mapping: mmap.mmap) -> None:
    ns = {"u32": ctypes.c_uint32, "m": mapping}
    _run(benchmark, G_READ, "baseline", "u32.from_buffer(m, 64).value", ns, 1.0)


def test_read32_periphery(benchmark: Any) -> None:
    periphery = pytest.importorskip("periphery")
    with tempfile.NamedTemporaryFile() as f:
        f.write(bytes(mmap.PAGESIZE))
        f.flush()
        dev = periphery.MMIO(0, mmap.PAGESIZE, path=f.name)
        dev.write32(OFF, VAL)
        assert dev.read32(OFF) == VAL
        _run(benchmark, G_READ, "baseline", "d.read32(64)", {"d": dev}, 1.0)
        dev.close()


def test_register_read_vllsi(benchmark: Any, mapping: mmap.mmap) -> None:
    with mmio.MemoryRegion(mapping) as r:
        reg = mmio.Register(r, OFF, 32)
        assert reg.read() == VAL
        _run(benchmark, G_REG, "vllsi", "reg.read()", {"reg": reg})


def test_register_read_memoryview(benchmark: Any, mapping: mmap.mmap) -> None:
    mv = memoryview(mapping).cast("I")
    _run(benchmark, G_REG, "baseline", "mv[16]", {"mv": mv})
    mv.release()


def test_volatile_load_vllsi(benchmark: Any, mapping: mmap.mmap) -> None:
    with mmio.MemoryRegion(mapping) as r:
        ns = {"r": r, "ld": mmio.volatile_load}
        assert mmio.volatile_load(r, OFF, 32) == VAL
        _run(benchmark, G_LOAD, "vllsi", "ld(r, 64, 32)", ns)


def test_volatile_load_memoryview(benchmark: Any, mapping: mmap.mmap) -> None:
    mv = memoryview(mapping).cast("I")
    _run(benchmark, G_LOAD, "baseline", "mv[16]", {"mv": mv})
    mv.release()


def test_write32_vllsi(benchmark: Any, mapping: mmap.mmap) -> None:
    with mmio.MemoryRegion(mapping) as r:
        _run(benchmark, G_WRITE, "vllsi", "r.write32(64, 0xDEADBEEF)", {"r": r})
        assert r.read32(OFF) == VAL


def test_write32_memoryview(benchmark: Any, mapping: mmap.mmap) -> None:
    mv = memoryview(mapping).cast("I")
    _run(benchmark, G_WRITE, "baseline", "mv[16] = 0xDEADBEEF", {"mv": mv}, 1.5)
    mv.release()


def test_write32_ctypes_periphery_style(benchmark: Any, mapping: mmap.mmap) -> None:
    ns = {"u32": ctypes.c_uint32, "m": mapping}
    _run(benchmark, G_WRITE, "baseline", "u32.from_buffer(m, 64).value = 0xDEADBEEF", ns, 1.0)
