"""Linux backend of :mod:`vllsi.embedded`: SyncEngine's ops as raw syscalls.

Interface (mirrored per OS): ``prepare(op) -> prepared`` (validate and pin;
TypeError/ValueError) and ``perform(op, prepared) -> (result, address)``
(one blocking execution; -errno as data).
"""

from __future__ import annotations

from typing import Any

from vllsi import io_engine as _ie
from vllsi.linux import _ops
from vllsi.linux import _syscall as _s

__all__ = ["perform", "prepare"]

prepare = _ops.prepare

_NR_EPOLL_CREATE1 = _s.NR["epoll_create1"]
_NR_EPOLL_CTL = _s.NR["epoll_ctl"]
_NR_EPOLL_PWAIT = _s.NR["epoll_pwait"]


def _wait_writable(fd: int) -> int:
    """Block until ``fd`` is writable (a connect in progress has finished)."""
    from vllsi.linux.event import EPOLLOUT, ffi

    ep = _s.syscall(_NR_EPOLL_CREATE1, 0o2000000)
    if ep < 0:
        return ep
    try:
        ev = ffi.new("struct epoll_event[1]")
        ev[0].events = EPOLLOUT
        a = int(ffi.cast("uintptr_t", ev))
        r = _s.syscall(_NR_EPOLL_CTL, ep, 1, fd, a)
        if r < 0:
            return r
        return _ops.retry(_NR_EPOLL_PWAIT, ep, a, 1, -1, 0, 8)
    finally:
        _s.syscall(_ops.NR_CLOSE, ep)


def perform(op: Any, p: Any) -> tuple[int, Any]:
    """Execute ``op`` now; ``(raw result, peer address or None)``."""
    t = type(op)
    if t is _ie.Read:
        return _ops.read(op.fd, p, op.offset), None
    if t is _ie.Write:
        return _ops.write(op.fd, p, op.offset), None
    if t is _ie.Recv:
        return _ops.recv(op.fd, p, op.flags), None
    if t is _ie.Send:
        return _ops.send(op.fd, p, op.flags), None
    if t is _ie.Accept:
        r = _ops.accept(op.fd, p)
        return r, (p.decode() if r >= 0 else None)
    if t is _ie.Connect:
        r = _ops.connect(op.fd, p)
        if r == -_ops.EINPROGRESS:
            w = _wait_writable(op.fd)
            r = w if w < 0 else _ops.so_error(op.fd)
        return r, None
    if t is _ie.Close:
        return _ops.close(op.fd), None
    if t is _ie.Fsync:
        return _ops.fsync(op.fd, op.datasync), None
    raise TypeError(f"not an op SyncEngine performs: {t.__name__}")
