"""Linux backend of :mod:`vllsi.signal` (raw syscalls of :mod:`vllsi.linux.signal`)."""

from __future__ import annotations

from vllsi import errors
from vllsi.linux import fs
from vllsi.linux.signal import (
    SIGINFO_SIZE,
    SigInfo,
    kill,
    parse_signalfd_siginfo,
    rt_sigpending,
    rt_sigprocmask,
    rt_sigtimedwait,
    signalfd4,
)

__all__ = ["close", "kill", "rt_sigpending", "rt_sigprocmask", "rt_sigtimedwait",
           "signalfd4", "signalfd_read"]

close = fs.close


def signalfd_read(fd: int, max_records: int) -> list[SigInfo]:
    """read(signalfd): up to ``max_records`` records; [] on EAGAIN (non-blocking)."""
    buf = bytearray(SIGINFO_SIZE * max_records)
    try:
        n = fs.read(fd, buf)
    except errors.WouldBlock:
        return []
    view = memoryview(buf)
    return [parse_signalfd_siginfo(view[i:i + SIGINFO_SIZE])
            for i in range(0, n - n % SIGINFO_SIZE, SIGINFO_SIZE)]
