"""Portable sockets: IPv4, IPv6 and Unix, non-blocking + CLOEXEC by default."""

from __future__ import annotations

import array
import errno
import os
import socket
from pathlib import Path

import pytest

from conformance._support import linux_only
from vllsi import errors, net_ops

pytestmark = linux_only

CONSTS = ["AF_INET", "AF_INET6", "AF_UNIX", "SOCK_STREAM", "SOCK_DGRAM", "SOL_SOCKET",
          "SO_REUSEADDR", "SO_ERROR", "SO_RCVBUF", "SO_SNDBUF", "IPPROTO_TCP", "TCP_NODELAY",
          "SHUT_RD", "SHUT_WR", "SHUT_RDWR", "MSG_PEEK", "MSG_DONTWAIT"]


@pytest.mark.covers(*(f"net_ops.{n}" for n in CONSTS))
def test_constants_are_the_hosts() -> None:
    for n in CONSTS:
        assert getattr(net_ops, n) == getattr(socket, n), n


def _pair(family: int, host: object) -> tuple[int, int, int]:
    lst = net_ops.socket(family)
    net_ops.setsockopt(lst, net_ops.SOL_SOCKET, net_ops.SO_REUSEADDR, 1)
    net_ops.bind(lst, host)
    net_ops.listen(lst, 8)
    cli = net_ops.socket(family, nonblocking=False)
    net_ops.connect(cli, net_ops.getsockname(lst))
    acc, _peer = net_ops.accept4(lst)
    return lst, cli, acc


@pytest.mark.covers("net_ops.socket", "net_ops.bind", "net_ops.listen", "net_ops.accept4",
                    "net_ops.connect", "net_ops.send", "net_ops.recv", "net_ops.recv_into",
                    "net_ops.getsockname", "net_ops.getpeername", "net_ops.setsockopt",
                    "net_ops.getsockopt", "net_ops.shutdown")
@pytest.mark.parametrize("family,host", [(socket.AF_INET, ("127.0.0.1", 0)),
                                         (socket.AF_INET6, ("::1", 0)),
                                         (socket.AF_INET, ("", 0)),
                                         (socket.AF_INET6, ("localhost", 0))])
def test_stream_round_trip(family: int, host: tuple[str, int]) -> None:
    try:
        lst, cli, acc = _pair(family, host)
    except errors.VllsiError as exc:
        if exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
            pytest.skip("environment: no loopback for this family")
        raise
    try:
        for fd in (lst, acc):
            assert os.get_blocking(fd) is False and os.get_inheritable(fd) is False
        assert os.get_blocking(cli) is True
        with socket.socket(fileno=os.dup(acc)) as twin:
            assert twin.getpeername() == net_ops.getpeername(acc) == net_ops.getsockname(cli)
        net_ops.setsockopt(cli, net_ops.IPPROTO_TCP, net_ops.TCP_NODELAY, 1)
        assert net_ops.getsockopt(cli, net_ops.IPPROTO_TCP, net_ops.TCP_NODELAY) != 0
        assert net_ops.send(cli, b"hello") == 5
        assert net_ops.recv(acc, 3, net_ops.MSG_PEEK) == b"hel"
        buf = bytearray(10)
        assert net_ops.recv_into(acc, buf) == 5 and bytes(buf[:5]) == b"hello"
        with pytest.raises(errors.WouldBlock):
            net_ops.recv(acc, 10)
        net_ops.shutdown(cli, net_ops.SHUT_WR)
        assert net_ops.recv(acc, 10) == b""
        assert net_ops.getsockopt(acc, net_ops.SOL_SOCKET, net_ops.SO_ERROR) == 0
    finally:
        for fd in (lst, cli, acc):
            os.close(fd)


@pytest.mark.covers("net_ops.socketpair", "net_ops.sendmsg", "net_ops.recvmsg", "net_ops.bind",
                    "net_ops.getsockname")
def test_unix_sendmsg_recvmsg(tmp_path: Path) -> None:
    a, b = net_ops.socketpair()
    f = os.open(tmp_path / "f", os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        assert os.get_blocking(a) is False and os.get_inheritable(b) is False
        n = net_ops.sendmsg(a, [b"fd:", b"1"],
                            [(net_ops.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [f]))])
        assert n == 4
        data, anc, flags, _ = net_ops.recvmsg(b, 16, socket.CMSG_SPACE(4))
        assert data == b"fd:1" and flags == 0
        (level, typ, raw), = anc
        assert (level, typ) == (net_ops.SOL_SOCKET, socket.SCM_RIGHTS)
        os.close(int.from_bytes(raw[:4], "little" if array.array("i", [1]).tobytes()[0] else "big"))
    finally:
        for fd in (a, b, f):
            os.close(fd)
    path = str(tmp_path / "u.sock")
    s = net_ops.socket(net_ops.AF_UNIX, net_ops.SOCK_DGRAM)
    try:
        net_ops.bind(s, path)
        assert net_ops.getsockname(s) == path
        abstract = b"\0vllsi-test-%d" % os.getpid()
        t = net_ops.socket(net_ops.AF_UNIX, net_ops.SOCK_DGRAM)
        net_ops.bind(t, abstract)
        assert net_ops.getsockname(t) == abstract
        assert net_ops.sendmsg(s, [b"dgram"], (), 0, abstract) == 5
        data, _, _, src = net_ops.recvmsg(t, 64)
        assert data == b"dgram" and src == path
        os.close(t)
    finally:
        os.close(s)


@pytest.mark.covers("net_ops.connect", "net_ops.socket")
def test_nonblocking_connect_and_refusal() -> None:
    probe = net_ops.socket()
    net_ops.bind(probe, ("127.0.0.1", 0))
    addr = net_ops.getsockname(probe)
    os.close(probe)
    c = net_ops.socket(nonblocking=False)
    try:
        with pytest.raises(errors.ConnectionRefused) as ei:
            net_ops.connect(c, addr)
        assert ei.value.errno == errno.ECONNREFUSED and isinstance(ei.value, ConnectionRefusedError)
    finally:
        os.close(c)


@pytest.mark.covers("net_ops.socket", "net_ops.bind", "net_ops.recv", "net_ops.listen")
@pytest.mark.parametrize("call", [
    lambda: net_ops.socket("inet"),
    lambda: net_ops.socket(nonblocking=1),
    lambda: net_ops.bind(0, ("127.0.0.1", "80")),
    lambda: net_ops.recv(0, -1),
    lambda: net_ops.listen(0, "5"),
])
def test_bad_arguments(call: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        call()  # type: ignore[operator]
