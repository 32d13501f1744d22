"""Raw socket wrappers, differential against the socket module."""

from __future__ import annotations

import array
import errno
import os
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance._support import linux_only
from vllsi import errors, linux

pytestmark = linux_only

CONSTS = ["AF_INET", "AF_INET6", "AF_UNIX", "SOCK_STREAM", "SOCK_DGRAM", "SOCK_NONBLOCK",
          "SOCK_CLOEXEC", "SOL_SOCKET", "SO_REUSEADDR", "SO_TYPE", "SO_ERROR", "SO_SNDBUF",
          "SO_RCVBUF", "SO_DOMAIN", "IPPROTO_TCP", "TCP_NODELAY", "SHUT_RD", "SHUT_WR",
          "SHUT_RDWR", "MSG_PEEK", "MSG_TRUNC", "MSG_DONTWAIT", "MSG_WAITALL", "MSG_NOSIGNAL",
          "SCM_RIGHTS"]


@pytest.mark.covers(*(f"linux.{n}" for n in CONSTS))
def test_constants_match_socket_module() -> None:
    for n in CONSTS:
        assert getattr(linux, n) == getattr(socket, n), n


@pytest.mark.covers("linux.socket", "linux.bind", "linux.listen", "linux.accept4",
                    "linux.connect", "linux.getsockname", "linux.getpeername",
                    "linux.sockaddr_encode", "linux.sockaddr_decode", "linux.setsockopt",
                    "linux.getsockopt", "linux.sendto", "linux.recvfrom", "linux.shutdown")
@pytest.mark.parametrize("family,host", [(socket.AF_INET, "127.0.0.1"),
                                         (socket.AF_INET6, "::1")])
def test_tcp_round_trip(family: int, host: str) -> None:
    try:
        s = linux.socket(family, linux.SOCK_STREAM | linux.SOCK_CLOEXEC)
    except errors.VllsiError:
        pytest.skip("environment: address family unavailable")
    c = a = -1
    try:
        linux.setsockopt(s, linux.SOL_SOCKET, linux.SO_REUSEADDR, 1)
        assert linux.getsockopt(s, linux.SOL_SOCKET, linux.SO_REUSEADDR) == 1
        assert linux.getsockopt(s, linux.SOL_SOCKET, linux.SO_DOMAIN) == family
        try:
            linux.bind(s, linux.sockaddr_encode(family, (host, 0)))
        except errors.VllsiError:
            pytest.skip("environment: no loopback for this family")
        linux.listen(s, 16)
        addr = linux.sockaddr_decode(linux.getsockname(s))
        with socket.socket(fileno=os.dup(s)) as twin:  # differential: the socket module agrees
            assert twin.getsockname() == addr
        c = linux.socket(family, linux.SOCK_STREAM)
        linux.connect(c, linux.sockaddr_encode(family, addr))
        a, peer = linux.accept4(s, linux.SOCK_CLOEXEC | linux.SOCK_NONBLOCK)
        assert linux.sockaddr_decode(peer) == linux.sockaddr_decode(linux.getsockname(c))
        assert linux.sockaddr_decode(linux.getpeername(c)) == addr
        assert os.get_blocking(a) is False and os.get_inheritable(a) is False
        assert linux.sendto(c, b"hello", linux.MSG_NOSIGNAL) == 5
        buf = bytearray(16)
        n, _ = linux.recvfrom(a, buf)
        assert bytes(buf[:n]) == b"hello"
        with pytest.raises(errors.WouldBlock):
            linux.recvfrom(a, buf)
        linux.shutdown(c, linux.SHUT_WR)
        assert linux.recvfrom(a, buf)[0] == 0
        with pytest.raises(ValueError):
            linux.shutdown(c, 7)
        with pytest.raises(errors.VllsiError) as ei:
            linux.getpeername(s)
        assert ei.value.errno == errno.ENOTCONN
    finally:
        for fd in (a, c, s):
            if fd >= 0:
                os.close(fd)


@pytest.mark.covers("linux.socketpair", "linux.sendmsg", "linux.recvmsg")
def test_sendmsg_recvmsg_pass_a_descriptor(tmp_path: Path) -> None:
    x, y = linux.socketpair(linux.AF_UNIX, linux.SOCK_STREAM | linux.SOCK_CLOEXEC)
    f = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT, 0o600)
    os.write(f, b"shared")
    try:
        n = linux.sendmsg(x, [b"ab", memoryview(b"cd")],
                          [(linux.SOL_SOCKET, linux.SCM_RIGHTS, array.array("i", [f]))])
        assert n == 4
        b1, b2 = bytearray(1), bytearray(10)
        n, anc, flags, _ = linux.recvmsg(y, [b1, b2], 64)
        assert n == 4 and b1 == b"a" and bytes(b2[:3]) == b"bcd"
        assert len(anc) == 1 and anc[0][:2] == (linux.SOL_SOCKET, linux.SCM_RIGHTS)
        got = array.array("i")
        got.frombytes(anc[0][2][:4])
        assert os.pread(got[0], 6, 0) == b"shared"
        os.close(got[0])
        assert flags == 0
    finally:
        for fd in (x, y, f):
            os.close(fd)


@pytest.mark.covers("linux.sendto", "linux.recvfrom", "linux.bind", "linux.sockaddr_decode")
def test_udp_and_unix_datagrams(tmp_path: Path) -> None:
    u = linux.socket(linux.AF_INET, linux.SOCK_DGRAM)
    v = linux.socket(linux.AF_INET, linux.SOCK_DGRAM)
    try:
        linux.bind(u, linux.sockaddr_encode(linux.AF_INET, ("127.0.0.1", 0)))
        dest = linux.getsockname(u)
        assert linux.sendto(v, b"dgram", 0, dest) == 5
        buf = bytearray(3)
        n, src = linux.recvfrom(u, buf, linux.MSG_TRUNC)
        assert n == 5 and buf == b"dgr"  # MSG_TRUNC reports the real length
        assert linux.sockaddr_decode(src)[1] == linux.sockaddr_decode(linux.getsockname(v))[1]
    finally:
        os.close(u)
        os.close(v)
    path = str(tmp_path / "sock")
    s = linux.socket(linux.AF_UNIX, linux.SOCK_DGRAM)
    try:
        linux.bind(s, linux.sockaddr_encode(linux.AF_UNIX, path))
        assert linux.sockaddr_decode(linux.getsockname(s)) == path
    finally:
        os.close(s)


@pytest.mark.covers("linux.sockaddr_encode", "linux.sockaddr_decode")
@settings(max_examples=80)
@given(port=st.integers(0, 65535), a=st.ip_addresses(v=4), b=st.ip_addresses(v=6),
       flow=st.integers(0, 0xFFFFF), scope=st.integers(0, 2**32 - 1))
def test_sockaddr_round_trip(port: int, a: object, b: object, flow: int, scope: int) -> None:
    v4 = (str(a), port)
    assert linux.sockaddr_decode(linux.sockaddr_encode(linux.AF_INET, v4)) == v4
    v6 = (str(b), port, flow, scope)
    raw = linux.sockaddr_encode(linux.AF_INET6, v6)
    assert len(raw) == 28
    assert linux.sockaddr_decode(raw) == (socket.inet_ntop(socket.AF_INET6,
                                                           socket.inet_pton(socket.AF_INET6,
                                                                            str(b))),
                                          port, flow, scope)


@pytest.mark.covers("linux.sockaddr_encode", "linux.socket", "linux.bind", "linux.getsockopt",
                    "linux.setsockopt")
@pytest.mark.parametrize("call", [
    lambda: linux.sockaddr_encode(linux.AF_INET, ("1.2.3.4", 70000)),
    lambda: linux.sockaddr_encode(linux.AF_INET, ("example.com", 80)),
    lambda: linux.sockaddr_encode(linux.AF_INET, "path"),
    lambda: linux.sockaddr_encode(linux.AF_UNIX, "x" * 200),
    lambda: linux.sockaddr_encode(99, ("1.2.3.4", 1)),
    lambda: linux.socket("2", 1),
    lambda: linux.bind(0, "127.0.0.1"),
    lambda: linux.bind(0, b"x"),
    lambda: linux.getsockopt(0, 1, 2, -1),
    lambda: linux.setsockopt(0, 1, 2, 2**40),
])
def test_bad_arguments(call: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        call()  # type: ignore[operator]
