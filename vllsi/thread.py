"""Threads and futex-based synchronisation that also works across processes.

Threads: :func:`thread_spawn` runs ``entry(arg)`` on a new OS thread with the
stack size you ask for (L pthread_create with pthread_attr_setstacksize, from
C; ``threading.stack_size()`` is process-global and racy). The handle knows the
thread's kernel id from the start. An uncaught exception is a *panic*: the
panic line (``thread '<name>' panicked at <file>:<line>: <message>``) goes to
the panic handler (vllsi._panic, shared with vllsi.init), the thread ends, and
:func:`thread_join` raises :class:`ThreadPanicked` carrying the PanicInfo; the
process goes on. Join or detach every thread: a joinable thread still running
at interpreter exit is joined then; a detached one is stopped where it stands,
as a daemon thread is.

Futexes (L futex; D os_sync_wait_on_address; W WaitOnAddress): a 32-bit word
in memory plus a kernel wait queue keyed by its address. What surprises:

- ``futex_wait(word, expected)`` sleeps only if the word *still* holds
  ``expected`` when the kernel looks (atomically with queueing); otherwise it
  returns at once. That check is what makes "test, then sleep" race-free: a
  waker changes the word *before* calling ``futex_wake``, so a waiter either
  sees the new value or is already queued and gets woken.
- Wake-ups carry no information and may be spurious: a wait can return because
  of a wake meant for a different state, a signal (EINTR), or nothing at all.
  Every primitive here re-checks its word in a loop; so must callers of
  :func:`futex_wait`.
- Ordering: the word is accessed with sequentially consistent atomics (C
  ``__atomic`` builtins). Inside the kernel, FUTEX_WAIT queues the waiter
  *before* it re-reads the word and FUTEX_WAKE looks at the queue *after* the
  waker's store, with full barriers on both sides (kernel/futex/waitwake.c,
  barriers A and B): that pairing is why a store-then-wake can never slip
  between a waiter's check and its sleep.
- ``Mutex`` is the classic three-state lock (0 free, 1 locked, 2 locked with
  waiters): release only calls futex_wake when the state was 2, so an
  uncontended lock/unlock pair makes no syscall.
- ``Condvar`` keeps a sequence number: ``wait`` reads it *before* releasing the
  mutex and sleeps only while it is unchanged, and ``notify`` bumps it before
  waking. A notify that lands between the release and the sleep, or while a
  signal handler runs after EINTR, changes the number, so the sleep returns
  at once: no wake-up is lost.
- Across processes the word must live in memory both map (``os_alloc(n,
  shared=True)``, ``mmap.mmap(-1, n)``, a MAP_SHARED file); such words use
  shared (non-private) futexes, keyed by the physical page. ``Mutex()`` with no
  buffer uses a private word and the cheaper private futex.
- EINTR: waits return to Python so signal handlers run (PEP 475), then resume
  with the remaining timeout. Timeouts are seconds; expiry raises TimedOut.

Backend interface (``vllsi.<os>.impl.thread``; arguments validated here):
``gettid()``, ``online_cpus()``, ``yield_thread()``; atomics ``cas32(addr,
expected, desired) -> old``, ``xchg32``, ``add32``, ``load32``, ``store32``;
``futex_wait(addr, expected, timeout_s | None, shared) -> WAIT_OK |
WAIT_TIMEOUT | WAIT_INTR``; ``futex_wake(addr, n, shared) -> int``;
``NativeThread(fn, stack_size)`` with ``.tid``, ``done()``,
``wait_done(timeout) -> WAIT_*``, ``join()``, ``detach()``.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import threading
import time as _time
from collections.abc import Callable
from typing import Any

from vllsi import _panic, _platform, errors
from vllsi.types import PAGE_SIZE, IOVec

__all__ = [
    "Condvar",
    "Mutex",
    "Semaphore",
    "SpinLock",
    "ThreadHandle",
    "ThreadPanicked",
    "futex_wait",
    "futex_wake",
    "get_thread_id",
    "num_online_cpus",
    "thread_detach",
    "thread_join",
    "thread_self",
    "thread_spawn",
    "thread_yield",
]

_impl = _platform.os_module("thread")
_cas: Callable[[int, int, int], int] = _impl.cas32
_xchg: Callable[[int, int], int] = _impl.xchg32
_add: Callable[[int, int], int] = _impl.add32
_load: Callable[[int], int] = _impl.load32
_store: Callable[[int, int], None] = _impl.store32
_wait: Callable[[int, int, float | None, bool], int] = _impl.futex_wait
_wake: Callable[[int, int, bool], int] = _impl.futex_wake
_OK, _TIMEOUT = 0, 1
_MAX_WAKE = 0x7FFFFFFF


def _stack_min() -> int:
    import os

    sysconf = getattr(os, "sysconf", None)  # absent on Windows
    try:
        return max(64 * 1024, int(sysconf("SC_THREAD_STACK_MIN"))) if sysconf else 64 * 1024
    except (ValueError, OSError):
        return 64 * 1024


_MIN_STACK = _stack_min()  # 64 KiB for CPython itself, or the libc's minimum if larger


def get_thread_id() -> int:
    """gettid() (D pthread_threadid_np, W GetCurrentThreadId): the kernel's id of
    the calling thread (== ``threading.get_native_id()``). Never fails.
    Availability: Linux, macOS, Windows."""
    return int(_impl.gettid())


def thread_self() -> int:
    """pthread_self() (W GetCurrentThread's id): the calling thread's library
    handle, as ``threading.get_ident()`` (on glibc it is the thread's TCB
    address, see vllsi.tls.tls_get_base). Never fails. Availability: all."""
    return threading.get_ident()


def thread_yield() -> None:
    """sched_yield() (W SwitchToThread), releasing the GIL. Never fails.
    Availability: Linux, macOS, Windows."""
    _impl.yield_thread()


def num_online_cpus() -> int:
    """sched_getaffinity popcount (D sysctl hw.activecpu, W GetActiveProcessorCount):
    the CPUs this process may run on. Raises: OSError subclasses from the OS
    (not expected). Availability: Linux, macOS, Windows."""
    return int(_impl.online_cpus())


# -- threads -----------------------------------------------------------------

class ThreadPanicked(RuntimeError):
    """The joined thread panicked; ``.info`` is its :class:`vllsi._panic.PanicInfo`
    (``__cause__`` is the original exception)."""

    def __init__(self, info: _panic.PanicInfo) -> None:
        super().__init__(info.line())
        self.info = info


class ThreadHandle:
    """A thread started by :func:`thread_spawn`. ``id`` is its kernel thread id
    (gettid), ``name``, ``stack_size`` (None = the OS default)."""

    def __init__(self, name: str, stack_size: int | None) -> None:
        self.name = name
        self.stack_size = stack_size
        self.id = 0
        self._native: Any = None
        self._result: Any = None
        self._panic: _panic.PanicInfo | None = None
        self._state = "running"

    def is_alive(self) -> bool:
        """False once the entry function has returned or panicked."""
        return not self._native.done()

    def join(self) -> Any:
        """:func:`thread_join` of this handle."""
        return thread_join(self)

    def detach(self) -> None:
        """:func:`thread_detach` of this handle."""
        thread_detach(self)

    def __repr__(self) -> str:
        return f"<ThreadHandle {self.name!r} id={self.id} {self._state}>"


_joinable: set[ThreadHandle] = set()
_counter = [0]
_counter_lock = threading.Lock()


def _forget_dummy() -> None:
    # threading registers a _DummyThread for a thread it did not start; drop it so
    # the table does not grow with every spawned thread (and a reused ident is clean).
    active = getattr(threading, "_active", None)
    lock = getattr(threading, "_active_limbo_lock", None)
    if isinstance(active, dict) and lock is not None:
        with lock:
            active.pop(threading.get_ident(), None)


def _runner(h: ThreadHandle, entry: Callable[[Any], Any], arg: Any) -> Callable[[], None]:
    def run() -> None:
        try:
            threading.current_thread().name = h.name
            try:
                h._result = entry(arg)
            except SystemExit:
                pass
            except BaseException as exc:
                info = _panic.info_from_exception(exc)
                h._panic = info
                _panic.report(info)
        except BaseException:  # never let an exception escape into C
            pass
        finally:
            _forget_dummy()

    return run


def thread_spawn(entry: Callable[[Any], Any], arg: Any = None, stack_size: int | None = None,
                 *, name: str | None = None) -> ThreadHandle:
    """pthread_create with pthread_attr_setstacksize (W CreateThread): run
    ``entry(arg)`` on a new OS thread.

    Args:
        entry: a callable taking one argument; arg: passed to it.
        stack_size: bytes (rounded up to whole pages; at least 64 KiB so that
            CPython itself fits, and at least PTHREAD_STACK_MIN, 128 KiB on
            aarch64 glibc), or None for the OS default. It is the thread's
            real stack: glibc maps exactly that much (guard page and static TLS
            come out of it).
        name: the thread's name (``threading.current_thread().name`` inside it,
            and the panic line's ``<name>``); default ``vllsi-N``.
    Returns: a joinable :class:`ThreadHandle` whose ``id`` is the thread's gettid.
    Raises: TypeError/ValueError before the call; ResourceExhausted/EAGAIN,ENOMEM
        (thread limit, no memory for the stack), InvalidArgument/EINVAL.
    Availability: Linux, macOS, Windows.
    """
    if not callable(entry):
        raise TypeError("entry must be callable")
    size = 0
    if stack_size is not None:
        if isinstance(stack_size, bool) or not isinstance(stack_size, int):
            raise TypeError("stack_size must be an int or None")
        if stack_size < _MIN_STACK:
            raise ValueError(f"stack_size must be >= {_MIN_STACK} (CPython needs room)")
        if stack_size > (1 << 40):
            raise ValueError("stack_size is too large")
        size = (stack_size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
    if name is None:
        with _counter_lock:
            _counter[0] += 1
            name = f"vllsi-{_counter[0]}"
    elif not isinstance(name, str):
        raise TypeError("name must be a str")
    h = ThreadHandle(name, size or None)
    h._native = _impl.NativeThread(_runner(h, entry, arg), size)
    h.id = h._native.tid
    _joinable.add(h)
    return h


def _check_handle(h: Any, what: str) -> ThreadHandle:
    if not isinstance(h, ThreadHandle):
        raise TypeError(f"{what} needs a ThreadHandle, not {type(h).__name__}")
    if h._state != "running":
        raise ValueError(f"thread {h.name!r} is already {h._state}")
    return h


def thread_join(h: ThreadHandle) -> Any:
    """pthread_join (W WaitForSingleObject): wait for the thread to end.

    The wait is interruptible: signal handlers run (PEP 475) and may raise.
    Returns: ``entry(arg)``'s return value.
    Raises: ThreadPanicked (the thread panicked; ``.info``); TypeError for a
        non-handle; ValueError if already joined or detached, or joining itself.
    Availability: Linux, macOS, Windows.
    """
    h = _check_handle(h, "thread_join")
    if h.id == get_thread_id():
        raise ValueError("a thread cannot join itself")
    while h._native.wait_done(None) != _OK or not h._native.done():
        pass  # EINTR or spurious: handlers have run; wait again
    h._native.join()
    h._state = "joined"
    _joinable.discard(h)
    if h._panic is not None:
        exc = ThreadPanicked(h._panic)
        raise exc from h._panic.exception
    return h._result


def thread_detach(h: ThreadHandle) -> None:
    """pthread_detach (W CloseHandle): let the thread end on its own; it can no
    longer be joined. Raises: TypeError, ValueError (already joined/detached).
    Availability: Linux, macOS, Windows."""
    h = _check_handle(h, "thread_detach")
    h._native.detach()
    h._state = "detached"
    _joinable.discard(h)


def _join_at_exit() -> None:
    for h in list(_joinable):
        with contextlib.suppress(Exception):
            thread_join(h)


import atexit  # noqa: E402

atexit.register(_join_at_exit)


# -- futex words ---------------------------------------------------------------

class _Word:
    """A pinned, 4-byte-aligned 32-bit word inside a writable buffer."""

    __slots__ = ("_iov", "address", "shared")

    def __init__(self, buffer: Any, offset: int) -> None:
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise TypeError("offset must be an int")
        if buffer is None:
            buffer, offset, self.shared = bytearray(4), 0, False
        else:
            self.shared = True
        iov = IOVec(buffer)
        if not iov.writable:
            iov.release()
            raise TypeError("a futex word needs a writable buffer")
        if offset < 0 or offset + 4 > iov.len:
            iov.release()
            raise ValueError(f"offset {offset} leaves no 4-byte word in a {iov.len}-byte buffer")
        if (iov.base + offset) % 4:
            iov.release()
            raise ValueError("the futex word must be 4-byte aligned")
        self._iov = iov  # keeps the buffer exported: it cannot be freed or resized
        self.address = iov.base + offset


def _deadline(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a number of seconds or None")
    if timeout != timeout or timeout < 0:
        raise ValueError("timeout must be >= 0")
    return _time.monotonic() + timeout


def _left(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - _time.monotonic()
    if left <= 0:
        raise _timed_out()
    return left


def _timed_out() -> errors.VllsiError:
    return errors.from_errno(_errno.ETIMEDOUT, syscall="futex")


def futex_wait(word: Any, expected: int, timeout: float | None = None, *,
               offset: int = 0) -> None:
    """futex(FUTEX_WAIT) (D os_sync_wait_on_address, W WaitOnAddress) on the 32-bit
    word at ``offset`` of the writable buffer ``word``.

    Sleeps while the word holds ``expected``; returns when woken, when the word
    differs, or spuriously (re-check your condition). EINTR: handlers run, then
    the wait resumes with the remaining time (PEP 475).
    Raises: TypeError/ValueError (not writable, unaligned, out of range) before
    the call; TimedOut/ETIMEDOUT. Availability: Linux, macOS, Windows.
    """
    w = _Word(word, offset)
    if isinstance(expected, bool) or not isinstance(expected, int):
        raise TypeError("expected must be an int")
    if not -(1 << 31) <= expected < (1 << 32):
        raise ValueError("expected does not fit 32 bits")
    deadline = _deadline(timeout)
    while True:
        # a spent timeout still lets the kernel compare the word (0 = do not wait)
        left = None if deadline is None else max(0.0, deadline - _time.monotonic())
        st = _wait(w.address, expected & 0xFFFFFFFF, left, w.shared)
        if st == _OK:
            return
        if st == _TIMEOUT:
            raise _timed_out()


def futex_wake(word: Any, n: int = 1, *, offset: int = 0) -> int:
    """futex(FUTEX_WAKE) (W WakeByAddressSingle/All): wake up to ``n`` waiters of
    the word at ``offset`` of ``word``. Returns: how many were woken.
    Raises: TypeError/ValueError (n < 1) before the call. Availability: all."""
    w = _Word(word, offset)
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("n must be an int")
    if n < 1:
        raise ValueError("n must be >= 1")
    return int(_wake(w.address, min(n, _MAX_WAKE), w.shared))


_LockBase: Any = getattr(_impl, "LockBase", None)
if not isinstance(_LockBase, type):
    _LockBase = object


class Mutex(_LockBase):  # type: ignore[misc]
    """Mutex(buffer=None, offset=0): a futex lock on a 32-bit word (0 free, 1
    locked, 2 locked with waiters); over shared memory it locks across processes.

    Not reentrant and not owner-checked (like a futex, any thread or process may
    release). A context manager (on Linux its uncontended enter/exit are C).
    ``acquire(timeout)`` raises TimedOut.
    """

    __slots__ = ("_addr", "_shared", "_word")

    def __init__(self, buffer: Any = None, offset: int = 0) -> None:
        self._word = _Word(buffer, offset)
        self._addr = self._word.address
        self._shared = self._word.shared
        if _LockBase is not object:
            self._bind(self._addr)

    def _wake_one(self) -> None:
        _wake(self._addr, 1, self._shared)

    def acquire(self, timeout: float | None = None) -> bool:
        """Lock, sleeping in the kernel while contended. Returns True.
        Raises: TimedOut when ``timeout`` seconds pass first."""
        c = _cas(self._addr, 0, 1)
        if c == 0:
            return True
        return self._acquire_slow(c, timeout)

    def _acquire_slow(self, c: int, timeout: float | None) -> bool:
        deadline = _deadline(timeout)
        a = self._addr
        if c != 2:
            c = _xchg(a, 2)
        while c != 0:
            if _wait(a, 2, _left(deadline), self._shared) == _TIMEOUT:
                raise _timed_out()
            c = _xchg(a, 2)
        return True

    def try_acquire(self) -> bool:
        """Lock if free, without waiting. Returns whether it did."""
        return _cas(self._addr, 0, 1) == 0

    def release(self) -> None:
        """Unlock, waking one waiter if any. RuntimeError if it was not locked."""
        old = _xchg(self._addr, 0)
        if old == 2:
            _wake(self._addr, 1, self._shared)
        elif old == 0:
            raise RuntimeError("release of an unlocked Mutex")

    def locked(self) -> bool:
        """Whether the word says locked (a snapshot)."""
        return _load(self._addr) != 0

    def __enter__(self) -> Mutex:
        if _cas(self._addr, 0, 1) != 0:
            self._acquire_slow(1, None)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


if _LockBase is not object:  # the C fast paths (same contract as the methods above)
    Mutex.__enter__ = _LockBase._enter  # type: ignore[method-assign]
    Mutex.__exit__ = _LockBase._exit  # type: ignore[method-assign]


class Condvar:
    """Condvar(buffer=None, offset=0): a futex condition variable (a sequence word).

    ``wait(mutex, timeout)`` atomically releases ``mutex``, sleeps until
    notified (or spuriously) and re-acquires it; ``wait_for(predicate)`` loops.
    ``notify(n)``/``notify_all()`` need not hold the mutex.
    """

    __slots__ = ("_addr", "_shared", "_word")

    def __init__(self, buffer: Any = None, offset: int = 0) -> None:
        self._word = _Word(buffer, offset)
        self._addr = self._word.address
        self._shared = self._word.shared

    def wait(self, mutex: Mutex, timeout: float | None = None) -> None:
        """Release ``mutex``, sleep until a notify (or spuriously), re-acquire.

        EINTR: handlers run, then the sleep resumes if no notify came meanwhile.
        Raises: TypeError (not a Mutex); TimedOut (with the mutex re-acquired)."""
        if not isinstance(mutex, Mutex):
            raise TypeError("Condvar.wait needs a vllsi Mutex")
        deadline = _deadline(timeout)
        seq = _load(self._addr)
        mutex.release()
        timed_out = False
        try:
            while True:
                left = None if deadline is None else deadline - _time.monotonic()
                if left is not None and left <= 0:
                    timed_out = True
                    break
                st = _wait(self._addr, seq, left, self._shared)
                if st == _TIMEOUT:
                    timed_out = True
                    break
                if st == _OK:
                    break
                # WAIT_INTR: the handlers run at this loop's next bytecode; a notify
                # that came meanwhile changed seq, so the next wait returns at once.
        finally:
            if not mutex.try_acquire():
                mutex._acquire_slow(1, None)
        if timed_out:
            raise _timed_out()

    def wait_for(self, predicate: Callable[[], Any], mutex: Mutex,
                 timeout: float | None = None) -> Any:
        """Wait until ``predicate()`` is true (called with ``mutex`` held).
        Returns its value. Raises: TimedOut."""
        deadline = _deadline(timeout)
        result = predicate()
        while not result:
            left = None if deadline is None else max(0.0, deadline - _time.monotonic())
            self.wait(mutex, left)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> int:
        """Wake up to ``n`` waiters. Returns how many the kernel woke."""
        _add(self._addr, 1)
        return int(_wake(self._addr, n, self._shared))

    def notify_all(self) -> int:
        """Wake every waiter. Returns how many the kernel woke."""
        _add(self._addr, 1)
        return int(_wake(self._addr, _MAX_WAKE, self._shared))


class SpinLock:
    """SpinLock(buffer=None, offset=0): test-and-set on a word, yielding the CPU
    (and the GIL) between attempts; no kernel wait queue. For very short
    critical sections, also across processes. A context manager."""

    __slots__ = ("_addr", "_word")

    def __init__(self, buffer: Any = None, offset: int = 0) -> None:
        self._word = _Word(buffer, offset)
        self._addr = self._word.address

    def acquire(self, timeout: float | None = None) -> bool:
        """Spin until locked. Returns True. Raises: TimedOut."""
        if _cas(self._addr, 0, 1) == 0:
            return True
        deadline = _deadline(timeout)
        while _cas(self._addr, 0, 1) != 0:
            _left(deadline)
            _impl.yield_thread()
        return True

    def try_acquire(self) -> bool:
        """Lock if free. Returns whether it did."""
        return _cas(self._addr, 0, 1) == 0

    def release(self) -> None:
        """Unlock. RuntimeError if it was not locked."""
        if _xchg(self._addr, 0) == 0:
            raise RuntimeError("release of an unlocked SpinLock")

    def locked(self) -> bool:
        return _load(self._addr) != 0

    def __enter__(self) -> SpinLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Semaphore:
    """Semaphore(buffer=None, offset=0, initial=None): a counting semaphore on a
    word. ``initial`` (0..2**32-1) is written at construction when given; pass
    None to attach to a word another process initialised (a private word starts
    at 0). A context manager (acquire/release one)."""

    __slots__ = ("_addr", "_shared", "_word")

    def __init__(self, buffer: Any = None, offset: int = 0, initial: int | None = None) -> None:
        self._word = _Word(buffer, offset)
        self._addr = self._word.address
        self._shared = self._word.shared
        if initial is not None:
            if isinstance(initial, bool) or not isinstance(initial, int):
                raise TypeError("initial must be an int or None")
            if not 0 <= initial < (1 << 32):
                raise ValueError("initial must be in 0..2**32-1")
            _store(self._addr, initial)

    @property
    def value(self) -> int:
        """The current count (a snapshot)."""
        return int(_load(self._addr))

    def acquire(self, timeout: float | None = None) -> bool:
        """Take one unit, sleeping while the count is 0. Returns True.
        Raises: TimedOut."""
        deadline: float | None = None
        first = True
        while True:
            v = _load(self._addr)
            if v > 0:
                if _cas(self._addr, v, v - 1) == v:
                    return True
                continue
            if first:
                deadline, first = _deadline(timeout), False
            if _wait(self._addr, 0, _left(deadline), self._shared) == _TIMEOUT:
                raise _timed_out()

    def try_acquire(self) -> bool:
        """Take one unit if available. Returns whether it did."""
        while True:
            v = _load(self._addr)
            if v == 0:
                return False
            if _cas(self._addr, v, v - 1) == v:
                return True

    def release(self, n: int = 1) -> None:
        """Add ``n`` units and wake up to ``n`` waiters. ValueError on overflow."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError("n must be an int >= 1")
        old = _add(self._addr, n)
        if old + n >= (1 << 32):
            _add(self._addr, -n)
            raise ValueError("Semaphore count would overflow 32 bits")
        _wake(self._addr, min(n, _MAX_WAKE), self._shared)

    def __enter__(self) -> Semaphore:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
