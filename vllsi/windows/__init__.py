"""vllsi.windows: the raw Windows layer, one typed function per Win32/NT call.

cffi ABI mode over kernel32 (and kernelbase), ntdll, ws2_32 and bcrypt; no
compiler. Declarations are parseable C in ``_cdefs/``; constants in
``consts``; errors go through the single factory with ``.winerror`` kept
(``_winerror`` holds the Win32 -> errno table). Layers re-exported here:
``kernel32``, ``ntdll``, ``ws2_32``, ``bcrypt``. ``vllsi.windows.impl.<mod>``
implements portable module ``vllsi.<mod>`` on Windows; ``io`` holds the
IocpDriver.

Handles are plain ints (a HANDLE's value; ``vllsi.types.FileDesc`` wraps them).
Under Wine (ntdll exports ``wine_get_version``) everything here runs for real;
the known Wine divergences are listed in conformance/windows.

On another OS this package does not exist: importing it raises
ModuleNotFoundError naming it.
"""

from __future__ import annotations

import importlib
from typing import Any

from vllsi._platform import OS

if OS != "windows":
    raise ModuleNotFoundError(f"vllsi.windows is the Windows layer; this is {OS}",
                              name=__name__)

from vllsi.windows._winerror import winerror_to_errno

__all__ = ["under_wine", "wine_version", "winerror_to_errno"]

_LAYERS = ("kernel32", "ntdll", "ws2_32", "bcrypt")


def wine_version() -> str | None:
    """ntdll's wine_get_version(): the Wine version string, or None on real Windows."""
    from vllsi.windows import ntdll

    return ntdll.wine_get_version()


def under_wine() -> bool:
    """True when running under Wine (ntdll exports wine_get_version)."""
    return wine_version() is not None


def _export() -> None:
    g = globals()
    for layer in _LAYERS:
        mod: Any = importlib.import_module(f"{__name__}.{layer}")
        for sym in mod.__all__:
            g[sym] = getattr(mod, sym)
            __all__.append(sym)


_export()
