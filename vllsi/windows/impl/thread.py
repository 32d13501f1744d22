"""Windows backend of :mod:`vllsi.thread`.

- ``gettid``: GetCurrentThreadId; ``online_cpus``: GetActiveProcessorCount(all
  groups); ``yield_thread``: SwitchToThread.
- Atomics: :mod:`vllsi.windows._atomics` (lock-prefixed x86-64 thunks).
- ``futex_wait``/``futex_wake``: WaitOnAddress / WakeByAddress{Single,All} for
  process-private words. WaitOnAddress does not work across processes, so a
  *shared* word (``shared=True``) is waited for by polling it with backoff
  (1 us doubling to 1 ms; a wake is then seen within about a millisecond) and
  ``futex_wake`` on it only reports 0 woken (pollers notice by themselves).
  Windows has no EINTR: WAIT_INTR is never returned.
- ``NativeThread``: CreateThread with ``stack_size`` as the reserved stack
  (STACK_SIZE_PARAM_IS_A_RESERVATION), running ``fn`` through a cffi callback
  (which takes the GIL); a 32-bit done word is set and woken when ``fn`` returns.
  ``join`` waits on the thread handle (WaitForSingleObject) and closes it;
  ``detach`` closes the handle.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from vllsi import errors
from vllsi.windows import _atomics, kernel32
from vllsi.windows import consts as C
from vllsi.windows._ffi import ffi, raise_winerror
from vllsi.windows._ffi import kernel32 as _k32
from vllsi.windows._ffi import kernelbase as _kb

__all__ = ["WAIT_INTR", "WAIT_OK", "WAIT_TIMEOUT", "NativeThread", "add32", "cas32",
           "futex_wait", "futex_wake", "gettid", "load32", "online_cpus", "store32",
           "xchg32", "yield_thread"]

WAIT_OK, WAIT_TIMEOUT, WAIT_INTR = 0, 1, 2
_ERROR_TIMEOUT = 1460

gettid: Callable[[], int] = kernel32.get_current_thread_id
cas32 = _atomics.cas32
xchg32 = _atomics.xchg32
add32 = _atomics.add32
load32 = _atomics.load32
store32 = _atomics.store32


def online_cpus() -> int:
    return kernel32.get_active_processor_count()


def yield_thread() -> None:
    kernel32.switch_to_thread()


def _ms(timeout: float) -> int:
    return min(int(-(-timeout * 1000 // 1)), 0xFFFFFFFE)


def futex_wait(address: int, expected: int, timeout: float | None, shared: bool) -> int:
    """WaitOnAddress(address, &expected, 4, ms) (GIL released); polling for shared words."""
    exp = expected & 0xFFFFFFFF
    if shared:
        return _poll_wait(address, exp, timeout)
    cmp = ffi.new("uint32_t *", exp)
    ms = C.INFINITE if timeout is None else _ms(timeout)
    with _count_lock:
        _waiters[address] = _waiters.get(address, 0) + 1
    try:
        ok = _kb.WaitOnAddress(ffi.cast("void *", address), cmp, 4, ms)
        code = 0 if ok else int(ffi.getwinerror()[0])
    finally:
        with _count_lock:
            left = _waiters[address] - 1
            if left:
                _waiters[address] = left
            else:
                del _waiters[address]
    if ok:
        return WAIT_OK
    if code == _ERROR_TIMEOUT:
        return WAIT_TIMEOUT
    raise_winerror("WaitOnAddress", code=code)


def _poll_wait(address: int, expected: int, timeout: float | None) -> int:
    end = None if timeout is None else time.monotonic() + timeout
    pause = 1e-6
    while load32(address) == expected:
        if end is not None:
            left = end - time.monotonic()
            if left <= 0:
                return WAIT_TIMEOUT
            pause = min(pause, left)
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)
    return WAIT_OK


_waiters: dict[int, int] = {}  # address -> threads of this process inside WaitOnAddress
_count_lock = threading.Lock()


def futex_wake(address: int, n: int, shared: bool) -> int:
    """WakeByAddressSingle/All. Windows does not say how many woke; WaitOnAddress is
    process-private, so this backend counts its own waiters on the word and returns
    min(n, waiters) (a waiter about to block counts too). 0 for a shared (polled) word."""
    if shared:
        return 0
    with _count_lock:
        n = min(n, _waiters.get(address, 0))
    if n == 0:
        return 0
    p = ffi.cast("void *", address)
    if n == 1:
        _kb.WakeByAddressSingle(p)
    else:
        _kb.WakeByAddressAll(p)
    return n


_keep: dict[int, Any] = {}  # callbacks and handles of running threads


class NativeThread:
    """A CreateThread thread with a chosen reserved stack running ``fn()`` (fn must not raise)."""

    def __init__(self, fn: Callable[[], None], stack_size: int) -> None:
        self._word = ffi.new("uint32_t *", 0)
        self.done_address: int = int(ffi.cast("uintptr_t", self._word))
        word = self._word
        key = id(self)

        def entry(_arg: Any) -> int:
            try:
                fn()
            finally:
                store32(int(ffi.cast("uintptr_t", word)), 1)
                _kb.WakeByAddressAll(word)
                _keep.pop(key, None)
            return 0

        cb = ffi.callback("DWORD(LPVOID)", entry)
        _keep[key] = (cb, word)
        tid = ffi.new("DWORD *")
        flags = C.STACK_SIZE_PARAM_IS_A_RESERVATION if stack_size else 0
        h = _k32.CreateThread(ffi.NULL, stack_size, cb, ffi.NULL, flags, tid)
        if h == ffi.NULL:
            _keep.pop(key, None)
            raise_winerror("CreateThread")
        self._h: int | None = int(ffi.cast("intptr_t", h))
        self.tid: int = int(tid[0])
        self._state = "joinable"

    def done(self) -> bool:
        return bool(load32(self.done_address) != 0)

    def wait_done(self, timeout: float | None) -> int:
        if self.done():
            return WAIT_OK
        return futex_wait(self.done_address, 0, timeout, False)

    def join(self) -> None:
        if self._h is None:
            raise errors.from_errno(22, syscall="WaitForSingleObject",
                                    message="thread already joined or detached")
        kernel32.wait_for_single_object(self._h, C.INFINITE)
        kernel32.close_handle(self._h)
        self._h = None
        self._state = "joined"

    def detach(self) -> None:
        if self._h is not None:
            kernel32.close_handle(self._h)
            self._h = None
        self._state = "detached"

    def __del__(self) -> None:
        h = getattr(self, "_h", None)
        if h is not None:
            with contextlib.suppress(Exception):
                kernel32.close_handle(h)
