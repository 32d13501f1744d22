"""Linux backend of :mod:`vllsi.net_ops` over :mod:`vllsi.linux.net` (raw syscalls)."""

from __future__ import annotations

from typing import Any

from vllsi.linux import _ops, _sockaddr
from vllsi.linux import net as _n
from vllsi.linux.net import (  # noqa: F401 (re-exported constants)
    AF_INET,
    AF_INET6,
    AF_UNIX,
    IPPROTO_TCP,
    MSG_DONTWAIT,
    MSG_PEEK,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SO_ERROR,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_SNDBUF,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOL_SOCKET,
    TCP_NODELAY,
)


def _flags(nonblocking: bool, cloexec: bool) -> int:
    return (_n.SOCK_NONBLOCK if nonblocking else 0) | (_n.SOCK_CLOEXEC if cloexec else 0)


def socket(family: int, type: int, proto: int, nonblocking: bool, cloexec: bool) -> int:
    return _n.socket(family, type | _flags(nonblocking, cloexec), proto)


def socketpair(family: int, type: int, proto: int, nonblocking: bool, cloexec: bool
               ) -> tuple[int, int]:
    return _n.socketpair(family, type | _flags(nonblocking, cloexec), proto)


def _encode(fd: Any, address: Any) -> bytes:
    from vllsi.linux._syscall import fd_arg

    return _ops.connect_sockaddr(fd_arg(fd), address)


def bind(fd: Any, address: Any) -> None:
    _n.bind(fd, _encode(fd, address))


def listen(fd: Any, backlog: int) -> None:
    _n.listen(fd, backlog)


def accept4(fd: Any, nonblocking: bool, cloexec: bool) -> tuple[int, Any]:
    new, raw = _n.accept4(fd, _flags(nonblocking, cloexec))
    return new, _sockaddr.decode(raw)


def connect(fd: Any, address: Any) -> None:
    _n.connect(fd, _encode(fd, address))


def send(fd: Any, data: Any, flags: int) -> int:
    return _n.sendto(fd, data, flags | _n.MSG_NOSIGNAL)


def recv(fd: Any, n: int, flags: int) -> bytes:
    buf = bytearray(n)
    got, _ = _n.recvfrom(fd, buf, flags)
    del buf[got:]
    return bytes(buf)


def recv_into(fd: Any, buffer: Any, flags: int) -> int:
    return _n.recvfrom(fd, buffer, flags)[0]


def sendmsg(fd: Any, buffers: list[Any], ancdata: list[Any], flags: int, address: Any) -> int:
    raw = None if address is None else _encode(fd, address)
    return _n.sendmsg(fd, buffers, ancdata, flags | _n.MSG_NOSIGNAL, raw)


def recvmsg(fd: Any, bufsize: int, ancbufsize: int, flags: int
            ) -> tuple[bytes, list[tuple[int, int, bytes]], int, Any]:
    if bufsize < 0:
        raise ValueError("bufsize must be >= 0")
    buf = bytearray(bufsize)
    n, anc, mflags, raw = _n.recvmsg(fd, [buf], ancbufsize, flags)
    return bytes(buf[:n]), anc, mflags, (_sockaddr.decode(raw) if raw else None)


def shutdown(fd: Any, how: int) -> None:
    _n.shutdown(fd, how)


def setsockopt(fd: Any, level: int, optname: int, value: Any) -> None:
    _n.setsockopt(fd, level, optname, value)


def getsockopt(fd: Any, level: int, optname: int, buflen: int) -> Any:
    return _n.getsockopt(fd, level, optname, buflen)


def getsockname(fd: Any) -> Any:
    return _sockaddr.decode(_n.getsockname(fd))


def getpeername(fd: Any) -> Any:
    return _sockaddr.decode(_n.getpeername(fd))
