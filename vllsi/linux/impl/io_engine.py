"""Linux backend of :mod:`vllsi.io_engine`: io_uring, falling back to epoll.

Interface (mirrored per OS): ``BACKENDS`` and ``create(config) -> IOEngine``.
"""

from __future__ import annotations

from typing import Any

from vllsi import errors
from vllsi import io_engine as _ie

__all__ = ["BACKENDS", "create"]

BACKENDS = ("io_uring", "epoll", "sync")


def create(config: _ie.IoEngineConfig) -> Any:
    """The engine ``config.backend`` names, or the best one the probe allows."""
    from vllsi.linux.io import EpollDriver, IoUringDriver

    b = config.backend
    if b is None:
        ok, why = IoUringDriver.probe()
        if ok:
            return IoUringDriver(config)
        if config.warn_on_fallback:
            _ie.warn_fallback("epoll", f"io_uring unavailable: {why}")
        return EpollDriver(config)
    if b == "io_uring":
        ok, why = IoUringDriver.probe()
        if not ok:
            raise errors.unsupported(f"io_uring ({why})", syscall="io_uring_setup")
        return IoUringDriver(config)
    if b == "epoll":
        return EpollDriver(config)
    raise ValueError(f"unknown engine backend {b!r}; Linux has {', '.join(BACKENDS)}")
