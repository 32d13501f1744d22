"""vllsi.memory on its Windows backend (VirtualAlloc and friends).

Runs once vllsi.memory is on the branch (module-level importorskip). The buffer
protocol of a Mapping on Windows needs CPython 3.12+ (PEP 688)."""

from __future__ import annotations

import sys

import pytest

memory = pytest.importorskip("vllsi.memory")

from vllsi import errors  # noqa: E402
from vllsi import windows as w  # noqa: E402
from vllsi.types import MemAdvice, MemProt  # noqa: E402
from vllsi.windows import consts as C  # noqa: E402

pytestmark = pytest.mark.skipif(sys.version_info < (3, 12),
                                reason="platform: Mapping buffers need PEP 688 on Windows")


@pytest.mark.covers("memory.os_alloc", "memory.os_free", "memory.Mapping")
def test_alloc_buffer_and_free() -> None:
    m = memory.os_alloc(10000)
    assert len(m) == m.size == 10000 and m.address % 65536 == 0
    info = w.virtual_query(m.address)
    assert info.state == C.MEM_COMMIT and info.protect == C.PAGE_READWRITE
    mv = memoryview(m)
    assert mv.nbytes == 10000 and not any(mv[:4096])
    mv[9999] = 7
    with pytest.raises(BufferError):
        memory.os_free(m)  # a view is alive: nothing is freed
    assert bytes(memoryview(m)[9999:]) == b"\x07"
    mv.release()
    memory.os_free(m)
    memory.os_free(m)  # idempotent
    assert w.virtual_query(info.base_address).state == C.MEM_FREE
    with pytest.raises(ValueError):
        memoryview(m)
    with pytest.raises(ValueError):
        _ = m.address


@pytest.mark.law("memory.alignment_honoured")
@pytest.mark.covers("memory.os_alloc_aligned", "memory.AlignedBuffer")
@pytest.mark.parametrize("align", [16, 4096, 1 << 16, 1 << 20, 1 << 22])
def test_alignment(align: int) -> None:
    m = memory.os_alloc_aligned(5000, align)
    try:
        assert m.address % align == 0 and len(m) == 5000
        memoryview(m)[4999] = 1
    finally:
        m.close()
    b = memory.AlignedBuffer(512, align)
    try:
        assert b.address % align == 0 and len(b) == 512
    finally:
        b.close()


@pytest.mark.covers("memory.os_protect", "memory.os_advise")
def test_protect_and_advise() -> None:
    m = memory.os_alloc(8192)
    try:
        memoryview(m)[0] = 5
        memory.os_protect(m, MemProt.READ)
        assert w.virtual_query(m.address).protect == C.PAGE_READONLY
        ro = memoryview(m)
        assert ro.readonly and ro[0] == 5
        ro.release()
        memory.os_protect(m, MemProt.READ | MemProt.WRITE)
        memory.os_advise(m, MemAdvice.WillNeed)
        memory.os_advise(m, MemAdvice.DontNeed)  # decommit + recommit: zeroes
        v = memoryview(m)
        assert v[0] == 0
        v.release()
        with pytest.raises(errors.InvalidArgument):
            memory.os_advise(m, MemAdvice.HugePage)
    finally:
        m.close()


@pytest.mark.covers("memory.os_alloc")
def test_shared_section() -> None:
    m = memory.os_alloc(1 << 16, shared=True)
    try:
        assert m.shared and w.virtual_query(m.address).type == 0x40000  # MEM_MAPPED
        memoryview(m)[10] = 9
        assert memoryview(m)[10] == 9
    finally:
        m.close()


@pytest.mark.covers("memory.os_alloc_huge")
def test_huge_pages_need_the_privilege() -> None:
    try:
        m = memory.os_alloc_huge(1 << 21)
    except errors.PermissionDenied as exc:
        assert exc.winerror == 1314  # ERROR_PRIVILEGE_NOT_HELD: a clear error
        return
    except errors.VllsiError as exc:  # e.g. no large-page support at all
        assert exc.syscall == "VirtualAlloc"
        return
    try:
        assert m.huge and len(m) == 1 << 21
    finally:
        m.close()
