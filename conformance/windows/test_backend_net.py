"""vllsi.net_ops on its Windows backend (Winsock), against the stdlib ``socket``;
and sockets from it driven by the IOCP engine.

Runs once vllsi.net_ops is on the branch (module-level importorskip)."""

from __future__ import annotations

import errno
import socket as pysocket

import pytest

net = pytest.importorskip("vllsi.net_ops")

from vllsi import errors  # noqa: E402


@pytest.mark.covers("net_ops.socket", "net_ops.bind", "net_ops.listen", "net_ops.accept4",
                    "net_ops.connect", "net_ops.send", "net_ops.recv", "net_ops.recv_into",
                    "net_ops.getsockname", "net_ops.getpeername", "net_ops.shutdown",
                    "net_ops.setsockopt", "net_ops.getsockopt", "net_ops.SOL_SOCKET",
                    "net_ops.SO_ERROR", "net_ops.IPPROTO_TCP", "net_ops.TCP_NODELAY",
                    "net_ops.AF_INET", "net_ops.SOCK_STREAM", "net_ops.SHUT_WR",
                    "net_ops.MSG_DONTWAIT", "net_ops.MSG_PEEK")
def test_tcp_roundtrip_with_stdlib_peer() -> None:
    ls = net.socket(net.AF_INET, net.SOCK_STREAM, nonblocking=False)
    try:
        net.bind(ls, ("localhost", 0))
        net.listen(ls, 4)
        host, port = net.getsockname(ls)
        assert host == "127.0.0.1"
        with pytest.raises(errors.WouldBlock):  # nothing pending
            net.setsockopt(ls, net.SOL_SOCKET, 0x0004, 1)  # SO_REUSEADDR
            nb = net.socket(net.AF_INET, net.SOCK_STREAM)  # non-blocking by default
            try:
                net.bind(nb, ("127.0.0.1", 0))
                net.listen(nb)
                net.accept4(nb)
            finally:
                pysocket.socket(fileno=nb).close()
        peer = pysocket.create_connection(("127.0.0.1", port), timeout=30)
        s, addr = net.accept4(ls, nonblocking=False)
        try:
            assert addr == peer.getsockname() == net.getpeername(s)
            net.setsockopt(s, net.IPPROTO_TCP, net.TCP_NODELAY, 1)
            assert net.getsockopt(s, net.IPPROTO_TCP, net.TCP_NODELAY) != 0
            assert net.getsockopt(s, net.SOL_SOCKET, net.SO_ERROR) == 0
            with pytest.raises(errors.WouldBlock) as ei:
                net.recv(s, 10, net.MSG_DONTWAIT)
            assert ei.value.errno == errno.EWOULDBLOCK
            peer.sendall(b"abcdef")
            assert net.recv(s, 3, net.MSG_PEEK) == b"abc"
            buf = bytearray(10)
            assert net.recv_into(s, buf) == 6 and buf[:6] == b"abcdef"
            assert net.send(s, b"xyz") == 3
            assert peer.recv(10) == b"xyz"
            net.shutdown(s, net.SHUT_WR)
            assert peer.recv(10) == b""
        finally:
            pysocket.socket(fileno=s).close()
            peer.close()
    finally:
        pysocket.socket(fileno=ls).close()


@pytest.mark.covers("net_ops.socketpair", "net_ops.sendmsg", "net_ops.recvmsg",
                    "net_ops.AF_UNIX")
def test_socketpair_and_msg() -> None:
    a, b = net.socketpair(nonblocking=False)
    try:
        assert net.sendmsg(a, [b"he", memoryview(b"llo")]) == 5
        data, anc, _flags, _addr = net.recvmsg(b, 16)
        assert data == b"hello" and anc == []
        with pytest.raises(errors.Unsupported):
            net.sendmsg(a, [b"x"], [(0, 1, b"")])
    finally:
        pysocket.socket(fileno=a).close()
        pysocket.socket(fileno=b).close()


@pytest.mark.covers("net_ops.connect", "net_ops.AF_INET6")
def test_connect_refused_and_ipv6() -> None:
    srv = pysocket.socket()
    srv.bind(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    srv.close()
    c = net.socket(net.AF_INET, net.SOCK_STREAM, nonblocking=False)
    try:
        with pytest.raises(errors.VllsiError) as ei:
            net.connect(c, ("127.0.0.1", port))
        assert ei.value.errno == errno.ECONNREFUSED
    finally:
        pysocket.socket(fileno=c).close()
    s6 = net.socket(net.AF_INET6, net.SOCK_STREAM)
    try:
        net.bind(s6, ("", 0))
        assert net.getsockname(s6)[0] == "::"
    finally:
        pysocket.socket(fileno=s6).close()
