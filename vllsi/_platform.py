"""THE dispatch point: which OS, which architecture, which tier.

Everything that differs by platform asks this module, once, at import:
``OS`` ("linux", "darwin", "windows"), ``ARCH`` ("x86_64", "aarch64", "amd64",
"arm64"), ``TIER`` and :func:`os_module`, which imports the mirrored backend
``vllsi.<os>.impl.<name>`` implementing portable module ``vllsi.<name>`` (or
returns a stand-in whose every attribute raises
:class:`vllsi.errors.Unsupported`). No other module tests ``sys.platform``.

Tiers:
- Linux ``asm``: the compiled inline-asm shim (default when it imports);
- Linux ``libc``: cffi ABI mode over libc's ``syscall(2)`` (no compiler);
- macOS ``libsystem``, Windows ``kernel32`` (or ``wine`` when ntdll exports
  ``wine_get_version``).
``VLLSI_TIER=asm|libc`` forces a Linux tier; forcing ``asm`` where the shim
does not import is an ImportError, never a silent fallback.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import platform as _stdplatform
import sys
from types import ModuleType
from typing import Any, Final

__all__ = ["ARCH", "OS", "TIER", "describe", "os_module", "platform_name"]


def _detect_os() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "darwin"
    if sys.platform == "win32":
        return "windows"
    return sys.platform


def _detect_arch() -> str:
    if OS == "windows":
        # platform.machine() goes through WMI, which hangs under Wine.
        arch = os.environ.get("PROCESSOR_ARCHITECTURE", "AMD64").lower()
        return {"amd64": "amd64", "arm64": "arm64", "x86": "x86"}.get(arch, arch)
    machine = _stdplatform.machine().lower()
    return {"arm64": "aarch64" if OS == "linux" else "arm64", "amd64": "x86_64"}.get(
        machine, machine
    )


OS: Final[str] = _detect_os()
ARCH: Final[str] = _detect_arch()


def _detect_tier() -> str:
    forced = os.environ.get("VLLSI_TIER", "").strip().lower()
    if OS == "linux":
        if forced == "libc":
            return "libc"
        if forced not in ("", "asm"):
            raise ImportError(f"VLLSI_TIER={forced!r}: Linux tiers are 'asm' and 'libc'")
        try:
            _load_native("_trampoline")
            _load_native("_fast")
        except ImportError:
            if forced == "asm":
                raise
            return "libc"
        return "asm"
    if OS == "darwin":
        return "libsystem"
    if OS == "windows":
        return "wine" if _under_wine() else "kernel32"
    return "none"


def _load_native(name: str) -> None:
    """Load ``vllsi/linux/<name>.<ext suffix>`` without importing ``vllsi.linux``
    (whose import needs TIER); registers it in sys.modules. ImportError if absent."""
    full = f"vllsi.linux.{name}"
    if full in sys.modules:
        return
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "linux")
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(folder, name + suffix)
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location(full, path)
            if spec is None or spec.loader is None:
                break
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            sys.modules[full] = mod
            return
    raise ImportError(f"{full} is not built for this interpreter", name=full)


def _under_wine() -> bool:
    try:
        import ctypes

        return hasattr(getattr(ctypes, "WinDLL")("ntdll"), "wine_get_version")  # noqa: B009
    except (OSError, AttributeError):
        return False


TIER: Final[str] = _detect_tier()


def platform_name() -> str:
    """``<os>-<arch>``, e.g. ``linux-x86_64``, ``windows-amd64``."""
    return f"{OS}-{ARCH}"


def describe() -> str:
    """``<os>-<arch>/<tier>``, e.g. ``linux-x86_64/asm``: the backend a result belongs to."""
    return f"{platform_name()}/{TIER}"


class _Absent(ModuleType):
    """Stand-in for a backend module this OS does not have."""

    def __init__(self, name: str) -> None:
        super().__init__(f"vllsi.{OS}.{name}")
        self._what = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        from vllsi.errors import unsupported

        def _raise(*_a: Any, **_k: Any) -> Any:
            raise unsupported(f"{self._what}.{attr} on {OS}", syscall=attr)

        return _raise


def os_module(name: str) -> ModuleType:
    """The backend of portable module ``vllsi.<name>`` on this OS:
    ``vllsi.<OS>.impl.<name>`` (same function names on every OS).

    If this OS has no such module, a stand-in whose attributes are callables
    raising :class:`vllsi.errors.Unsupported`. Only a missing *module* is
    tolerated: an ImportError raised inside an existing backend propagates.
    """
    full = f"vllsi.{OS}.impl.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name not in (full, f"vllsi.{OS}.impl", f"vllsi.{OS}"):
            raise
        return _Absent(name)
