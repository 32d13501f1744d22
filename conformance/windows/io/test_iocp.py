"""IocpDriver for real under Wine/Windows: files with offsets, sockets (accept,
connect, send, recv) against the stdlib ``socket`` as the peer, timeouts,
cancellation, wake-up and shutdown with ops in flight."""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance._support.pending import need

ie = pytest.importorskip("vllsi.io_engine")

from vllsi import errors  # noqa: E402
from vllsi import windows as w  # noqa: E402
from vllsi.windows import consts as C  # noqa: E402
from vllsi.windows.io import IocpDriver  # noqa: E402

RW = C.GENERIC_READ | C.GENERIC_WRITE
SHARE = C.FILE_SHARE_READ | C.FILE_SHARE_WRITE | C.FILE_SHARE_DELETE


def _all(eng: Any, n: int, limit: float = 30.0) -> dict[int, Any]:
    out: dict[int, Any] = {}
    end = time.monotonic() + limit
    while len(out) < n and time.monotonic() < end:
        for r in eng.poll(1.0):
            out[r.submission_id] = r
    assert len(out) == n, out
    return out


@pytest.fixture
def eng() -> Any:
    e = IocpDriver(ie.IoEngineConfig(entries=16))
    yield e
    e.shutdown()


@pytest.mark.covers("windows.io.IocpDriver",
                    "io_engine.Read", "io_engine.Write", "io_engine.IoEngineConfig", "io_engine.CompletionResult", "io_engine.SubmissionId")
@pytest.mark.parametrize("overlapped", [True, False])
def test_file_read_write_with_offsets(eng: Any, tmp_path: Path, overlapped: bool) -> None:
    h = w.create_file(tmp_path / "f.bin", RW, SHARE, C.CREATE_ALWAYS,
                      C.FILE_FLAG_OVERLAPPED if overlapped else C.FILE_ATTRIBUTE_NORMAL)
    try:
        data = os.urandom(100_000)
        far = (1 << 32) + 3
        ids = eng.submit_many([ie.Write(h, data, offset=0), ie.Write(h, b"tail", offset=far)])
        res = _all(eng, 2)
        assert [res[i].result for i in ids] == [len(data), 4]
        a, b, c = bytearray(len(data)), bytearray(4), bytearray(8)
        ids = eng.submit_many([ie.Read(h, a, offset=0), ie.Read(h, b, offset=far),
                               ie.Read(h, c, offset=far + 10)])
        res = _all(eng, 3)
        assert [res[i].result for i in ids] == [len(data), 4, 0]  # at EOF: 0
        assert a == data and b == b"tail"
        assert eng.statistics()["submitted"] == 5
    finally:
        w.close_handle(h)
    with open(tmp_path / "f.bin", "rb") as f:
        assert f.read(len(data)) == data


@pytest.mark.covers("windows.io.IocpDriver",
                    "io_engine.Accept", "io_engine.Connect", "io_engine.Send", "io_engine.Recv", "io_engine.Close")
def test_socket_accept_connect_send_recv(eng: Any) -> None:
    ls = w.wsa_socket(C.AF_INET, C.SOCK_STREAM)
    w.bind(ls, w.make_sockaddr(C.AF_INET, ("127.0.0.1", 0)))
    w.listen(ls)
    port = w.parse_sockaddr(w.getsockname(ls))[1]
    cs = w.wsa_socket(C.AF_INET, C.SOCK_STREAM)
    try:
        acc = eng.submit(ie.Accept(ls))
        con = eng.submit(ie.Connect(cs, ("127.0.0.1", port)))
        res = _all(eng, 2)
        assert res[con].result == 0
        srv = res[acc].result
        assert srv > 0 and res[acc].address == w.parse_sockaddr(w.getsockname(cs))
        assert w.parse_sockaddr(w.getpeername(cs))[1] == port
        buf = bytearray(32)
        rid = eng.submit(ie.Recv(srv, buf))
        assert eng.poll(0) == []  # nothing sent yet: the recv is pending
        sid = eng.submit(ie.Send(cs, b"hello iocp"))
        res = _all(eng, 2)
        assert res[sid].result == 10 and res[rid].result == 10 and buf[:10] == b"hello iocp"
        w.shutdown(cs, C.SD_SEND)
        rid = eng.submit(ie.Recv(srv, buf))
        assert _all(eng, 1)[rid].result == 0  # orderly shutdown
        cid = eng.submit(ie.Close(srv))
        assert _all(eng, 1)[cid].result == 0
    finally:
        w.closesocket(cs)
        w.closesocket(ls)


@pytest.mark.covers("windows.io.IocpDriver",
                    "io_engine.Connect", "io_engine.Recv", "io_engine.CompletionResult")
def test_stdlib_peer_and_connect_refused(eng: Any) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    cs = w.wsa_socket(C.AF_INET, C.SOCK_STREAM)
    try:
        con = eng.submit(ie.Connect(cs, ("127.0.0.1", port)))
        assert _all(eng, 1)[con].result == 0
        peer, _ = srv.accept()
        peer.sendall(b"from stdlib")
        buf = bytearray(64)
        rid = eng.submit(ie.Recv(cs, buf))
        assert _all(eng, 1)[rid].result == 11 and buf[:11] == b"from stdlib"
        peer.close()
    finally:
        w.closesocket(cs)
        srv.close()
    cs = w.wsa_socket(C.AF_INET, C.SOCK_STREAM)
    try:
        con = eng.submit(ie.Connect(cs, ("127.0.0.1", port)))
        r = _all(eng, 1)[con]
        assert r.result == -errno.ECONNREFUSED and r.error.errno == errno.ECONNREFUSED
    finally:
        w.closesocket(cs)


@pytest.mark.covers("windows.io.IocpDriver",
                    "io_engine.Timeout", "io_engine.Cancel", "io_engine.Nop")
def test_timeout_cancel_and_wake(eng: Any) -> None:
    t0 = eng.submit(ie.Timeout(0.05))
    t1 = eng.submit(ie.Timeout(60))
    res = _all(eng, 1)
    assert res[t0].result == 0
    c = eng.submit(ie.Cancel(t1))
    res = _all(eng, 2)
    assert res[c].result == 0 and res[t1].cancelled
    assert eng.submit(ie.Cancel(12345)) and _all(eng, 1)
    threading.Timer(0.1, eng.wake).start()
    assert eng.poll(None) == []  # woken with nothing ready
    n = eng.submit(ie.Nop())
    assert _all(eng, 1)[n].result == 0


@pytest.mark.covers("windows.io.IocpDriver")
def test_cancel_pending_recv_and_shutdown_with_ops_in_flight(tmp_path: Path) -> None:
    eng = IocpDriver()
    a, b = socket.socketpair()
    try:
        buf = bytearray(8)
        rid = eng.submit(ie.Recv(a.fileno(), buf))
        assert eng.poll(0) == []
        eng.cancel(rid)
        r = _all(eng, 1)[rid]
        assert r.result == -errno.ECANCELED and r.cancelled
        eng.submit(ie.Recv(a.fileno(), bytearray(8)))  # left in flight
        eng.submit(ie.Timeout(60))
        ls = w.wsa_socket(C.AF_INET, C.SOCK_STREAM)
        w.bind(ls, w.make_sockaddr(C.AF_INET, ("127.0.0.1", 0)))
        w.listen(ls)
        eng.submit(ie.Accept(ls))  # left in flight
        assert eng.statistics()["in_flight"] == 3
        eng.shutdown()
        eng.shutdown()  # idempotent
        with pytest.raises(OSError):
            eng.poll(0)
        w.closesocket(ls)
        b.sendall(b"still usable")
        assert a.recv(64) == b"still usable"
    finally:
        a.close()
        b.close()


@pytest.mark.covers("windows.io.IocpDriver")
def test_validation_before_submit(eng: Any, tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        eng.submit(ie.Read(5, b"read-only"))
    with pytest.raises(TypeError):
        eng.submit("not an op")
    assert eng.statistics()["submitted"] == 0


@pytest.mark.covers("windows.io.IocpDriver",
                    "io_engine.create_io_engine", "io_engine.IOEngine", "io_engine.IoEngineConfig")
def test_create_io_engine_picks_iocp() -> None:
    e = ie.create_io_engine()
    try:
        assert e.backend == "iocp" and isinstance(e, ie.IOEngine)
    finally:
        e.shutdown()
    with pytest.raises(ValueError):
        ie.create_io_engine(ie.IoEngineConfig(backend="io_uring"))


@pytest.mark.covers("windows.io.IocpDriver")
def test_nonblocking_net_ops_sockets_pend_in_the_port(eng: Any) -> None:
    net = need("vllsi.net_ops")
    ls = net.socket(net.AF_INET, net.SOCK_STREAM)  # non-blocking by default
    c = net.socket(net.AF_INET, net.SOCK_STREAM)
    try:
        net.bind(ls, ("127.0.0.1", 0))
        net.listen(ls)
        acc = eng.submit(ie.Accept(ls))
        assert eng.poll(0) == []  # pends (overlapped I/O ignores FIONBIO)
        con = eng.submit(ie.Connect(c, net.getsockname(ls)))
        res = _all(eng, 2)
        assert res[con].result == 0 and res[acc].result > 0
        s = res[acc].result
        buf = bytearray(4)
        rid = eng.submit(ie.Recv(s, buf))
        assert eng.poll(0) == []
        net.send(c, b"ping")
        assert _all(eng, 1)[rid].result == 4 and buf == b"ping"
        w.closesocket(s)
    finally:
        w.closesocket(c)
        w.closesocket(ls)


@pytest.mark.covers("windows.io.IocpDriver",
                    "embedded.SyncEngine", "io_engine.Fsync", "io_engine.Nop", "io_engine.create_io_engine")
def test_sync_engine_backend_on_windows(tmp_path: Path) -> None:
    """The portable SyncEngine over the Windows embedded backend (ops done at submit)."""
    e = ie.create_io_engine(ie.IoEngineConfig(backend="sync"))
    h = w.create_file(tmp_path / "s.bin", RW, SHARE, C.CREATE_ALWAYS)
    ls = w.wsa_socket(C.AF_INET, C.SOCK_STREAM)
    try:
        assert e.backend == "sync"
        ids = e.submit_many([ie.Write(h, b"abc", offset=5), ie.Nop(), ie.Fsync(h)])
        res = {r.submission_id: r.result for r in e.poll(0)}
        assert [res[i] for i in ids] == [3, 0, 0]
        buf = bytearray(3)
        rid = e.submit(ie.Read(h, buf, offset=5))
        assert e.poll(0)[0].result == 3 and buf == b"abc"
        w.bind(ls, w.make_sockaddr(C.AF_INET, ("127.0.0.1", 0)))
        w.listen(ls)
        port = w.parse_sockaddr(w.getsockname(ls))[1]
        c = w.wsa_socket(C.AF_INET, C.SOCK_STREAM)
        cid = e.submit(ie.Connect(c, ("127.0.0.1", port)))
        aid = e.submit(ie.Accept(ls))
        res = {r.submission_id: r for r in e.poll(0)}
        assert res[cid].result == 0 and res[aid].result > 0
        assert res[aid].address == w.parse_sockaddr(w.getsockname(c))
        sid = e.submit(ie.Send(c, b"hey"))
        rbuf = bytearray(8)
        rid = e.submit(ie.Recv(res[aid].result, rbuf))
        got = {r.submission_id: r.result for r in e.poll(0)}
        assert got[sid] == 3 and got[rid] == 3 and rbuf[:3] == b"hey"
        clo = e.submit_many([ie.Close(c), ie.Close(res[aid].result)])
        assert [r.result for r in e.poll(0)] == [0, 0] and len(clo) == 2
    finally:
        e.shutdown()
        w.close_handle(h)
        w.closesocket(ls)


@pytest.mark.covers("windows.io.IocpDriver",
                    "io_engine.Fsync", "io_engine.CompletionResult")
def test_bad_handles_complete_with_errors_as_data(eng: Any, tmp_path: Path) -> None:
    h = w.create_file(tmp_path / "x", RW, SHARE, C.CREATE_ALWAYS, C.FILE_FLAG_OVERLAPPED)
    w.close_handle(h)
    ids = eng.submit_many([ie.Read(h, bytearray(4), offset=0), ie.Read(h, bytearray(4)),
                           ie.Write(h, b"x", offset=0), ie.Fsync(h)])
    res = _all(eng, 4)
    assert all(res[i].result == -errno.EBADF for i in ids), res
    h2 = w.create_file(tmp_path / "y", RW, SHARE, C.CREATE_ALWAYS, C.FILE_FLAG_OVERLAPPED)
    try:
        rid = eng.submit(ie.Read(h2, bytearray(4)))  # offset -1 on an overlapped disk file
        assert _all(eng, 1)[rid].result == -errno.EINVAL
    finally:
        w.close_handle(h2)


_DATA = bytes(range(256)) * 64
_STEP = st.one_of(
    st.tuples(st.just("nop")),
    st.tuples(st.just("timeout"), st.sampled_from([0, 0.001, 0.02, 30])),
    st.tuples(st.just("read"), st.integers(0, len(_DATA) + 10), st.integers(1, 600),
              st.booleans()),
    st.tuples(st.just("recv"), st.integers(1, 64)),
    st.tuples(st.just("send"), st.binary(min_size=1, max_size=32)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("poll")),
)


@pytest.mark.covers("windows.io.IocpDriver")
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(_STEP, max_size=25))
def test_every_op_completes_exactly_once(tmp_path: Path, script: list[tuple[Any, ...]]) -> None:
    p = tmp_path / "data"
    if not p.exists():
        p.write_bytes(_DATA)
    hov = w.create_file(p, C.GENERIC_READ, SHARE, C.OPEN_EXISTING, C.FILE_FLAG_OVERLAPPED)
    hsync = w.create_file(p, C.GENERIC_READ, SHARE, C.OPEN_EXISTING)
    a, b = socket.socketpair()
    e = IocpDriver(ie.IoEngineConfig(entries=8))
    expect: dict[int, tuple[Any, ...]] = {}
    bufs: dict[int, bytearray] = {}
    done: dict[int, Any] = {}
    sent = bytearray()
    try:
        for step in script:
            kind = step[0]
            if kind == "poll":
                for r in e.poll(0):
                    assert r.submission_id not in done
                    done[r.submission_id] = r
                continue
            if kind == "send":
                b.sendall(step[1])
                sent += step[1]
                continue
            if kind == "nop":
                op: Any = ie.Nop()
            elif kind == "timeout":
                op = ie.Timeout(step[1])
            elif kind == "read":
                bufs_next = bytearray(step[2])
                op = ie.Read(hov if step[3] else hsync, bufs_next, None, step[1])
            elif kind == "recv":
                bufs_next = bytearray(step[1])
                op = ie.Recv(a.fileno(), bufs_next)
            else:
                if not expect:
                    continue
                op = ie.Cancel(sorted(expect)[step[1] % len(expect)])
            try:
                sid = e.submit(op)
            except errors.WouldBlock:
                for r in e.poll(5):
                    done[r.submission_id] = r
                sid = e.submit(op)
            expect[sid] = step
            if kind in ("read", "recv"):
                bufs[sid] = bufs_next
        for sid, step in expect.items():  # nothing may stay pending forever
            if step[0] in ("timeout", "recv") and sid not in done:
                e.cancel(sid)
        while len(done) < len(expect):
            batch = e.poll(10)
            assert batch, f"{len(expect) - len(done)} ops never completed"
            for r in batch:
                assert r.submission_id in expect and r.submission_id not in done
                done[r.submission_id] = r
    finally:
        e.shutdown()
        a.close()
        b.close()
        w.close_handle(hsync)
        w.close_handle(hov)
    assert set(done) == set(expect)
    received = bytearray()
    for sid in sorted(done):
        r, step = done[sid], expect[sid]
        if step[0] == "nop":
            assert r.result == 0
        elif step[0] == "timeout":
            assert r.result in (0, -errno.ECANCELED)
        elif step[0] == "cancel":
            assert r.result in (0, -errno.ENOENT, -errno.EALREADY)
        elif step[0] == "read":
            want = _DATA[step[1]:step[1] + step[2]]
            assert r.result in (len(want), -errno.ECANCELED)
            if r.result >= 0:
                assert bytes(bufs[sid][:r.result]) == want
        else:
            assert r.result > 0 or r.result == -errno.ECANCELED
            if r.result > 0:
                received += bufs[sid][:r.result]
    # posted receives are filled in posting order: together, a prefix of the stream
    assert bytes(received) == bytes(sent[:len(received)])


@pytest.mark.covers("windows.io.IocpDriver")
def test_accepted_sockets_are_non_blocking(eng: Any) -> None:
    ls = w.wsa_socket(C.AF_INET, C.SOCK_STREAM)
    w.bind(ls, w.make_sockaddr(C.AF_INET, ("127.0.0.1", 0)))
    w.listen(ls)
    peer = socket.create_connection(w.parse_sockaddr(w.getsockname(ls)), timeout=30)
    try:
        acc = eng.submit(ie.Accept(ls))
        s = _all(eng, 1)[acc].result
        with pytest.raises(errors.WouldBlock):
            w.recv(s, bytearray(4))  # nothing sent: would block, not block
        w.closesocket(s)
    finally:
        peer.close()
        w.closesocket(ls)
