"""OS memory: page mappings as safe buffer-protocol objects.

``os_alloc(size)`` returns a :class:`Mapping`: fresh, zeroed, read/write pages
from the OS (L mmap, D mmap, W VirtualAlloc) that any Python code can use as a
buffer (``memoryview(m)``, ``os.readv``, ``vllsi.pread``...). ``m.address`` is
its start, ``len(m)`` / ``m.size`` the requested size (the OS maps whole pages).

Safety rules (the difference from a raw ``mmap``/``munmap`` pair):

- A Mapping remembers the true base and length of what was mapped, so freeing
  an over-aligned allocation unmaps exactly that (on Linux the alignment slack
  is unmapped at allocation time, so nothing else exists to free).
- ``os_free(m)`` is ``m.close()``: idempotent, like closing a file. Any use
  after it -- a new buffer export, ``.address``, ``os_protect``, ``os_advise``
  -- raises ValueError; nothing ever touches unmapped memory.
- Freeing while a memoryview of it is alive raises BufferError (as
  ``mmap.close`` does) instead of unmapping under the view.
- ``os_protect(m, MemProt.READ)`` makes new exports read-only, and with
  ``MemProt.NONE`` (or EXEC only) new exports are refused (ValueError). A view
  taken before keeps its access, and the MMU answers a forbidden access through
  it with SIGSEGV: protection is the hardware's, vllsi does not emulate it.
- A Mapping dropped without ``close()`` is unmapped when collected.

Backend interface (``vllsi.<os>.impl.memory``; arguments arrive validated):

- ``Region``: a type with the buffer protocol that Mapping subclasses, with
  ``_attach(address, size, span)`` (span: bytes of pages protect/advise cover),
  ``_detach() -> bool`` (BufferError while
  exported, False if already closed), ``_set_readonly(level)`` (0 read/write,
  1 read-only, 2 no exports), properties
  ``address``, ``size``, ``closed`` and ``len()`` (Linux: the C type of
  ``vllsi.linux._fast``).
- ``map_pages(length, alignment, shared) -> (base, mapped_length, address)``:
  read/write zeroed pages, ``address`` aligned to ``alignment`` (a power of two);
  ``unmap(base, mapped_length)`` later releases exactly that.
- ``map_huge(length, huge_page_size) -> (base, mapped_length, address, huge)``.
- ``protect(address, length, prot)`` (raises through the error factory).
- ``os_advise_fast``: optional, the whole of os_advise as one C callable.
- ``advise(mapping, advice) -> int`` (over the mapping's pages; ValueError
  once closed): 0, or a negative errno that
  os_advise raises through the factory naming ``ADVISE_CALL`` (the OS call);
  a raw return keeps this hot path to one Python frame (<= 1.2x mmap.madvise).
"""

from __future__ import annotations

from typing import Any

from vllsi import _platform, errors
from vllsi.types import PAGE_SIZE, MemAdvice, MemProt

__all__ = [
    "AlignedBuffer",
    "Mapping",
    "os_advise",
    "os_alloc",
    "os_alloc_aligned",
    "os_alloc_huge",
    "os_free",
    "os_protect",
]

__laws__ = ("alignment_honoured",)

_impl = _platform.os_module("memory")
_Region: Any = getattr(_impl, "Region", object)
if not isinstance(_Region, type):  # no backend on this OS: calls raise Unsupported
    _Region = object


def _size_arg(size: Any, name: str = "size") -> int:
    if type(size) is not int:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"{name} must be an int, not {type(size).__name__}")
        size = int(size)
    if size <= 0:
        raise ValueError(f"{name} must be > 0, got {size}")
    if size > (1 << 62):
        raise ValueError(f"{name} {size} is too large")
    out: int = size
    return out


def _pow2_arg(value: Any, name: str) -> int:
    v = _size_arg(value, name)
    if v & (v - 1):
        raise ValueError(f"{name} must be a power of two, got {v}")
    return v


def _round_up(n: int, unit: int) -> int:
    return (n + unit - 1) & ~(unit - 1)


class Mapping(_Region):  # type: ignore[misc]
    """Pages from the OS as a buffer-protocol object (create with :func:`os_alloc`).

    Attributes: ``address`` (start; ValueError once closed), ``size`` (bytes
    usable, as requested; ValueError once closed), ``closed``, ``shared``,
    ``alignment``, ``huge`` (True only when the pages really are huge pages of
    the requested size, e.g. MAP_HUGETLB; False for normal pages, including
    transparent-huge-page advice, see ``huge_advised``), ``protection``.
    ``close()`` is :func:`os_free`; it is also a context manager.
    """

    _base: int
    _length: int
    _plen: int
    shared: bool
    alignment: int
    huge: bool
    huge_advised: bool
    protection: MemProt

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if type(self) is Mapping:
            raise TypeError("create a Mapping with vllsi.os_alloc(...)")

    def _setup(self, size: int, alignment: int, shared: bool) -> None:
        base, length, address = _impl.map_pages(_round_up(size, PAGE_SIZE), alignment, shared)
        try:
            self._bind(base, length, address, size, alignment, shared, False)
        except BaseException:
            _impl.unmap(base, length)
            raise

    def _bind(self, base: int, length: int, address: int, size: int, alignment: int,
              shared: bool, huge: bool) -> None:
        self._base, self._length = base, length
        # the pages protect/advise cover: the whole mapping when it starts at the
        # address (always on Linux; hugetlb needs whole huge pages), else the
        # pages of the requested size
        self._plen = length if address == base else _round_up(size, PAGE_SIZE)
        self.shared, self.alignment, self.huge, self.huge_advised = shared, alignment, huge, False
        self.protection = MemProt.READ | MemProt.WRITE
        self._attach(address, size, self._plen)

    def close(self) -> None:
        """Unmap the pages (idempotent). Raises BufferError while a memoryview of
        the mapping is alive; OSError subclasses from munmap (not expected)."""
        if self._detach():
            _impl.unmap(self._base, self._length)

    def __enter__(self) -> Mapping:
        if self.closed:
            raise ValueError("mapping is closed")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self.closed and hasattr(self, "_base"):
                self.close()
        except Exception:  # interpreter shutdown, or a view still alive
            pass

    def __repr__(self) -> str:
        if self.closed:
            return f"<{type(self).__name__} closed>"
        return (f"<{type(self).__name__} address={self.address:#x} size={self.size}"
                f"{' shared' if self.shared else ''}{' huge' if self.huge else ''}>")

    def __reduce__(self) -> Any:
        raise TypeError(f"cannot pickle {type(self).__name__}")


class AlignedBuffer(Mapping):
    """AlignedBuffer(size, alignment=PAGE_SIZE): a zeroed, aligned Mapping for
    O_DIRECT and MMIO (L mmap, D mmap, W VirtualAlloc).

    ``len(buf) == size``; ``buf.address % alignment == 0``. Alignments up to the
    page size cost nothing extra (pages are page aligned); larger ones map and
    trim. Raises TypeError/ValueError (size <= 0, alignment not a power of two)
    before any call; ResourceExhausted/ENOMEM from the OS.
    """

    def __init__(self, size: int, alignment: int = PAGE_SIZE) -> None:
        size = _size_arg(size)
        alignment = _pow2_arg(alignment, "alignment")
        self._setup(size, alignment, False)


def _new(size: int, alignment: int, shared: bool) -> Mapping:
    m = Mapping.__new__(Mapping)
    m._setup(size, alignment, shared)
    return m


def os_alloc(size: int, *, shared: bool = False) -> Mapping:
    """mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS) (D mmap,
    W VirtualAlloc): zeroed read/write pages.

    Args:
        size: bytes (> 0); the OS maps whole pages, ``len()`` is ``size``.
        shared: MAP_SHARED|MAP_ANONYMOUS, visible to forked children (W: a
            pagefile-backed section).
    Returns: a :class:`Mapping`.
    Raises: TypeError/ValueError (size <= 0) before the call;
        ResourceExhausted/ENOMEM.
    Availability: Linux, macOS, Windows.
    """
    return _new(_size_arg(size), PAGE_SIZE, bool(shared))


def os_alloc_aligned(size: int, align: int, *, shared: bool = False) -> Mapping:
    """mmap of ``size + align`` bytes, trimmed with munmap to an ``align``-aligned
    run (D the same, W VirtualAlloc reserve/commit).

    Args: size (> 0); align: a power of two (any value up to the page size is
        met by page alignment).
    Returns: a :class:`Mapping` whose ``address % align == 0``; freeing it unmaps
        exactly the pages that remain mapped.
    Raises: TypeError/ValueError before the call; ResourceExhausted/ENOMEM.
    Availability: Linux, macOS, Windows.
    """
    size = _size_arg(size)
    return _new(size, _pow2_arg(align, "align"), bool(shared))


def os_alloc_huge(size: int, huge_page_size: int = 2 * 1024 * 1024) -> Mapping:
    """mmap(MAP_HUGETLB | log2(huge_page_size) << MAP_HUGE_SHIFT), falling back to
    huge-aligned pages with madvise(MADV_HUGEPAGE) (D superpages, W MEM_LARGE_PAGES).

    The size is rounded up to whole huge pages. ``.huge`` tells the truth: True
    only when the mapping is made of HugeTLB pages of ``huge_page_size``; after
    the fallback it is False and ``.huge_advised`` is True (transparent huge
    pages may or may not back it; /proc/self/smaps says).
    Raises: TypeError/ValueError (huge_page_size not a power of two >= the page
        size) before the call; ResourceExhausted/ENOMEM.
    Availability: Linux (HugeTLB needs reserved pages, vm.nr_hugepages), macOS,
        Windows (needs SeLockMemoryPrivilege).
    """
    size = _size_arg(size)
    hps = _pow2_arg(huge_page_size, "huge_page_size")
    if hps < PAGE_SIZE:
        raise ValueError(f"huge_page_size {hps} is smaller than the page size {PAGE_SIZE}")
    m = Mapping.__new__(Mapping)
    base, length, address, huge = _impl.map_huge(_round_up(size, hps), hps)
    try:
        m._bind(base, length, address, size, hps, False, bool(huge))
    except BaseException:
        _impl.unmap(base, length)
        raise
    m.huge_advised = not huge
    return m


def os_free(mapping: Mapping) -> None:
    """munmap (D munmap, W VirtualFree(MEM_RELEASE)): ``mapping.close()``.

    Idempotent. Raises: TypeError for a non-Mapping; BufferError while a
    memoryview of it is alive (nothing is unmapped then).
    Availability: Linux, macOS, Windows.
    """
    if not isinstance(mapping, Mapping):
        raise TypeError(f"os_free needs a Mapping, not {type(mapping).__name__}")
    mapping.close()


_PROT_ALL = int(MemProt.READ | MemProt.WRITE | MemProt.EXEC)


def os_protect(mapping: Mapping, prot: MemProt | int) -> None:
    """mprotect(address, pages, prot) (D mprotect, W VirtualProtect) over the
    mapping's pages.

    New buffer exports are read-only unless ``prot`` has WRITE, and refused
    (ValueError) unless it has READ.
    Raises: TypeError (not a Mapping, not an int), ValueError (bits outside
        READ|WRITE|EXEC, or the mapping is closed) before the call;
        PermissionDenied/EACCES (e.g. EXEC refused by policy), InvalidArgument/EINVAL.
    Availability: Linux, macOS, Windows.
    """
    if not isinstance(mapping, Mapping):
        raise TypeError(f"os_protect needs a Mapping, not {type(mapping).__name__}")
    if isinstance(prot, bool) or not isinstance(prot, int):
        raise TypeError(f"prot must be a MemProt, not {type(prot).__name__}")
    if prot & ~_PROT_ALL or prot < 0:
        raise ValueError(f"prot {prot!r} has bits outside READ|WRITE|EXEC")
    address = mapping.address  # ValueError once closed
    _impl.protect(address, mapping._plen, int(prot))
    mapping.protection = MemProt(int(prot))
    mapping._set_readonly(0 if prot & MemProt.WRITE else (1 if prot & MemProt.READ else 2))


_ADVICE = frozenset(int(a) for a in MemAdvice)
_advise = _impl.advise
_MemAdvice = MemAdvice


def os_advise(mapping: Mapping, advice: MemAdvice | int) -> None:
    """madvise(address, pages, advice) (D madvise, W PrefetchVirtualMemory /
    DiscardVirtualMemory where they mean something) over the mapping's pages.

    Args: advice: a :class:`vllsi.types.MemAdvice`. DontNeed on private
        anonymous pages zeroes them.
    Raises: TypeError (not a Mapping), ValueError (unknown advice, or the mapping
        is closed) before the call; InvalidArgument/EINVAL (advice the kernel does
        not support for this mapping, e.g. HugePage without THP).
    Availability: Linux, macOS, Windows.
    """
    if advice.__class__ is not _MemAdvice and (advice.__class__ is bool or advice not in _ADVICE):
        if isinstance(advice, int) and not isinstance(advice, bool):
            raise ValueError(f"unknown advice {advice!r}")
        raise TypeError(f"advice must be a MemAdvice, not {type(advice).__name__}")
    if not isinstance(mapping, Mapping):
        raise TypeError(f"os_advise needs a Mapping, not {type(mapping).__name__}")
    r = _advise(mapping, advice)
    if r:
        raise errors.from_errno(-r, syscall=_impl.ADVISE_CALL)


if getattr(_impl, "os_advise_fast", None) is not None:
    # The same checks and call in one C function (no Python frame): os_advise is
    # a hot path held to <= 1.2x mmap.madvise. Contract as documented above.
    _os_advise_doc = os_advise.__doc__
    os_advise = _impl.os_advise_fast
