"""Winsock calls for real over loopback, with the stdlib ``socket`` as the peer;
bcrypt's RNG."""

from __future__ import annotations

import errno
import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllsi import errors
from vllsi import windows as w
from vllsi.windows import consts as C


@pytest.fixture
def listener() -> Any:
    s = w.wsa_socket(C.AF_INET, C.SOCK_STREAM, C.IPPROTO_TCP)
    w.bind(s, w.make_sockaddr(C.AF_INET, ("127.0.0.1", 0)))
    w.listen(s, 8)
    yield s
    w.closesocket(s)


@pytest.mark.covers("windows.wsa_socket", "windows.bind", "windows.listen", "windows.accept",
                    "windows.getsockname", "windows.getpeername", "windows.send", "windows.recv",
                    "windows.shutdown", "windows.closesocket", "windows.parse_sockaddr")
def test_tcp_with_stdlib_peer(listener: int) -> None:
    host, port = w.parse_sockaddr(w.getsockname(listener))
    assert host == "127.0.0.1" and port > 0
    peer = socket.create_connection((host, port), timeout=30)
    try:
        s, raw = w.accept(listener)
        try:
            assert w.parse_sockaddr(raw) == peer.getsockname()
            assert w.parse_sockaddr(w.getpeername(s)) == peer.getsockname()
            peer.sendall(b"ping")
            buf = bytearray(16)
            assert w.recv(s, buf) == 4 and buf[:4] == b"ping"
            assert w.send(s, b"pong!") == 5
            assert peer.recv(16) == b"pong!"
            peer.shutdown(socket.SHUT_WR)
            assert w.recv(s, buf) == 0  # orderly shutdown
            w.shutdown(s, C.SD_SEND)
            assert peer.recv(16) == b""
        finally:
            w.closesocket(s)
    finally:
        peer.close()
    # A handle value that is never a socket (kernel handles are multiples of 4):
    # closing `s` again would race any thread of the session that gets its value.
    with pytest.raises(OSError) as ei:
        w.closesocket(1)
    assert ei.value.winerror == 10038 and ei.value.errno == errno.ENOTSOCK


@pytest.mark.covers("windows.connect", "windows.wsa_socket", "windows.make_sockaddr")
def test_connect_to_stdlib_listener_and_refused() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    c = w.wsa_socket(C.AF_INET, C.SOCK_STREAM)
    try:
        w.connect(c, w.make_sockaddr(C.AF_INET, ("127.0.0.1", port)))
        conn, addr = srv.accept()
        assert addr == w.parse_sockaddr(w.getsockname(c))
        conn.close()
    finally:
        w.closesocket(c)
        srv.close()
    c = w.wsa_socket(C.AF_INET, C.SOCK_STREAM)
    try:
        with pytest.raises(errors.VllsiError) as ei:
            w.connect(c, w.make_sockaddr(C.AF_INET, ("127.0.0.1", port)))
        assert ei.value.winerror == 10061 and ei.value.errno == errno.ECONNREFUSED
    finally:
        w.closesocket(c)


@pytest.mark.covers("windows.ioctlsocket", "windows.accept", "windows.recv")
def test_nonblocking_would_block(listener: int) -> None:
    assert w.ioctlsocket(listener, C.FIONBIO, 1) == 1
    with pytest.raises(errors.WouldBlock) as ei:
        w.accept(listener)
    assert ei.value.winerror == 10035 and ei.value.errno == errno.EWOULDBLOCK


@pytest.mark.covers("windows.setsockopt", "windows.getsockopt")
def test_socket_options(listener: int) -> None:
    c = w.wsa_socket(C.AF_INET, C.SOCK_STREAM)
    try:
        w.setsockopt(c, C.IPPROTO_TCP, C.TCP_NODELAY, 1)
        assert w.getsockopt(c, C.IPPROTO_TCP, C.TCP_NODELAY) != 0
        w.setsockopt(c, C.SOL_SOCKET, C.SO_RCVBUF, 65536)
        assert w.getsockopt(c, C.SOL_SOCKET, C.SO_RCVBUF) >= 65536
        assert w.getsockopt(c, C.SOL_SOCKET, C.SO_TYPE) == C.SOCK_STREAM
        assert w.getsockopt(c, C.SOL_SOCKET, C.SO_ERROR) == 0
        assert len(w.getsockopt(c, C.SOL_SOCKET, C.SO_TYPE, 4)) == 4
        with pytest.raises(TypeError):
            w.setsockopt(c, C.SOL_SOCKET, C.SO_RCVBUF, 1.5)
        with pytest.raises(OSError) as ei:
            w.setsockopt(c, C.SOL_SOCKET, 0x7777, 1)
        assert ei.value.winerror in (10042, 10022)
    finally:
        w.closesocket(c)


@pytest.mark.covers("windows.make_sockaddr", "windows.parse_sockaddr")
def test_ipv6_loopback() -> None:
    s = w.wsa_socket(C.AF_INET6, C.SOCK_STREAM)
    try:
        w.bind(s, w.make_sockaddr(C.AF_INET6, ("::1", 0)))
        host, port, flow, _scope = w.parse_sockaddr(w.getsockname(s))
        assert host == "::1" and port > 0 and flow == 0
    finally:
        w.closesocket(s)


@given(st.ip_addresses(v=4), st.integers(0, 65535))
@pytest.mark.covers("windows.make_sockaddr", "windows.parse_sockaddr")
def test_sockaddr_roundtrip_v4(ip: Any, port: int) -> None:
    raw = w.make_sockaddr(C.AF_INET, (str(ip), port))
    assert len(raw) == 16 and raw[2:4] == port.to_bytes(2, "big")
    assert w.parse_sockaddr(raw) == (str(ip), port)


@given(st.ip_addresses(v=6), st.integers(0, 65535), st.integers(0, 2**20 - 1),
       st.integers(0, 2**32 - 1))
@pytest.mark.covers("windows.make_sockaddr", "windows.parse_sockaddr")
def test_sockaddr_roundtrip_v6(ip: Any, port: int, flow: int, scope: int) -> None:
    raw = w.make_sockaddr(C.AF_INET6, (str(ip), port, flow, scope))
    assert len(raw) == 28
    assert w.parse_sockaddr(raw) == (str(ip), port, flow, scope)


@pytest.mark.covers("windows.make_sockaddr", "windows.parse_sockaddr")
def test_sockaddr_validation() -> None:
    for fam, addr, exc in ((C.AF_INET, ("localhost", 1), ValueError),
                           (C.AF_INET, ("1.2.3.4", 70000), ValueError),
                           (C.AF_INET, "1.2.3.4", TypeError),
                           (C.AF_UNIX, "x" * 200, ValueError),
                           (99, ("1.2.3.4", 1), ValueError)):
        with pytest.raises(exc):
            w.make_sockaddr(fam, addr)
    assert w.parse_sockaddr(w.make_sockaddr(C.AF_UNIX, "C:\\sock")) == "C:\\sock"
    with pytest.raises(ValueError):
        w.parse_sockaddr(b"\x02")


@pytest.mark.covers("windows.wsa_startup", "windows.wsa_get_extension_function")
def test_startup_and_extension_functions(listener: int) -> None:
    assert w.wsa_startup()[0] == 0x0202
    for guid in (C.WSAID_ACCEPTEX, C.WSAID_CONNECTEX, C.WSAID_GETACCEPTEXSOCKADDRS):
        assert w.wsa_get_extension_function(listener, guid) != 0
    with pytest.raises(OSError):
        w.wsa_get_extension_function(listener, (1, 2, 3, (0,) * 8))


@pytest.mark.covers("windows.bcrypt_gen_random")
def test_bcrypt_gen_random() -> None:
    bufs = [bytearray(64) for _ in range(4)]
    for b in bufs:
        assert w.bcrypt_gen_random(b) == 64
    assert len({bytes(b) for b in bufs}) == 4 and all(any(b) for b in bufs)
    big = bytearray(1 << 20)
    w.bcrypt_gen_random(memoryview(big)[1:])  # any writable buffer, unaligned too
    assert big[0] == 0 and big.count(0) < 10000
    assert w.bcrypt_gen_random(bytearray()) == 0
    with pytest.raises(TypeError):
        w.bcrypt_gen_random(b"read-only")
