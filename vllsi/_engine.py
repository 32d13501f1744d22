"""Shared bookkeeping of the engines written in Python (SyncEngine, EpollDriver...).

Not public. A driver subclasses :class:`PyEngine` and implements
``_prepare(op) -> prepared`` (validate and pin; TypeError/ValueError before any
OS call), ``_start(sid, op, prepared)`` (perform or queue; call
:meth:`PyEngine._complete` when done), ``_wait(timeout) -> None`` (block until
something may have completed, the timeout passes, or a wake), ``_cancel_one``,
``_wake`` and ``_close``.
"""

from __future__ import annotations

import errno as _errno
import threading
import time
from collections.abc import Iterable
from typing import Any, TypeVar

from vllsi import io_engine as _ie

ECANCELED = _errno.ECANCELED
ENOENT = _errno.ENOENT


_E = TypeVar("_E", bound="EngineLifecycle")


class EngineLifecycle:
    """``closed``, the context manager and the finaliser every engine shares; a
    subclass sets ``self._closed`` and implements ``shutdown()``."""

    _closed: bool

    def shutdown(self) -> None:
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self: _E) -> _E:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __del__(self) -> None:
        try:
            if not self._closed:
                self.shutdown()
        except Exception:  # interpreter shutdown, or __init__ failed part-way
            pass


class PyEngine(EngineLifecycle):
    """The parts of the contract every Python-level driver shares."""

    backend = "python"

    def __init__(self, config: _ie.IoEngineConfig | None = None) -> None:
        if config is None:
            config = _ie.IoEngineConfig()
        elif not isinstance(config, _ie.IoEngineConfig):
            raise TypeError(f"config must be an IoEngineConfig, not {type(config).__name__}")
        self.capacity = 2 * config.entries
        self._seq = 0
        self._ready: list[_ie.CompletionResult] = []
        self._unreaped = 0
        self._closed = False
        self._wake_lock = threading.Lock()  # wake() never races the closing of its fd
        self._stats = {"submitted": 0, "completed": 0, "cancelled": 0, "waits": 0}
        self._multishot = 0  # multishot ops in flight (their non-final results do not count)

    # -- driver hooks -------------------------------------------------------------
    def _prepare(self, op: Any) -> Any:
        raise NotImplementedError

    def _start(self, sid: int, op: Any, prepared: Any) -> None:
        raise NotImplementedError

    def _wait(self, timeout: float | None) -> None:
        raise NotImplementedError

    def _cancel_one(self, sid: int) -> int:
        """Cancel queued op ``sid``: 0 if it was queued, -ENOENT otherwise."""
        raise NotImplementedError

    def _wake(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _pending_count(self) -> int:
        """Ops started but not yet completed."""
        raise NotImplementedError

    # -- contract -----------------------------------------------------------------
    def _complete(self, sid: int, res: int, address: Any = None, flags: int = 0) -> None:
        self._ready.append(_ie.make_result(sid, res, flags, address))

    def submit(self, op: Any) -> int:
        """Submit one op; returns its SubmissionId (see IOEngine)."""
        if self._closed:
            raise _ie.closed_error()
        prep = self._prepare(op)
        if self._unreaped >= self.capacity:
            if hasattr(prep, "release"):
                prep.release()
            raise _ie.would_block([], self.capacity)
        self._seq += 1
        sid = self._seq
        self._unreaped += 1
        self._stats["submitted"] += 1
        self._start(sid, op, prep)
        return sid

    def submit_many(self, ops: Iterable[Any]) -> list[int]:
        """Submit ops in order; all validated and pinned before any is started.

        Raises: TypeError/ValueError (nothing submitted); WouldBlock with
        ``.submitted``/``.ids`` when the engine's capacity is reached.
        """
        if self._closed:
            raise _ie.closed_error()
        ops = list(ops)
        prepared = [self._prepare(op) for op in ops]
        room = self.capacity - self._unreaped
        ids: list[int] = []
        for op, prep in zip(ops[:room], prepared[:room], strict=True):
            self._seq += 1
            sid = self._seq
            self._unreaped += 1
            ids.append(sid)
            self._start(sid, op, prep)
        self._stats["submitted"] += len(ids)
        if len(ops) > room:
            del prepared
            raise _ie.would_block(ids, self.capacity)
        return ids

    def submit_reads(self, fd: Any, buffers: Iterable[Any], offsets: Iterable[int]
                     ) -> list[int]:
        """One Read per (buffer, offset) on ``fd``: the batch form (see IOEngine)."""
        return self._submit_rw(_ie.Read, fd, buffers, offsets)

    def submit_writes(self, fd: Any, buffers: Iterable[Any], offsets: Iterable[int]
                      ) -> list[int]:
        """One Write per (buffer, offset) on ``fd``: the batch form (see IOEngine)."""
        return self._submit_rw(_ie.Write, fd, buffers, offsets)

    def _submit_rw(self, cls: Any, fd: Any, buffers: Iterable[Any],
                   offsets: Iterable[int]) -> list[int]:
        bufs, offs = list(buffers), list(offsets)
        if len(bufs) != len(offs):
            raise ValueError("buffers and offsets differ in length")
        return self.submit_many([cls(fd, b, None, o) for b, o in zip(bufs, offs, strict=True)])

    def poll(self, timeout: float | None = None) -> list[_ie.CompletionResult]:
        """Reap completions: None waits for one (or a wake), 0 never waits."""
        t = _ie.check_timeout(timeout)
        if self._closed:
            raise _ie.closed_error()
        if not self._ready and t != 0.0:
            self._stats["waits"] += 1
            self._wait(t)
        elif t == 0.0:
            self._wait(0.0)
        out, self._ready = self._ready, []
        if self._multishot:
            more = sum(1 for r in out if r.flags & _ie.CQE_F_MORE)
            self._unreaped -= len(out) - more
        else:
            self._unreaped -= len(out)
        self._stats["completed"] += len(out)
        return out

    def cancel(self, submission_id: int) -> None:
        """Cancel an in-flight op (it completes with -ECANCELED); no-op if it already completed."""
        if isinstance(submission_id, bool) or not isinstance(submission_id, int):
            raise TypeError("submission_id must be int")
        if self._closed:
            raise _ie.closed_error()
        if self._cancel_one(submission_id) == 0:
            self._stats["cancelled"] += 1

    def wake(self) -> None:
        """Interrupt a poll blocked in another thread (thread-safe)."""
        with self._wake_lock:
            if not self._closed:
                self._wake()

    def shutdown(self) -> None:
        """Cancel everything queued, drop every pin, close the engine's descriptors."""
        if self._closed:
            return
        self._shutdown_pending()
        with self._wake_lock:
            self._closed = True
        self._ready = []
        self._unreaped = 0
        self._close()

    def _shutdown_pending(self) -> None:
        raise NotImplementedError

    def statistics(self) -> dict[str, int]:
        """Counters: submitted, completed, cancelled, waits, in_flight, ready."""
        s = dict(self._stats)
        s["in_flight"] = self._unreaped
        s["ready"] = len(self._ready)
        return s



def deadline_after(seconds: float) -> int:
    return time.monotonic_ns() + int(seconds * 1e9)
