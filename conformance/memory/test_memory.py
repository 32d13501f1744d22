"""vllsi.memory: alignment, exact frees, use-after-free safety, protection, huge pages."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance._support import ON_LINUX, UNDER_QEMU, linux_only, skip
from conformance._support.cc import python_argv
from vllsi import memory
from vllsi.types import PAGE_SIZE, MemAdvice, MemProt


def _maps() -> list[tuple[int, int, str]]:
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            rng, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in rng.split("-"))
            out.append((lo, hi, perms))
    return out


def _covering(addr: int, length: int) -> list[tuple[int, int, str]]:
    return [(lo, hi, p) for lo, hi, p in _maps() if lo < addr + length and hi > addr]


@pytest.mark.covers("memory.os_alloc", "memory.Mapping", "memory.os_free")
def test_alloc_is_zeroed_writable_buffer() -> None:
    m = memory.os_alloc(10000)
    try:
        assert isinstance(m, memory.Mapping)
        assert len(m) == m.size == 10000
        assert m.address % PAGE_SIZE == 0
        with memoryview(m) as v:
            assert v.nbytes == 10000 and not v.readonly
            assert bytes(v[:16]) == bytes(16) and bytes(v[-16:]) == bytes(16)
            v[0:5] = b"hello"
            v[-1] = 0xAB
            assert bytes(v[:5]) == b"hello" and v[-1] == 0xAB
    finally:
        memory.os_free(m)
    assert m.closed


@pytest.mark.covers("memory.os_alloc", "memory.os_free", "memory.Mapping")
@pytest.mark.parametrize("bad", [0, -1, -4096])
def test_size_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError):
        memory.os_alloc(bad)
    with pytest.raises(ValueError):
        memory.os_alloc_aligned(bad, 4096)
    with pytest.raises(ValueError):
        memory.AlignedBuffer(bad)


@pytest.mark.covers("memory.os_alloc", "memory.os_alloc_aligned", "memory.os_free")
def test_type_errors_before_any_call() -> None:
    for bad in ("1", 1.5, None, True):
        with pytest.raises(TypeError):
            memory.os_alloc(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        memory.os_alloc_aligned(100, 3000)
    with pytest.raises(TypeError):
        memory.os_free(bytearray(10))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        memory.Mapping()


@pytest.mark.covers("memory.os_alloc_aligned", "memory.AlignedBuffer")
@pytest.mark.law("memory.alignment_honoured")
@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 1 << 20), shift=st.integers(0, 22))
def test_alignment_honoured(size: int, shift: int) -> None:
    align = 1 << shift
    m = memory.os_alloc_aligned(size, align)
    try:
        assert m.address % align == 0 and len(m) == size
        with memoryview(m) as v:
            v[size - 1] = 7  # the last byte is mapped and writable
            assert v[size - 1] == 7
    finally:
        m.close()
    b = memory.AlignedBuffer(size, align)
    try:
        assert b.address % align == 0 and len(b) == size and b.alignment == align
    finally:
        b.close()


@linux_only
@pytest.mark.covers("memory.os_alloc_aligned", "memory.os_free")
def test_over_aligned_free_is_exact() -> None:
    align = 1 << 22
    m = memory.os_alloc_aligned(3 * PAGE_SIZE, align)
    a = m.address
    assert a % align == 0
    covered = _covering(a, 3 * PAGE_SIZE)
    assert covered and covered[0][0] <= a and covered[-1][1] >= a + 3 * PAGE_SIZE
    # the true base and length are remembered: exactly these pages, nothing else
    assert (m._base, m._length) == (a, 3 * PAGE_SIZE)
    # a neighbour mapped right after it must survive the free
    guard = memory.os_alloc(PAGE_SIZE)
    memory.os_free(m)
    assert _covering(a, 3 * PAGE_SIZE) == []
    assert _covering(guard.address, PAGE_SIZE) != []
    with memoryview(guard) as v:
        v[0] = 1
    guard.close()


@pytest.mark.covers("memory.os_free", "memory.Mapping", "memory.os_protect", "memory.os_advise")
def test_use_after_free_is_value_error() -> None:
    m = memory.os_alloc(PAGE_SIZE)
    m.close()
    memory.os_free(m)  # idempotent
    m.close()
    with pytest.raises(ValueError):
        memoryview(m)
    with pytest.raises(ValueError):
        _ = m.address
    with pytest.raises(ValueError):
        len(m)
    with pytest.raises(ValueError):
        memory.os_protect(m, MemProt.READ)
    with pytest.raises(ValueError):
        memory.os_advise(m, MemAdvice.DontNeed)
    with pytest.raises(ValueError):
        bytes(m)
    assert "closed" in repr(m)


@pytest.mark.covers("memory.os_free", "memory.Mapping")
def test_free_under_live_view_is_buffer_error() -> None:
    m = memory.os_alloc(PAGE_SIZE)
    v = memoryview(m)
    sub = v[10:20]
    with pytest.raises(BufferError):
        memory.os_free(m)
    assert not m.closed
    v[0] = 42  # still mapped
    v.release()
    with pytest.raises(BufferError):
        m.close()  # the slice still exports
    sub.release()
    m.close()
    assert m.closed


@pytest.mark.covers("memory.Mapping")
def test_context_manager_and_gc_unmap() -> None:
    with memory.os_alloc(PAGE_SIZE) as m:
        a = m.address
        with memoryview(m) as v:
            v[0] = 1
    assert m.closed
    if ON_LINUX:
        assert _covering(a, PAGE_SIZE) == []
        m2 = memory.os_alloc(PAGE_SIZE)
        b = m2.address
        del m2
        import gc

        gc.collect()
        assert _covering(b, PAGE_SIZE) == []


@pytest.mark.covers("memory.os_protect")
def test_protect_read_makes_exports_read_only() -> None:
    m = memory.os_alloc(PAGE_SIZE)
    try:
        memory.os_protect(m, MemProt.READ)
        assert m.protection == MemProt.READ
        with memoryview(m) as v:
            assert v.readonly and v[0] == 0
        with pytest.raises(TypeError):
            memoryview(m)[0] = 1  # refused by the buffer, not by a fault
        if ON_LINUX:
            assert [p for _, _, p in _covering(m.address, PAGE_SIZE)] == ["r--p"]
        memory.os_protect(m, MemProt.NONE)
        assert m.protection == MemProt.NONE
        with pytest.raises(ValueError):
            memoryview(m)  # no access: no export that could fault the interpreter
        if ON_LINUX:
            assert [p for _, _, p in _covering(m.address, PAGE_SIZE)] == ["---p"]
        memory.os_protect(m, MemProt.READ | MemProt.WRITE)
        with memoryview(m) as v:
            v[0] = 9
            assert not v.readonly
        with pytest.raises(ValueError):
            memory.os_protect(m, 64)
        with pytest.raises(TypeError):
            memory.os_protect(m, "r")  # type: ignore[arg-type]
    finally:
        m.close()


_CHILD = textwrap.dedent("""
    import sys
    from vllsi import memory
    from vllsi.types import MemProt
    m = memory.os_alloc(4096)
    v = memoryview(m)          # a writable view taken before the protection change
    memory.os_protect(m, MemProt.READ)
    print(v[0], flush=True)    # reading is fine
    v[0] = 1                   # the MMU refuses: SIGSEGV
    print("survived", flush=True)
""")


@linux_only
@pytest.mark.covers("memory.os_protect")
def test_write_to_read_only_kills_child_with_sigsegv() -> None:
    cmd = python_argv("-c", _CHILD)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONFAULTHANDLER": ""})
    assert r.stdout.strip() == "0"
    if UNDER_QEMU and r.returncode != -signal.SIGSEGV:
        assert r.returncode != 0  # qemu-user re-raises the guest's SIGSEGV its own way
    else:
        assert r.returncode == -signal.SIGSEGV, (r.returncode, r.stderr)
    # and the parent is still here, its own mappings intact
    m = memory.os_alloc(64)
    m.close()


@pytest.mark.covers("memory.os_advise")
def test_advise_dontneed_zeroes_private_pages() -> None:
    m = memory.os_alloc(4 * PAGE_SIZE)
    try:
        with memoryview(m) as v:
            v[0] = 5
            v[3 * PAGE_SIZE] = 6
        for a in (MemAdvice.Normal, MemAdvice.Sequential, MemAdvice.Random, MemAdvice.WillNeed):
            memory.os_advise(m, a)
        memory.os_advise(m, MemAdvice.DontNeed)
        with memoryview(m) as v:
            assert v[0] == 0 and v[3 * PAGE_SIZE] == 0
        with pytest.raises(ValueError):
            memory.os_advise(m, 12345)
        with pytest.raises(TypeError):
            memory.os_advise(m, "normal")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            memory.os_advise(bytearray(8), MemAdvice.Normal)  # type: ignore[arg-type]
    finally:
        m.close()


@linux_only
@pytest.mark.covers("memory.os_advise")
def test_advise_remove_on_private_is_invalid_argument() -> None:
    from vllsi import errors

    if UNDER_QEMU:
        skip("environment", "qemu-user emulates madvise and accepts MADV_REMOVE on private memory")
    m = memory.os_alloc(PAGE_SIZE)
    try:
        with pytest.raises(errors.InvalidArgument) as ei:
            memory.os_advise(m, MemAdvice.Remove)  # MADV_REMOVE needs shared memory
        assert ei.value.syscall == "madvise"
    finally:
        m.close()


@pytest.mark.covers("memory.os_alloc")
def test_shared_mapping_is_seen_by_forked_child() -> None:
    if not hasattr(os, "fork"):
        skip("platform", "no fork")
    m = memory.os_alloc(PAGE_SIZE, shared=True)
    p = memory.os_alloc(PAGE_SIZE)
    try:
        assert m.shared
        pid = os.fork()
        if pid == 0:
            with memoryview(m) as v, memoryview(p) as w:
                v[0] = 77
                w[0] = 77
            os._exit(0)
        _, st = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(st) == 0
        with memoryview(m) as v, memoryview(p) as w:
            assert v[0] == 77  # shared: the child's write is visible
            assert w[0] == 0  # private: copy-on-write
    finally:
        m.close()
        p.close()


def _smaps_kernel_page_kb(addr: int) -> int:
    with open("/proc/self/smaps") as f:
        inside = False
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= addr < hi
            elif inside and head == "KernelPageSize:":
                return int(line.split()[1])
    raise AssertionError("mapping not in smaps")


@linux_only
@pytest.mark.covers("memory.os_alloc_huge")
def test_huge_tells_the_truth() -> None:
    hps = 2 * 1024 * 1024
    m = memory.os_alloc_huge(3 * 1024 * 1024, hps)
    try:
        assert len(m) == 3 * 1024 * 1024 and m.address % hps == 0
        with memoryview(m) as v:
            v[0] = 1
            v[len(m) - 1] = 2
        kps = _smaps_kernel_page_kb(m.address) * 1024
        if m.huge:
            assert kps == hps and not m.huge_advised
        else:
            assert kps == PAGE_SIZE and m.huge_advised
        # protect/advise cover whole (huge) pages
        memory.os_advise(m, MemAdvice.WillNeed)
        memory.os_protect(m, MemProt.READ)
        with memoryview(m) as v:
            assert v.readonly and v[len(m) - 1] == 2
    finally:
        m.close()
    with pytest.raises(ValueError):
        memory.os_alloc_huge(10, 3 * 1024 * 1024)
    with pytest.raises(ValueError):
        memory.os_alloc_huge(10, 1024)


@pytest.mark.covers("memory.AlignedBuffer")
@pytest.mark.skipif(not hasattr(os, "preadv"), reason="platform: the os.preadv oracle is POSIX-only")
def test_aligned_buffer_for_o_direct(tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "direct"
    path.write_bytes(b"x" * 8192)
    b = memory.AlignedBuffer(4096, 4096)
    try:
        flags = os.O_RDONLY | getattr(os, "O_DIRECT", 0)
        try:
            fd = os.open(path, flags)
        except OSError:
            skip("environment", "the test file system refuses O_DIRECT")
        try:
            try:
                n = os.preadv(fd, [b], 4096)
            except OSError as e:
                if e.errno == 22:
                    skip("environment", "the test file system refuses O_DIRECT reads")
                raise
            assert n == 4096
            assert bytes(memoryview(b)) == b"x" * 4096
        finally:
            os.close(fd)
    finally:
        b.close()
    with pytest.raises(ValueError):
        memory.AlignedBuffer(4096, 1000)


@pytest.mark.covers("memory.os_advise")
def test_advise_accepts_exactly_memadvice_values() -> None:
    valid = {int(a) for a in MemAdvice}
    m = memory.os_alloc(PAGE_SIZE)
    try:
        for v in range(-2, 40):
            if v in valid:
                if v in (int(MemAdvice.Remove), int(MemAdvice.HugePage), int(MemAdvice.NoHugePage)):
                    continue  # the kernel may refuse these for private or THP-less memory
                memory.os_advise(m, v)
                memory.os_advise(m, MemAdvice(v))
            else:
                with pytest.raises(ValueError):
                    memory.os_advise(m, v)
        with pytest.raises(ValueError):
            memory.os_advise(m, 1 << 80)
        with pytest.raises(TypeError):
            memory.os_advise(m, True)
        with pytest.raises(TypeError):
            memory.os_advise(m, 1.0)  # type: ignore[arg-type]
    finally:
        m.close()


_NO_SHIM = r"""
import os, sys
sys.modules["vllsi.linux._fast"] = None          # as if the C shim were never built
sys.modules["vllsi.linux._trampoline"] = None
from vllsi import errors, memory, thread, time_ops, tls, context_ops
import time
assert abs(time_ops.monotonic_ns() - time.monotonic_ns()) < 10**9   # cffi ABI / syscall path
tls.tls_slot_set(1, 7); assert tls.tls_slot_get(1) == 7             # portable table
with context_ops.provide(2, 3): assert context_ops.using(2) == 3
for call in (lambda: memory.os_alloc(10), lambda: thread.thread_spawn(print),
             lambda: thread.Mutex().acquire()):
    try:
        call()
    except errors.Unsupported:
        pass
    else:
        raise SystemExit("expected Unsupported")
with open("/proc/self/maps") as f:
    print("ok")
"""


@linux_only
@pytest.mark.covers("memory.os_alloc")
def test_without_the_compiled_shim_degrades_to_unsupported() -> None:
    r = subprocess.run(python_argv("-c", _NO_SHIM), capture_output=True, text=True, timeout=120,
                       env={**os.environ, "VLLSI_TIER": "libc"})
    assert r.stdout.strip() == "ok", r.stderr
