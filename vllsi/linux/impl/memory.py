"""Linux backend of :mod:`vllsi.memory`: anonymous mmap/munmap/mprotect/madvise.

Interface (mirrored by the Darwin and Windows backends; see vllsi.memory):
``Region`` (the buffer-protocol base type), ``map_pages``, ``map_huge``,
``unmap``, ``protect``, ``advise``. Arguments arrive validated.
"""

from __future__ import annotations

from typing import Any

from vllsi import errors
from vllsi.linux import _syscall as _s
from vllsi.linux import mem as _m
from vllsi.types import PAGE_SIZE

__all__ = ["ADVISE_CALL", "Region", "advise", "map_huge", "map_pages", "os_advise_fast",
           "protect", "unmap"]


class _NoShimRegion:
    """Stand-in when vllsi.linux._fast is not built: CPython < 3.12 gives Python
    classes no buffer protocol, so a Mapping cannot exist without the C type."""

    closed = True

    def _attach(self, *_a: Any) -> None:
        raise errors.unsupported("vllsi.memory mappings without the compiled shim "
                                 "(build it: python _native/build_linux.py)")


def _region_type() -> Any:
    try:
        from vllsi.linux import _fast
    except ImportError:
        return _NoShimRegion
    return _fast.region_type()


Region: Any = _region_type()

_syscall = _s.syscall
_NR_MADVISE = _s.NR["madvise"]
_NR_MPROTECT = _s.NR["mprotect"]
_RW = _m.PROT_READ | _m.PROT_WRITE


def map_pages(length: int, alignment: int, shared: bool) -> tuple[int, int, int]:
    """mmap anonymous read/write pages. Returns (base, mapped length, address):
    over-aligned requests map ``length + alignment`` and unmap the head and tail
    slack, so base == address and the pair (base, length) is exactly what lives."""
    flags = _m.MAP_ANONYMOUS | (_m.MAP_SHARED if shared else _m.MAP_PRIVATE)
    if alignment <= PAGE_SIZE:
        a = _m.mmap(0, length, _RW, flags)
        return a, length, a
    total = length + alignment
    raw = _m.mmap(0, total, _RW, flags)
    start = (raw + alignment - 1) & ~(alignment - 1)
    head, tail = start - raw, raw + total - (start + length)
    if head:
        _m.munmap(raw, head)
    if tail:
        _m.munmap(start + length, tail)
    return start, length, start


def map_huge(length: int, huge_page_size: int) -> tuple[int, int, int, bool]:
    """MAP_HUGETLB with the page size encoded (MAP_HUGE_SHIFT); if the kernel has
    no such pages reserved (ENOMEM/EINVAL/EPERM), huge-aligned normal pages with
    madvise(MADV_HUGEPAGE). Returns (base, length, address, is_hugetlb)."""
    shift = huge_page_size.bit_length() - 1
    flags = _m.MAP_PRIVATE | _m.MAP_ANONYMOUS | _m.MAP_HUGETLB | (shift << _m.MAP_HUGE_SHIFT)
    try:
        a = _m.mmap(0, length, _RW, flags)
        return a, length, a, True
    except (errors.ResourceExhausted, errors.InvalidArgument, errors.PermissionDenied):
        pass
    base, n, a = map_pages(length, huge_page_size, False)
    try:
        _m.madvise(a, n, _m.MADV_HUGEPAGE)
    except errors.InvalidArgument:  # THP not built in or disabled: plain pages
        pass
    except BaseException:
        _m.munmap(base, n)
        raise
    return base, n, a, False


def unmap(base: int, length: int) -> None:
    """munmap exactly what map_pages/map_huge returned."""
    _m.munmap(base, length)


def protect(address: int, length: int, prot: int) -> None:
    """mprotect (prot is PROT_* bits, validated)."""
    r = _syscall(_NR_MPROTECT, address, length, prot)
    if r < 0:
        raise errors.from_errno(-r, syscall="mprotect")


ADVISE_CALL = "madvise"

os_advise_fast: Any = None  # the whole of os_advise in C (asm tier), or None

if _s.TIER == "asm" and Region is not _NoShimRegion:
    from vllsi.linux import _fast

    advise: Any = Region._madvise
    os_advise_fast = _fast.os_advise
else:
    def advise(mapping: Any, advice: int) -> int:
        return _syscall(_NR_MADVISE, mapping.address, mapping._plen, advice)

# advise(mapping, advice) -> 0 or -errno: madvise over the mapping's whole pages.
