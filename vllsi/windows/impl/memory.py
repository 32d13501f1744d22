"""Windows backend of :mod:`vllsi.memory`: VirtualAlloc / VirtualProtect / VirtualFree.

- ``Region`` is a pure-Python buffer-protocol type (PEP 688 ``__buffer__``,
  CPython 3.12+; on older interpreters a Mapping has no buffer interface on
  Windows): it counts live exports, so closing while a memoryview is alive
  raises BufferError and nothing is freed, and every use after close raises
  ValueError.
- ``map_pages``: VirtualAlloc(MEM_RESERVE|MEM_COMMIT, PAGE_READWRITE) (zeroed).
  Windows places allocations on 64 KiB boundaries; a larger alignment reserves
  ``length + alignment``, releases it and re-allocates at the aligned address
  inside (retried if another thread took the spot), so base == address and the
  release is exact. ``shared=True``: a pagefile-backed section
  (CreateFileMappingW + MapViewOfFile), shareable with other processes through
  its handle (Windows has no fork).
- ``map_huge``: VirtualAlloc(MEM_LARGE_PAGES), which needs SeLockMemoryPrivilege:
  without it PermissionDenied/EPERM (ERROR_PRIVILEGE_NOT_HELD), no silent fallback.
- ``protect``: MemProt -> PAGE_NOACCESS/READONLY/READWRITE/EXECUTE*.
- ``advise``: DontNeed/Remove decommit and recommit the pages (so they read back
  as zeros, as madvise(MADV_DONTNEED) on private anonymous memory); Free is
  MEM_RESET (contents undefined afterwards, like MADV_FREE); HugePage is EINVAL
  (no transparent huge pages); the others are accepted as no-ops.
"""

from __future__ import annotations

import errno as _errno
import threading
from typing import Any

from vllsi import errors
from vllsi.windows import consts as C
from vllsi.windows import kernel32
from vllsi.windows._ffi import ffi

__all__ = ["ADVISE_CALL", "Region", "advise", "map_huge", "map_pages", "protect", "unmap"]

ADVISE_CALL = "VirtualAlloc"
_GRANULARITY = kernel32.get_system_info().allocation_granularity
_RW = C.MEM_RESERVE | C.MEM_COMMIT
_sections: dict[int, int] = {}  # view address -> section handle
_lock = threading.Lock()
_WRITABLE = 1  # inspect.BufferFlags.WRITABLE (PyBUF_WRITABLE)


class Region:
    """Buffer-protocol view of OS pages with export tracking (see the module docstring)."""

    _addr: int
    _size: int
    _span: int
    _exports: int
    _level: int  # 0 read/write, 1 read-only, 2 no exports (PAGE_NOACCESS)
    _closed: bool = True

    def _attach(self, address: int, size: int, span: int | None = None) -> None:
        """Bind to ``size`` usable bytes at ``address``; ``span`` is the bytes of whole
        pages that protect/advise cover (the portable Mapping keeps it as ``_plen``)."""
        self._addr, self._size = address, size
        self._span = size if span is None else span
        self._exports, self._level, self._closed = 0, 0, False

    def _detach(self) -> bool:
        if self._closed:
            return False
        if self._exports:
            raise BufferError(f"{self._exports} exported buffer(s) of this mapping still alive")
        self._closed = True
        return True

    def _set_readonly(self, level: int) -> None:
        """0 read/write, 1 read-only exports, 2 no exports at all (the pages cannot be
        read: a view could only fault the interpreter). A bool is taken as 0/1."""
        self._level = int(level)

    def _check(self) -> None:
        if self._closed:
            raise ValueError("mapping is closed")

    @property
    def address(self) -> int:
        self._check()
        return self._addr

    @property
    def size(self) -> int:
        self._check()
        return self._size

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        self._check()
        return self._size

    def __buffer__(self, flags: int) -> memoryview:
        self._check()
        if self._level >= 2:
            raise ValueError("mapping has no access (os_protect NONE): no buffer export")
        if self._level == 1 and flags & _WRITABLE:
            raise BufferError("mapping is read-only (os_protect without WRITE)")
        view = memoryview(ffi.buffer(ffi.cast("char *", self._addr), self._size))
        if self._level == 1:
            view = view.toreadonly()
        self._exports += 1
        return view

    def __release_buffer__(self, view: memoryview) -> None:
        self._exports -= 1


def _aligned_alloc(length: int, alignment: int) -> int:
    for _ in range(16):
        probe = kernel32.virtual_alloc(0, length + alignment, C.MEM_RESERVE, C.PAGE_NOACCESS)
        kernel32.virtual_free(probe, 0, C.MEM_RELEASE)
        want = (probe + alignment - 1) & ~(alignment - 1)
        try:
            return kernel32.virtual_alloc(want, length, _RW, C.PAGE_READWRITE)
        except errors.VllsiError:
            continue  # another thread took the spot; try again
    raise errors.from_errno(_errno.ENOMEM, syscall="VirtualAlloc",
                            message="could not place an aligned allocation")


def map_pages(length: int, alignment: int, shared: bool) -> tuple[int, int, int]:
    if shared:
        if alignment > _GRANULARITY:
            raise errors.unsupported("shared mappings aligned beyond 64 KiB on Windows",
                                     syscall="MapViewOfFile")
        section = kernel32.create_file_mapping(length)
        try:
            addr = kernel32.map_view_of_file(section, C.FILE_MAP_ALL_ACCESS, 0, length)
        except BaseException:
            kernel32.close_handle(section)
            raise
        with _lock:
            _sections[addr] = section
        return addr, length, addr
    if alignment <= _GRANULARITY:
        addr = kernel32.virtual_alloc(0, length, _RW, C.PAGE_READWRITE)
    else:
        addr = _aligned_alloc(length, alignment)
    return addr, length, addr


def map_huge(length: int, huge_page_size: int) -> tuple[int, int, int, bool]:
    addr = kernel32.virtual_alloc(0, length, _RW | C.MEM_LARGE_PAGES, C.PAGE_READWRITE)
    return addr, length, addr, True


def unmap(base: int, length: int) -> None:
    with _lock:
        section = _sections.pop(base, None)
    if section is not None:
        kernel32.unmap_view_of_file(base)
        kernel32.close_handle(section)
    else:
        kernel32.virtual_free(base, 0, C.MEM_RELEASE)


_PAGE = {0: C.PAGE_NOACCESS, 1: C.PAGE_READONLY, 2: C.PAGE_READWRITE, 3: C.PAGE_READWRITE,
         4: C.PAGE_EXECUTE, 5: C.PAGE_EXECUTE_READ, 6: C.PAGE_EXECUTE_READWRITE,
         7: C.PAGE_EXECUTE_READWRITE}


def protect(address: int, length: int, prot: int) -> None:
    kernel32.virtual_protect(address, length, _PAGE[prot & 7])


def advise(mapping: Any, advice: int) -> int:
    if isinstance(advice, bool) or not isinstance(advice, int):
        raise TypeError(f"advice must be a MemAdvice, not {type(advice).__name__}")
    address = mapping.address  # ValueError once closed
    length = mapping._plen
    if getattr(mapping, "shared", False):
        return -_errno.EINVAL if advice == 14 else 0  # sections cannot be decommitted
    try:
        if advice in (4, 9):  # DontNeed, Remove: zero-fill on next touch
            prot = kernel32.virtual_query(address).protect
            kernel32.virtual_free(address, length, C.MEM_DECOMMIT)
            kernel32.virtual_alloc(address, length, C.MEM_COMMIT, prot or C.PAGE_READWRITE)
        elif advice == 8:  # Free
            kernel32.virtual_alloc(address, length, C.MEM_RESET, C.PAGE_NOACCESS)
        elif advice == 14:  # HugePage
            return -_errno.EINVAL
    except errors.VllsiError as exc:
        return -int(exc.errno or _errno.EINVAL)
    return 0
