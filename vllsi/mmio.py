"""Memory-mapped I/O: exact-width volatile access to device registers and shared
memory, and hardware barriers.

From user space, device memory arrives as a mapping: ``mmap`` of ``/dev/mem``
(open it with ``O_SYNC`` for an uncached mapping), of a UIO device
(``/dev/uioN``, map N at offset ``N * PAGE_SIZE``), of a memfd or file shared
with another process, or any buffer. A :class:`MemoryRegion` wraps one and is
the only way in: it pins the buffer (the mapping cannot be closed or resized
under it), checks every offset against its length and every address for
natural alignment (``ValueError``), and refuses access once closed. No call
through it can touch memory outside its buffer, so none can crash the
interpreter; :meth:`MemoryRegion.unsafe_from_address` is the one raw-address
door, and the caller vouches for that memory. (One hazard stays the
mapping's own: a file-backed mapping whose file is truncated by someone else
faults with SIGBUS on access, as it does through ``mmap`` itself; seal shared
memfds with ``F_SEAL_SHRINK``.)

Accesses. Every load and store is exactly one access of its width (8, 16, 32
or 64 bits), performed by its own compiled C function
(``_native/csrc/mmio_ops.h``): one ``mov`` of that width on x86_64, one
``ldrb/ldrh/ldr w/ldr x`` (``strb/strh/str w/str x``) on aarch64 — never split,
merged, repeated, widened to a read-modify-write or cached, which ctypes and
``struct`` do not promise (python-periphery#3). conformance/mmio disassembles
the built extension to prove it. :class:`AccessMode` adds barriers:

- ``Relaxed``: the access alone (Linux ``readl_relaxed``/``writel_relaxed``);
  ``volatile_load``/``volatile_store`` and ``MemoryRegion.readN/writeN`` too.
- ``Volatile``: a load is followed by an acquire barrier and a store preceded
  by a release barrier (``barrier(Acquire)``/``barrier(Release)``), so device
  accesses stay ordered with this thread's other memory accesses.
- ``Sync``: the access is bracketed by ``dsb()`` on both sides: everything
  before it has completed when it is issued, and it has completed before the
  call returns (doorbells, side-effecting registers).

Barriers (SPEC §10). ``barrier(order)`` takes a
:class:`vllsi.types.MemoryOrdering`; ``dmb``, ``dsb`` and ``isb`` are the
aarch64 instructions, with these x86_64 equivalents:

==============  ====================  ==================================
call            aarch64               x86_64
==============  ====================  ==================================
barrier(Relaxed)  compiler barrier    compiler barrier
barrier(Acquire)  ``dmb ishld``       ``lfence``
barrier(Release)  ``dmb ish``         ``sfence``
barrier(AcqRel/SeqCst) ``dmb ish``    ``mfence``
``dmb()``       ``dmb ish``           ``mfence`` (orders all loads/stores)
``dsb()``       ``dsb sy``            ``mfence; lfence`` (completes them,
                                      and later instructions wait)
``isb()``       ``isb``               ``lfence`` (dispatch serialising;
                                      x86 keeps instruction fetch coherent
                                      with stores in hardware)
==============  ====================  ==================================

The original's host versions of these were no-ops (its defect list, item 15);
here they execute the instructions above.

Backend interface (``vllsi/<os>/impl/mmio.py``): ``window(buffer, offset,
length)`` and ``window_unsafe(address, length, readonly)`` return an object
with ``read8..read64(offset)``, ``write8..write64(offset, value)``,
``load(offset, width, mode)``, ``store(offset, width, mode, value)``,
``close()``, ``address``, ``length``, ``readonly``, ``closed``; plus
``barrier(order)``, ``dmb()``, ``dsb()``, ``isb()``. Linux has it (both tiers
use the compiled accessors; MMIO never enters the kernel); on other OSes every
call raises :class:`vllsi.errors.Unsupported`.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from typing import Any

from vllsi import _platform
from vllsi.types import MemoryOrdering

__all__ = [
    "AccessMode",
    "MemoryRegion",
    "Register",
    "barrier",
    "dmb",
    "dsb",
    "isb",
    "volatile_load",
    "volatile_store",
]

_impl = _platform.os_module("mmio")

_WIDTHS = (8, 16, 32, 64)


class AccessMode(enum.IntEnum):
    """Barriers around a :class:`Register` access (see the module docstring)."""

    Relaxed = 0
    Volatile = 1
    Sync = 2


def _int_arg(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    return v


def _width_arg(width: Any) -> int:
    if _int_arg("width", width) not in _WIDTHS:
        raise ValueError(f"width must be 8, 16, 32 or 64 bits, not {width}")
    return int(width)


class MemoryRegion:
    """A bounds-checked window over a mapping, for exact-width volatile access.

    ``MemoryRegion(mapping, length=None, cacheable=False, *, offset=0)`` covers
    ``mapping[offset:offset+length]`` (``length=None``: to the end). Offsets
    given to its methods are relative to that start. ``readN(offset)`` and
    ``writeN(offset, value)`` (N = 8, 16, 32, 64) are single Relaxed accesses
    and the fastest path (bound C methods).

    Args: mapping: a buffer-protocol object (``mmap.mmap``, bytearray,
    memoryview...); writable for stores. cacheable: whether this is ordinary
    cached RAM (shared memory, DMA buffers) rather than device registers —
    recorded for callers; the memory type itself is set by how the memory was
    mapped.
    Raises: TypeError (not a buffer; a raw int address: use
    :meth:`unsafe_from_address`); ValueError (range outside the buffer);
    Unsupported where MMIO has no backend (non-Linux).
    Availability: Linux (x86_64, aarch64), both tiers.
    """

    __slots__ = ("__weakref__", "_w", "cacheable", "read8", "read16", "read32", "read64",
                 "write8", "write16", "write32", "write64")

    read8: Callable[[int], int]
    read16: Callable[[int], int]
    read32: Callable[[int], int]
    read64: Callable[[int], int]
    write8: Callable[[int, int], None]
    write16: Callable[[int, int], None]
    write32: Callable[[int, int], None]
    write64: Callable[[int, int], None]

    def __init__(self, mapping: Any, length: int | None = None, cacheable: bool = False, *,
                 offset: int = 0) -> None:
        if isinstance(mapping, int):
            raise TypeError("MemoryRegion takes a mapping; use MemoryRegion.unsafe_from_address "
                            "for a raw address")
        off = _int_arg("offset", offset)
        ln = -1 if length is None else _int_arg("length", length)
        if off < 0 or (length is not None and ln < 0):
            raise ValueError("offset and length must be >= 0")
        self._bind(_impl.window(mapping, off, ln), cacheable)

    def _bind(self, w: Any, cacheable: bool) -> None:
        self._w = w
        self.cacheable = bool(cacheable)
        for n in _WIDTHS:
            setattr(self, f"read{n}", getattr(w, f"read{n}"))
            setattr(self, f"write{n}", getattr(w, f"write{n}"))

    @classmethod
    def unsafe_from_address(cls, address: int, length: int, *, cacheable: bool = False,
                            readonly: bool = False) -> MemoryRegion:
        """A region over raw memory at ``address`` (UNSAFE: nothing keeps it mapped;
        a wrong address crashes the process). Bounds and alignment are still checked.

        Raises: TypeError, ValueError (zero address, negative length).
        Availability: Linux.
        """
        _int_arg("address", address)
        _int_arg("length", length)
        self = cls.__new__(cls)
        self._bind(_impl.window_unsafe(address, length, bool(readonly)), cacheable)
        return self

    @property
    def address(self) -> int:
        """Address of the first byte (informational; 0 once closed)."""
        return int(self._w.address)

    @property
    def length(self) -> int:
        """Length in bytes (0 once closed)."""
        return int(self._w.length)

    @property
    def readonly(self) -> bool:
        """Whether stores are refused (the buffer is read-only)."""
        return bool(self._w.readonly)

    @property
    def closed(self) -> bool:
        return bool(self._w.closed)

    @property
    def end(self) -> int:
        """One past the last valid offset (== length)."""
        return self.length

    def contains(self, offset: int, size: int = 1) -> bool:
        """Whether ``size`` bytes at ``offset`` lie inside the region."""
        return offset >= 0 and size >= 0 and offset + size <= self.length

    def close(self) -> None:
        """Release the mapping (idempotent); later accesses raise ValueError."""
        self._w.close()

    def __enter__(self) -> MemoryRegion:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.length} bytes at {self.address:#x}"
        return f"MemoryRegion({state}, cacheable={self.cacheable})"


def _region(region: Any) -> Any:
    if not isinstance(region, MemoryRegion):
        raise TypeError(f"expected a MemoryRegion, not {type(region).__name__}")
    return region._w


def volatile_load(region: MemoryRegion, offset: int, width: int) -> int:
    """One volatile load of ``width`` bits at ``offset`` in ``region`` (no barrier).

    Args: region: a MemoryRegion; offset: bytes from its start, naturally
    aligned for the width; width: 8, 16, 32 or 64 (bits).
    Returns: the unsigned value.
    Raises: TypeError (not a region / not an int); ValueError (width, offset
    out of range, misaligned, region closed).
    Availability: Linux; Unsupported elsewhere.
    """
    w = region._w if region.__class__ is MemoryRegion else _region(region)
    return w.load(offset, width, 0)  # type: ignore[no-any-return]


def volatile_store(region: MemoryRegion, offset: int, value: int, width: int) -> None:
    """One volatile store of ``value`` as ``width`` bits at ``offset`` (no barrier).

    Args: as :func:`volatile_load`; value: 0..2**width-1.
    Raises: TypeError (not a region / not an int / read-only region);
    ValueError (width, value range, offset out of range, misaligned, closed).
    Availability: Linux; Unsupported elsewhere.
    """
    w = region._w if region.__class__ is MemoryRegion else _region(region)
    w.store(offset, width, 0, value)


class Register:
    """A device register: ``width`` bits at ``offset`` in ``region``, accessed
    with ``mode`` barriers (:class:`AccessMode`).

    ``read() -> int`` and ``write(value)`` are bound C calls; ``modify(fn)``,
    ``set_bits(mask)`` and ``clear_bits(mask)`` are read-modify-write (two
    accesses, not atomic).
    Raises (construction): TypeError; ValueError when the register does not
    lie inside the region or is misaligned, or for a bad width/mode.
    Availability: Linux; Unsupported elsewhere.
    """

    __slots__ = ("mode", "offset", "read", "region", "width", "write")

    read: Callable[[], int]
    write: Callable[[int], None]

    def __init__(self, region: MemoryRegion, offset: int, width: int = 32,
                 mode: AccessMode = AccessMode.Volatile) -> None:
        w = _region(region)
        width = _width_arg(width)
        _int_arg("offset", offset)
        if not isinstance(mode, AccessMode):
            raise TypeError(f"mode must be an AccessMode, not {type(mode).__name__}")
        n = width // 8
        if not region.contains(offset, n):
            raise ValueError(f"register at {offset} ({n} bytes) is outside a "
                             f"{region.length}-byte region")
        if (region.address + offset) % n:
            raise ValueError(f"register at {offset} is misaligned for {width} bits")
        self.region, self.offset, self.width, self.mode = region, offset, width, mode
        if mode is AccessMode.Relaxed:
            self.read = functools.partial(getattr(w, f"read{width}"), offset)
            self.write = functools.partial(getattr(w, f"write{width}"), offset)
        else:
            self.read = functools.partial(w.load, offset, width, int(mode))
            self.write = functools.partial(w.store, offset, width, int(mode))

    def modify(self, fn: Callable[[int], int]) -> int:
        """Write ``fn(read())`` and return it (two accesses; not atomic)."""
        v = fn(self.read())
        self.write(v)
        return v

    def set_bits(self, mask: int) -> None:
        """Read, OR ``mask`` in, write back (not atomic)."""
        self.write(self.read() | mask)

    def clear_bits(self, mask: int) -> None:
        """Read, clear the bits of ``mask``, write back (not atomic)."""
        self.write(self.read() & ~mask & ((1 << self.width) - 1))

    def __repr__(self) -> str:
        return f"Register(offset={self.offset:#x}, width={self.width}, mode={self.mode.name})"


def barrier(order: MemoryOrdering = MemoryOrdering.SeqCst) -> None:
    """A memory barrier of the given C11 strength (table in the module docstring).

    Args: order: a :class:`vllsi.types.MemoryOrdering` (default SeqCst).
    Raises: TypeError for a non-MemoryOrdering. Availability: Linux x86_64 and
    aarch64; Unsupported elsewhere.
    """
    if not isinstance(order, MemoryOrdering):
        raise TypeError(f"order must be a MemoryOrdering, not {type(order).__name__}")
    _impl.barrier(int(order))


def dmb() -> None:
    """dmb ish (aarch64) / mfence (x86_64): order all earlier memory accesses
    before all later ones. Availability: Linux; Unsupported elsewhere."""
    _impl.dmb()


def dsb() -> None:
    """dsb sy (aarch64) / mfence; lfence (x86_64): complete all earlier memory
    accesses before any later instruction runs. Availability: Linux; Unsupported elsewhere."""
    _impl.dsb()


def isb() -> None:
    """isb (aarch64) / lfence (x86_64): flush the pipeline so later instructions
    are fetched after this point. Availability: Linux; Unsupported elsewhere."""
    _impl.isb()
