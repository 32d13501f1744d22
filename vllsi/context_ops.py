"""The context system: TLS-slot semantics scoped to the execution context.

The same contract as :mod:`vllsi.tls` (``MAX_CONTEXT_SLOTS`` slots of 64-bit
values, a frame stack of ``CONTEXT_STACK_DEPTH``, the same ContextError
subclasses), but the table lives in a :class:`contextvars.ContextVar`, so it
follows the *execution context* instead of the OS thread: every asyncio task
runs in a copy of its creator's context, every thread starts with an empty one.
A value provided inside one task or thread never leaks into another.

The state is immutable -- a tuple of 32 values plus a link to the saved frame
below -- and every change sets a new state, so copied contexts share nothing
mutable. ``provide(slot, value)`` is a context manager (push a frame, set the
slot; on exit restore the frame as it was); ``using(slot)`` reads the slot or
raises SlotEmpty. No OS call is involved, on any platform.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any, Final, NamedTuple

from vllsi import tls as _tls

__all__ = [
    "CONTEXT_STACK_DEPTH",
    "MAX_CONTEXT_SLOTS",
    "ctx_clear",
    "ctx_get",
    "ctx_get_mut",
    "ctx_has",
    "ctx_pop_frame",
    "ctx_push_frame",
    "ctx_set",
    "provide",
    "using",
]

MAX_CONTEXT_SLOTS: Final = _tls.MAX_CONTEXT_SLOTS
CONTEXT_STACK_DEPTH: Final = _tls.CONTEXT_STACK_DEPTH
_EMPTY: Final[tuple[int | None, ...]] = (None,) * MAX_CONTEXT_SLOTS


class _State(NamedTuple):
    values: tuple[int | None, ...]
    depth: int
    parent: _State | None


_ROOT: Final = _State(_EMPTY, 0, None)
_var: contextvars.ContextVar[_State] = contextvars.ContextVar("vllsi_context", default=_ROOT)


def _slot(slot: Any, call: str) -> int:
    if slot.__class__ is not int:
        if isinstance(slot, bool) or not isinstance(slot, int):
            raise TypeError(f"slot must be an int, not {type(slot).__name__}")
        slot = int(slot)
    if not 0 <= slot < MAX_CONTEXT_SLOTS:
        raise _tls._context_error(_tls._E_SLOT, slot, call)
    out: int = slot
    return out


def ctx_get(slot: int) -> int | None:
    """The slot's value in the current context, None if empty.
    Raises: TypeError, InvalidSlot."""
    if slot.__class__ is int and 0 <= slot < MAX_CONTEXT_SLOTS:  # the hot path
        return _var.get().values[slot]
    return _var.get().values[_slot(slot, "ctx_get")]


def ctx_get_mut(slot: int) -> int | None:
    """As :func:`ctx_get` (values are immutable ints; kept for the original's API)."""
    if slot.__class__ is int and 0 <= slot < MAX_CONTEXT_SLOTS:  # the hot path
        return _var.get().values[slot]
    return _var.get().values[_slot(slot, "ctx_get_mut")]


def ctx_has(slot: int) -> bool:
    """Whether the slot holds a value in the current context. Raises: TypeError, InvalidSlot."""
    if slot.__class__ is int and 0 <= slot < MAX_CONTEXT_SLOTS:  # the hot path
        return _var.get().values[slot] is not None
    return _var.get().values[_slot(slot, "ctx_has")] is not None


def ctx_set(slot: int, value: int, exclusive: bool = False) -> None:
    """Set the slot in the current context (and frame) to a 64-bit ``value``.

    Raises: TypeError, ValueError (does not fit 64 bits), InvalidSlot,
    SlotOccupied (``exclusive`` and the slot holds a value)."""
    s = _slot(slot, "ctx_set")
    v = _tls._value(value)
    st = _var.get()
    if exclusive and st.values[s] is not None:
        raise _tls._context_error(_tls._E_OCCUPIED, s, "ctx_set")
    values = list(st.values)
    values[s] = v
    _var.set(_State(tuple(values), st.depth, st.parent))


def ctx_clear(slot: int) -> None:
    """Empty the slot in the current context. Raises: TypeError, InvalidSlot."""
    s = _slot(slot, "ctx_clear")
    st = _var.get()
    if st.values[s] is not None:
        values = list(st.values)
        values[s] = None
        _var.set(_State(tuple(values), st.depth, st.parent))


def ctx_push_frame() -> int:
    """Save the current table as a frame. Returns the new depth.
    Raises: StackOverflow at CONTEXT_STACK_DEPTH."""
    st = _var.get()
    if st.depth >= CONTEXT_STACK_DEPTH:
        raise _tls._context_error(_tls._E_OVERFLOW, st.depth, "ctx_push_frame")
    _var.set(_State(st.values, st.depth + 1, st))
    return st.depth + 1


def ctx_pop_frame() -> int:
    """Restore the table saved by the matching push. Returns the new depth.
    Raises: StackUnderflow at the root."""
    st = _var.get()
    if st.parent is None:
        raise _tls._context_error(_tls._E_UNDERFLOW, 0, "ctx_pop_frame")
    _var.set(st.parent)
    return st.parent.depth


@contextlib.contextmanager
def provide(slot: int, value: int) -> Iterator[int]:
    """``with provide(slot, value):`` push a frame, set the slot, and on exit
    restore the context's table exactly as it was (even if the body left frames
    unbalanced). Yields the value. Raises: as ctx_push_frame and ctx_set."""
    s = _slot(slot, "provide")
    v = _tls._value(value)
    token = _var.set(_var.get())
    try:
        ctx_push_frame()
        ctx_set(s, v)
        yield v
    finally:
        _var.reset(token)


def using(slot: int) -> int:
    """The slot's value in the current context. Raises: SlotEmpty if nothing
    provides it, TypeError, InvalidSlot."""
    v = _var.get().values[_slot(slot, "using")]
    if v is None:
        raise _tls._context_error(_tls._E_EMPTY, slot, "using")
    return v
