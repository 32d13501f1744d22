"""Typed wrappers of Winsock (ws2_32) calls, named after them.

Sockets are ints (SOCKET values). WSAStartup(2.2) runs once at import. Socket
addresses cross this layer as raw ``struct sockaddr_*`` bytes, as the OS sees
them: :func:`make_sockaddr` builds them from the ``socket`` module's address
forms ((host, port), (host, port, flowinfo, scope_id), or a path for AF_UNIX)
and :func:`parse_sockaddr` turns them back. Errors are WSAGetLastError() codes
(which is GetLastError), mapped to the errno of the same name and raised
through the factory with ``.winerror`` kept. Windows has no EINTR: PEP 475
retries do not apply.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any, Final

from vllsi.windows import consts as C
from vllsi.windows._args import int_arg
from vllsi.windows._ffi import buffer, ffi, raise_winerror, ws2_32

__all__ = [
    "accept",
    "bind",
    "closesocket",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "ioctlsocket",
    "listen",
    "make_sockaddr",
    "parse_sockaddr",
    "recv",
    "send",
    "setsockopt",
    "shutdown",
    "wsa_get_extension_function",
    "wsa_socket",
    "wsa_startup",
]

INVALID_SOCKET: Final = C.INVALID_SOCKET
_SOCKET_ERROR: Final = -1
_SS: Final = ffi.sizeof("struct sockaddr_storage")


def wsa_startup() -> tuple[int, int]:
    """WSAStartup(2.2, &data): (version, highest version) as (major, minor) WORDs packed.

    Idempotent (reference counted by Winsock); called once at import.
    Raises: the returned error code (no WSAGetLastError yet). Availability: Windows.
    """
    data = ffi.new("WSADATA *")
    rc = int(ws2_32.WSAStartup(0x0202, data))
    if rc:
        raise_winerror("WSAStartup", code=rc)
    return int(data.wVersion), int(data.wHighVersion)


wsa_startup()


def _sock(s: Any) -> int:
    if isinstance(s, bool) or not (isinstance(s, int) or hasattr(s, "fileno")):
        raise TypeError(f"socket must be an int or have fileno(), not {type(s).__name__}")
    v = int(s) if isinstance(s, int) else int(s.fileno())
    if not 0 < v < INVALID_SOCKET:
        raise ValueError(f"socket {v} is not a valid SOCKET")
    return v


def _check(r: int, name: str) -> int:
    if r == _SOCKET_ERROR:
        raise_winerror(name)
    return r


def wsa_socket(family: int, type: int, proto: int = 0,
               flags: int = C.WSA_FLAG_OVERLAPPED | C.WSA_FLAG_NO_HANDLE_INHERIT) -> int:
    """WSASocketW(family, type, proto, NULL, 0, flags): a new socket.

    By default overlapped (usable with an IOCP) and not inheritable.
    Raises: Unsupported/EAFNOSUPPORT-class errors (WSAEAFNOSUPPORT...),
        ResourceExhausted/EMFILE. Availability: Windows.
    """
    for n, v in (("family", family), ("type", type), ("proto", proto)):
        int_arg(v, n, 0, 0x7FFFFFFF)
    int_arg(flags, "flags", 0, 0xFFFFFFFF)
    s = int(ws2_32.WSASocketW(family, type, proto, ffi.NULL, 0, flags))
    if s == INVALID_SOCKET:
        raise_winerror("WSASocketW")
    return s


def closesocket(s: int) -> None:
    """closesocket(s). Raises: OSError ENOTSOCK (WSAENOTSOCK). Availability: Windows."""
    _check(int(ws2_32.closesocket(_sock(s))), "closesocket")


def make_sockaddr(family: int, address: Any) -> bytes:
    """The raw ``struct sockaddr_in/in6/un`` bytes for a socket-module address.

    AF_INET: (host, port) with a numeric host ("" = any); AF_INET6: (host, port[,
    flowinfo[, scope_id]]); AF_UNIX: a path (str, bytes or os.PathLike, at most
    107 bytes). No name resolution. Raises: ValueError/TypeError for a bad
    address. Availability: Windows.
    """
    if family == C.AF_INET:
        host, port = _host_port(address, 2)
        a4 = ipaddress.IPv4Address(host or "0.0.0.0")
        sa = ffi.new("struct sockaddr_in *")
        sa.sin_family = C.AF_INET
        sa.sin_port = int.from_bytes(port.to_bytes(2, "big"), "little")
        ffi.memmove(ffi.addressof(sa.sin_addr), a4.packed, 4)
        return bytes(ffi.buffer(sa))
    if family == C.AF_INET6:
        host, port = _host_port(address, 4)
        rest = [*list(address[2:]), 0, 0]
        flowinfo = int_arg(rest[0], "flowinfo", 0, 0xFFFFFFFF)
        scope = int_arg(rest[1], "scope_id", 0, 0xFFFFFFFF)
        a6 = ipaddress.IPv6Address(host or "::")
        sa6 = ffi.new("struct sockaddr_in6 *")
        sa6.sin6_family = C.AF_INET6
        sa6.sin6_port = int.from_bytes(port.to_bytes(2, "big"), "little")
        sa6.sin6_flowinfo = flowinfo
        sa6.sin6_scope_id = scope
        ffi.memmove(ffi.addressof(sa6.sin6_addr), a6.packed, 16)
        return bytes(ffi.buffer(sa6))
    if family == C.AF_UNIX:
        try:
            path = os.fsencode(address)
        except TypeError:
            raise TypeError("an AF_UNIX address is a path") from None
        if len(path) > 107 or b"\0" in path:
            raise ValueError("AF_UNIX path too long or contains NUL")
        return C.AF_UNIX.to_bytes(2, "little") + path + b"\0"
    raise ValueError(f"unsupported address family {family}")


def _host_port(address: Any, maxlen: int) -> tuple[str, int]:
    if not isinstance(address, tuple) or not 2 <= len(address) <= maxlen:
        raise TypeError("address must be a (host, port, ...) tuple")
    host, port = address[0], address[1]
    if not isinstance(host, str):
        raise TypeError("host must be a str")
    int_arg(port, "port", 0, 0xFFFF)
    return host, port


def parse_sockaddr(raw: bytes) -> Any:
    """The socket-module form of raw sockaddr bytes (see :func:`make_sockaddr`).

    Raises: ValueError for a truncated or unknown address. Availability: Windows.
    """
    if len(raw) < 2:
        raise ValueError("sockaddr too short")
    fam = int.from_bytes(raw[:2], "little")
    if fam == C.AF_INET and len(raw) >= 8:
        return (str(ipaddress.IPv4Address(raw[4:8])), int.from_bytes(raw[2:4], "big"))
    if fam == C.AF_INET6 and len(raw) >= 28:
        return (str(ipaddress.IPv6Address(raw[8:24])), int.from_bytes(raw[2:4], "big"),
                int.from_bytes(raw[4:8], "little"), int.from_bytes(raw[24:28], "little"))
    if fam == C.AF_UNIX:
        return os.fsdecode(raw[2:].split(b"\0", 1)[0])
    raise ValueError(f"cannot parse a sockaddr of family {fam} and length {len(raw)}")


def _sa(raw: Any) -> tuple[Any, int]:
    if not isinstance(raw, (bytes, bytearray)):
        raise TypeError("a raw sockaddr (bytes from make_sockaddr) is required")
    if not 2 <= len(raw) <= _SS:
        raise ValueError("bad sockaddr length")
    buf = ffi.new("char[]", bytes(raw))
    return ffi.cast("struct sockaddr *", buf), len(raw), buf  # type: ignore[return-value]


def bind(s: int, addr: bytes) -> None:
    """bind(s, addr, len): ``addr`` from :func:`make_sockaddr`.

    Raises: OSError EADDRINUSE (WSAEADDRINUSE), EADDRNOTAVAIL, PermissionDenied/EACCES.
    Availability: Windows.
    """
    sock = _sock(s)
    p, n, _keep = _sa(addr)  # type: ignore[misc]
    _check(int(ws2_32.bind(sock, p, n)), "bind")


def listen(s: int, backlog: int = C.SOMAXCONN) -> None:
    """listen(s, backlog). Raises: InvalidArgument/EINVAL (unbound). Availability: Windows."""
    int_arg(backlog, "backlog", 0, 0x7FFFFFFF)
    _check(int(ws2_32.listen(_sock(s), backlog)), "listen")


def accept(s: int) -> tuple[int, bytes]:
    """accept(s, &addr, &len): (new socket, raw peer sockaddr).

    On a non-blocking socket with nothing pending raises WouldBlock/EWOULDBLOCK.
    The new socket inherits the listener's properties. Availability: Windows.
    """
    sock = _sock(s)
    ss = ffi.new("struct sockaddr_storage *")
    n = ffi.new("int *", _SS)
    r = int(ws2_32.accept(sock, ffi.cast("struct sockaddr *", ss), n))
    if r == INVALID_SOCKET:
        raise_winerror("accept")
    return r, bytes(ffi.buffer(ss, n[0]))


def connect(s: int, addr: bytes) -> None:
    """connect(s, addr, len). A non-blocking socket raises WouldBlock/EWOULDBLOCK
    while the connection is in progress (check SO_ERROR when writable).

    Raises: OSError ECONNREFUSED (WSAECONNREFUSED), ETIMEDOUT... Availability: Windows.
    """
    sock = _sock(s)
    p, n, _keep = _sa(addr)  # type: ignore[misc]
    _check(int(ws2_32.connect(sock, p, n)), "connect")


def send(s: int, data: Any, flags: int = 0) -> int:
    """send(s, data, len, flags): bytes sent (short counts returned).

    Raises: WouldBlock/EWOULDBLOCK (non-blocking, buffer full), OSError ECONNRESET,
        EPIPE (WSAESHUTDOWN). Availability: Windows.
    """
    sock = _sock(s)
    cbuf = buffer(data, writable=False)
    int_arg(flags, "flags", 0, 0x7FFFFFFF)
    return _check(int(ws2_32.send(sock, cbuf, min(len(cbuf), 0x7FFFFFFF), flags)), "send")


def recv(s: int, buf: Any, flags: int = 0) -> int:
    """recv(s, buf, len, flags): bytes received into ``buf`` (0 at orderly shutdown).

    Raises: WouldBlock/EWOULDBLOCK (non-blocking, nothing ready), OSError ECONNRESET.
    Availability: Windows.
    """
    sock = _sock(s)
    cbuf = buffer(buf, writable=True)
    int_arg(flags, "flags", 0, 0x7FFFFFFF)
    return _check(int(ws2_32.recv(sock, cbuf, min(len(cbuf), 0x7FFFFFFF), flags)), "recv")


def shutdown(s: int, how: int) -> None:
    """shutdown(s, SD_RECEIVE | SD_SEND | SD_BOTH). Raises: OSError ENOTCONN.

    Availability: Windows.
    """
    int_arg(how, "how", 0, 2)
    _check(int(ws2_32.shutdown(_sock(s), how)), "shutdown")


def setsockopt(s: int, level: int, option: int, value: Any) -> None:
    """setsockopt(s, level, option, value): an int (as a 4-byte int) or raw bytes.

    Raises: OSError ENOPROTOOPT (WSAENOPROTOOPT), InvalidArgument/EINVAL.
    Availability: Windows.
    """
    sock = _sock(s)
    int_arg(level, "level", -(1 << 31), (1 << 31) - 1)
    int_arg(option, "option", -(1 << 31), (1 << 31) - 1)
    if isinstance(value, int) and not isinstance(value, bool):
        raw = int_arg(value, "value", -(1 << 31), (1 << 32) - 1).to_bytes(
            4, "little", signed=value < 0)
    elif isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        raise TypeError("value must be an int or bytes")
    cbuf = ffi.new("char[]", raw)
    _check(int(ws2_32.setsockopt(sock, level, option, cbuf, len(raw))), "setsockopt")


def getsockopt(s: int, level: int, option: int, buflen: int = 0) -> Any:
    """getsockopt(s, level, option, &buf, &len): an int when ``buflen`` is 0, else bytes.

    Raises: OSError ENOPROTOOPT. Availability: Windows.
    """
    sock = _sock(s)
    int_arg(buflen, "buflen", 0, 1 << 16)
    size = buflen or 4
    cbuf = ffi.new("char[]", size)
    n = ffi.new("int *", size)
    _check(int(ws2_32.getsockopt(sock, level, option, cbuf, n)), "getsockopt")
    raw = bytes(ffi.buffer(cbuf, n[0]))
    if buflen:
        return raw
    return int.from_bytes(raw[:4].ljust(4, b"\0"), "little", signed=True)


def getsockname(s: int) -> bytes:
    """getsockname(s): the raw local sockaddr. Availability: Windows."""
    return _name(s, "getsockname")


def getpeername(s: int) -> bytes:
    """getpeername(s): the raw peer sockaddr. Raises: OSError ENOTCONN. Availability: Windows."""
    return _name(s, "getpeername")


def _name(s: int, which: str) -> bytes:
    sock = _sock(s)
    ss = ffi.new("struct sockaddr_storage *")
    n = ffi.new("int *", _SS)
    _check(int(getattr(ws2_32, which)(sock, ffi.cast("struct sockaddr *", ss), n)), which)
    return bytes(ffi.buffer(ss, n[0]))


def ioctlsocket(s: int, cmd: int, arg: int) -> int:
    """ioctlsocket(s, cmd, &arg): the value left in ``arg`` (FIONBIO 1 = non-blocking).

    Availability: Windows.
    """
    sock = _sock(s)
    int_arg(cmd, "cmd", 0, 0xFFFFFFFF)
    v = ffi.new("ULONG *", int_arg(arg, "arg", 0, 0xFFFFFFFF))
    _check(int(ws2_32.ioctlsocket(sock, ffi.cast("long", cmd), v)), "ioctlsocket")
    return int(v[0])


def wsa_get_extension_function(s: int, guid: tuple[int, int, int, tuple[int, ...]]) -> int:
    """WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid): the function's address.

    ``guid`` is (Data1, Data2, Data3, Data4), e.g. ``consts.WSAID_ACCEPTEX``.
    Raises: InvalidArgument/EINVAL for an unknown GUID. Availability: Windows.
    """
    sock = _sock(s)
    g = ffi.new("GUID *")
    g.Data1, g.Data2, g.Data3 = guid[0], guid[1], guid[2]
    for i, b in enumerate(guid[3]):
        g.Data4[i] = b
    out = ffi.new("void **")
    n = ffi.new("DWORD *")
    _check(int(ws2_32.WSAIoctl(sock, C.SIO_GET_EXTENSION_FUNCTION_POINTER, g,
                               ffi.sizeof("GUID"), out, ffi.sizeof("void *"), n, ffi.NULL,
                               ffi.NULL)), "WSAIoctl")
    return int(ffi.cast("uintptr_t", out[0]))
