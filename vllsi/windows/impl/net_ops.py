"""Windows backend of :mod:`vllsi.net_ops` over Winsock (:mod:`vllsi.windows.ws2_32`).

Differences from POSIX, handled here and documented:

- Sockets are created overlapped (usable by the IOCP engine) with
  WSA_FLAG_NO_HANDLE_INHERIT when ``cloexec``; ``nonblocking`` is FIONBIO. An
  accepted socket inherits its listener's settings; ``accept4`` (and
  ``socketpair`` for its accepted end) then sets FIONBIO and the handle's
  inheritability as asked.
- Winsock reports would-block as WSAEWOULDBLOCK (EWOULDBLOCK) and an in-progress
  connect on a non-blocking socket as WSAEWOULDBLOCK too (not EINPROGRESS); both
  are WouldBlock.
- ``MSG_DONTWAIT`` does not exist on Windows: this backend defines it as a
  private bit (0x40000000) and emulates it by switching the socket to
  non-blocking for the call (a blocking socket is switched back afterwards;
  the mode vllsi set is remembered per socket).
- ``socketpair``: Windows has none; a connected loopback TCP pair is made (for
  AF_UNIX requests too), like CPython's ``socket.socketpair`` on Windows.
- The family of an address is the socket's (remembered when vllsi made the
  socket, else inferred from the address form); "localhost" is the loopback
  address of that family; no name resolution.
- ``sendmsg``/``recvmsg`` carry no ancillary data on Windows (Unsupported if
  some is given); ``sendmsg`` with an address is Unsupported on stream sockets'
  behalf of WSASendTo being a different call.
- send never raises SIGPIPE-like signals (Windows has none): EPIPE/ECONNRESET are
  raised.
"""

from __future__ import annotations

import threading
from typing import Any

from vllsi import errors
from vllsi.windows import consts as C
from vllsi.windows import kernel32
from vllsi.windows import ws2_32 as _w
from vllsi.windows._ffi import buffer, ffi, raise_winerror
from vllsi.windows._ffi import ws2_32 as _raw

AF_INET = C.AF_INET
AF_INET6 = C.AF_INET6
AF_UNIX = C.AF_UNIX
SOCK_STREAM = C.SOCK_STREAM
SOCK_DGRAM = C.SOCK_DGRAM
SOL_SOCKET = C.SOL_SOCKET
SO_REUSEADDR = C.SO_REUSEADDR
SO_ERROR = C.SO_ERROR
SO_SNDBUF = C.SO_SNDBUF
SO_RCVBUF = C.SO_RCVBUF
IPPROTO_TCP = C.IPPROTO_TCP
TCP_NODELAY = C.TCP_NODELAY
SHUT_RD = C.SD_RECEIVE
SHUT_WR = C.SD_SEND
SHUT_RDWR = C.SD_BOTH
MSG_PEEK = C.MSG_PEEK
MSG_DONTWAIT = 0x40000000  # vllsi's emulated flag (see the module docstring)

_known: dict[int, tuple[int, bool]] = {}  # socket -> (family, non-blocking)
_lock = threading.Lock()


def _remember(s: int, family: int, nonblocking: bool) -> None:
    with _lock:
        _known[s] = (family, nonblocking)


def _sock(fd: Any) -> int:
    if isinstance(fd, bool) or not (isinstance(fd, int) or hasattr(fd, "fileno")):
        raise TypeError(f"fd must be an int or have fileno(), not {type(fd).__name__}")
    return int(fd) if isinstance(fd, int) else int(fd.fileno())


def _set_nonblocking(s: int, on: bool) -> None:
    _w.ioctlsocket(s, C.FIONBIO, 1 if on else 0)
    with _lock:
        fam = _known.get(s, (0, False))[0]
        _known[s] = (fam, on)


def _set_inheritable(s: int, on: bool) -> None:
    # An accepted socket's inheritability is not reliably its listener's (Wine makes
    # it inheritable): set it explicitly, either way.
    kernel32.set_handle_information(s, C.HANDLE_FLAG_INHERIT, C.HANDLE_FLAG_INHERIT if on else 0)


def socket(family: int, type: int, proto: int, nonblocking: bool, cloexec: bool) -> int:
    flags = C.WSA_FLAG_OVERLAPPED | (C.WSA_FLAG_NO_HANDLE_INHERIT if cloexec else 0)
    s = _w.wsa_socket(family, type, proto, flags)
    try:
        if nonblocking:
            _w.ioctlsocket(s, C.FIONBIO, 1)
    except BaseException:
        _w.closesocket(s)
        raise
    _remember(s, family, nonblocking)
    return s


def socketpair(family: int, type: int, proto: int, nonblocking: bool, cloexec: bool
               ) -> tuple[int, int]:
    if type != SOCK_STREAM:
        raise errors.unsupported("socketpair of a non-stream type on Windows",
                                 syscall="socketpair")
    fam = AF_INET6 if family == AF_INET6 else AF_INET
    host = "::1" if fam == AF_INET6 else "127.0.0.1"
    ls = socket(fam, SOCK_STREAM, 0, False, True)
    try:
        _w.bind(ls, _w.make_sockaddr(fam, (host, 0)))
        _w.listen(ls, 1)
        port = _w.parse_sockaddr(_w.getsockname(ls))[1]
        a = socket(fam, SOCK_STREAM, 0, False, cloexec)
        try:
            _w.connect(a, _w.make_sockaddr(fam, (host, port)))
            b, _ = _w.accept(ls)
        except BaseException:
            _w.closesocket(a)
            raise
    finally:
        _w.closesocket(ls)
    try:
        _set_inheritable(b, not cloexec)
    except BaseException:
        _w.closesocket(a)
        _w.closesocket(b)
        raise
    _remember(b, fam, False)
    if nonblocking:
        _set_nonblocking(a, True)
        _set_nonblocking(b, True)
    return a, b


def _family(s: int, address: Any) -> int:
    with _lock:
        known = _known.get(s)
    if known is not None and known[0]:
        return known[0]
    try:
        return int.from_bytes(_w.getsockname(s)[:2], "little")
    except OSError:
        pass
    if isinstance(address, (str, bytes)) or hasattr(address, "__fspath__"):
        return AF_UNIX
    if isinstance(address, tuple) and (len(address) == 4 or ":" in str(address[0])):
        return AF_INET6
    return AF_INET


def _encode(s: int, address: Any) -> bytes:
    fam = _family(s, address)
    if fam in (AF_INET, AF_INET6) and isinstance(address, tuple) and address and \
            address[0] == "localhost":
        address = ("127.0.0.1" if fam == AF_INET else "::1", *address[1:])
    return _w.make_sockaddr(fam, address)


def bind(fd: Any, address: Any) -> None:
    s = _sock(fd)
    _w.bind(s, _encode(s, address))


def listen(fd: Any, backlog: int) -> None:
    _w.listen(_sock(fd), backlog)


def accept4(fd: Any, nonblocking: bool, cloexec: bool) -> tuple[int, Any]:
    s = _sock(fd)
    new, raw = _w.accept(s)
    try:
        _w.ioctlsocket(new, C.FIONBIO, 1 if nonblocking else 0)
        _set_inheritable(new, not cloexec)
    except BaseException:
        _w.closesocket(new)
        raise
    _remember(new, int.from_bytes(raw[:2], "little"), nonblocking)
    return new, _w.parse_sockaddr(raw)


def connect(fd: Any, address: Any) -> None:
    s = _sock(fd)
    _w.connect(s, _encode(s, address))


def _dontwait(s: int, flags: int, call: Any) -> Any:
    if not flags & MSG_DONTWAIT:
        return call(flags)
    with _lock:
        was = _known.get(s, (0, False))[1]
    if was:
        return call(flags & ~MSG_DONTWAIT)
    _w.ioctlsocket(s, C.FIONBIO, 1)
    try:
        return call(flags & ~MSG_DONTWAIT)
    finally:
        _w.ioctlsocket(s, C.FIONBIO, 0)


def send(fd: Any, data: Any, flags: int) -> int:
    s = _sock(fd)
    return int(_dontwait(s, flags, lambda f: _w.send(s, data, f)))


def recv(fd: Any, n: int, flags: int) -> bytes:
    s = _sock(fd)
    buf = bytearray(n)
    got = int(_dontwait(s, flags, lambda f: _w.recv(s, buf, f)))
    del buf[got:]
    return bytes(buf)


def recv_into(fd: Any, buffer_: Any, flags: int) -> int:
    s = _sock(fd)
    return int(_dontwait(s, flags, lambda f: _w.recv(s, buffer_, f)))


def sendmsg(fd: Any, buffers: list[Any], ancdata: list[Any], flags: int, address: Any) -> int:
    s = _sock(fd)
    if ancdata or address is not None:
        raise errors.unsupported("sendmsg with ancillary data or an address on Windows",
                                 syscall="WSASend")
    cbufs = [buffer(b, writable=False) for b in buffers]
    wb = ffi.new("WSABUF[]", max(1, len(cbufs)))
    for i, cb in enumerate(cbufs):
        wb[i].len = len(cb)
        wb[i].buf = ffi.cast("CHAR *", cb)
    sent = ffi.new("DWORD *")

    def call(f: int) -> int:
        if _raw.WSASend(s, wb, len(cbufs), sent, f, ffi.NULL, ffi.NULL) != 0:
            raise_winerror("WSASend")
        return int(sent[0])

    return int(_dontwait(s, flags, call))


def recvmsg(fd: Any, bufsize: int, ancbufsize: int, flags: int
            ) -> tuple[bytes, list[tuple[int, int, bytes]], int, Any]:
    if bufsize < 0:
        raise ValueError("bufsize must be >= 0")
    if ancbufsize:
        raise errors.unsupported("recvmsg ancillary data on Windows", syscall="WSARecv")
    s = _sock(fd)
    data = recv(s, bufsize, flags)
    try:
        peer = _w.parse_sockaddr(_w.getpeername(s))
    except OSError:
        peer = None
    return data, [], 0, peer


def shutdown(fd: Any, how: int) -> None:
    _w.shutdown(_sock(fd), how)


def setsockopt(fd: Any, level: int, optname: int, value: Any) -> None:
    _w.setsockopt(_sock(fd), level, optname, value)


def getsockopt(fd: Any, level: int, optname: int, buflen: int) -> Any:
    return _w.getsockopt(_sock(fd), level, optname, buflen)


def getsockname(fd: Any) -> Any:
    return _w.parse_sockaddr(_w.getsockname(_sock(fd)))


def getpeername(fd: Any) -> Any:
    return _w.parse_sockaddr(_w.getpeername(_sock(fd)))
