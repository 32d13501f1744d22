"""Common types, differential against mmap/os."""

from __future__ import annotations

import mmap
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance._support import ON_LINUX, ON_WINDOWS
from vllsi import types


@pytest.mark.covers("types.PAGE_SIZE", "types.PAGE_SHIFT")
def test_page_size_is_real() -> None:
    assert types.PAGE_SIZE == mmap.PAGESIZE
    assert 1 << types.PAGE_SHIFT == types.PAGE_SIZE
    if hasattr(os, "sysconf"):
        assert os.sysconf("SC_PAGE_SIZE") == types.PAGE_SIZE


@pytest.mark.covers("types.page_align_up", "types.page_align_down", "types.is_page_aligned")
@pytest.mark.law("types.page_align_laws")
@given(st.integers(min_value=0, max_value=2**64))
def test_page_align_laws(x: int) -> None:
    up, down = types.page_align_up(x), types.page_align_down(x)
    assert down <= x <= up and up - down in (0, types.PAGE_SIZE)
    assert types.is_page_aligned(up) and types.is_page_aligned(down)
    assert types.page_align_up(up) == up and types.page_align_down(down) == down
    assert types.is_page_aligned(x) == (up == x == down)


@pytest.mark.covers("types.page_align_up", "types.page_align_down")
def test_page_align_negative() -> None:
    with pytest.raises(ValueError):
        types.page_align_up(-1)
    with pytest.raises(ValueError):
        types.page_align_down(-1)


@pytest.mark.covers("types.FileDesc")
def test_filedesc() -> None:
    assert types.FileDesc.INVALID == -1 and not types.FileDesc.INVALID.is_valid()
    assert (types.FileDesc.STDIN, types.FileDesc.STDOUT, types.FileDesc.STDERR) == (0, 1, 2)
    r, w = os.pipe()
    try:
        with os.fdopen(os.dup(r), "rb") as f:
            fd = types.FileDesc(f)
            assert fd == f.fileno() and fd.is_valid() and fd.fileno() == f.fileno()
        assert types.FileDesc.from_crt(w).is_valid()
    finally:
        os.close(r)
        os.close(w)
    with pytest.raises(TypeError):
        types.FileDesc("3")
    with pytest.raises(TypeError):
        types.FileDesc(True)


@pytest.mark.covers("types.IOVec")
def test_iovec_pins_buffer() -> None:
    b = bytearray(b"abcd")
    with types.IOVec(b) as v:
        assert v.len == 4 and v.writable and v.base != 0
        with pytest.raises(BufferError):
            b.extend(b"more")  # pinned: cannot resize under the iovec
    b.extend(b"more")
    ro = types.IOVec(b"xyz")
    assert not ro.writable and ro.len == 3
    ro.release()
    assert types.IOVec(bytearray()).len == 0
    with pytest.raises(TypeError):
        types.IOVec("text")


@pytest.mark.covers("types.MemProt", "types.MapFlags", "types.MemAdvice",
                    "types.MemoryOrdering")
def test_flags_have_host_values() -> None:
    if ON_WINDOWS:  # no PROT_*/MAP_* on Windows: vllsi's own bits, translated by the backend
        assert [int(types.MemProt[n]) for n in ("NONE", "READ", "WRITE", "EXEC")] == [0, 1, 2, 4]
        assert not hasattr(mmap, "PROT_READ")
    else:
        assert types.MemProt.READ == mmap.PROT_READ and types.MemProt.WRITE == mmap.PROT_WRITE
        assert types.MemProt.EXEC == mmap.PROT_EXEC
        assert types.MapFlags.SHARED == mmap.MAP_SHARED
        assert types.MapFlags.PRIVATE == mmap.MAP_PRIVATE
        assert types.MapFlags.ANON == mmap.MAP_ANONYMOUS
    if ON_LINUX:
        assert types.MapFlags.STACK == mmap.MAP_STACK
        for n, v in (("NORMAL", "Normal"), ("RANDOM", "Random"), ("SEQUENTIAL", "Sequential"),
                     ("WILLNEED", "WillNeed"), ("DONTNEED", "DontNeed"), ("FREE", "Free"),
                     ("REMOVE", "Remove"), ("DONTFORK", "DontFork"),
                     ("HUGEPAGE", "HugePage"), ("NOHUGEPAGE", "NoHugePage")):
            if hasattr(mmap, f"MADV_{n}"):
                assert types.MemAdvice[v] == getattr(mmap, f"MADV_{n}"), n
    assert [o.name for o in types.MemoryOrdering] == [
        "Relaxed", "Acquire", "Release", "AcqRel", "SeqCst"]
