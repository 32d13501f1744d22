"""The module list of the status matrix and access to the generated status.

``MODULES`` names every module of SPEC.md (dotted, relative to ``vllsi``). The
matrix itself is computed by ``conformance/report.py`` from real test runs and
written to ``status.json`` / ``STATUS.md`` at the project root; nothing here
types a status by hand. ``python -m vllsi status`` regenerates it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

__all__ = ["MODULES", "STATUSES", "import_name", "load", "module_status"]

MODULES: Final[tuple[str, ...]] = (
    "platform", "errors", "types", "cabi",
    "file_ops", "memory", "thread", "time_ops", "tls", "context_ops",
    "locking", "locking.sqlite", "durability",
    "io_engine", "net_ops", "process_ops", "signal", "interrupt", "init",
    "fs_watch", "permissions", "bitfield", "mmio", "embedded", "no_runtime", "status",
    "linux", "linux.auxv", "linux.vdso", "linux.io", "linux.bpf",
    "darwin", "darwin.io", "windows", "windows.io",
)

STATUSES: Final[tuple[str, ...]] = (
    "failing", "stable", "partial", "regression-only", "undocumented", "n/a",
)


def import_name(module: str) -> str:
    """The importable name of a matrix module (``platform`` is ``vllsi._platform``)."""
    return "vllsi._platform" if module == "platform" else f"vllsi.{module}"


def _default_path() -> Path:
    return Path(__file__).resolve().parent.parent / "status.json"


def load(path: str | Path | None = None) -> dict[str, Any]:
    """The generated status document (``status.json``), or ``{}`` if none exists.

    Raises: OSError other than a missing file; ValueError for a corrupt file.
    """
    p = Path(path) if path is not None else _default_path()
    try:
        data: dict[str, Any] = json.loads(p.read_text())
    except FileNotFoundError:
        return {}
    return data


def module_status(module: str, backend: str, path: str | Path | None = None) -> str:
    """The computed status of ``module`` on ``backend`` (e.g. ``linux-x86_64/asm``);
    ``undocumented`` when no run covered it. ValueError for an unknown module."""
    if module not in MODULES:
        raise ValueError(f"unknown module {module!r}")
    cell = load(path).get("matrix", {}).get(module, {}).get(backend)
    return str(cell["status"]) if cell else "undocumented"
