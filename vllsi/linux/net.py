"""Typed wrappers for the socket syscalls, named after them (no socketcall).

Addresses cross this layer as raw ``struct sockaddr`` bytes, exactly what the
kernel reads and writes; :func:`sockaddr_encode` / :func:`sockaddr_decode`
convert from and to the :mod:`socket` module's forms ((host, port),
(host, port, flowinfo, scope_id), a Unix path). :mod:`vllsi.net_ops` is the
portable layer above. Calls that can block (accept4, connect, sendto,
recvfrom, sendmsg, recvmsg) release the GIL and follow PEP 475: on EINTR,
Python signal handlers run and the call is retried (connect waits for the
connection it started instead, as connect(2) requires).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any, Final

from vllsi.linux import _ops, _sockaddr
from vllsi.linux import _syscall as _s
from vllsi.linux._ffi import addr as _addr
from vllsi.linux._ffi import buffer as _buffer
from vllsi.linux._ffi import ffi

__all__ = [
    "AF_INET",
    "AF_INET6",
    "AF_UNIX",
    "IPPROTO_TCP",
    "MSG_DONTWAIT",
    "MSG_NOSIGNAL",
    "MSG_PEEK",
    "MSG_TRUNC",
    "MSG_WAITALL",
    "SCM_RIGHTS",
    "SHUT_RD",
    "SHUT_RDWR",
    "SHUT_WR",
    "SOCK_CLOEXEC",
    "SOCK_DGRAM",
    "SOCK_NONBLOCK",
    "SOCK_STREAM",
    "SOL_SOCKET",
    "SO_DOMAIN",
    "SO_ERROR",
    "SO_RCVBUF",
    "SO_REUSEADDR",
    "SO_SNDBUF",
    "SO_TYPE",
    "TCP_NODELAY",
    "accept4",
    "bind",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "listen",
    "recvfrom",
    "recvmsg",
    "sendmsg",
    "sendto",
    "setsockopt",
    "shutdown",
    "sockaddr_decode",
    "sockaddr_encode",
    "socket",
    "socketpair",
]

# include/linux/socket.h, include/uapi/asm-generic/socket.h, netinet/tcp.h
AF_UNIX: Final = 1
AF_INET: Final = 2
AF_INET6: Final = 10
SOCK_STREAM: Final = 1
SOCK_DGRAM: Final = 2
SOCK_NONBLOCK: Final = 0o4000
SOCK_CLOEXEC: Final = 0o2000000
SOL_SOCKET: Final = 1
SO_REUSEADDR: Final = 2
SO_TYPE: Final = 3
SO_ERROR: Final = 4
SO_SNDBUF: Final = 7
SO_RCVBUF: Final = 8
SO_DOMAIN: Final = 39
IPPROTO_TCP: Final = 6
TCP_NODELAY: Final = 1
SHUT_RD: Final = 0
SHUT_WR: Final = 1
SHUT_RDWR: Final = 2
MSG_PEEK: Final = 0x2
MSG_TRUNC: Final = 0x20
MSG_DONTWAIT: Final = 0x40
MSG_WAITALL: Final = 0x100
MSG_NOSIGNAL: Final = 0x4000
SCM_RIGHTS: Final = 1

_NR = _s.NR
_SA_MAX: Final = _sockaddr.SOCKADDR_MAX


def _int(v: Any, name: str) -> int:
    if type(v) is int:
        return v
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be int, not {type(v).__name__}")
    return int(v)


def _u32(v: Any, name: str) -> int:
    x = _int(v, name)
    if not 0 <= x <= 0xFFFFFFFF:
        raise ValueError(f"{name} {x} outside 0..2**32-1")
    return x


def _sa(raw: Any) -> Any:
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError(f"sockaddr must be bytes (see sockaddr_encode), not {type(raw).__name__}")
    b = bytes(raw)
    if not 2 <= len(b) <= _SA_MAX:
        raise ValueError(f"sockaddr length {len(b)} outside 2..{_SA_MAX}")
    return ffi.new("char[]", b), len(b)


def sockaddr_encode(family: int, address: Any) -> bytes:
    """The raw ``struct sockaddr_in/in6/un`` for a socket-module address.

    Numeric hosts only ("" = any, "localhost" = loopback). Raises: TypeError for
    a malformed address, ValueError for an out-of-range port, a non-numeric host,
    an over-long Unix path or an unknown family. Availability: Linux.
    """
    return _sockaddr.encode(_int(family, "family"), address)


def sockaddr_decode(raw: bytes) -> Any:
    """The socket-module form of a raw sockaddr ((host, port), (host, port, flow,
    scope), a path str, or bytes for an abstract Unix name; "" when unnamed).

    Raises: TypeError for non-bytes. Availability: Linux.
    """
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError("raw must be bytes")
    return _sockaddr.decode(raw)


def socket(domain: int, type: int, protocol: int = 0) -> int:
    """socket(domain, type, protocol): a new socket descriptor.

    ``type`` may include SOCK_NONBLOCK and SOCK_CLOEXEC (this layer adds nothing).
    Raises: VllsiError/EAFNOSUPPORT, InvalidArgument/EINVAL,
    PermissionDenied/EACCES, ResourceExhausted/EMFILE, ENFILE, ENOBUFS.
    Availability: Linux.
    """
    d, t, p = _u32(domain, "domain"), _u32(type, "type"), _u32(protocol, "protocol")
    return _s.check(_s.syscall(_NR["socket"], d, t, p), "socket")


def socketpair(domain: int, type: int, protocol: int = 0) -> tuple[int, int]:
    """socketpair(domain, type, protocol, sv): two connected sockets.

    Raises: VllsiError/EAFNOSUPPORT or EOPNOTSUPP (not AF_UNIX), ResourceExhausted/EMFILE.
    Availability: Linux.
    """
    d, t, p = _u32(domain, "domain"), _u32(type, "type"), _u32(protocol, "protocol")
    sv = ffi.new("int[2]")
    _s.check(_s.syscall(_NR["socketpair"], d, t, p, _addr(sv)), "socketpair")
    return int(sv[0]), int(sv[1])


def bind(fd: Any, sockaddr: bytes) -> None:
    """bind(fd, addr, addrlen): give a socket its local address (raw sockaddr bytes).

    Raises: VllsiError/EADDRINUSE, PermissionDenied/EACCES,
    InvalidArgument/EINVAL (already bound), BadDescriptor/EBADF,
    VllsiError/ENOTSOCK; TypeError/ValueError for a malformed sockaddr.
    Availability: Linux.
    """
    f = _s.fd_arg(fd)
    c, n = _sa(sockaddr)
    _s.check(_s.syscall(_NR["bind"], f, _addr(c), n), "bind")


def listen(fd: Any, backlog: int = 128) -> None:
    """listen(fd, backlog): accept connections on a bound stream socket.

    Raises: VllsiError/EADDRINUSE, EOPNOTSUPP, ENOTSOCK; BadDescriptor/EBADF.
    Availability: Linux.
    """
    f = _s.fd_arg(fd)
    b = _int(backlog, "backlog")
    if not 0 <= b <= 0x7FFFFFFF:
        raise ValueError("backlog must be in 0..2**31-1")
    _s.check(_s.syscall(_NR["listen"], f, b), "listen")


def accept4(fd: Any, flags: int = 0) -> tuple[int, bytes]:
    """accept4(fd, addr, addrlen, flags): take one pending connection.

    Args: flags: SOCK_NONBLOCK, SOCK_CLOEXEC for the new descriptor.
    Returns: ``(new_fd, raw peer sockaddr)``.
    Raises: WouldBlock/EAGAIN (non-blocking, none pending), InvalidArgument/EINVAL
    (not listening), ResourceExhausted/EMFILE, VllsiError/ECONNABORTED.
    Blocking, releases the GIL, EINTR retried. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    fl = _u32(flags, "flags")
    sb = _ops.SockBuf()
    r = _s.check(_ops.accept_flags(f, sb, fl), "accept4")
    return r, ffi.buffer(sb.cdata, min(sb.length, _SA_MAX))[:]


def connect(fd: Any, sockaddr: bytes) -> None:
    """connect(fd, addr, addrlen): connect a socket (raw sockaddr bytes).

    On a non-blocking socket raises WouldBlock/EINPROGRESS while the connection
    proceeds (wait for writability, then read SO_ERROR). EINTR: the connection
    continues asynchronously, so this waits for it and reports SO_ERROR (PEP 475).
    Raises: ConnectionRefused/ECONNREFUSED, ENETUNREACH, EISCONN; TimedOut/ETIMEDOUT;
    PermissionDenied/EACCES; NotFound/ENOENT (Unix path). Availability: Linux.
    """
    from vllsi.linux.impl.embedded import _wait_writable

    f = _s.fd_arg(fd)
    c, n = _sa(sockaddr)
    r = _s.syscall_blocking(_NR["connect"], f, _addr(c), n)
    if r == -_s.EINTR:
        w = _wait_writable(f)
        r = w if w < 0 else _ops.so_error(f)
    _s.check(r, "connect")


def sendto(fd: Any, data: Any, flags: int = 0, sockaddr: bytes | None = None) -> int:
    """sendto(fd, buf, len, flags, addr, addrlen): send bytes (to an address if given).

    Returns the byte count. Raises: WouldBlock/EAGAIN, BrokenPipe/EPIPE (with
    MSG_NOSIGNAL; else SIGPIPE, which CPython ignores), ECONNRESET, EMSGSIZE,
    ENOTCONN. Blocking, releases the GIL, EINTR retried. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    fl = _u32(flags, "flags")
    b = _buffer(data, writable=False)
    a, alen = (0, 0) if sockaddr is None else (_sa(sockaddr))
    aa = 0 if sockaddr is None else _addr(a)
    r = _ops.retry(_NR["sendto"], f, _addr(b), len(b), fl, aa, alen)
    return _s.check(r, "sendto")


def recvfrom(fd: Any, buf: Any, flags: int = 0) -> tuple[int, bytes]:
    """recvfrom(fd, buf, len, flags, addr, addrlen): receive into a writable buffer.

    Returns ``(count, raw sender sockaddr or b"")``; count 0 on an orderly shutdown.
    Raises: WouldBlock/EAGAIN, ConnectionReset/ECONNRESET, ENOTCONN; TypeError for a
    read-only buffer. Blocking, releases the GIL, EINTR retried. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    fl = _u32(flags, "flags")
    b = _buffer(buf, writable=True)
    sb = _ops.SockBuf()
    r = _ops.retry(_NR["recvfrom"], f, _addr(b), len(b), fl, sb.addr, sb.len_addr)
    n = _s.check(r, "recvfrom")
    return n, ffi.buffer(sb.cdata, min(sb.length, _SA_MAX))[:]


def _cmsg_space(n: int) -> int:
    return 16 + ((n + 7) & ~7)


def sendmsg(fd: Any, buffers: Iterable[Any], ancdata: Iterable[tuple[int, int, Any]] = (),
            flags: int = 0, sockaddr: bytes | None = None) -> int:
    """sendmsg(fd, &msghdr, flags): gather-send buffers with ancillary data.

    Args: buffers: readable buffers; ancdata: ``(level, type, data)`` items (e.g.
    ``(SOL_SOCKET, SCM_RIGHTS, array('i', fds))``); sockaddr: raw destination.
    Returns the byte count. Raises as :func:`sendto`, plus InvalidArgument/EINVAL
    (bad control data), VllsiError/EMSGSIZE (more than IOV_MAX buffers).
    Blocking, releases the GIL, EINTR retried. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    fl = _u32(flags, "flags")
    pins = [_buffer(b, writable=False) for b in buffers]
    iov = ffi.new("struct iovec[]", max(1, len(pins)))
    for i, p in enumerate(pins):
        iov[i].iov_base = p
        iov[i].iov_len = len(p)
    anc = [(_int(lv, "level"), _int(ty, "type"), bytes(memoryview(d).cast("B")))
           for lv, ty, d in ancdata]
    ctl = bytearray()
    for lv, ty, d in anc:
        ctl += struct.pack("=Qii", 16 + len(d), lv, ty) + d
        ctl += bytes(_cmsg_space(len(d)) - 16 - len(d))
    cbuf = ffi.new("char[]", bytes(ctl)) if ctl else None
    name, nlen = (None, 0) if sockaddr is None else _sa(sockaddr)
    msg = ffi.new("uint64_t[7]")
    msg[0] = 0 if name is None else _addr(name)
    msg[1] = nlen
    msg[2] = _addr(iov)
    msg[3] = len(pins)
    msg[4] = 0 if cbuf is None else _addr(cbuf)
    msg[5] = len(ctl)
    r = _ops.retry(_NR["sendmsg"], f, _addr(msg), fl)
    return _s.check(r, "sendmsg")


def recvmsg(fd: Any, buffers: Iterable[Any], ancbufsize: int = 0, flags: int = 0
            ) -> tuple[int, list[tuple[int, int, bytes]], int, bytes]:
    """recvmsg(fd, &msghdr, flags): scatter-receive with ancillary data.

    Returns ``(count, [(level, type, data)...], msg_flags, raw sender sockaddr)``.
    Descriptors received with SCM_RIGHTS are the caller's to close (MSG_CMSG_CLOEXEC
    is not implied). Raises as :func:`recvfrom`. Blocking, releases the GIL, EINTR
    retried. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    fl = _u32(flags, "flags")
    asz = _int(ancbufsize, "ancbufsize")
    if not 0 <= asz <= 1 << 20:
        raise ValueError("ancbufsize must be in 0..2**20")
    pins = [_buffer(b, writable=True) for b in buffers]
    iov = ffi.new("struct iovec[]", max(1, len(pins)))
    for i, p in enumerate(pins):
        iov[i].iov_base = p
        iov[i].iov_len = len(p)
    cbuf = ffi.new("char[]", asz) if asz else None
    name = ffi.new("char[]", _SA_MAX)
    msg = ffi.new("uint64_t[7]")
    msg[0] = _addr(name)
    msg[1] = _SA_MAX
    msg[2] = _addr(iov)
    msg[3] = len(pins)
    msg[4] = 0 if cbuf is None else _addr(cbuf)
    msg[5] = asz
    r = _ops.retry(_NR["recvmsg"], f, _addr(msg), fl)
    n = _s.check(r, "recvmsg")
    anc: list[tuple[int, int, bytes]] = []
    ctl = b"" if cbuf is None else ffi.buffer(cbuf, min(int(msg[5]), asz))[:]
    off = 0
    while off + 16 <= len(ctl):
        clen, lv, ty = struct.unpack_from("=Qii", ctl, off)
        if clen < 16:
            break
        anc.append((lv, ty, ctl[off + 16: off + min(clen, len(ctl) - off)]))
        off += _cmsg_space(clen - 16)
    msg_flags = int(msg[6]) & 0xFFFFFFFF
    return n, anc, msg_flags, ffi.buffer(name, min(int(msg[1]) & 0xFFFFFFFF, _SA_MAX))[:]


def shutdown(fd: Any, how: int) -> None:
    """shutdown(fd, how): shut down part of a full-duplex connection.

    Args: how: SHUT_RD, SHUT_WR or SHUT_RDWR.
    Raises: VllsiError/ENOTCONN, ENOTSOCK; BadDescriptor/EBADF; ValueError for a
    bad ``how``. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    h = _int(how, "how")
    if h not in (SHUT_RD, SHUT_WR, SHUT_RDWR):
        raise ValueError("how must be SHUT_RD, SHUT_WR or SHUT_RDWR")
    _s.check(_s.syscall(_NR["shutdown"], f, h), "shutdown")


def setsockopt(fd: Any, level: int, optname: int, value: Any) -> None:
    """setsockopt(fd, level, optname, optval, optlen): set a socket option.

    Args: value: an int (passed as a C int) or a readable buffer (passed as is).
    Raises: VllsiError/ENOPROTOOPT, InvalidArgument/EINVAL, BadDescriptor/EBADF.
    Availability: Linux.
    """
    f = _s.fd_arg(fd)
    lv, on = _u32(level, "level"), _u32(optname, "optname")
    if isinstance(value, int) and not isinstance(value, bool):
        if not -(1 << 31) <= value < 1 << 31:
            raise ValueError("an int option value must fit a C int")
        c = ffi.new("int *", value)
        a, n = _addr(c), 4
    elif isinstance(value, bool):
        c = ffi.new("int *", int(value))
        a, n = _addr(c), 4
    else:
        c = _buffer(value, writable=False)
        a, n = _addr(c), len(c)
    _s.check(_s.syscall(_NR["setsockopt"], f, lv, on, a, n), "setsockopt")


def getsockopt(fd: Any, level: int, optname: int, buflen: int = 0) -> Any:
    """getsockopt(fd, level, optname, optval, optlen): read a socket option.

    Returns: an int when ``buflen`` is 0, else up to ``buflen`` bytes.
    Raises: VllsiError/ENOPROTOOPT, BadDescriptor/EBADF, VllsiError/ENOTSOCK.
    Availability: Linux.
    """
    f = _s.fd_arg(fd)
    lv, on = _u32(level, "level"), _u32(optname, "optname")
    bl = _int(buflen, "buflen")
    if not 0 <= bl <= 1 << 16:
        raise ValueError("buflen must be in 0..65536")
    size = bl or 4
    buf = ffi.new("char[]", size + 4)
    ln = ffi.cast("uint32_t *", buf + size)
    ln[0] = size
    _s.check(_s.syscall(_NR["getsockopt"], f, lv, on, _addr(buf), _addr(ln)), "getsockopt")
    got = min(int(ln[0]), size)
    if bl == 0:
        return int(ffi.cast("int *", buf)[0])
    return ffi.buffer(buf, got)[:]


def _name(nr: int, fd: Any, what: str) -> bytes:
    f = _s.fd_arg(fd)
    sb = _ops.SockBuf()
    _s.check(_s.syscall(nr, f, sb.addr, sb.len_addr), what)
    raw: bytes = ffi.buffer(sb.cdata, min(sb.length, _SA_MAX))[:]
    return raw


def getsockname(fd: Any) -> bytes:
    """getsockname(fd, addr, addrlen): the socket's raw local sockaddr.

    Raises: BadDescriptor/EBADF, VllsiError/ENOTSOCK. Availability: Linux.
    """
    return _name(_NR["getsockname"], fd, "getsockname")


def getpeername(fd: Any) -> bytes:
    """getpeername(fd, addr, addrlen): the connected peer's raw sockaddr.

    Raises: VllsiError/ENOTCONN, BadDescriptor/EBADF, VllsiError/ENOTSOCK.
    Availability: Linux.
    """
    return _name(_NR["getpeername"], fd, "getpeername")
