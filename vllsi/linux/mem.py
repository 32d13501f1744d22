"""Typed wrappers for the memory-mapping syscalls, named after them.

mmap, munmap, mprotect, madvise, mremap, mlock and memfd_create: one raw
syscall each (they never block, so the GIL is kept), the result decoded by the
single error factory. Addresses are plain ints.

These are the floor and they are *unsafe*: ``munmap`` or ``mprotect`` of an
address you do not own (the interpreter's heap) crashes the process, exactly as
in C. Safe, bounds-checked memory is :mod:`vllsi.memory` (``os_alloc`` and
``Mapping``), which is built on these.
"""

from __future__ import annotations

from typing import Any, Final

from vllsi.linux import _syscall as _s

__all__ = [
    "MADV_DODUMP",
    "MADV_DOFORK",
    "MADV_DONTDUMP",
    "MADV_DONTFORK",
    "MADV_DONTNEED",
    "MADV_FREE",
    "MADV_HUGEPAGE",
    "MADV_NOHUGEPAGE",
    "MADV_NORMAL",
    "MADV_RANDOM",
    "MADV_REMOVE",
    "MADV_SEQUENTIAL",
    "MADV_WILLNEED",
    "MAP_ANONYMOUS",
    "MAP_FIXED",
    "MAP_FIXED_NOREPLACE",
    "MAP_HUGETLB",
    "MAP_HUGE_SHIFT",
    "MAP_NORESERVE",
    "MAP_POPULATE",
    "MAP_PRIVATE",
    "MAP_SHARED",
    "MAP_STACK",
    "MFD_ALLOW_SEALING",
    "MFD_CLOEXEC",
    "MFD_HUGETLB",
    "MREMAP_DONTUNMAP",
    "MREMAP_FIXED",
    "MREMAP_MAYMOVE",
    "PROT_EXEC",
    "PROT_NONE",
    "PROT_READ",
    "PROT_WRITE",
    "madvise",
    "memfd_create",
    "mlock",
    "mmap",
    "mprotect",
    "mremap",
    "munmap",
]

# asm-generic/mman-common.h, mman.h (the same on x86_64 and aarch64)
PROT_NONE: Final = 0
PROT_READ: Final = 1
PROT_WRITE: Final = 2
PROT_EXEC: Final = 4
MAP_SHARED: Final = 0x01
MAP_PRIVATE: Final = 0x02
MAP_FIXED: Final = 0x10
MAP_ANONYMOUS: Final = 0x20
MAP_NORESERVE: Final = 0x4000
MAP_POPULATE: Final = 0x8000
MAP_STACK: Final = 0x20000
MAP_HUGETLB: Final = 0x40000
MAP_FIXED_NOREPLACE: Final = 0x100000
MAP_HUGE_SHIFT: Final = 26
MADV_NORMAL: Final = 0
MADV_RANDOM: Final = 1
MADV_SEQUENTIAL: Final = 2
MADV_WILLNEED: Final = 3
MADV_DONTNEED: Final = 4
MADV_FREE: Final = 8
MADV_REMOVE: Final = 9
MADV_DONTFORK: Final = 10
MADV_DOFORK: Final = 11
MADV_HUGEPAGE: Final = 14
MADV_NOHUGEPAGE: Final = 15
MADV_DONTDUMP: Final = 16
MADV_DODUMP: Final = 17
MREMAP_MAYMOVE: Final = 1
MREMAP_FIXED: Final = 2
MREMAP_DONTUNMAP: Final = 4
MFD_CLOEXEC: Final = 1
MFD_ALLOW_SEALING: Final = 2
MFD_HUGETLB: Final = 4

_NR_MMAP = _s.NR["mmap"]
_NR_MUNMAP = _s.NR["munmap"]
_NR_MPROTECT = _s.NR["mprotect"]
_NR_MADVISE = _s.NR["madvise"]
_NR_MREMAP = _s.NR["mremap"]
_NR_MLOCK = _s.NR["mlock"]
_NR_MEMFD = _s.NR["memfd_create"]
_U64 = (1 << 64) - 1


def _uint(v: Any, name: str, limit: int = _U64) -> int:
    if type(v) is not int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name} must be an int, not {type(v).__name__}")
        v = int(v)
    if not 0 <= v <= limit:
        raise ValueError(f"{name} {v} out of range")
    out: int = v
    return out


def mmap(addr: int, length: int, prot: int, flags: int, fd: int = -1, offset: int = 0) -> int:
    """mmap(addr, length, prot, flags, fd, offset): map pages; returns the address.

    Args:
        addr: hint (or the exact address with MAP_FIXED); 0 lets the kernel choose.
        length: bytes (> 0); prot: PROT_* bits; flags: MAP_* bits.
        fd: the file to map, -1 for MAP_ANONYMOUS; offset: page-aligned file offset.
    Returns: the mapping's start address.
    Raises: TypeError/ValueError for bad arguments before the call;
        ResourceExhausted/ENOMEM, InvalidArgument/EINVAL, PermissionDenied/EACCES,EPERM,
        BadDescriptor/EBADF.
    Availability: Linux. Unsafe with MAP_FIXED (replaces whatever was there).
    """
    if _uint(length, "length") == 0:
        raise ValueError("mmap length must be > 0")
    fd_v = -1 if fd == -1 else _s.fd_arg(fd)
    r = _s.syscall(_NR_MMAP, _uint(addr, "addr"), length, _uint(prot, "prot", 0xFFFFFFFF),
                   _uint(flags, "flags", 0xFFFFFFFF), fd_v, _uint(offset, "offset"))
    return _s.check(r, "mmap")


def munmap(addr: int, length: int) -> None:
    """munmap(addr, length): remove the mappings in [addr, addr+length).

    Raises: TypeError/ValueError before the call; InvalidArgument/EINVAL (unaligned
    address, zero length). Availability: Linux. Unsafe: unmapping memory the
    interpreter uses crashes the process.
    """
    _s.check(_s.syscall(_NR_MUNMAP, _uint(addr, "addr"), _uint(length, "length")), "munmap")


def mprotect(addr: int, length: int, prot: int) -> None:
    """mprotect(addr, length, prot): change the protection of whole pages.

    Raises: TypeError/ValueError before the call; InvalidArgument/EINVAL,
    ResourceExhausted/ENOMEM (range not mapped), PermissionDenied/EACCES.
    Availability: Linux. Unsafe on memory you do not own.
    """
    _s.check(_s.syscall(_NR_MPROTECT, _uint(addr, "addr"), _uint(length, "length"),
                        _uint(prot, "prot", 0xFFFFFFFF)), "mprotect")


def madvise(addr: int, length: int, advice: int) -> None:
    """madvise(addr, length, advice): advise the kernel about a range (MADV_*).

    Raises: TypeError/ValueError before the call; InvalidArgument/EINVAL (unknown
    advice, THP disabled for MADV_HUGEPAGE), ResourceExhausted/ENOMEM (unmapped),
    PermissionDenied/EPERM. Availability: Linux. Unsafe: MADV_DONTNEED on memory
    you do not own zeroes it.
    """
    _s.check(_s.syscall(_NR_MADVISE, _uint(addr, "addr"), _uint(length, "length"),
                        _uint(advice, "advice", 0x7FFFFFFF)), "madvise")


def mremap(old_addr: int, old_size: int, new_size: int, flags: int = 0, new_addr: int = 0) -> int:
    """mremap(old_addr, old_size, new_size, flags, new_addr): grow, shrink or move a mapping.

    Returns: the (possibly new) address. Raises: TypeError/ValueError before the
    call; ResourceExhausted/ENOMEM (cannot grow in place without MREMAP_MAYMOVE),
    InvalidArgument/EINVAL. Availability: Linux. Unsafe on memory you do not own.
    """
    return _s.check(_s.syscall(_NR_MREMAP, _uint(old_addr, "old_addr"), _uint(old_size, "old_size"),
                               _uint(new_size, "new_size"), _uint(flags, "flags", 0xFFFFFFFF),
                               _uint(new_addr, "new_addr")), "mremap")


def mlock(addr: int, length: int) -> None:
    """mlock(addr, length): lock the pages of a range in RAM (faulting them in).

    Raises: TypeError/ValueError before the call; ResourceExhausted/ENOMEM (over
    RLIMIT_MEMLOCK or unmapped), PermissionDenied/EPERM. Availability: Linux.
    """
    _s.check(_s.syscall(_NR_MLOCK, _uint(addr, "addr"), _uint(length, "length")), "mlock")


def memfd_create(name: str | bytes, flags: int = MFD_CLOEXEC) -> int:
    """memfd_create(name, flags): an anonymous file in memory; returns its fd.

    Args: name (for /proc/self/fd links, at most 249 bytes), flags (MFD_*).
    Raises: TypeError/ValueError before the call (NUL in name, too long);
        InvalidArgument/EINVAL, ResourceExhausted/EMFILE,ENFILE,ENOMEM.
    Availability: Linux >= 3.17.
    """
    raw = _s.path_arg(name, name="name")
    if len(raw) > 249:
        raise ValueError("memfd_create name is longer than 249 bytes")
    from vllsi.linux._ffi import addr, ffi

    cname = ffi.new("char[]", raw)
    return _s.check(_s.syscall(_NR_MEMFD, addr(cname), _uint(flags, "flags", 0xFFFFFFFF)),
                    "memfd_create")
