"""Argument checks shared by the Windows layers (TypeError/ValueError before any call)."""

from __future__ import annotations

from typing import Any

INVALID_HANDLE_VALUE = (1 << 64) - 1  # (HANDLE)-1 as an unsigned pointer value


def handle_arg(h: Any, *, name: str = "handle") -> int:
    """A HANDLE value from an int (or ``fileno()``); TypeError otherwise.

    -1 (INVALID_HANDLE_VALUE) and 0 are refused with ValueError; values must fit
    a pointer.
    """
    if isinstance(h, bool) or not (isinstance(h, int) or hasattr(h, "fileno")):
        raise TypeError(f"{name} must be an int handle or have fileno(), not {type(h).__name__}")
    v = int(h) if isinstance(h, int) else h.fileno()
    if type(v) is not int and not isinstance(v, int):
        raise TypeError(f"{name}.fileno() must return int")
    v = int(v)
    if v in (0, -1, INVALID_HANDLE_VALUE) or not -(1 << 63) <= v < (1 << 64):
        raise ValueError(f"{name} {v} is not a valid handle")
    return v


def int_arg(v: Any, name: str, lo: int, hi: int) -> int:
    """An int in [lo, hi] (TypeError for non-int or bool, ValueError outside)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be int, not {type(v).__name__}")
    if not lo <= v <= hi:
        raise ValueError(f"{name} {v} is outside {lo}..{hi}")
    return int(v)


def timeout_ms(timeout: Any) -> int:
    """Seconds (None = forever, 0 = poll) -> milliseconds for Win32 waits (INFINITE for None).

    Rounds up so a short positive timeout never becomes a poll; caps below INFINITE.
    """
    if timeout is None:
        return 0xFFFFFFFF
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    if timeout != timeout or timeout < 0:
        raise ValueError("timeout must be >= 0")
    ms = int(-(-timeout * 1000 // 1))
    return min(ms, 0xFFFFFFFE)
