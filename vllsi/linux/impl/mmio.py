"""Linux backend of ``vllsi.mmio``: the compiled accessors of ``vllsi.linux._fast``.

MMIO never enters the kernel, so both syscall tiers (``asm`` and ``libc``) use
the same compiled exact-width accessors and barriers (``_native/csrc/mmio_ops.h``);
without the compiled shim every function raises :class:`vllsi.errors.Unsupported`
(a pure-Python access could not promise one access of the right width).
"""

from __future__ import annotations

from typing import Any

from vllsi.errors import unsupported

_f: Any
try:
    from vllsi.linux import _fast as _f

    _f.mmio_window  # noqa: B018  # an older build without the MMIO fast paths
except (ImportError, AttributeError):  # pragma: no cover - only without a compiler
    _f = None

AVAILABLE = _f is not None


def _need() -> Any:
    if _f is None:
        raise unsupported("mmio without the compiled shim (python _native/build_linux.py)",
                          syscall="mmio")
    return _f


def window(buffer: Any, offset: int, length: int) -> Any:
    """A bounds-checked window over ``buffer[offset:offset+length]`` (-1: to the end)."""
    return _need().mmio_window(buffer, offset, length)


def window_unsafe(address: int, length: int, readonly: bool) -> Any:
    """A window over raw memory at ``address`` (nothing keeps it mapped)."""
    return _need().mmio_window_unsafe(address, length, readonly)


def barrier(order: int) -> None:
    _need().mmio_barrier(order)


def dmb() -> None:
    _need().mmio_dmb()


def dsb() -> None:
    _need().mmio_dsb()


def isb() -> None:
    _need().mmio_isb()
