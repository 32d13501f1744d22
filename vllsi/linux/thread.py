"""Typed wrappers for the thread syscalls: futex, sched_yield, sched_getaffinity,
arch_prctl (x86_64, read-only codes).

``futex`` is safe with any address: the kernel validates user pointers and
answers EFAULT, it never faults the process. Blocking operations release the
GIL and follow PEP 475 (EINTR: Python handlers run, then the wait resumes with
the remaining time).
"""

from __future__ import annotations

import errno as _errno
import time as _time
from typing import Final

from vllsi import errors
from vllsi._platform import ARCH
from vllsi.linux import _syscall as _s
from vllsi.linux._ffi import addr, ffi

__all__ = [
    "ARCH_GET_FS", "ARCH_GET_GS", "FUTEX_BITSET_MATCH_ANY", "FUTEX_CLOCK_REALTIME",
    "FUTEX_PRIVATE_FLAG", "FUTEX_WAIT", "FUTEX_WAIT_BITSET", "FUTEX_WAKE",
    "FUTEX_WAKE_BITSET", "arch_prctl", "futex", "sched_getaffinity", "sched_yield",
]

# include/uapi/linux/futex.h
FUTEX_WAIT: Final = 0
FUTEX_WAKE: Final = 1
FUTEX_WAIT_BITSET: Final = 9
FUTEX_WAKE_BITSET: Final = 10
FUTEX_PRIVATE_FLAG: Final = 128
FUTEX_CLOCK_REALTIME: Final = 256
FUTEX_BITSET_MATCH_ANY: Final = 0xFFFFFFFF
# arch/x86/include/uapi/asm/prctl.h
ARCH_GET_FS: Final = 0x1003
ARCH_GET_GS: Final = 0x1004
_READ_ONLY_ARCH_PRCTL = frozenset({ARCH_GET_FS, ARCH_GET_GS})

_NR_FUTEX = _s.NR["futex"]
_NR_YIELD = _s.NR["sched_yield"]
_NR_AFFINITY = _s.NR["sched_getaffinity"]
_WAIT_OPS = frozenset({FUTEX_WAIT, FUTEX_WAIT_BITSET})


def _int(v: object, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    return int(v)


def futex(uaddr: int, op: int, val: int, timeout: float | None = None, uaddr2: int = 0,
          val3: int = 0) -> int:
    """futex(uaddr, op, val, timeout, uaddr2, val3) on the 32-bit word at ``uaddr``.

    Args:
        uaddr: address of a 4-byte-aligned word; op: FUTEX_* (| FUTEX_PRIVATE_FLAG
        for a word only this process uses); val: expected value (WAIT) or count (WAKE).
        timeout: seconds (None = forever); relative for FUTEX_WAIT, an absolute
        CLOCK_MONOTONIC time for FUTEX_WAIT_BITSET (CLOCK_REALTIME with the flag).
    Returns: 0 after a wait (woken, or spuriously: futex waits can always return
        early, callers re-check their condition); the number woken for WAKE.
    Raises: TypeError/ValueError before the call; WouldBlock/EAGAIN (the word did
        not hold ``val``); TimedOut/ETIMEDOUT; InvalidArgument/EINVAL (unaligned);
        VllsiError/EFAULT (unmapped address).
    EINTR follows PEP 475: handlers run, then the wait resumes (relative timeouts
    recomputed). Availability: Linux.
    """
    uaddr, op, val = _int(uaddr, "uaddr"), _int(op, "op"), _int(val, "val")
    uaddr2, val3 = _int(uaddr2, "uaddr2"), _int(val3, "val3")
    if not 0 <= uaddr < (1 << 64) or not 0 <= uaddr2 < (1 << 64):
        raise ValueError("futex address out of range")
    if not -(1 << 31) <= val < (1 << 32) or not 0 <= val3 < (1 << 32):
        raise ValueError("futex value does not fit 32 bits")
    val &= 0xFFFFFFFF
    cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
    ts = None
    deadline = None
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError("timeout must be a number of seconds or None")
        if timeout != timeout or timeout < 0:
            raise ValueError("timeout must be >= 0")
        ts = ffi.new("struct timespec *")
        if cmd == FUTEX_WAIT:
            deadline = _time.monotonic() + timeout
        _set_ts(ts, float(timeout))
    while True:
        r = _s.syscall_blocking(_NR_FUTEX, uaddr, op & 0xFFFFFFFF, val,
                                addr(ts) if ts is not None else 0, uaddr2, val3)
        if r != -_s.EINTR or cmd not in _WAIT_OPS:
            break
        if deadline is not None and ts is not None:
            left = deadline - _time.monotonic()
            if left <= 0:
                r = -_errno.ETIMEDOUT
                break
            _set_ts(ts, left)
    return _s.check(r, "futex")


def _set_ts(ts: object, seconds: float) -> None:
    sec = int(seconds)
    t: object = ts
    t.tv_sec = sec  # type: ignore[attr-defined]
    t.tv_nsec = min(int((seconds - sec) * 1e9), 999_999_999)  # type: ignore[attr-defined]


def sched_yield() -> None:
    """sched_yield(): let another runnable thread have this CPU. Releases the GIL.

    Never fails. Availability: Linux.
    """
    _s.syscall_blocking(_NR_YIELD)


def sched_getaffinity(pid: int = 0) -> frozenset[int]:
    """sched_getaffinity(pid): the CPUs thread/process ``pid`` (0 = caller) may run on.

    Returns: a frozenset of CPU numbers. Raises: TypeError/ValueError before the
    call; NotFound... as VllsiError/ESRCH (no such thread), PermissionDenied/EPERM.
    Availability: Linux.
    """
    pid = _int(pid, "pid")
    if not 0 <= pid <= 0x7FFFFFFF:
        raise ValueError("pid out of range")
    size = 128
    while True:
        mask = ffi.new("uint8_t[]", size)
        r = _s.syscall(_NR_AFFINITY, pid, size, addr(mask))
        if r == -_errno.EINVAL and size < (1 << 20):  # EINVAL: the kernel's mask is larger
            size *= 2
            continue
        n = _s.check(r, "sched_getaffinity")
        cpus = set()
        for i in range(n):
            byte = mask[i]
            for bit in range(8):
                if byte >> bit & 1:
                    cpus.add(i * 8 + bit)
        return frozenset(cpus)


def arch_prctl(code: int) -> int:
    """arch_prctl(code, &out) for the read-only codes ARCH_GET_FS / ARCH_GET_GS.

    Returns: the FS or GS base of the calling thread. vllsi never writes the
    thread pointer (libc and CPython own it), so the SET codes are refused.
    Raises: ValueError for any other code before the call; Unsupported on a
    non-x86_64 machine. Availability: Linux x86_64.
    """
    code = _int(code, "code")
    if ARCH != "x86_64" or "arch_prctl" not in _s.NR:
        raise errors.unsupported("arch_prctl (x86_64 only)", syscall="arch_prctl")
    if code not in _READ_ONLY_ARCH_PRCTL:
        raise ValueError("arch_prctl: only ARCH_GET_FS and ARCH_GET_GS are allowed")
    out = ffi.new("uint64_t *")
    _s.check(_s.syscall(_s.NR["arch_prctl"], code, addr(out)), "arch_prctl")
    return int(out[0])
