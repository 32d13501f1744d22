"""The embedded runtime's pieces: a stack allocator, a byte ring, a synchronous engine.

- :class:`StackAllocator` hands out aligned ``memoryview`` slices of one
  caller-owned buffer, LIFO: ``stack_mark()`` / ``stack_reset(mark)`` free
  everything allocated after a mark. Alignment is of the real address.
- :class:`RingBuffer` is a bounded FIFO of bytes over a caller-owned buffer
  (or its own ``bytearray``): ``push`` returns False when full, ``pop`` -1 when
  empty, as the original's.
- :class:`SyncEngine` is the "async compiles to blocking execution" shim: it
  honours the :class:`vllsi.io_engine.IOEngine` contract but performs each op
  at submit, with one blocking OS call (a Connect in progress is waited for).
  Non-blocking descriptors therefore report ``-EAGAIN`` as data where an
  asynchronous driver would wait. Timeouts are kept as deadlines and complete
  in :meth:`SyncEngine.poll` (which sleeps until the first one, or a
  :meth:`~SyncEngine.wake`); they are the only ops a Cancel can catch.

OS backend interface (``vllsi/<os>/impl/embedded.py``): ``prepare(op)`` and
``perform(op, prepared) -> (result, address)``; Nop, Timeout and Cancel need none.
"""

from __future__ import annotations

import errno as _errno
import heapq
import threading
import time
from typing import Any

from vllsi import _engine, _platform
from vllsi import io_engine as _ie
from vllsi.types import IOVec

__all__ = ["RingBuffer", "StackAllocator", "SyncEngine"]

_impl = _platform.os_module("embedded")


def _nonneg(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be int, not {type(v).__name__}")
    if v < 0:
        raise ValueError(f"{name} must be >= 0")
    return v


class StackAllocator:
    """LIFO allocation of aligned slices of one buffer (the original's BumpAllocator)."""

    def __init__(self, buffer: Any) -> None:
        """Wrap a writable buffer-protocol object; TypeError otherwise."""
        self._iov = IOVec(buffer)
        if not self._iov.writable:
            raise TypeError("StackAllocator needs a writable buffer")
        self._view = self._iov.view
        self._offset = 0

    @property
    def capacity(self) -> int:
        return self._iov.len

    @property
    def used(self) -> int:
        return self._offset

    def remaining(self) -> int:
        return self._iov.len - self._offset

    def stack_alloc(self, size: int, align: int = 8) -> memoryview | None:
        """A ``size``-byte slice whose address is a multiple of ``align``, or None
        when it does not fit (the allocator is then unchanged).

        Raises: TypeError for non-ints; ValueError for a negative size or an
        alignment that is not a power of two.
        """
        n = _nonneg(size, "size")
        a = _nonneg(align, "align")
        if a == 0 or a & (a - 1):
            raise ValueError("align must be a power of two")
        base = self._iov.base
        start = ((base + self._offset + a - 1) & ~(a - 1)) - base
        if start + n > self._iov.len:
            return None
        self._offset = start + n
        return self._view[start:start + n]

    def stack_mark(self) -> int:
        """The current top, for :meth:`stack_reset`."""
        return self._offset

    def stack_reset(self, mark: int = 0) -> None:
        """Free everything allocated after ``mark`` (ValueError if beyond the top)."""
        m = _nonneg(mark, "mark")
        if m > self._offset:
            raise ValueError("mark is above the current top")
        self._offset = m


class RingBuffer:
    """A bounded FIFO of bytes (0..255) over a buffer."""

    def __init__(self, capacity_or_buffer: Any) -> None:
        """``RingBuffer(n)`` owns a bytearray of n bytes; ``RingBuffer(buf)`` uses a
        writable buffer. TypeError/ValueError for anything else or an empty buffer."""
        if isinstance(capacity_or_buffer, int) and not isinstance(capacity_or_buffer, bool):
            if capacity_or_buffer <= 0:
                raise ValueError("capacity must be > 0")
            buf: Any = bytearray(capacity_or_buffer)
        else:
            buf = capacity_or_buffer
        m = memoryview(buf)
        if m.readonly:
            raise TypeError("RingBuffer needs a writable buffer")
        self._buf = m.cast("B")
        if len(self._buf) == 0:
            raise ValueError("RingBuffer needs a non-empty buffer")
        self._head = self._tail = self._count = 0

    @property
    def capacity(self) -> int:
        return len(self._buf)

    def push(self, value: int) -> bool:
        """Append ``value & 0xFF``; False (nothing stored) when full."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("value must be int")
        if self._count == len(self._buf):
            return False
        self._buf[self._tail] = value & 0xFF
        self._tail = (self._tail + 1) % len(self._buf)
        self._count += 1
        return True

    def pop(self) -> int:
        """Remove and return the oldest byte, or -1 when empty."""
        if self._count == 0:
            return -1
        v = self._buf[self._head]
        self._head = (self._head + 1) % len(self._buf)
        self._count -= 1
        return int(v)

    def is_empty(self) -> bool:
        return self._count == 0

    def is_full(self) -> bool:
        return self._count == len(self._buf)

    def __len__(self) -> int:
        return self._count

    def reset(self) -> None:
        """Empty the ring."""
        self._head = self._tail = self._count = 0


class SyncEngine(_engine.PyEngine):
    """The IOEngine contract, every op performed at submit (see the module docstring)."""

    backend = "sync"

    def __init__(self, config: _ie.IoEngineConfig | None = None) -> None:
        super().__init__(config)
        self._cond = threading.Condition()
        self._woken = False
        self._timers: list[tuple[int, int]] = []
        self._timer_ids: set[int] = set()

    def _prepare(self, op: Any) -> Any:
        t = type(op)
        if t is _ie.Nop or t is _ie.Timeout or t is _ie.Cancel:
            return None
        if t not in _ie.OP_TYPES:
            raise TypeError(f"not an engine op: {t.__name__}")
        return _impl.prepare(op)

    def _start(self, sid: int, op: Any, prepared: Any) -> None:
        t = type(op)
        if t is _ie.Nop:
            self._complete(sid, 0)
        elif t is _ie.Timeout:
            heapq.heappush(self._timers, (_engine.deadline_after(op.duration), sid))
            self._timer_ids.add(sid)
        elif t is _ie.Cancel:
            self._complete(sid, self._cancel_one(op.target))
        else:
            try:
                res, address = _impl.perform(op, prepared)
            finally:
                if prepared is not None and hasattr(prepared, "release"):
                    prepared.release()
            self._complete(sid, res, address)

    def _cancel_one(self, sid: int) -> int:
        if sid in self._timer_ids:
            self._timer_ids.discard(sid)
            self._complete(sid, -_errno.ECANCELED)
            return 0
        return -_errno.ENOENT

    def _expire(self) -> None:
        now = time.monotonic_ns()
        while self._timers and self._timers[0][0] <= now:
            _, sid = heapq.heappop(self._timers)
            if sid in self._timer_ids:
                self._timer_ids.discard(sid)
                self._complete(sid, 0)
        while self._timers and self._timers[0][1] not in self._timer_ids:
            heapq.heappop(self._timers)

    def _wait(self, timeout: float | None) -> None:
        self._expire()
        if self._ready or timeout == 0.0:
            return
        end = None if timeout is None else time.monotonic_ns() + int(timeout * 1e9)
        with self._cond:
            while not self._woken:
                now = time.monotonic_ns()
                limit = end
                if self._timers:
                    limit = self._timers[0][0] if limit is None else min(limit, self._timers[0][0])
                if limit is not None and limit <= now:
                    break
                self._cond.wait(None if limit is None else (limit - now) / 1e9)
            self._woken = False
        self._expire()

    def _wake(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def _shutdown_pending(self) -> None:
        self._timers.clear()
        self._timer_ids.clear()
        _close_unreaped_accepts(self._ready)

    def _close(self) -> None:
        pass


def _close_unreaped_accepts(ready: list[_ie.CompletionResult]) -> None:
    """Shutdown closes descriptors that completed Accepts created but nobody reaped."""
    import contextlib
    import os

    for r in ready:
        if r.address is not None and r.result >= 0:
            with contextlib.suppress(OSError):
                os.close(r.result)
