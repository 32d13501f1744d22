"""Process syscalls: pidfd_open, pidfd_send_signal, wait4, waitid, exit_group.

getpid/getppid/gettid live in :mod:`vllsi.linux.proc`. Spawning (clone with
CLONE_VM|CLONE_VFORK, then execve) is C in ``_native/csrc/ffi/spawn.c``: no
Python may run between the two, so there is no raw ``clone`` wrapper here;
:func:`wait_status` decodes what wait4 returns, as ``subprocess`` does.
"""

from __future__ import annotations

from typing import Any, Final, NoReturn

from vllsi.linux import _syscall as _s
from vllsi.linux._ffi import addr, ffi
from vllsi.linux.signal import SIGINFO_SIZE, SigInfo, parse_siginfo

__all__ = [
    "PIDFD_NONBLOCK",
    "P_ALL",
    "P_PID",
    "P_PIDFD",
    "WEXITED",
    "WNOHANG",
    "WNOWAIT",
    "exit_group",
    "pidfd_open",
    "pidfd_send_signal",
    "wait4",
    "wait_status",
    "waitid",
]

# include/uapi/linux/wait.h, include/uapi/linux/pidfd.h
WNOHANG: Final = 0x1
WEXITED: Final = 0x4
WNOWAIT: Final = 0x01000000
P_ALL: Final = 0
P_PID: Final = 1
P_PIDFD: Final = 3
PIDFD_NONBLOCK: Final = 0o4000

_NR_PIDFD_OPEN: Final = _s.NR["pidfd_open"]
_NR_PIDFD_SEND_SIGNAL: Final = _s.NR["pidfd_send_signal"]
_NR_WAIT4: Final = _s.NR["wait4"]
_NR_WAITID: Final = _s.NR["waitid"]
_NR_EXIT_GROUP: Final = _s.NR["exit_group"]


def _int(v: Any, name: str, lo: int = -(1 << 31), hi: int = (1 << 31) - 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be int, not {type(v).__name__}")
    if not lo <= v <= hi:
        raise ValueError(f"{name} {v} outside {lo}..{hi}")
    return int(v)


def wait_status(status: int) -> int | None:
    """Decode a wait status: the exit code, ``-signal`` for a signalled child,
    or None for a stopped/continued report. Pure; as ``subprocess`` decodes.

    Raises: TypeError for a non-int. Availability: Linux (pure).
    """
    st = _int(status, "status", 0, 0xFFFFFFFF)
    sig = st & 0x7F
    if sig == 0:
        return (st >> 8) & 0xFF
    if sig == 0x7F or st == 0xFFFF:
        return None
    return -sig


def pidfd_open(pid: int, flags: int = 0) -> int:
    """pidfd_open(pid, flags): a descriptor referring to process ``pid`` (CLOEXEC).

    Args: pid: a live process (or zombie) id; flags: 0 or PIDFD_NONBLOCK.
    Returns: the pidfd (readable — poll says POLLIN — once the process exits).
    Raises: VllsiError/ESRCH (no such process), InvalidArgument/EINVAL,
        Unsupported/ENOSYS (kernel < 5.3), ResourceExhausted/EMFILE.
    Availability: Linux >= 5.3.
    """
    p = _int(pid, "pid", 1)
    f = _int(flags, "flags", 0)
    return _s.check(_s.syscall(_NR_PIDFD_OPEN, p, f), "pidfd_open")


def pidfd_send_signal(pidfd: Any, sig: int, flags: int = 0) -> None:
    """pidfd_send_signal(pidfd, sig, NULL, flags): signal the process behind a pidfd.

    Race-free against pid reuse: the descriptor names one process for ever.
    Raises: VllsiError/ESRCH (it has exited), PermissionDenied/EPERM,
        BadDescriptor/EBADF, InvalidArgument/EINVAL, Unsupported/ENOSYS (< 5.1).
    Availability: Linux >= 5.1.
    """
    fd = _s.fd_arg(pidfd, name="pidfd")
    s = _int(sig, "sig", 0, 64)
    f = _int(flags, "flags", 0)
    _s.check(_s.syscall(_NR_PIDFD_SEND_SIGNAL, fd, s, 0, f), "pidfd_send_signal")


def wait4(pid: int, options: int = 0) -> tuple[int, int]:
    """wait4(pid, &status, options, NULL): reap (or poll) a child.

    Releases the GIL; EINTR is retried (PEP 475).
    Args: pid: a child, -1 for any, 0 / -pgid for a group; options: WNOHANG...
    Returns: ``(pid, status)``; ``(0, 0)`` with WNOHANG when nothing changed.
        Decode ``status`` with :func:`wait_status`.
    Raises: VllsiError/ECHILD (no such child), InvalidArgument/EINVAL.
    Availability: Linux.
    """
    p = _int(pid, "pid")
    o = _int(options, "options", 0)
    st = ffi.new("int[1]")
    r = _s.retry(lambda: _s.syscall_blocking(_NR_WAIT4, p, addr(st), o, 0))
    r = _s.check(r, "wait4")
    return r, int(st[0]) & 0xFFFFFFFF if r else 0


def waitid(idtype: int, id: int, options: int = WEXITED) -> SigInfo | None:
    """waitid(idtype, id, &info, options, NULL): wait for a child state change.

    Releases the GIL; EINTR is retried (PEP 475).
    Args:
        idtype: P_PID, P_PIDFD (id is a pidfd) or P_ALL.
        options: WEXITED (and WNOHANG, WNOWAIT to leave it reapable).
    Returns: the child's SigInfo (``code`` CLD_EXITED=1 / CLD_KILLED=2 /
        CLD_DUMPED=3, ``status`` the exit code or signal), or None with WNOHANG
        when no child has changed state.
    Raises: VllsiError/ECHILD, InvalidArgument/EINVAL, BadDescriptor/EBADF.
    Availability: Linux (P_PIDFD >= 5.4).
    """
    t = _int(idtype, "idtype", 0)
    i = _int(id, "id", 0)
    o = _int(options, "options", 0)
    info = ffi.new("uint8_t[]", SIGINFO_SIZE)
    r = _s.retry(lambda: _s.syscall_blocking(_NR_WAITID, t, i, addr(info), o, 0))
    _s.check(r, "waitid")
    si = parse_siginfo(ffi.buffer(info))
    return None if si.pid == 0 and si.signo == 0 else si


def exit_group(status: int) -> NoReturn:
    """exit_group(status): end every thread of the process now.

    No atexit handlers, no buffer flushing, no finalisation (like ``os._exit``).
    Args: status: 0..255 (the low 8 bits reach the parent).
    Raises: TypeError/ValueError for bad input (before the call); never returns.
    Availability: Linux.
    """
    st = _int(status, "status", 0, 255)
    _s.syscall(_NR_EXIT_GROUP, st)
    raise AssertionError("exit_group returned")  # pragma: no cover
