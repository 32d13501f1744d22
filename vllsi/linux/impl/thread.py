"""Linux backend of :mod:`vllsi.thread`: gettid, sched_*, futex, C atomics, and
pthread-created threads running Python (see _native/csrc/ffi/thread.c).

Interface (mirrored by other OSes; see vllsi.thread's docstring).
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Callable
from typing import Any

from vllsi import errors
from vllsi.linux import _syscall as _s
from vllsi.linux import proc as _proc
from vllsi.linux import thread as _t

__all__ = ["WAIT_INTR", "WAIT_OK", "WAIT_TIMEOUT", "LockBase", "NativeThread", "add32", "cas32",
           "futex_wait", "futex_wake", "gettid", "load32", "online_cpus", "store32",
           "xchg32", "yield_thread"]

gettid: Callable[[], int] = _proc.gettid


def online_cpus() -> int:
    return len(_t.sched_getaffinity(0))


def yield_thread() -> None:
    _t.sched_yield()


try:
    from vllsi.linux import _fast

    cas32: Callable[[int, int, int], int] = _fast.atomic_cas32
    xchg32: Callable[[int, int], int] = _fast.atomic_xchg32
    add32: Callable[[int, int], int] = _fast.atomic_add32
    load32: Callable[[int], int] = _fast.atomic_load32
    store32: Callable[[int, int], None] = _fast.atomic_store32
    LockBase: Any = _fast.futex_lock_type()
except ImportError:  # pragma: no cover - no compiled shim: atomics need C
    def _no_atomics(*_a: Any) -> Any:
        raise errors.unsupported("32-bit atomics without the compiled shim")

    cas32 = xchg32 = add32 = load32 = store32 = _no_atomics
    LockBase = None

WAIT_OK, WAIT_TIMEOUT, WAIT_INTR = 0, 1, 2
_NR_FUTEX = _s.NR["futex"]
_syscall_blocking = _s.syscall_blocking
_WAIT_PRIVATE = _t.FUTEX_WAIT | _t.FUTEX_PRIVATE_FLAG
_WAKE_PRIVATE = _t.FUTEX_WAKE | _t.FUTEX_PRIVATE_FLAG
_EAGAIN, _ETIMEDOUT, _EINTR = -_errno.EAGAIN, -_errno.ETIMEDOUT, -_errno.EINTR


def futex_wait(address: int, expected: int, timeout: float | None, shared: bool) -> int:
    """One FUTEX_WAIT (relative timeout in seconds, None = forever), GIL released.
    Returns WAIT_OK (woken, spurious, or the word != expected), WAIT_TIMEOUT or
    WAIT_INTR (a signal: the caller returns to Python so handlers run, then loops)."""
    if timeout is None:
        ts = 0
        keep = None
    else:
        from vllsi.linux._ffi import addr, ffi

        sec = int(timeout)
        keep = ffi.new("struct timespec *", (sec, min(int((timeout - sec) * 1e9), 999_999_999)))
        ts = addr(keep)
    r = _syscall_blocking(_NR_FUTEX, address, _t.FUTEX_WAIT if shared else _WAIT_PRIVATE,
                          expected, ts, 0, 0)
    del keep
    if r == 0 or r == _EAGAIN:
        return WAIT_OK
    if r == _ETIMEDOUT:
        return WAIT_TIMEOUT
    if r == _EINTR:
        return WAIT_INTR
    raise errors.from_errno(-r, syscall="futex")


def futex_wake(address: int, n: int, shared: bool) -> int:
    """FUTEX_WAKE up to n waiters; returns how many were woken."""
    r = _s.syscall(_NR_FUTEX, address, _t.FUTEX_WAKE if shared else _WAKE_PRIVATE, n, 0, 0, 0)
    return _s.check(r, "futex")


# -- threads -----------------------------------------------------------------

try:
    from vllsi.linux._trampoline import ffi as _tffi
    from vllsi.linux._trampoline import lib as _tlib
except ImportError:  # pragma: no cover
    _tffi = _tlib = None

_keep: dict[int, Any] = {}  # cffi handles of running threads (until their entry ends)

if _tffi is not None:
    @_tffi.def_extern()  # type: ignore[untyped-decorator]
    def _vllsi_thread_entry(arg: Any) -> None:
        key = int(_tffi.cast("uintptr_t", arg))
        try:
            fn = _tffi.from_handle(arg)
            fn()
        finally:
            _keep.pop(key, None)


class NativeThread:
    """A pthread with a chosen stack size running ``fn()`` (fn must not raise)."""

    def __init__(self, fn: Callable[[], None], stack_size: int) -> None:
        if _tffi is None:
            raise errors.unsupported("thread_spawn without the compiled shim")
        handle = _tffi.new_handle(fn)
        key = int(_tffi.cast("uintptr_t", handle))
        _keep[key] = handle
        out = _tffi.new("struct vllsi_thread **")
        err = _tlib.vllsi_thread_create(stack_size, handle, out)
        if err:
            _keep.pop(key, None)
            raise errors.from_errno(err, syscall="pthread_create")
        self._t: Any = out[0]
        self.tid: int = _tlib.vllsi_thread_tid(self._t)
        self.done_address: int = int(_tffi.cast("uintptr_t", _tlib.vllsi_thread_done_word(self._t)))
        self._state = "joinable"

    def done(self) -> bool:
        return load32(self.done_address) != 0

    def wait_done(self, timeout: float | None) -> int:
        if self.done():
            return WAIT_OK
        return futex_wait(self.done_address, 0, timeout, False)

    def join(self) -> None:
        err = _tlib.vllsi_thread_join(self._t)
        if err:
            raise errors.from_errno(err, syscall="pthread_join")
        self._state = "joined"

    def detach(self) -> None:
        err = _tlib.vllsi_thread_detach(self._t)
        if err:
            raise errors.from_errno(err, syscall="pthread_detach")
        self._state = "detached"

    def __del__(self) -> None:
        t = getattr(self, "_t", None)
        if t is None or _tlib is None:
            return
        if self._state == "joinable":
            _tlib.vllsi_thread_detach(t)
        _tlib.vllsi_thread_release(t)
        self._t = None


def stack_probe() -> tuple[int, int, int]:
    """(stack pointer, stack low address, stack size) of the calling thread, as
    glibc's pthread_getattr_np reports it (used by tests and vllsi.init)."""
    if _tffi is None:
        raise errors.unsupported("stack_probe without the compiled shim")
    sp = _tffi.new("uintptr_t *")
    lo = _tffi.new("uintptr_t *")
    size = _tffi.new("size_t *")
    err = _tlib.vllsi_stack_probe(sp, lo, size)
    if err:
        raise errors.from_errno(err, syscall="pthread_getattr_np")
    return int(sp[0]), int(lo[0]), int(size[0])
