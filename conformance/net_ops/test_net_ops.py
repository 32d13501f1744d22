"""Portable sockets: IPv4, IPv6 and Unix, non-blocking + CLOEXEC by default.

OS-neutral except where marked: the oracle is the stdlib ``socket`` module (a
``socket.socket(fileno=...)`` borrowed and detached again) and ``os``'s
inheritance queries (``get_inheritable`` on POSIX, ``get_handle_inheritable``
for a Windows SOCKET). Non-blocking mode is read with ``os.get_blocking`` on
POSIX; Windows cannot query FIONBIO, so there the oracle is behavioural: with
SO_RCVTIMEO set, a blocking socket's empty recv times out (WSAETIMEDOUT) while a
non-blocking one fails at once with WSAEWOULDBLOCK. SCM_RIGHTS and Unix datagram
and abstract names are POSIX/Linux-only tests.
"""

from __future__ import annotations

import array
import contextlib
import errno
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance._support import ON_LINUX, ON_WINDOWS, UNDER_WINE, linux_only, only_on, skip
from vllsi import errors, net_ops

CONSTS = ["AF_INET", "AF_INET6", "AF_UNIX", "SOCK_STREAM", "SOCK_DGRAM", "SOL_SOCKET",
          "SO_REUSEADDR", "SO_ERROR", "SO_RCVBUF", "SO_SNDBUF", "IPPROTO_TCP", "TCP_NODELAY",
          "SHUT_RD", "SHUT_WR", "SHUT_RDWR", "MSG_PEEK", "MSG_DONTWAIT"]
AF_UNIX_SDK = 1  # afunix.h: Windows' socket module does not export AF_UNIX
SO_RCVTIMEO_WINDOWS = 0x1006  # winsock2.h


def close(fd: int) -> None:
    """Close a socket the stdlib way (closesocket on Windows, close on POSIX)."""
    socket.close(fd)


@contextlib.contextmanager
def borrowed(fd: int) -> Iterator[socket.socket]:
    """The stdlib's view of a vllsi socket; ``fd`` stays open (and ours) afterwards."""
    s = socket.socket(fileno=fd)
    try:
        yield s
    finally:
        s.detach()


def inheritable(fd: int) -> bool:
    if ON_WINDOWS:
        return bool(getattr(os, "get_handle_inheritable")(fd))  # noqa: B009 (Windows only)
    return os.get_inheritable(fd)


def blocking(fd: int) -> bool:
    """Is ``fd`` in blocking mode? Call it on a socket with nothing to receive, as its
    last use: on Windows a receive that timed out leaves the socket's state
    unspecified (Winsock documentation of SO_RCVTIMEO)."""
    if not ON_WINDOWS:
        return os.get_blocking(fd)
    net_ops.setsockopt(fd, net_ops.SOL_SOCKET, SO_RCVTIMEO_WINDOWS, 1)  # 1 ms
    try:
        net_ops.recv(fd, 1)
    except errors.WouldBlock:
        return False
    except errors.TimedOut:
        return True
    finally:
        net_ops.setsockopt(fd, net_ops.SOL_SOCKET, SO_RCVTIMEO_WINDOWS, 0)
    raise AssertionError("the probe needs a socket with nothing to receive")


@pytest.mark.covers(*(f"net_ops.{n}" for n in CONSTS))
def test_constants_are_the_hosts() -> None:
    private = []
    for n in CONSTS:
        if hasattr(socket, n):
            assert getattr(net_ops, n) == getattr(socket, n), n
        else:
            private.append(n)
    if ON_WINDOWS:
        assert sorted(private) == ["AF_UNIX", "MSG_DONTWAIT"]
        assert net_ops.AF_UNIX == AF_UNIX_SDK
        # vllsi's emulated flag: one bit no Winsock MSG_* flag uses
        msg_bits = [getattr(socket, m) for m in dir(socket) if m.startswith("MSG_")]
        assert bin(net_ops.MSG_DONTWAIT).count("1") == 1
        assert not any(net_ops.MSG_DONTWAIT & b for b in msg_bits)
    else:
        assert private == []


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
            skip("environment", "no loopback for this family")
        raise
    try:
        for fd in (lst, acc, cli):
            assert inheritable(fd) is False
        with borrowed(acc) as twin:
            assert twin.getpeername() == net_ops.getpeername(acc) == net_ops.getsockname(cli)
            assert twin.family == family and twin.type == socket.SOCK_STREAM
        net_ops.setsockopt(cli, net_ops.IPPROTO_TCP, net_ops.TCP_NODELAY, 1)
        assert net_ops.getsockopt(cli, net_ops.IPPROTO_TCP, net_ops.TCP_NODELAY) != 0
        with borrowed(cli) as twin:
            assert twin.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert net_ops.send(cli, b"hello") == 5
        assert net_ops.recv(acc, 3, net_ops.MSG_PEEK) == b"hel"
        buf = bytearray(10)
        assert net_ops.recv_into(acc, buf) == 5 and bytes(buf[:5]) == b"hello"
        with pytest.raises(errors.WouldBlock):
            net_ops.recv(acc, 10)
        with pytest.raises(errors.WouldBlock):
            net_ops.accept4(lst)  # the listener is non-blocking too
        net_ops.shutdown(cli, net_ops.SHUT_WR)
        assert net_ops.recv(acc, 10) == b""
        assert net_ops.getsockopt(acc, net_ops.SOL_SOCKET, net_ops.SO_ERROR) == 0
        if not ON_WINDOWS:
            assert blocking(acc) is False and blocking(lst) is False
        assert blocking(cli) is True  # last use of cli (see blocking())
    finally:
        for fd in (lst, cli, acc):
            close(fd)


@pytest.mark.covers("net_ops.socket", "net_ops.accept4", "net_ops.MSG_DONTWAIT",
                    "net_ops.recv", "net_ops.send")
def test_opt_outs_and_msg_dontwait() -> None:
    lst, cli, acc0 = _pair(net_ops.AF_INET, ("127.0.0.1", 0))
    cli2 = socket.create_connection(net_ops.getsockname(lst), timeout=60)
    acc, peer = net_ops.accept4(lst, nonblocking=False, cloexec=False)
    s = net_ops.socket(nonblocking=False, cloexec=False)
    try:
        assert peer == cli2.getsockname()
        assert inheritable(acc) is True and inheritable(s) is True
        with pytest.raises(errors.WouldBlock):  # blocking socket, one non-blocking call
            net_ops.recv(cli, 10, net_ops.MSG_DONTWAIT)
        cli2.sendall(b"later")
        assert net_ops.recv(acc, 10) == b"later"
        assert net_ops.send(acc, b"x", net_ops.MSG_DONTWAIT) == 1
        assert cli2.recv(10) == b"x"
        assert blocking(acc) is True  # accepted blocking when asked
        assert blocking(cli) is True  # its own mode survived the MSG_DONTWAIT call
    finally:
        for fd in (lst, cli, acc0, acc, s):
            close(fd)
        cli2.close()


@pytest.mark.covers("net_ops.socketpair", "net_ops.sendmsg", "net_ops.recvmsg")
def test_socketpair_sendmsg_recvmsg() -> None:
    a, b = net_ops.socketpair()
    try:
        assert inheritable(a) is False and inheritable(b) is False
        assert net_ops.sendmsg(a, [b"fd:", memoryview(b"1")]) == 4
        data, anc, flags, _ = net_ops.recvmsg(b, 16)
        assert data == b"fd:1" and anc == [] and flags == 0
        assert net_ops.send(b, b"back") == 4
        assert net_ops.recv(a, 16) == b"back"
        with pytest.raises(errors.WouldBlock):
            net_ops.recvmsg(a, 16)
        assert blocking(a) is False and blocking(b) is False
    finally:
        close(a)
        close(b)
    a, b = net_ops.socketpair(nonblocking=False, cloexec=False)
    try:
        assert blocking(a) is True and blocking(b) is True
        assert inheritable(a) is True and inheritable(b) is True
    finally:
        close(a)
        close(b)


@only_on("linux", "darwin")
@pytest.mark.covers("net_ops.sendmsg", "net_ops.recvmsg")
def test_scm_rights(tmp_path: Path) -> None:
    a, b = net_ops.socketpair()
    f = os.open(tmp_path / "f", os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        n = net_ops.sendmsg(a, [b"fd:", b"1"],
                            [(net_ops.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [f]))])
        assert n == 4
        data, anc, flags, _ = net_ops.recvmsg(b, 16, socket.CMSG_SPACE(4))
        assert data == b"fd:1" and flags == 0
        (level, typ, raw), = anc
        assert (level, typ) == (net_ops.SOL_SOCKET, socket.SCM_RIGHTS)
        got = array.array("i", raw[:4])[0]
        assert os.path.sameopenfile(got, f)
        os.close(got)
    finally:
        for fd in (a, b, f):
            os.close(fd)


def _unix_or_skip() -> int:
    try:
        return net_ops.socket(net_ops.AF_UNIX)
    except errors.VllsiError as exc:
        if UNDER_WINE and exc.errno == errno.EAFNOSUPPORT:
            skip("environment", "Wine 8 has no AF_UNIX sockets (WSAEAFNOSUPPORT); "
                 "Windows 10 1803+ has AF_UNIX SOCK_STREAM")
        raise


@pytest.mark.covers("net_ops.AF_UNIX", "net_ops.socket", "net_ops.bind", "net_ops.listen",
                    "net_ops.connect", "net_ops.accept4", "net_ops.getsockname")
def test_unix_stream_path(tmp_path: Path) -> None:
    lst = _unix_or_skip()
    path = str(tmp_path / "s.sock")
    cli = acc = -1
    try:
        net_ops.bind(lst, path)
        net_ops.listen(lst)
        assert net_ops.getsockname(lst) == path
        cli = net_ops.socket(net_ops.AF_UNIX, nonblocking=False)
        net_ops.connect(cli, path)
        acc, _ = net_ops.accept4(lst)
        assert net_ops.send(cli, b"unix") == 4
        assert net_ops.recv(acc, 10) == b"unix"
        close(cli)
        cli = net_ops.socket(net_ops.AF_UNIX)
        with pytest.raises(errors.NotFound):
            net_ops.connect(cli, str(tmp_path / "nobody"))
    finally:
        for fd in (lst, cli, acc):
            if fd != -1:
                close(fd)


@only_on("linux", "darwin")
@pytest.mark.covers("net_ops.bind", "net_ops.getsockname", "net_ops.sendmsg",
                    "net_ops.recvmsg", "net_ops.SOCK_DGRAM")
def test_unix_datagram_names(tmp_path: Path) -> None:
    path = str(tmp_path / "u.sock")
    s = net_ops.socket(net_ops.AF_UNIX, net_ops.SOCK_DGRAM)
    t = net_ops.socket(net_ops.AF_UNIX, net_ops.SOCK_DGRAM)
    try:
        net_ops.bind(s, path)
        assert net_ops.getsockname(s) == path
        peer = str(tmp_path / "t.sock")
        if ON_LINUX:  # the abstract namespace is Linux's
            peer = b"\0vllsi-test-%d" % os.getpid()  # type: ignore[assignment]
        net_ops.bind(t, peer)
        assert net_ops.getsockname(t) == peer
        assert net_ops.sendmsg(s, [b"dgram"], (), 0, peer) == 5
        data, _, _, src = net_ops.recvmsg(t, 64)
        assert data == b"dgram" and src == path
    finally:
        os.close(s)
        os.close(t)


@linux_only
@pytest.mark.covers("net_ops.socket")
def test_cloexec_reaches_the_kernel_flags() -> None:
    # Linux: the socket is born with O_NONBLOCK and FD_CLOEXEC (one syscall, no fcntl race).
    import fcntl

    s = net_ops.socket()
    try:
        assert fcntl.fcntl(s, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert fcntl.fcntl(s, fcntl.F_GETFL) & os.O_NONBLOCK
    finally:
        os.close(s)


@pytest.mark.covers("net_ops.connect", "net_ops.socket")
def test_connection_refused() -> None:
    probe = net_ops.socket()
    net_ops.bind(probe, ("127.0.0.1", 0))
    addr = net_ops.getsockname(probe)
    close(probe)
    c = net_ops.socket(nonblocking=False)
    try:
        with pytest.raises(errors.ConnectionRefused) as ei:
            net_ops.connect(c, addr)
        assert ei.value.errno == errno.ECONNREFUSED and isinstance(ei.value, ConnectionRefusedError)
    finally:
        close(c)


@pytest.mark.covers("net_ops.connect", "net_ops.getsockopt", "net_ops.SO_ERROR")
def test_nonblocking_connect_reports_through_so_error() -> None:
    # connect on a non-blocking socket: WouldBlock (EINPROGRESS; Windows:
    # WSAEWOULDBLOCK) while it proceeds, the outcome in SO_ERROR once select()
    # reports the socket (writable on success; Windows flags a failure as an
    # exception condition). SO_ERROR carries the OS's own code: errno's value
    # on each OS (Windows' errno.ECONNREFUSED is WSAECONNREFUSED).
    import select

    lst = net_ops.socket()
    net_ops.bind(lst, ("127.0.0.1", 0))
    net_ops.listen(lst)
    refused = net_ops.socket()
    net_ops.bind(refused, ("127.0.0.1", 0))
    dead = net_ops.getsockname(refused)
    close(refused)
    try:
        for target, want in ((net_ops.getsockname(lst), 0), (dead, errno.ECONNREFUSED)):
            c = net_ops.socket()
            try:
                try:
                    net_ops.connect(c, target)
                except errors.WouldBlock:
                    _, w, x = select.select([], [c], [c], 60)
                    assert w or x
                except errors.ConnectionRefused:  # refused at once: also allowed
                    assert want == errno.ECONNREFUSED
                    continue
                assert net_ops.getsockopt(c, net_ops.SOL_SOCKET, net_ops.SO_ERROR) == want
            finally:
                close(c)
    finally:
        close(lst)


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
