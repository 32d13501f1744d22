"""Sockets: socket/bind/listen/accept4/connect/send/recv/sendmsg/recvmsg/shutdown/
setsockopt/getsockopt/getsockname/getpeername for IPv4, IPv6 and Unix addresses.

Addresses are the :mod:`socket` module's forms: ``(host, port)`` (IPv4),
``(host, port[, flowinfo, scope_id])`` (IPv6; the family follows the socket),
a path (str/bytes/os.PathLike) for AF_UNIX, bytes starting with NUL for an
abstract Unix name. Hosts are numeric ("" = any, "localhost" = loopback): no
name resolution happens here. New descriptors are non-blocking and
close-on-exec by default (``nonblocking=False`` / ``cloexec=False`` to opt out).
L raw syscalls (no socketcall), D libSystem, W ws2_32.

Backend interface (``vllsi/<os>/impl/net_ops.py``): the same function names
with already-validated arguments, plus the constants.
"""

from __future__ import annotations

from typing import Any

from vllsi import _platform
from vllsi._args import int_arg as _int

__all__ = [
    "AF_INET",
    "AF_INET6",
    "AF_UNIX",
    "IPPROTO_TCP",
    "MSG_DONTWAIT",
    "MSG_PEEK",
    "SHUT_RD",
    "SHUT_RDWR",
    "SHUT_WR",
    "SOCK_DGRAM",
    "SOCK_STREAM",
    "SOL_SOCKET",
    "SO_ERROR",
    "SO_RCVBUF",
    "SO_REUSEADDR",
    "SO_SNDBUF",
    "TCP_NODELAY",
    "accept4",
    "bind",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "listen",
    "recv",
    "recv_into",
    "recvmsg",
    "send",
    "sendmsg",
    "setsockopt",
    "shutdown",
    "socket",
    "socketpair",
]

_impl = _platform.os_module("net_ops")

AF_INET: int = getattr(_impl, "AF_INET", 2)
AF_INET6: int = getattr(_impl, "AF_INET6", 10)
AF_UNIX: int = getattr(_impl, "AF_UNIX", 1)
SOCK_STREAM: int = getattr(_impl, "SOCK_STREAM", 1)
SOCK_DGRAM: int = getattr(_impl, "SOCK_DGRAM", 2)
SOL_SOCKET: int = getattr(_impl, "SOL_SOCKET", 1)
SO_REUSEADDR: int = getattr(_impl, "SO_REUSEADDR", 2)
SO_ERROR: int = getattr(_impl, "SO_ERROR", 4)
SO_SNDBUF: int = getattr(_impl, "SO_SNDBUF", 7)
SO_RCVBUF: int = getattr(_impl, "SO_RCVBUF", 8)
IPPROTO_TCP: int = getattr(_impl, "IPPROTO_TCP", 6)
TCP_NODELAY: int = getattr(_impl, "TCP_NODELAY", 1)
SHUT_RD: int = getattr(_impl, "SHUT_RD", 0)
SHUT_WR: int = getattr(_impl, "SHUT_WR", 1)
SHUT_RDWR: int = getattr(_impl, "SHUT_RDWR", 2)
MSG_PEEK: int = getattr(_impl, "MSG_PEEK", 2)
MSG_DONTWAIT: int = getattr(_impl, "MSG_DONTWAIT", 0x40)




def _bool(v: Any, name: str) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"{name} must be a bool")
    return v


def socket(family: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0, *,
           nonblocking: bool = True, cloexec: bool = True) -> int:
    """socket(family, type, proto): a new socket, non-blocking and close-on-exec by default.

    Returns the descriptor. Raises: VllsiError/EAFNOSUPPORT, InvalidArgument/EINVAL,
    ResourceExhausted/EMFILE; TypeError for non-int arguments.
    Availability: Linux (raw socket syscall), Windows (WSASocketW + FIONBIO).
    """
    return int(_impl.socket(_int(family, "family"), _int(type, "type"), _int(proto, "proto"),
                            _bool(nonblocking, "nonblocking"), _bool(cloexec, "cloexec")))


def socketpair(family: int = AF_UNIX, type: int = SOCK_STREAM, proto: int = 0, *,
               nonblocking: bool = True, cloexec: bool = True) -> tuple[int, int]:
    """socketpair(family, type, proto): two connected sockets (AF_UNIX).

    Raises: VllsiError/EOPNOTSUPP or EAFNOSUPPORT, ResourceExhausted/EMFILE.
    Availability: Linux; Windows (a loopback TCP pair, stream types only).
    """
    a, b = _impl.socketpair(_int(family, "family"), _int(type, "type"), _int(proto, "proto"),
                            _bool(nonblocking, "nonblocking"), _bool(cloexec, "cloexec"))
    return int(a), int(b)


def bind(fd: Any, address: Any) -> None:
    """bind(fd, address): set the local address (family taken from the socket).

    Raises: VllsiError/EADDRINUSE, PermissionDenied/EACCES, InvalidArgument/EINVAL;
    TypeError/ValueError for a malformed address. Availability: Linux, Windows.
    """
    _impl.bind(fd, address)


def listen(fd: Any, backlog: int = 128) -> None:
    """listen(fd, backlog): accept connections. Raises: VllsiError/EOPNOTSUPP,
    BadDescriptor/EBADF. Availability: Linux, Windows."""
    _impl.listen(fd, _int(backlog, "backlog"))


def accept4(fd: Any, *, nonblocking: bool = True, cloexec: bool = True) -> tuple[int, Any]:
    """accept4(fd): the next connection as ``(fd, peer address)``.

    Raises: WouldBlock/EAGAIN (non-blocking listener, nothing pending),
    InvalidArgument/EINVAL (not listening), ResourceExhausted/EMFILE. Blocking
    listeners block (GIL released, EINTR retried). Availability: Linux, Windows.
    """
    new, address = _impl.accept4(fd, _bool(nonblocking, "nonblocking"), _bool(cloexec, "cloexec"))
    return int(new), address


def connect(fd: Any, address: Any) -> None:
    """connect(fd, address): connect the socket.

    A non-blocking socket raises WouldBlock/EINPROGRESS while the connection
    proceeds (check ``getsockopt(fd, SOL_SOCKET, SO_ERROR)`` once writable, or use
    the engine's Connect op). Raises: ConnectionRefused/ECONNREFUSED, TimedOut/ETIMEDOUT,
    NotFound/ENOENT (Unix path). Availability: Linux, Windows.
    """
    _impl.connect(fd, address)


def send(fd: Any, data: Any, flags: int = 0) -> int:
    """send(fd, data, flags): bytes sent (MSG_NOSIGNAL added: EPIPE is raised, never SIGPIPE).

    Raises: WouldBlock/EAGAIN, BrokenPipe/EPIPE, ConnectionReset/ECONNRESET.
    Availability: Linux, Windows.
    """
    return int(_impl.send(fd, data, _int(flags, "flags")))


def recv(fd: Any, bufsize: int, flags: int = 0) -> bytes:
    """recv(fd, bufsize, flags): up to ``bufsize`` bytes (b"" at an orderly shutdown).

    Raises: WouldBlock/EAGAIN, ConnectionReset/ECONNRESET; ValueError for a negative size.
    Availability: Linux, Windows.
    """
    n = _int(bufsize, "bufsize")
    if n < 0:
        raise ValueError("bufsize must be >= 0")
    return bytes(_impl.recv(fd, n, _int(flags, "flags")))


def recv_into(fd: Any, buffer: Any, flags: int = 0) -> int:
    """recv(fd, buffer, flags): receive into a writable buffer; returns the count.

    Raises: as :func:`recv`; TypeError for a read-only buffer. Availability: Linux, Windows.
    """
    return int(_impl.recv_into(fd, buffer, _int(flags, "flags")))


def sendmsg(fd: Any, buffers: Any, ancdata: Any = (), flags: int = 0,
            address: Any = None) -> int:
    """sendmsg(fd, buffers, ancdata, flags, address): gather-send with ancillary data
    (``[(level, type, data)]``, e.g. SCM_RIGHTS). Returns the count.

    Raises: WouldBlock/EAGAIN, BrokenPipe/EPIPE, InvalidArgument/EINVAL.
    Availability: Linux; Windows without ancillary data or an address (Unsupported).
    """
    return int(_impl.sendmsg(fd, list(buffers), list(ancdata), _int(flags, "flags"), address))


def recvmsg(fd: Any, bufsize: int, ancbufsize: int = 0, flags: int = 0
            ) -> tuple[bytes, list[tuple[int, int, bytes]], int, Any]:
    """recvmsg(fd, bufsize, ancbufsize, flags) -> (data, ancdata, msg_flags, address).

    Raises: WouldBlock/EAGAIN, ConnectionReset/ECONNRESET. Availability: Linux, Windows.
    """
    data, anc, mflags, address = _impl.recvmsg(fd, _int(bufsize, "bufsize"),
                                               _int(ancbufsize, "ancbufsize"),
                                               _int(flags, "flags"))
    return bytes(data), list(anc), int(mflags), address


def shutdown(fd: Any, how: int) -> None:
    """shutdown(fd, how): SHUT_RD, SHUT_WR or SHUT_RDWR. Raises: VllsiError/ENOTCONN.
    Availability: Linux, Windows."""
    _impl.shutdown(fd, _int(how, "how"))


def setsockopt(fd: Any, level: int, optname: int, value: Any) -> None:
    """setsockopt(fd, level, optname, value): int or bytes value.
    Raises: VllsiError/ENOPROTOOPT, InvalidArgument/EINVAL.
    Availability: Linux, Windows."""
    _impl.setsockopt(fd, _int(level, "level"), _int(optname, "optname"), value)


def getsockopt(fd: Any, level: int, optname: int, buflen: int = 0) -> Any:
    """getsockopt(fd, level, optname, buflen): an int (buflen 0) or bytes.
    Raises: VllsiError/ENOPROTOOPT. Availability: Linux, Windows."""
    return _impl.getsockopt(fd, _int(level, "level"), _int(optname, "optname"),
                            _int(buflen, "buflen"))


def getsockname(fd: Any) -> Any:
    """getsockname(fd): the local address. Raises: BadDescriptor/EBADF,
    VllsiError/ENOTSOCK. Availability: Linux, Windows."""
    return _impl.getsockname(fd)


def getpeername(fd: Any) -> Any:
    """getpeername(fd): the peer's address. Raises: VllsiError/ENOTCONN.
    Availability: Linux, Windows."""
    return _impl.getpeername(fd)
