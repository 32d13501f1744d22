"""Import a vllsi module another branch is still writing, or skip (reason ``environment``).

Backend tests are written against portable modules before those land on the
branch; inside a test, ``need("vllsi.thread")`` imports it or skips with a
classified reason (a plain ``pytest.importorskip`` would be an unclassified skip).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from conformance._support import skip


def need(name: str) -> ModuleType:
    """The module ``name``, or skip the test (environment: not on this branch yet)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            skip("environment", f"{name} is not on this branch yet")
        raise
