"""``struct sockaddr_in`` / ``sockaddr_in6`` / ``sockaddr_un`` <-> the socket module's forms.

Layouts (include/uapi/linux/in.h, in6.h, un.h): family is a host-order u16;
ports, IPv4/IPv6 addresses and flowinfo are network order; scope_id is host
order. Numeric hosts only (no name resolution): "" means INADDR_ANY /
in6addr_any and "localhost" the loopback of the family. Addresses are parsed
with :func:`socket.inet_pton` (pure computation, no OS call).
"""

from __future__ import annotations

import os
import socket as _socket
import struct
from typing import Any, Final

AF_UNIX: Final = 1
AF_INET: Final = 2
AF_INET6: Final = 10
SOCKADDR_MAX: Final = 128  # sizeof(struct sockaddr_storage)
_UN_PATH_MAX: Final = 108


def family_of(address: Any) -> int:
    """The address family an address form implies (AF_UNIX for paths)."""
    if isinstance(address, (str, bytes, os.PathLike)):
        return AF_UNIX
    if isinstance(address, tuple):
        if len(address) == 4:
            return AF_INET6
        if len(address) == 2 and isinstance(address[0], str) and ":" in address[0]:
            return AF_INET6
        if len(address) == 2:
            return AF_INET
    raise TypeError(f"not a socket address: {address!r}")


def _port(p: Any) -> int:
    if isinstance(p, bool) or not isinstance(p, int):
        raise TypeError(f"port must be int, not {type(p).__name__}")
    if not 0 <= p <= 0xFFFF:
        raise ValueError(f"port {p} outside 0..65535")
    return p


def _host(h: Any, family: int) -> bytes:
    if not isinstance(h, str):
        raise TypeError(f"host must be str, not {type(h).__name__}")
    if h == "":
        return bytes(4 if family == AF_INET else 16)
    if h == "localhost":
        h = "127.0.0.1" if family == AF_INET else "::1"
    try:
        return _socket.inet_pton(family, h.split("%", 1)[0] if family == AF_INET6 else h)
    except OSError:
        raise ValueError(f"{h!r} is not a numeric IPv{4 if family == AF_INET else 6} "
                         "address (no name resolution here)") from None


def encode(family: int, address: Any) -> bytes:
    """The raw sockaddr for ``address`` in ``family``; TypeError/ValueError if malformed."""
    if family == AF_INET:
        if not (isinstance(address, tuple) and len(address) == 2):
            raise TypeError("an AF_INET address is (host, port)")
        return struct.pack("=H", AF_INET) + struct.pack(">H", _port(address[1])) + \
            _host(address[0], AF_INET) + bytes(8)
    if family == AF_INET6:
        if not (isinstance(address, tuple) and len(address) in (2, 3, 4)):
            raise TypeError("an AF_INET6 address is (host, port[, flowinfo[, scope_id]])")
        flow = address[2] if len(address) > 2 else 0
        scope = address[3] if len(address) > 3 else 0
        for v, n in ((flow, "flowinfo"), (scope, "scope_id")):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
                raise ValueError(f"{n} must be an int in 0..2**32-1")
        return (struct.pack("=H", AF_INET6) + struct.pack(">HI", _port(address[1]), flow)
                + _host(address[0], AF_INET6) + struct.pack("=I", scope))
    if family == AF_UNIX:
        if isinstance(address, tuple):
            raise TypeError("an AF_UNIX address is a path (str, bytes, os.PathLike)")
        p = os.fsencode(address)
        abstract = p.startswith(b"\0")
        if not abstract and b"\0" in p:
            raise ValueError("Unix socket path contains a NUL byte")
        if len(p) > (_UN_PATH_MAX if abstract else _UN_PATH_MAX - 1):
            raise ValueError(f"Unix socket path longer than {_UN_PATH_MAX - 1} bytes")
        return struct.pack("=H", AF_UNIX) + p + (b"" if abstract or not p else b"\0")
    raise ValueError(f"unsupported address family {family}")


def decode(raw: bytes | bytearray | memoryview) -> Any:
    """The socket module's form of a raw sockaddr (``raw`` trimmed to its length)."""
    raw = bytes(raw)
    if len(raw) < 2:
        return ""  # an unnamed socket (length 0 from the kernel)
    (fam,) = struct.unpack_from("=H", raw)
    if fam == AF_INET:
        port = struct.unpack_from(">H", raw, 2)[0]
        return (_socket.inet_ntop(AF_INET, raw[4:8]), port)
    if fam == AF_INET6:
        port, flow = struct.unpack_from(">HI", raw, 2)
        (scope,) = struct.unpack_from("=I", raw, 24)
        return (_socket.inet_ntop(AF_INET6, raw[8:24]), port, flow, scope)
    if fam == AF_UNIX:
        path = raw[2:]
        if path.startswith(b"\0"):
            return path
        return os.fsdecode(path.split(b"\0", 1)[0])
    return (fam, raw[2:])
