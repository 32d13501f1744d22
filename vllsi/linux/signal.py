"""Signal syscalls: rt_sigprocmask, rt_sigpending, rt_sigtimedwait, signalfd4, kill, tgkill.

Signal sets cross this layer as 64-bit ints, bit ``n - 1`` standing for signal
``n`` (the kernel's ``sigset_t`` on x86_64 and arm64, sigsetsize 8). Masks are
per *thread*: rt_sigprocmask changes the calling OS thread only.

Handlers are deliberately absent (no rt_sigaction): CPython owns the process's
handler table, see :mod:`vllsi.signal`.
"""

from __future__ import annotations

import math
import struct
import time
from typing import Any, Final, NamedTuple

from vllsi.linux import _syscall as _s
from vllsi.linux._ffi import addr, ffi

__all__ = [
    "SFD_CLOEXEC",
    "SFD_NONBLOCK",
    "SIGINFO_SIZE",
    "SIG_BLOCK",
    "SIG_SETMASK",
    "SIG_UNBLOCK",
    "SigInfo",
    "kill",
    "parse_siginfo",
    "parse_signalfd_siginfo",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigtimedwait",
    "signalfd4",
    "tgkill",
]

# include/uapi/asm-generic/signal-defs.h, include/uapi/linux/signalfd.h
SIG_BLOCK: Final = 0
SIG_UNBLOCK: Final = 1
SIG_SETMASK: Final = 2
SFD_CLOEXEC: Final = 0o2000000
SFD_NONBLOCK: Final = 0o4000
SIGINFO_SIZE: Final = 128  # sizeof(siginfo_t) == sizeof(struct signalfd_siginfo)
_SIGSETSIZE: Final = 8
_SIGCHLD: Final = 17
_MASK64: Final = (1 << 64) - 1

_NR_RT_SIGPROCMASK: Final = _s.NR["rt_sigprocmask"]
_NR_RT_SIGPENDING: Final = _s.NR["rt_sigpending"]
_NR_RT_SIGTIMEDWAIT: Final = _s.NR["rt_sigtimedwait"]
_NR_SIGNALFD4: Final = _s.NR["signalfd4"]
_NR_KILL: Final = _s.NR["kill"]
_NR_TGKILL: Final = _s.NR["tgkill"]


class SigInfo(NamedTuple):
    """The common fields of ``siginfo_t`` / ``struct signalfd_siginfo``.

    ``status`` is the exit status or signal for SIGCHLD (``si_status``), and
    the ``sival_int`` of a queued signal otherwise; ``pid``/``uid`` name the
    sender (kill, sigqueue) or the child (SIGCHLD).
    """

    signo: int
    errno: int
    code: int
    pid: int
    uid: int
    status: int


def _int(v: Any, name: str) -> int:
    if type(v) is int:
        return v
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be int, not {type(v).__name__}")
    return int(v)


def _mask(v: Any, name: str = "mask") -> int:
    m = _int(v, name)
    if not 0 <= m <= _MASK64:
        raise ValueError(f"{name} {m:#x} is not a 64-bit signal set")
    return m


def _signo(v: Any, *, allow_zero: bool = True) -> int:
    s = _int(v, "sig")
    if not (0 if allow_zero else 1) <= s <= 64:
        raise ValueError(f"signal number {s} outside {0 if allow_zero else 1}..64")
    return s


def parse_siginfo(data: Any) -> SigInfo:
    """Decode a kernel ``siginfo_t`` (128 bytes; x86_64 and arm64 share the layout).

    Raises: TypeError for a non-buffer, ValueError for fewer than 32 bytes.
    Availability: Linux (pure decoding).
    """
    b = memoryview(data).cast("B")
    if len(b) < 32:
        raise ValueError("siginfo_t needs at least 32 bytes")
    signo, err, code, _pad, pid, uid, status = struct.unpack_from("<iiiiiIi", b)
    return SigInfo(signo, err, code, pid, uid, status)


def parse_signalfd_siginfo(data: Any) -> SigInfo:
    """Decode one ``struct signalfd_siginfo`` (128 bytes) read from a signalfd.

    Raises: TypeError for a non-buffer, ValueError for fewer than 48 bytes.
    Availability: Linux (pure decoding).
    """
    b = memoryview(data).cast("B")
    if len(b) < 48:
        raise ValueError("signalfd_siginfo needs at least 48 bytes")
    signo, err, code, pid, uid = struct.unpack_from("<IiiII", b)
    status, value = struct.unpack_from("<ii", b, 40)  # ssi_status, ssi_int
    return SigInfo(signo, err, code, pid, uid, status if signo == _SIGCHLD else value)


def rt_sigprocmask(how: int, mask: int | None) -> int:
    """rt_sigprocmask(how, set, oldset, 8): change the calling thread's signal mask.

    Args:
        how: SIG_BLOCK, SIG_UNBLOCK or SIG_SETMASK (ignored when ``mask`` is None).
        mask: the signal set (bit n-1 = signal n), or None to only read the mask.
    Returns:
        The previous mask. The kernel silently keeps SIGKILL and SIGSTOP unblocked.
    Raises:
        InvalidArgument/EINVAL for a bad ``how``; TypeError/ValueError for bad input.
    Availability: Linux.
    """
    h = _int(how, "how")
    old = ffi.new("uint64_t[1]")
    if mask is None:
        r = _s.syscall(_NR_RT_SIGPROCMASK, SIG_BLOCK, 0, addr(old), _SIGSETSIZE)
    else:
        new = ffi.new("uint64_t[1]", [_mask(mask)])
        r = _s.syscall(_NR_RT_SIGPROCMASK, h, addr(new), addr(old), _SIGSETSIZE)
    _s.check(r, "rt_sigprocmask")
    return int(old[0])


def rt_sigpending() -> int:
    """rt_sigpending(set, 8): the signals pending for the thread or the process.

    Returns: the set (bit n-1 = signal n). Never fails in practice.
    Raises: VllsiError/EFAULT (not reachable from Python). Availability: Linux.
    """
    out = ffi.new("uint64_t[1]")
    _s.check(_s.syscall(_NR_RT_SIGPENDING, addr(out), _SIGSETSIZE), "rt_sigpending")
    return int(out[0])


def rt_sigtimedwait(mask: int, timeout: float | None = None) -> SigInfo:
    """rt_sigtimedwait(set, info, timeout, 8): take one pending signal of ``mask``.

    The signals should be blocked first (else they are delivered normally).
    Releases the GIL. EINTR (another signal was handled) is retried with the
    remaining time (PEP 475).
    Args:
        mask: the set to wait for (bit n-1 = signal n); must not be empty.
        timeout: seconds (int/float, >= 0); None waits forever; 0 polls.
    Returns:
        The SigInfo of the dequeued signal.
    Raises:
        WouldBlock/EAGAIN when the timeout expires first; InvalidArgument/EINVAL;
        TypeError/ValueError for bad input (negative or NaN timeout, empty set).
    Availability: Linux.
    """
    m = _mask(mask)
    if m == 0:
        raise ValueError("rt_sigtimedwait needs a non-empty signal set")
    deadline: float | None = None
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be int, float or None, not {type(timeout).__name__}")
        if math.isnan(timeout) or timeout < 0:
            raise ValueError("timeout must be >= 0")
        deadline = time.monotonic() + timeout
    sset = ffi.new("uint64_t[1]", [m])
    info = ffi.new("uint8_t[]", SIGINFO_SIZE)
    ts = ffi.new("struct timespec *")
    while True:
        tsp = 0
        if deadline is not None:
            left = max(0.0, deadline - time.monotonic())
            if math.isinf(left):
                tsp = 0
            else:
                ns = int(left * 1e9)
                ts.tv_sec, ts.tv_nsec = divmod(ns, 1_000_000_000)
                tsp = addr(ts)
        r = _s.syscall_blocking(_NR_RT_SIGTIMEDWAIT, addr(sset), addr(info), tsp, _SIGSETSIZE)
        if r != -_s.EINTR:
            break
    _s.check(r, "rt_sigtimedwait")
    return parse_siginfo(ffi.buffer(info))


def signalfd4(fd: int, mask: int, flags: int = SFD_CLOEXEC) -> int:
    """signalfd4(fd, set, 8, flags): create (fd=-1) or retarget a signalfd.

    Reading it yields 128-byte ``struct signalfd_siginfo`` records
    (:func:`parse_signalfd_siginfo`); block the signals so they stay pending.
    Args:
        fd: -1 for a new descriptor, or an existing signalfd to change its set.
        mask: the signal set (bit n-1 = signal n).
        flags: SFD_CLOEXEC | SFD_NONBLOCK (only for a new descriptor).
    Returns: the descriptor.
    Raises: InvalidArgument/EINVAL (fd not a signalfd, bad flags), BadDescriptor/EBADF,
        ResourceExhausted/EMFILE; TypeError/ValueError for bad input.
    Availability: Linux.
    """
    f = -1 if fd == -1 and type(fd) is int else _s.fd_arg(fd)
    m = _mask(mask)
    fl = _int(flags, "flags")
    sset = ffi.new("uint64_t[1]", [m])
    return _s.check(_s.syscall(_NR_SIGNALFD4, f, addr(sset), _SIGSETSIZE, fl), "signalfd4")


def kill(pid: int, sig: int) -> None:
    """kill(pid, sig): send ``sig`` to a process (pid > 0), a group (pid < -1 or 0) or all.

    ``sig`` 0 only checks that the target exists and may be signalled.
    Raises: VllsiError/ESRCH (no such process), PermissionDenied/EPERM,
        InvalidArgument/EINVAL; TypeError/ValueError for bad input.
    Availability: Linux.
    """
    p = _int(pid, "pid")
    if not -(1 << 31) <= p < (1 << 31):
        raise ValueError(f"pid {p} does not fit pid_t")
    _s.check(_s.syscall(_NR_KILL, p, _signo(sig)), "kill")


def tgkill(tgid: int, tid: int, sig: int) -> None:
    """tgkill(tgid, tid, sig): send ``sig`` to one thread ``tid`` of process ``tgid``.

    Raises: VllsiError/ESRCH (no such thread in that group), PermissionDenied/EPERM,
        InvalidArgument/EINVAL; TypeError/ValueError for bad input.
    Availability: Linux.
    """
    g, t = _int(tgid, "tgid"), _int(tid, "tid")
    if not (0 < g < (1 << 31) and 0 < t < (1 << 31)):
        raise ValueError("tgid and tid must be positive pid_t values")
    _s.check(_s.syscall(_NR_TGKILL, g, t, _signo(sig)), "tgkill")
