"""vllsi.mmio on real mappings: every width on an anonymous mapping and on a memfd
shared with a second process, bounds/alignment/closed/read-only rejections,
registers in every access mode, barriers."""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance._support import linux_only, only_on
from conformance._support.cc import python_argv
from vllsi import errors, mmio
from vllsi.types import PAGE_SIZE, MemoryOrdering

WIDTHS = (8, 16, 32, 64)
FMT = {8: "B", 16: "H", 32: "I", 64: "Q"}  # native order, as the CPU sees it
ROOT = str(Path(__file__).resolve().parents[2])


@linux_only
@pytest.mark.covers("mmio.MemoryRegion", "mmio.volatile_load", "mmio.volatile_store")
@pytest.mark.parametrize("width", WIDTHS)
def test_every_width_on_anonymous_mapping(width: int) -> None:
    m = mmap.mmap(-1, PAGE_SIZE)
    with mmio.MemoryRegion(m) as r:
        n = width // 8
        top = (1 << width) - 1
        m[:] = b"\xa5" * PAGE_SIZE
        for off in (0, n, 8 * n, PAGE_SIZE - n):
            v = (0x0123456789ABCDEF * (off + 1)) & top
            mmio.volatile_store(r, off, v, width)
            assert struct.unpack_from(FMT[width], m, off)[0] == v
            assert mmio.volatile_load(r, off, width) == v
            # exactly n bytes changed: neighbours keep their pattern
            if off >= 1:
                assert m[off - 1] == 0xA5
            if off + n < PAGE_SIZE:
                assert m[off + n] == 0xA5
            struct.pack_into(FMT[width], m, off, top - v)  # a write from outside is seen
            assert mmio.volatile_load(r, off, width) == top - v
            getattr(r, f"write{width}")(off, top)
            assert getattr(r, f"read{width}")(off) == top
            m[off:off + n] = b"\xa5" * n
        assert r.length == PAGE_SIZE and r.end == PAGE_SIZE and not r.readonly
        assert r.address % PAGE_SIZE == 0 and r.cacheable is False
    m.close()


@linux_only
@pytest.mark.covers("mmio.MemoryRegion", "mmio.volatile_load", "mmio.volatile_store")
def test_subrange_offsets_are_relative() -> None:
    buf = bytearray(64)
    with mmio.MemoryRegion(buf, 16, True, offset=16) as r:
        assert r.length == 16 and r.cacheable
        mmio.volatile_store(r, 8, 0x1122334455667788, 64)
        assert bytes(buf[24:32]) == struct.pack("=Q", 0x1122334455667788)
        assert r.contains(8, 8) and not r.contains(9, 8) and not r.contains(-1)
        with pytest.raises(ValueError):
            mmio.volatile_load(r, 16, 8)
    with pytest.raises(ValueError):
        mmio.MemoryRegion(buf, 60, offset=8)
    with pytest.raises(ValueError):
        mmio.MemoryRegion(buf, offset=-1)


@linux_only
@pytest.mark.covers("mmio.MemoryRegion", "mmio.volatile_load", "mmio.volatile_store")
@pytest.mark.parametrize("width", WIDTHS)
def test_out_of_range_and_misaligned_raise_valueerror(width: int) -> None:
    m = mmap.mmap(-1, PAGE_SIZE)
    r = mmio.MemoryRegion(m)
    n = width // 8
    for off in (-1, -n, PAGE_SIZE, PAGE_SIZE - n + 1 if n > 1 else PAGE_SIZE, 1 << 62, 1 << 80,
                -(1 << 80)):
        with pytest.raises(ValueError):
            mmio.volatile_load(r, off, width)
        with pytest.raises(ValueError):
            mmio.volatile_store(r, off, 0, width)
        with pytest.raises(ValueError):
            getattr(r, f"read{width}")(off)
    if n > 1:
        for off in range(1, n):
            with pytest.raises(ValueError, match="misaligned"):
                mmio.volatile_load(r, off, width)
            with pytest.raises(ValueError, match="misaligned"):
                getattr(r, f"write{width}")(off, 0)
    for bad in (-1, 1 << width, 1 << 100):
        with pytest.raises(ValueError, match="does not fit"):
            mmio.volatile_store(r, 0, bad, width)
    for bad_width in (0, 1, 7, 24, 128, -8):
        with pytest.raises(ValueError, match="width"):
            mmio.volatile_load(r, 0, bad_width)
    with pytest.raises(TypeError):
        mmio.volatile_load(r, 0.0, width)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mmio.volatile_store(r, 0, 1.0, width)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mmio.volatile_load(m, 0, width)  # type: ignore[arg-type]
    assert m[:] == b"\x00" * PAGE_SIZE  # no rejected call wrote anything
    r.close()
    m.close()


@linux_only
@pytest.mark.covers("mmio.MemoryRegion", "mmio.volatile_load")
@given(st.integers(min_value=-(1 << 70), max_value=1 << 70), st.sampled_from(WIDTHS))
def test_no_offset_escapes_the_region(off: int, width: int) -> None:
    buf = bytearray(256)
    r = mmio.MemoryRegion(buf, 64, offset=64)
    n = width // 8
    ok = 0 <= off <= 64 - n and (r.address + off) % n == 0
    if ok:
        mmio.volatile_store(r, off, (1 << width) - 1, width)
        assert buf[64 + off:64 + off + n] == b"\xff" * n
        assert buf[:64] == bytes(64) and buf[128:] == bytes(128)
    else:
        with pytest.raises(ValueError):
            mmio.volatile_store(r, off, 1, width)
        assert buf == bytearray(256)
    r.close()


@linux_only
@pytest.mark.covers("mmio.MemoryRegion", "mmio.volatile_load", "mmio.volatile_store")
def test_region_pins_and_closes() -> None:
    m = mmap.mmap(-1, PAGE_SIZE)
    r = mmio.MemoryRegion(m)
    with pytest.raises(BufferError):
        m.close()  # the mapping cannot go away under the region
    r.close()
    r.close()  # idempotent
    assert r.closed and r.length == 0 and "closed" in repr(r)
    for call in (lambda: mmio.volatile_load(r, 0, 32), lambda: r.read32(0),
                 lambda: r.write8(0, 1), lambda: mmio.volatile_store(r, 0, 1, 64)):
        with pytest.raises(ValueError, match="closed"):
            call()
    m.close()
    ba = bytearray(16)
    with mmio.MemoryRegion(ba), pytest.raises(BufferError):
        ba.extend(b"x")  # no resize under the region
    ba.extend(b"x")


@linux_only
@pytest.mark.covers("mmio.MemoryRegion", "mmio.volatile_store", "mmio.volatile_load")
def test_read_only_mapping_refuses_stores() -> None:
    data = bytes(range(16))
    r = mmio.MemoryRegion(data)
    assert r.readonly
    assert mmio.volatile_load(r, 8, 64) == struct.unpack_from("=Q", data, 8)[0]
    with pytest.raises(TypeError, match="read-only"):
        mmio.volatile_store(r, 0, 1, 8)
    with pytest.raises(TypeError):
        mmio.MemoryRegion(12345)  # raw addresses only through unsafe_from_address
    with pytest.raises(TypeError):
        mmio.MemoryRegion(object())
    assert data == bytes(range(16))


@linux_only
@pytest.mark.covers("mmio.MemoryRegion")
def test_unsafe_from_address() -> None:
    buf = (ctypes.c_uint64 * 4)()
    r = mmio.MemoryRegion.unsafe_from_address(ctypes.addressof(buf), ctypes.sizeof(buf))
    r.write64(16, 0xFEEDFACECAFEBEEF)
    assert buf[2] == 0xFEEDFACECAFEBEEF and r.read64(16) == buf[2]
    with pytest.raises(ValueError):
        r.read64(32)
    ro = mmio.MemoryRegion.unsafe_from_address(ctypes.addressof(buf), 8, readonly=True)
    with pytest.raises(TypeError):
        ro.write8(0, 1)
    for bad in ((0, 8), (ctypes.addressof(buf), -1)):
        with pytest.raises(ValueError):
            mmio.MemoryRegion.unsafe_from_address(*bad)
    with pytest.raises(TypeError):
        mmio.MemoryRegion.unsafe_from_address(1.0, 8)  # type: ignore[arg-type]


@linux_only
@pytest.mark.covers("mmio.Register", "mmio.AccessMode")
@pytest.mark.parametrize("mode", list(mmio.AccessMode))
@pytest.mark.parametrize("width", WIDTHS)
def test_register_every_mode(width: int, mode: mmio.AccessMode) -> None:
    m = mmap.mmap(-1, PAGE_SIZE)
    r = mmio.MemoryRegion(m)
    reg = mmio.Register(r, 64, width, mode)
    top = (1 << width) - 1
    reg.write(0x5A & top)
    assert reg.read() == 0x5A and struct.unpack_from(FMT[width], m, 64)[0] == 0x5A
    reg.set_bits(0x81)
    assert reg.read() == 0xDB
    reg.clear_bits(0x0F)
    assert reg.read() == 0xD0
    assert reg.modify(lambda v: v ^ top) == top ^ 0xD0 == reg.read()
    with pytest.raises(ValueError):
        reg.write(top + 1)
    assert (reg.offset, reg.width, reg.mode, reg.region) == (64, width, mode, r)
    assert mode.name in repr(reg)
    r.close()
    with pytest.raises(ValueError, match="closed"):
        reg.read()
    m.close()


@linux_only
@pytest.mark.covers("mmio.Register", "mmio.AccessMode")
def test_register_rejects_bad_placement() -> None:
    r = mmio.MemoryRegion(bytearray(64))
    with pytest.raises(ValueError, match="outside"):
        mmio.Register(r, 62, 32)
    with pytest.raises(ValueError, match="outside"):
        mmio.Register(r, -4, 32)
    with pytest.raises(ValueError, match="misaligned"):
        mmio.Register(r, 2, 32)
    with pytest.raises(ValueError):
        mmio.Register(r, 0, 12)
    with pytest.raises(TypeError):
        mmio.Register(r, 0, 32, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mmio.Register(bytearray(8), 0, 32)  # type: ignore[arg-type]
    assert mmio.Register(r, 60, 32).mode is mmio.AccessMode.Volatile
    assert [m.value for m in mmio.AccessMode] == [0, 1, 2]


@linux_only
@pytest.mark.covers("mmio.barrier", "mmio.dmb", "mmio.dsb", "mmio.isb")
def test_barriers_run() -> None:
    # What each executes is checked in the disassembly test; here: every
    # ordering is accepted, nothing else is.
    for order in MemoryOrdering:
        assert mmio.barrier(order) is None
    assert mmio.barrier() is None
    assert mmio.dmb() is None and mmio.dsb() is None and mmio.isb() is None
    for bad in (5, "seq_cst", None):
        with pytest.raises(TypeError):
            mmio.barrier(bad)  # type: ignore[arg-type]


CHILD = r"""
import mmap, sys
from vllsi import mmio
fd, mode = int(sys.argv[1]), sys.argv[2]
m = mmap.mmap(fd, 4096)
r = mmio.MemoryRegion(m)
vals = {8: 0xA1, 16: 0xB2C3, 32: 0xD4E5F607, 64: 0x18293A4B5C6D7E8F}
if mode == "write":
    for i, (w, v) in enumerate(vals.items()):
        mmio.volatile_store(r, 64 * i, v, w)
    print("ok")
else:
    print(" ".join(str(mmio.volatile_load(r, 64 * i, w)) for i, w in enumerate(vals)))
r.close()
"""
VALS = {8: 0xA1, 16: 0xB2C3, 32: 0xD4E5F607, 64: 0x18293A4B5C6D7E8F}


@linux_only
@pytest.mark.covers("mmio.MemoryRegion", "mmio.volatile_load", "mmio.volatile_store")
def test_memfd_shared_with_second_process() -> None:
    fd = os.memfd_create("vllsi-mmio")
    try:
        os.ftruncate(fd, PAGE_SIZE)
        m = mmap.mmap(fd, PAGE_SIZE)
        r = mmio.MemoryRegion(m)

        def child(mode: str) -> str:
            out = subprocess.run(python_argv("-c", CHILD, str(fd), mode), cwd=ROOT,
                                 pass_fds=(fd,), capture_output=True, text=True, timeout=300)
            assert out.returncode == 0, out.stderr
            return out.stdout.strip()

        # the other process writes every width; we see each write
        assert child("write") == "ok"
        for i, (w, v) in enumerate(VALS.items()):
            assert mmio.volatile_load(r, 64 * i, w) == v
        # we write (new values); the other process sees them
        for i, (w, v) in enumerate(VALS.items()):
            mmio.volatile_store(r, 64 * i, v ^ ((1 << w) - 1), w)
        mmio.dsb()
        got = [int(x) for x in child("read").split()]
        assert got == [v ^ ((1 << w) - 1) for w, v in VALS.items()]
        r.close()
        m.close()
    finally:
        os.close(fd)


@linux_only
@pytest.mark.covers("mmio.volatile_load", "mmio.volatile_store")
def test_cffi_accessors_agree_with_fast_path() -> None:
    from vllsi.linux import _trampoline

    lib = _trampoline.lib
    buf = bytearray(64)
    r = mmio.MemoryRegion(buf)
    base = r.address
    for w in WIDTHS:
        v = 0x8877665544332211 & ((1 << w) - 1)
        getattr(lib, f"vllsi_mmio_store{w}")(base + 8, v)
        assert mmio.volatile_load(r, 8, w) == v
        mmio.volatile_store(r, 16, v, w)
        assert getattr(lib, f"vllsi_mmio_load{w}")(base + 16) == v
    assert lib.vllsi_mmio_barrier(5) == 0 and lib.vllsi_mmio_barrier(1) == -1
    lib.vllsi_mmio_dmb()
    lib.vllsi_mmio_dsb()
    lib.vllsi_mmio_isb()
    r.close()


@only_on("darwin", "windows")
@pytest.mark.covers("mmio.MemoryRegion", "mmio.barrier")
def test_unsupported_off_linux() -> None:
    with pytest.raises(errors.Unsupported):
        mmio.MemoryRegion(bytearray(8))
    with pytest.raises(errors.Unsupported):
        mmio.barrier(MemoryOrdering.SeqCst)
    assert sys.platform != "linux"
