"""Validation of Python-side arguments, shared by every layer (before any OS call)."""

from __future__ import annotations

from typing import Any


def int_arg(v: Any, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """``v`` as an int: TypeError for non-ints (bool included), ValueError outside lo..hi."""
    n: int
    if type(v) is int:
        n = v
    elif isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be int, not {type(v).__name__}")
    else:
        n = int(v)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise ValueError(f"{name} {n} outside {lo}..{hi}")
    return n
