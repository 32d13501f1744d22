"""Raw memory syscalls (vllsi.linux.mem), differential against mmap and /proc."""

from __future__ import annotations

import contextlib
import ctypes
import mmap as _mmap
import os

import pytest

from conformance._support import UNDER_QEMU, linux_only
from vllsi import errors, linux
from vllsi.types import PAGE_SIZE

pytestmark = linux_only

CONSTS = ["PROT_NONE", "PROT_READ", "PROT_WRITE", "PROT_EXEC", "MAP_SHARED", "MAP_PRIVATE",
          "MAP_FIXED", "MAP_ANONYMOUS", "MAP_NORESERVE", "MAP_POPULATE", "MAP_STACK",
          "MAP_HUGETLB", "MADV_NORMAL", "MADV_RANDOM", "MADV_SEQUENTIAL", "MADV_WILLNEED",
          "MADV_DONTNEED", "MADV_FREE", "MADV_REMOVE", "MADV_DONTFORK", "MADV_DOFORK",
          "MADV_HUGEPAGE", "MADV_NOHUGEPAGE", "MADV_DONTDUMP", "MADV_DODUMP"]
OTHER = ["MAP_FIXED_NOREPLACE", "MAP_HUGE_SHIFT", "MFD_ALLOW_SEALING", "MFD_CLOEXEC",
         "MFD_HUGETLB", "MREMAP_DONTUNMAP", "MREMAP_FIXED", "MREMAP_MAYMOVE"]


STDLIB = [n for n in CONSTS if hasattr(_mmap, n)] + [n for n in ("MFD_CLOEXEC", "MFD_ALLOW_SEALING", "MFD_HUGETLB") if hasattr(os, n)]


@pytest.mark.covers(*(f"linux.{n}" for n in STDLIB))
def test_constants_match_stdlib() -> None:
    for n in STDLIB:
        assert getattr(linux, n) == getattr(_mmap, n, getattr(os, n, None)), n
    assert linux.PROT_NONE == 0


@pytest.mark.covers(*(f"linux.{n}" for n in CONSTS + OTHER))
def test_constants_match_headers() -> None:
    src = "#define _GNU_SOURCE\n#include <stdio.h>\n#include <sys/mman.h>\n#include <linux/mman.h>\nint main(void){"
    src += "".join(f'printf("{n} %ld\\n", (long){n});' for n in CONSTS + OTHER)
    src += "return 0;}"
    from conformance._support.cc import run_c

    got = dict(line.split() for line in run_c(src).splitlines())
    for n in CONSTS + OTHER:
        assert int(got[n]) == getattr(linux, n), n


def _perms(addr: int) -> str | None:
    with open("/proc/self/maps") as f:
        for line in f:
            rng, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in rng.split("-"))
            if lo <= addr < hi:
                return perms
    return None


@pytest.mark.covers("linux.mmap", "linux.munmap", "linux.mprotect", "linux.madvise")
def test_mmap_protect_advise_munmap() -> None:
    a = linux.mmap(0, 2 * PAGE_SIZE, linux.PROT_READ | linux.PROT_WRITE,
                   linux.MAP_PRIVATE | linux.MAP_ANONYMOUS)
    assert a % PAGE_SIZE == 0
    assert _perms(a) == "rw-p"
    ctypes.memset(a, 0x5A, 2 * PAGE_SIZE)
    assert ctypes.string_at(a + PAGE_SIZE, 4) == b"ZZZZ"
    linux.madvise(a, 2 * PAGE_SIZE, linux.MADV_DONTNEED)
    assert ctypes.string_at(a, 4) == bytes(4)
    linux.mprotect(a, PAGE_SIZE, linux.PROT_READ)
    assert _perms(a) == "r--p" and _perms(a + PAGE_SIZE) == "rw-p"
    linux.munmap(a, 2 * PAGE_SIZE)
    assert _perms(a) is None


@pytest.mark.covers("linux.mmap", "linux.munmap", "linux.madvise", "linux.mprotect")
def test_errors_and_validation() -> None:
    with pytest.raises(errors.InvalidArgument) as ei:
        linux.mmap(0, PAGE_SIZE, linux.PROT_READ, linux.MAP_ANONYMOUS)  # neither SHARED nor PRIVATE
    assert ei.value.syscall == "mmap"
    with pytest.raises(ValueError):
        linux.mmap(0, 0, linux.PROT_READ, linux.MAP_PRIVATE | linux.MAP_ANONYMOUS)
    with pytest.raises(TypeError):
        linux.mmap(0, "1", 0, 0)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidArgument):
        linux.munmap(1, PAGE_SIZE)  # unaligned
    if not UNDER_QEMU:  # qemu-user emulates madvise and accepts any advice
        with pytest.raises(errors.InvalidArgument):
            linux.madvise(0x10000, PAGE_SIZE, 9999)
    with pytest.raises(ValueError):
        linux.mprotect(-1, PAGE_SIZE, 0)
    with pytest.raises(errors.BadDescriptor):
        linux.mmap(0, PAGE_SIZE, linux.PROT_READ, linux.MAP_SHARED, 1_000_000)


@pytest.mark.covers("linux.mremap", "linux.MREMAP_MAYMOVE")
def test_mremap_grow_with_maymove() -> None:
    a = linux.mmap(0, PAGE_SIZE, linux.PROT_READ | linux.PROT_WRITE,
                   linux.MAP_PRIVATE | linux.MAP_ANONYMOUS)
    ctypes.memset(a, 0x33, PAGE_SIZE)
    b = linux.mremap(a, PAGE_SIZE, 4 * PAGE_SIZE, linux.MREMAP_MAYMOVE)
    assert ctypes.string_at(b, 4) == b"3333"
    assert ctypes.string_at(b + 3 * PAGE_SIZE, 4) == bytes(4)
    linux.munmap(b, 4 * PAGE_SIZE)
    with pytest.raises(errors.VllsiError):
        linux.mremap(b, PAGE_SIZE, 2 * PAGE_SIZE, 0)


@pytest.mark.covers("linux.mlock")
def test_mlock_locks_pages() -> None:
    a = linux.mmap(0, PAGE_SIZE, linux.PROT_READ | linux.PROT_WRITE,
                   linux.MAP_PRIVATE | linux.MAP_ANONYMOUS)
    try:
        try:
            linux.mlock(a, PAGE_SIZE)
        except (errors.ResourceExhausted, errors.PermissionDenied) as e:
            pytest.skip(f"privilege: RLIMIT_MEMLOCK refuses mlock ({e})")
        with open("/proc/self/smaps") as f:
            text = f.read()
        block = text[text.index(f"{a:x}-"):]
        locked = next(line for line in block.splitlines() if line.startswith("Locked:"))
        assert int(locked.split()[1]) >= PAGE_SIZE // 1024
    finally:
        linux.munmap(a, PAGE_SIZE)


@pytest.mark.covers("linux.memfd_create")
def test_memfd_create() -> None:
    fd = linux.memfd_create("vllsi-test", linux.MFD_CLOEXEC)
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == "/memfd:vllsi-test (deleted)"
        assert not os.get_inheritable(fd)
        os.write(fd, b"abc")
        assert os.pread(fd, 3, 0) == b"abc"
    finally:
        os.close(fd)
    with pytest.raises(ValueError):
        linux.memfd_create("a\0b")
    with pytest.raises(ValueError):
        linux.memfd_create("x" * 250)
    with pytest.raises(errors.InvalidArgument):
        linux.memfd_create("x", 0x7000_0000)


def _vmflags(addr: int) -> list[str]:
    with open("/proc/self/smaps") as f:
        inside = False
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= addr < hi
            elif inside and head == "VmFlags:":
                return line.split()[1:]
    raise AssertionError("mapping not in smaps")


@pytest.mark.covers("linux.mmap", "linux.MAP_FIXED", "linux.MAP_NORESERVE", "linux.PROT_NONE")
def test_fixed_noreserve_and_prot_none() -> None:
    rw, anon = linux.PROT_READ | linux.PROT_WRITE, linux.MAP_PRIVATE | linux.MAP_ANONYMOUS
    a = linux.mmap(0, 3 * PAGE_SIZE, rw, anon)
    try:
        ctypes.memset(a, 1, 3 * PAGE_SIZE)
        b = linux.mmap(a + PAGE_SIZE, PAGE_SIZE, rw, anon | linux.MAP_FIXED | linux.MAP_NORESERVE)
        assert b == a + PAGE_SIZE  # replaced in place: fresh zero page between two old ones
        assert ctypes.string_at(a, 1) == b"\1" and ctypes.string_at(b, 1) == b"\0"
        assert ctypes.string_at(a + 2 * PAGE_SIZE, 1) == b"\1"
        if not UNDER_QEMU:
            assert "nr" in _vmflags(b) and "nr" not in _vmflags(a)
        linux.mprotect(a, PAGE_SIZE, linux.PROT_NONE)
        assert _perms(a) == "---p"
    finally:
        linux.munmap(a, 3 * PAGE_SIZE)


@pytest.mark.covers("linux.mmap", "linux.MAP_FIXED", "linux.MAP_FIXED_NOREPLACE", "linux.mremap",
                    "linux.MREMAP_FIXED", "linux.MREMAP_DONTUNMAP", "linux.MAP_NORESERVE")
def test_fixed_mappings_and_moves() -> None:
    if UNDER_QEMU:
        pytest.skip("environment: qemu-user manages the guest address space itself (no MAP_FIXED_NOREPLACE)")
    rw, anon = linux.PROT_READ | linux.PROT_WRITE, linux.MAP_PRIVATE | linux.MAP_ANONYMOUS
    a = linux.mmap(0, 4 * PAGE_SIZE, rw, anon | linux.MAP_NORESERVE)
    try:
        ctypes.memset(a, 1, 4 * PAGE_SIZE)
        with pytest.raises(errors.AlreadyExists):  # something is mapped there
            linux.mmap(a, PAGE_SIZE, rw, anon | linux.MAP_FIXED_NOREPLACE)
        b = linux.mmap(a + PAGE_SIZE, PAGE_SIZE, rw, anon | linux.MAP_FIXED)  # replaces one page
        assert b == a + PAGE_SIZE and ctypes.string_at(b, 1) == b"\0"
        assert ctypes.string_at(a, 1) == b"\1"
        # move page 0 onto page 3, keeping page 0 mapped (and empty) with DONTUNMAP
        c = linux.mremap(a, PAGE_SIZE, PAGE_SIZE,
                         linux.MREMAP_MAYMOVE | linux.MREMAP_FIXED, a + 3 * PAGE_SIZE)
        assert c == a + 3 * PAGE_SIZE and ctypes.string_at(c, 1) == b"\1"
        assert _perms(a) is None
        ctypes.memset(c, 7, 1)
        try:
            d = linux.mremap(c, PAGE_SIZE, PAGE_SIZE, linux.MREMAP_MAYMOVE | linux.MREMAP_DONTUNMAP)
        except errors.InvalidArgument:
            pytest.skip("kernel: MREMAP_DONTUNMAP refused (needs Linux >= 5.7)")
        assert ctypes.string_at(d, 1) == b"\7" and _perms(c) is not None
        linux.munmap(d, PAGE_SIZE)
    finally:
        linux.munmap(a, 4 * PAGE_SIZE)


@pytest.mark.covers("linux.MAP_HUGETLB", "linux.MAP_HUGE_SHIFT", "linux.MFD_HUGETLB")
def test_hugetlb_flags_reach_the_kernel() -> None:
    if UNDER_QEMU:
        pytest.skip("environment: qemu-user does not pass MAP_HUGETLB through")
    # 2 MiB pages encoded as log2 << MAP_HUGE_SHIFT: either the kernel maps them
    # (smaps says 2048 kB pages) or refuses for lack of reserved pages (ENOMEM)
    size = 2 << 20
    flags = linux.MAP_PRIVATE | linux.MAP_ANONYMOUS | linux.MAP_HUGETLB | (21 << linux.MAP_HUGE_SHIFT)
    try:
        a = linux.mmap(0, size, linux.PROT_READ | linux.PROT_WRITE, flags)
    except errors.ResourceExhausted:
        # refused for lack of reserved huge pages: the same size in normal pages maps fine,
        # so the flags did reach the kernel
        with open("/proc/meminfo") as f:
            free = [int(line.split()[1]) for line in f if line.startswith("HugePages_Free:")]
        assert free == [] or free[0] == 0 or UNDER_QEMU
        b = linux.mmap(0, size, linux.PROT_READ, linux.MAP_PRIVATE | linux.MAP_ANONYMOUS)
        linux.munmap(b, size)
        fd = None
        with contextlib.suppress(errors.InvalidArgument, errors.ResourceExhausted, errors.Unsupported):
            fd = linux.memfd_create("huge", linux.MFD_HUGETLB | linux.MFD_CLOEXEC)
        if fd is not None:
            os.close(fd)
        return
    try:
        assert a % size == 0
    finally:
        linux.munmap(a, size)
