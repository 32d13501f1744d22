"""Windows backend of :mod:`vllsi.io_engine`: the IOCP driver.

Interface (mirrored per OS): ``BACKENDS`` and ``create(config) -> IOEngine``.
"""

from __future__ import annotations

from typing import Any

from vllsi import io_engine as _ie  # type: ignore[attr-defined, unused-ignore]

__all__ = ["BACKENDS", "create"]

BACKENDS = ("iocp", "sync")


def create(config: _ie.IoEngineConfig) -> Any:
    """An IocpDriver (``backend`` None or "iocp")."""
    from vllsi.windows.io import IocpDriver

    if config.backend in (None, "iocp"):
        return IocpDriver(config)
    raise ValueError(f"unknown engine backend {config.backend!r}; Windows has "
                     f"{', '.join(BACKENDS)}")
