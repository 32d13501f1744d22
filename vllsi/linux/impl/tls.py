"""Linux backend of :mod:`vllsi.tls`: the thread pointer and the C slot table.

``tls_base``: ``_fast.tls_base`` (x86_64 ``%fs:0``, aarch64 ``tpidr_el0``);
without the compiled shim, x86_64 falls back to ``arch_prctl(ARCH_GET_FS)``
(the same value with glibc and musl). ``FAST_TABLE`` is the C per-thread slot
table (``_native/csrc/fast/tls.c``) or None, in which case vllsi.tls uses its
portable Python table.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from vllsi import errors
from vllsi._platform import ARCH

__all__ = ["FAST_TABLE", "tls_base"]

FAST_TABLE: ModuleType | None
tls_base: Callable[[], int]

try:
    from vllsi.linux import _fast

    FAST_TABLE = _fast
    tls_base = _fast.tls_base
except ImportError:  # pragma: no cover - no compiled shim
    FAST_TABLE = None
    if ARCH == "x86_64":
        def tls_base() -> int:
            from vllsi.linux import thread

            return thread.arch_prctl(thread.ARCH_GET_FS)
    else:
        def tls_base() -> int:
            raise errors.unsupported("reading tpidr_el0 without the compiled shim")
