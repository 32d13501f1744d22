"""TLS slots: a small per-OS-thread table of 64-bit values, and the thread pointer.

Each OS thread has ``MAX_CONTEXT_SLOTS`` (32) slots, each empty or holding a
64-bit value (any int in -2**63 .. 2**64-1, read back as written), and a stack
of saved frames up to ``CONTEXT_STACK_DEPTH`` (256): ``tls_frame_push()`` saves
the whole table, ``tls_frame_pop()`` restores it. Values never cross threads:
a new thread starts with an empty table (created lazily, or by
``init_thread()``; ``cleanup_thread()`` drops it). For values that must follow
asyncio tasks rather than OS threads, see :mod:`vllsi.context_ops`.

On Linux the table is C thread-local storage (``_fast``), so a slot read costs
one C call; elsewhere it is a Python table in a ``threading.local``. Errors
(ContextError subclasses): slot outside 0..31 -> InvalidSlot; push at depth 256
-> StackOverflow; pop at the root -> StackUnderflow; ``tls_slot_set(...,
exclusive=True)`` of an occupied slot -> SlotOccupied; typed read of an empty
slot -> SlotEmpty.

What ``tls_get_base()`` returns -- the thread pointer, read only:

- x86_64 (TLS variant II): the word at ``%fs:0``. The FS base register points
  at the thread control block (glibc's ``struct pthread``, whose first field
  ``tcbhead_t.tcb`` points at itself, as the ABI requires), so ``%fs:0`` equals
  the FS base as ``arch_prctl(ARCH_GET_FS)`` reports it, and on glibc equals
  ``pthread_self()`` (``threading.get_ident()``). Static TLS blocks (libc's
  ``errno``...) lie *below* it, at fixed negative offsets.
- aarch64 (TLS variant I): ``tpidr_el0``. It points at a 16-byte TCB (the DTV
  pointer and a reserved word) *followed* by the static TLS blocks; glibc puts
  ``struct pthread`` just *below* it, so here ``pthread_self()`` is
  ``tls_get_base() - sizeof(struct pthread)``, not equal to it.
- macOS: ``pthread_self()``; Windows: the TEB (NtCurrentTeb).

The value identifies the calling OS thread and is stable for its lifetime (a
later thread may reuse it). vllsi never writes the thread pointer: libc and
CPython own it, and changing it would break every TLS access in the process.

Backend interface (``vllsi.<os>.impl.tls``): ``tls_base() -> int``;
``FAST_TABLE``: None or a module with ``tls_get``, ``tls_set``, ``tls_has``,
``tls_clear``, ``tls_push``, ``tls_pop``, ``tls_depth``, ``tls_init``,
``tls_cleanup``, ``tls_set_error_factory`` (the C table).
"""

from __future__ import annotations

import errno as _errno
import struct
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, Final

from vllsi import _platform, errors

__all__ = [
    "CONTEXT_STACK_DEPTH",
    "MAX_CONTEXT_SLOTS",
    "cleanup_thread",
    "init_thread",
    "tls_frame_depth",
    "tls_frame_pop",
    "tls_frame_push",
    "tls_get_base",
    "tls_read_i32",
    "tls_read_ptr",
    "tls_read_usize",
    "tls_slot_clear",
    "tls_slot_get",
    "tls_slot_has",
    "tls_slot_set",
    "tls_write_i32",
    "tls_write_ptr",
    "tls_write_usize",
]

MAX_CONTEXT_SLOTS: Final = 32
CONTEXT_STACK_DEPTH: Final = 256
_U64 = (1 << 64) - 1
_WORD: Final = (1 << (8 * struct.calcsize("P"))) - 1  # the platform word

_impl = _platform.os_module("tls")

# kind codes shared with the C table (tls.c)
_E_SLOT, _E_OVERFLOW, _E_UNDERFLOW, _E_OCCUPIED, _E_EMPTY = 1, 2, 3, 4, 5
_KINDS: dict[int, tuple[type[errors.ContextError], int, str]] = {
    _E_SLOT: (errors.InvalidSlot, _errno.EINVAL, "slot {} is outside 0..31"),
    _E_OVERFLOW: (errors.StackOverflow, _errno.EOVERFLOW,
                  "frame stack is full (depth {} = CONTEXT_STACK_DEPTH)"),
    _E_UNDERFLOW: (errors.StackUnderflow, _errno.ERANGE, "frame pop at the root frame"),
    _E_OCCUPIED: (errors.SlotOccupied, _errno.EEXIST, "slot {} already holds a value"),
    _E_EMPTY: (errors.SlotEmpty, _errno.ENOENT, "slot {} is empty"),
}


def _context_error(kind: int, slot: int, call: str = "tls") -> errors.VllsiError:
    cls, code, text = _KINDS[kind]
    return errors.from_errno(code, syscall=call, cls=cls, message=text.format(slot))


def tls_get_base() -> int:
    """The thread pointer, read only: L x86_64 ``%fs:0``, aarch64 ``tpidr_el0``
    (D pthread_self(), W the TEB). See the module docstring for what it points at.

    Returns: an address (int), constant for the calling thread's lifetime.
    Raises: Unsupported where it cannot be read. Availability: Linux, macOS, Windows.
    """
    return int(_impl.tls_base())


# -- the portable Python table (used where the backend has no FAST_TABLE) --------

class _PyTable:
    __slots__ = ("frames", "values")

    def __init__(self) -> None:
        self.values: list[int | None] = [None] * MAX_CONTEXT_SLOTS
        self.frames: list[list[int | None]] = []


class _PyTls(threading.local):
    table: _PyTable | None = None


_py = _PyTls()


def _py_table() -> _PyTable:
    t = _py.table
    if t is None:
        t = _py.table = _PyTable()
    return t


def _py_slot(slot: Any) -> int:
    if slot.__class__ is not int:
        if isinstance(slot, bool) or not isinstance(slot, int):
            raise TypeError(f"slot must be an int, not {type(slot).__name__}")
        slot = int(slot)
    if not 0 <= slot < MAX_CONTEXT_SLOTS:
        raise _context_error(_E_SLOT, slot)
    out: int = slot
    return out


def _value(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"value must be an int, not {type(value).__name__}")
    if not -(1 << 63) <= value <= _U64:
        raise ValueError("value does not fit 64 bits")
    return int(value)


def _py_get(slot: int) -> int | None:
    """tls_slot_get(slot) -> int | None (portable table). Raises TypeError, InvalidSlot."""
    return _py_table().values[_py_slot(slot)]


def _py_has(slot: int) -> bool:
    """tls_slot_has(slot) -> bool (portable table). Raises TypeError, InvalidSlot."""
    return _py_table().values[_py_slot(slot)] is not None


def _py_set(slot: int, value: int, exclusive: bool = False) -> None:
    s = _py_slot(slot)
    v = _value(value)
    t = _py_table()
    if exclusive and t.values[s] is not None:
        raise _context_error(_E_OCCUPIED, s)
    t.values[s] = v


def _py_clear(slot: int) -> None:
    """tls_slot_clear(slot): empty it (portable table). Raises TypeError, InvalidSlot."""
    _py_table().values[_py_slot(slot)] = None


def _py_push() -> int:
    """tls_frame_push() -> depth (portable table). Raises StackOverflow at 256."""
    t = _py_table()
    if len(t.frames) >= CONTEXT_STACK_DEPTH:
        raise _context_error(_E_OVERFLOW, len(t.frames))
    t.frames.append(list(t.values))
    return len(t.frames)


def _py_pop() -> int:
    """tls_frame_pop() -> depth (portable table). Raises StackUnderflow at the root."""
    t = _py_table()
    if not t.frames:
        raise _context_error(_E_UNDERFLOW, 0)
    t.values = t.frames.pop()
    return len(t.frames)


def _py_depth() -> int:
    """tls_frame_depth() -> the number of saved frames (portable table)."""
    return len(_py_table().frames)


def _py_init() -> None:
    _py_table()


def _py_cleanup() -> None:
    _py.table = None


_fast_table: Any = getattr(_impl, "FAST_TABLE", None)
if not isinstance(_fast_table, ModuleType):  # no backend, or no C table: portable table
    _fast_table = None

tls_slot_get: Callable[[int], int | None]
tls_slot_has: Callable[[int], bool]
tls_slot_clear: Callable[[int], None]
tls_frame_push: Callable[[], int]
tls_frame_pop: Callable[[], int]
tls_frame_depth: Callable[[], int]
_set: Callable[..., None]
_init: Callable[[], None]
_cleanup: Callable[[], None]

if _fast_table is not None:
    _fast_table.tls_set_error_factory(_context_error)
    tls_slot_get = _fast_table.tls_get
    tls_slot_has = _fast_table.tls_has
    tls_slot_clear = _fast_table.tls_clear
    tls_frame_push = _fast_table.tls_push
    tls_frame_pop = _fast_table.tls_pop
    tls_frame_depth = _fast_table.tls_depth
    _set = _fast_table.tls_set
    _init = _fast_table.tls_init
    _cleanup = _fast_table.tls_cleanup
else:
    tls_slot_get, tls_slot_has, tls_slot_clear = _py_get, _py_has, _py_clear
    tls_frame_push, tls_frame_pop, tls_frame_depth = _py_push, _py_pop, _py_depth
    _set, _init, _cleanup = _py_set, _py_init, _py_cleanup

def tls_slot_set(slot: int, value: int, exclusive: bool = False) -> None:
    """Store a 64-bit ``value`` (-2**63 .. 2**64-1) in this thread's ``slot``.

    Args: exclusive: refuse (SlotOccupied) if the slot already holds a value.
    Raises: TypeError (non-int), ValueError (does not fit 64 bits), InvalidSlot,
        SlotOccupied. Availability: all (thread-local memory, no OS call).
    """
    if exclusive:
        _set(slot, value, True)
    else:
        _set(slot, value)


def _typed_get(slot: int) -> int:
    v = tls_slot_get(slot)
    if v is None:
        raise _context_error(_E_EMPTY, slot)
    return v


def tls_read_ptr(slot: int) -> int:
    """The slot as a pointer (unsigned machine word). Raises SlotEmpty, InvalidSlot."""
    return _typed_get(slot) & _WORD


def tls_write_ptr(slot: int, address: int) -> None:
    """Store a pointer (0 .. 2**word_bits-1). Raises ValueError outside it, InvalidSlot."""
    if isinstance(address, bool) or not isinstance(address, int):
        raise TypeError("address must be an int")
    if not 0 <= address <= _WORD:
        raise ValueError("address does not fit a pointer")
    _set(slot, address)


def tls_read_i32(slot: int) -> int:
    """The low 32 bits of the slot, sign-extended. Raises SlotEmpty, InvalidSlot."""
    v = _typed_get(slot) & 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def tls_write_i32(slot: int, value: int) -> None:
    """Store the low 32 bits of ``value`` (any int). Raises TypeError, InvalidSlot."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("value must be an int")
    _set(slot, value & 0xFFFFFFFF)


def tls_read_usize(slot: int) -> int:
    """The slot masked to the platform word (unsigned). Raises SlotEmpty, InvalidSlot."""
    return _typed_get(slot) & _WORD


def tls_write_usize(slot: int, value: int) -> None:
    """Store ``value`` masked to the platform word. Raises TypeError, InvalidSlot."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("value must be an int")
    _set(slot, value & _WORD)


def init_thread() -> None:
    """Create the calling thread's table now (it is otherwise created on first
    use). Idempotent. Called by vllsi.init for the main thread."""
    _init()


def cleanup_thread() -> None:
    """Drop the calling thread's table and frames (a later use starts afresh).
    Idempotent. Thread exit frees it anyway."""
    _cleanup()
