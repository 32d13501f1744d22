"""The IOEngine contract, one suite over every driver (see conformance/_support/engines.py)."""

from __future__ import annotations

import errno
import gc
import mmap
import random
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance._support import ON_WINDOWS, UNDER_WINE
from conformance._support.engines import (
    ASYNC_BACKENDS,
    BACKENDS,
    EngineBackend,
    assert_no_leak,
    close_file,
    close_socket,
    closed_handle,
    drain,
    handles,
    inheritable,
    is_open,
    open_direct,
    open_file,
    pread,
    require,
    seek,
    socket_pair,
    stream_socket,
    tell,
)
from vllsi import errors, net_ops
from vllsi import io_engine as ie

CORE = ("io_engine.IOEngine", "io_engine.CompletionResult", "io_engine.SubmissionId")


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request: pytest.FixtureRequest) -> EngineBackend:
    b: EngineBackend = request.param
    require(b)
    return b


@pytest.fixture(params=ASYNC_BACKENDS, ids=lambda b: b.name)
def async_backend(request: pytest.FixtureRequest) -> EngineBackend:
    b: EngineBackend = request.param
    require(b)
    return b


@pytest.fixture
def engine(backend: EngineBackend) -> Iterator[Any]:
    e = backend.make(16)
    yield e
    e.shutdown()


@pytest.fixture
def aengine(async_backend: EngineBackend) -> Iterator[Any]:
    e = async_backend.make(16)
    yield e
    e.shutdown()


@pytest.fixture
def datafile(tmp_path: Path) -> Iterator[tuple[int, bytes]]:
    data = random.Random(7).randbytes(64 * 1024)
    p = tmp_path / "data"
    p.write_bytes(data)
    fd = open_file(p)
    yield fd, data
    close_file(fd)


def one(engine: Any, op: Any) -> Any:
    sid = engine.submit(op)
    return drain(engine, 1)[sid]


@pytest.mark.covers(*CORE, "io_engine.Read", "io_engine.Write")
def test_read_write_at_offsets(engine: Any, datafile: tuple[int, bytes]) -> None:
    assert isinstance(engine, ie.IOEngine)
    fd, data = datafile
    bufs = [bytearray(4096) for _ in range(8)]
    offs = [4096 * i + 17 for i in range(8)]
    ids = engine.submit_many(ie.Read(fd, b, None, o) for b, o in zip(bufs, offs, strict=True))
    assert len(set(ids)) == 8
    got = drain(engine, 8)
    for sid, b, o in zip(ids, bufs, offs, strict=True):
        r = got[sid]
        assert isinstance(r, ie.CompletionResult) and r.result == 4096 and r.error is None
        assert r.value() == 4096
        assert bytes(b) == data[o:o + 4096]
    assert tell(fd) == 0  # positional reads never move the offset
    r = one(engine, ie.Write(fd, b"HELLO", None, 100))
    assert r.result == 5
    assert pread(fd, 5, 100) == b"HELLO"
    r = one(engine, ie.Write(fd, memoryview(b"abcdef"), 3, 200))  # len limits the write
    assert r.result == 3 and pread(fd, 4, 200) == b"abc" + data[203:204]


class _TaggedRead(ie.Read):
    """A user subclass of an op (with a slot of its own)."""

    __slots__ = ("tag",)

    def __init__(self, fd: int, buf: Any, offset: int, tag: str) -> None:
        super().__init__(fd, buf, None, offset)
        object.__setattr__(self, "tag", tag)


@pytest.mark.covers(*CORE, "io_engine.Read")
def test_op_subclasses_are_refused(engine: Any, datafile: tuple[int, bytes]) -> None:
    """Every driver takes the exact op classes only (a subclass could override a
    field with a property behind the engine's checks and pinning): TypeError,
    nothing submitted."""
    fd, _ = datafile
    buf = bytearray(64)
    with pytest.raises(TypeError, match="not an engine op"):
        engine.submit(_TaggedRead(fd, buf, 4096, "t"))
    with pytest.raises(TypeError, match="not an engine op"):
        engine.submit_many([ie.Nop(), _TaggedRead(fd, buf, 4096, "t")])
    assert engine.poll(0) == []
    buf.extend(b"x")  # not pinned


@pytest.mark.covers("io_engine.Read", "io_engine.Write")
def test_offset_minus_one_uses_and_advances_position(engine: Any,
                                                     datafile: tuple[int, bytes],
                                                     tmp_path: Path) -> None:
    fd, data = datafile
    if ON_WINDOWS:
        # An overlapped handle has no file pointer: -1 there is -EINVAL (see
        # vllsi.windows.io); a synchronous handle has one.
        if engine.backend == "iocp":
            assert one(engine, ie.Read(fd, bytearray(1))).result == -errno.EINVAL
        fd = open_file(tmp_path / "data", overlapped=False)
    try:
        seek(fd, 1000)
        b = bytearray(100)
        assert one(engine, ie.Read(fd, b)).result == 100
        assert bytes(b) == data[1000:1100]
        assert tell(fd) == 1100
        assert one(engine, ie.Write(fd, b"xyz", None, -1)).result == 3
        assert pread(fd, 3, 1100) == b"xyz"
    finally:
        if ON_WINDOWS:
            close_file(fd)


@pytest.mark.covers("io_engine.Read")
def test_any_buffer_protocol_object(engine: Any, datafile: tuple[int, bytes]) -> None:
    fd, data = datafile
    m = mmap.mmap(-1, 8192)
    arr = bytearray(300)
    view = memoryview(arr)[100:200]
    ids = engine.submit_many([ie.Read(fd, m, 4096, 0), ie.Read(fd, view, None, 50)])
    got = drain(engine, 2)
    assert got[ids[0]].result == 4096 and m[:4096] == data[:4096]
    assert got[ids[1]].result == 100 and bytes(arr[100:200]) == data[50:150]
    assert bytes(arr[:100]) == bytes(100)
    m.close()


@pytest.mark.covers("io_engine.Read", "io_engine.Write", "io_engine.Send", "io_engine.Recv")
@pytest.mark.parametrize("make", [
    lambda: ie.Read("3", bytearray(1)),
    lambda: ie.Read(3, b"read-only"),
    lambda: ie.Read(3, "text"),
    lambda: ie.Write(3, 12),
    lambda: ie.Recv(3, bytearray(1), None, -1),
    lambda: ie.Send(3, b"x", -1),
    lambda: ie.Read(3, bytearray(1), None, -2),
    lambda: ie.Read(-1, bytearray(1)),
    lambda: ie.Timeout(-1),
    lambda: ie.Timeout(float("nan")),
    lambda: ie.Timeout("1"),
    lambda: ie.Cancel(-1),
    lambda: ie.Fsync(3, 1),
    lambda: ie.Connect(3, 1234),
])
def test_bad_op_arguments_raise_before_any_syscall(make: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        make()


@pytest.mark.covers(*CORE, "io_engine.Read", "io_engine.Nop")
def test_bad_batch_submits_nothing(engine: Any, datafile: tuple[int, bytes]) -> None:
    fd, _ = datafile
    b = bytearray(10)
    before = engine.statistics()["submitted"]
    with pytest.raises(ValueError):
        engine.submit_many([ie.Nop(), ie.Read(fd, b, 11, 0)])  # len beyond the buffer
    with pytest.raises(TypeError):
        engine.submit_many([ie.Nop(), "not an op"])
    with pytest.raises(TypeError):
        engine.poll("1")
    assert engine.statistics()["submitted"] == before
    assert engine.poll(0) == []
    b.extend(b"x")  # not left pinned by the rejected batch


@pytest.mark.covers(*CORE, "io_engine.Read", "io_engine.Close", "io_engine.Fsync")
def test_failures_are_data(engine: Any, tmp_path: Path) -> None:
    r = closed_handle()
    res = one(engine, ie.Read(r, bytearray(10), None, 0))
    assert res.result == -errno.EBADF
    assert isinstance(res.error, errors.BadDescriptor) and res.error.errno == errno.EBADF
    with pytest.raises(errors.BadDescriptor):
        res.value()
    assert one(engine, ie.Close(r)).result == -errno.EBADF
    assert one(engine, ie.Fsync(r)).result == -errno.EBADF


@pytest.mark.covers("io_engine.Nop", "io_engine.Fsync", "io_engine.Close")
def test_nop_fsync_close(engine: Any, tmp_path: Path) -> None:
    assert one(engine, ie.Nop()).result == 0
    fd = open_file(tmp_path / "f", create=True)
    from vllsi import file_ops

    assert file_ops.pwrite(fd, b"data", 0) == 4
    assert one(engine, ie.Fsync(fd)).result == 0
    assert one(engine, ie.Fsync(fd, datasync=True)).result == 0
    assert one(engine, ie.Close(fd)).result == 0
    assert not is_open(fd)


@pytest.mark.covers("io_engine.Timeout")
def test_timeout_completes_with_zero(engine: Any) -> None:
    long_ = engine.submit(ie.Timeout(60))
    short = engine.submit(ie.Timeout(0.01))
    got = drain(engine, 1)
    assert got == {short: got[short]} and got[short].result == 0
    assert engine.poll(0) == []  # the 60 s timer has not fired
    engine.cancel(long_)
    assert drain(engine, 1)[long_].result == -errno.ECANCELED


@pytest.mark.covers("io_engine.Cancel", "io_engine.Timeout")
def test_cancel_op_on_timeout(engine: Any) -> None:
    t = engine.submit(ie.Timeout(60))
    c = engine.submit(ie.Cancel(t))
    got = drain(engine, 2)
    assert got[c].result == 0
    assert got[t].result == -errno.ECANCELED and got[t].cancelled
    assert got[t].error is not None and got[t].error.errno == errno.ECANCELED
    # Nothing in flight under that id any more.
    c2 = engine.submit(ie.Cancel(t))
    assert drain(engine, 1)[c2].result == -errno.ENOENT
    engine.cancel(t)  # the method form is a no-op for finished ops
    assert engine.poll(0) == []


@pytest.mark.covers("io_engine.Cancel", "io_engine.Recv")
def test_cancel_pending_recv(aengine: Any) -> None:
    a, b = socket_pair()
    try:
        buf = bytearray(16)
        rid = aengine.submit(ie.Recv(a, buf))
        assert aengine.poll(0) == []
        cid = aengine.submit(ie.Cancel(rid))
        got = drain(aengine, 2)
        assert got[cid].result == 0 and got[rid].result == -errno.ECANCELED
        buf.extend(b"!")  # the buffer is no longer pinned
        rid2 = aengine.submit(ie.Recv(a, bytearray(16)))
        aengine.cancel(rid2)
        assert drain(aengine, 1)[rid2].result == -errno.ECANCELED
    finally:
        close_socket(a)
        close_socket(b)


@pytest.mark.covers("io_engine.Close", "io_engine.Recv")
def test_close_cancels_queued_ops_on_the_fd(aengine: Any) -> None:
    fd, b = socket_pair()
    try:
        rid = aengine.submit(ie.Recv(fd, bytearray(8)))
        assert aengine.poll(0) == []
        cid = aengine.submit(ie.Close(fd))
        got = drain(aengine, 2)
        assert got[cid].result == 0 and got[rid].result == -errno.ECANCELED
        assert not is_open(fd)
    finally:
        close_socket(b)


def _listener(family: str, tmp_path: Path) -> tuple[int, Any]:
    """A listening non-blocking vllsi.net_ops socket of ``family`` and its address."""
    fam = {"inet": net_ops.AF_INET, "inet6": net_ops.AF_INET6, "unix": net_ops.AF_UNIX}[family]
    try:
        lst = stream_socket(fam)
    except OSError as exc:
        if family != "inet6":
            raise
        pytest.skip(f"environment: no IPv6 here ({exc})")
    try:
        if family == "inet":
            net_ops.bind(lst, ("127.0.0.1", 0))
        elif family == "inet6":
            net_ops.bind(lst, ("::1", 0))
        else:
            net_ops.bind(lst, str(tmp_path / "s"))
    except OSError as exc:
        close_socket(lst)
        if family != "inet6":
            raise
        pytest.skip(f"environment: no IPv6 loopback ({exc})")
    net_ops.listen(lst, 8)
    return lst, net_ops.getsockname(lst)


@pytest.mark.covers(*CORE, "io_engine.Accept", "io_engine.Connect", "io_engine.Send",
                    "io_engine.Recv")
@pytest.mark.parametrize("family", [
    "inet", "inet6",
    pytest.param("unix", marks=pytest.mark.xfail(
        UNDER_WINE, strict=True, raises=OSError,
        reason="Wine 8 divergence from Windows: no AF_UNIX sockets (WSAEAFNOSUPPORT)")),
])
def test_accept_connect_send_recv(engine: Any, family: str, tmp_path: Path) -> None:
    lst, addr = _listener(family, tmp_path)
    fam = {"inet": net_ops.AF_INET, "inet6": net_ops.AF_INET6, "unix": net_ops.AF_UNIX}[family]
    cli = stream_socket(fam)
    acc_fd = -1
    try:
        cid = engine.submit(ie.Connect(cli, addr))
        conn = drain(engine, 1)[cid]
        assert conn.result == 0
        aid = engine.submit(ie.Accept(lst))
        acc = drain(engine, 1)[aid]
        assert acc.result >= 0
        acc_fd = acc.result
        if family == "unix":
            assert acc.address in ("", b"", None)  # an unbound client has no name
        else:
            assert acc.address[:2] == net_ops.getsockname(cli)[:2]
        assert inheritable(acc_fd) is False
        with pytest.raises(errors.WouldBlock):  # accepted sockets are non-blocking
            net_ops.recv_into(acc_fd, bytearray(1))
        msg = b"ping" * 100
        sid = engine.submit(ie.Send(cli, msg))
        assert drain(engine, 1)[sid].result == len(msg)
        buf = bytearray(1000)
        rid = engine.submit(ie.Recv(acc_fd, buf))
        n = drain(engine, 1)[rid].result
        assert n > 0 and bytes(buf[:n]) == msg[:n]
    finally:
        if acc_fd >= 0:
            close_socket(acc_fd)
        close_socket(cli)
        close_socket(lst)


@pytest.mark.covers("io_engine.Connect")
def test_connect_refused_reports_so_error(engine: Any, tmp_path: Path) -> None:
    probe, addr = _listener("inet", tmp_path)
    close_socket(probe)  # nobody listens there now
    cli = stream_socket(net_ops.AF_INET)
    try:
        res = one(engine, ie.Connect(cli, addr))
        assert res.result == -errno.ECONNREFUSED
    finally:
        close_socket(cli)


@pytest.mark.covers(*CORE, "io_engine.Nop")
def test_submit_beyond_capacity_never_drops(backend: EngineBackend) -> None:
    e = backend.make(4)
    try:
        cap = e.capacity
        assert cap >= 4
        ops = [ie.Nop() for _ in range(cap * 2 + 3)]
        with pytest.raises(errors.WouldBlock) as ei:
            e.submit_many(ops)
        err = ei.value
        assert err.submitted == cap and len(err.ids) == cap  # type: ignore[attr-defined]
        got = drain(e, cap)
        assert set(got) == set(err.ids)  # type: ignore[attr-defined]
        rest = ops[cap:]
        seen = len(got)
        while rest:
            try:
                ids = e.submit_many(rest)
                rest = []
                n = len(ids)
            except errors.WouldBlock as exc:
                n = exc.submitted or 0
                rest = rest[n:]
            seen += len(drain(e, n))
        assert seen == len(ops)
    finally:
        e.shutdown()


@pytest.mark.covers(*CORE, "io_engine.Timeout")
def test_poll_zero_never_blocks(engine: Any) -> None:
    engine.submit(ie.Timeout(60))
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(engine.poll(0)))
    t.start()
    t.join(30)
    assert not t.is_alive() and out == [[]]


@pytest.mark.covers(*CORE, "io_engine.Recv")
def test_poll_zero_sees_a_completion_that_arrived_while_idle(aengine: Any) -> None:
    """A Recv that completes while nobody is in the engine (the peer writes after
    submit) is reported by a later poll(0), not only by a blocking poll."""
    engine = aengine
    a, b = socket_pair()
    try:
        buf = bytearray(16)
        sid = engine.submit(ie.Recv(a, buf))
        assert engine.poll(0) == []
        assert net_ops.send(b, b"idle") == 4
        time.sleep(0.05)  # the data is there before we look (not a timing assertion)
        got: list[Any] = []
        for _ in range(200):  # poll(0) only: never a blocking wait
            got = engine.poll(0)
            if got:
                break
            time.sleep(0.01)
        assert [(r.submission_id, r.result) for r in got] == [(sid, 4)]
        assert bytes(buf[:4]) == b"idle"
    finally:
        close_file(a)
        close_file(b)


class _Alarm(Exception):
    pass


@pytest.mark.covers(*CORE, "io_engine.Timeout")
def test_signal_handler_exception_ends_a_blocked_poll(engine: Any) -> None:
    """PEP 475: a signal interrupting poll(None) runs its Python handler; the
    handler's exception propagates out of poll (the wait is not resumed forever)."""
    import signal

    if not hasattr(signal, "setitimer"):
        pytest.skip("platform: no setitimer (POSIX interval timers) here")
    engine.submit(ie.Timeout(120))

    def handler(signum: int, frame: Any) -> None:
        raise _Alarm

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)  # repeats: a late poll still sees one
        with pytest.raises(_Alarm):
            engine.poll(None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert engine.poll(0) == []  # the engine is still usable; the Timeout still pending


@pytest.mark.covers(*CORE)
def test_wake_interrupts_a_blocked_poll(engine: Any) -> None:
    engine.submit(ie.Timeout(120))
    out: list[Any] = []
    started = threading.Event()

    def waiter() -> None:
        started.set()
        out.append(engine.poll(None))

    t = threading.Thread(target=waiter)
    t.start()
    started.wait()
    for _ in range(200):  # wake until the poll returns (it may not be blocked yet)
        engine.wake()
        t.join(0.05)
        if not t.is_alive():
            break
    assert not t.is_alive() and out == [[]]
    # A wake before poll is not lost either: the next blocking poll returns.
    engine.wake()
    assert engine.poll(None) == []


@pytest.mark.covers(*CORE, "io_engine.Read", "io_engine.Accept", "io_engine.Timeout")
def test_shutdown_with_ops_in_flight(backend: EngineBackend, tmp_path: Path) -> None:
    before = handles()
    lst, addr = _listener("inet", tmp_path)
    a, b = socket_pair()  # non-blocking: SyncEngine performs at submit, it must not block
    bufs = [bytearray(64) for _ in range(4)]
    e = backend.make(8)
    with e:
        e.submit(ie.Timeout(300))
        e.submit(ie.Accept(lst))
        e.submit(ie.Accept(lst, multishot=True))
        for buf in bufs:
            e.submit(ie.Recv(a, buf))
        # An Accept that may complete but is never reaped: its new fd must not leak.
        c = stream_socket(net_ops.AF_INET, nonblocking=False)
        net_ops.connect(c, addr)
    e.shutdown()  # idempotent
    assert e.closed
    with pytest.raises(OSError):
        e.submit(ie.Nop())
    for buf in bufs:
        buf.extend(b"x")  # every pin was released
    for s in (c, lst, a, b):
        close_socket(s)
    assert_no_leak(before)


@pytest.mark.covers("io_engine.Read")
def test_buffers_referenced_only_by_the_engine_are_pinned(engine: Any,
                                                         datafile: tuple[int, bytes]) -> None:
    fd, data = datafile
    seen: dict[int, bytes] = {}

    class Probe(bytearray):
        tag = -1

        def __del__(self) -> None:  # records the bytes when the engine lets go
            seen[self.tag] = bytes(self)

    ops = []
    offsets = []
    rng = random.Random(3)
    for i in range(256):
        buf = Probe(4096)
        buf.tag = i
        off = rng.randrange(0, len(data) - 4096)
        offsets.append(off)
        ops.append(ie.Read(fd, buf, None, off))
    ids: list[int] = []
    del buf
    for k in range(0, 256, 16):
        ids += engine.submit_many(ops[k:k + 16])
        gc.collect()
        ops[k:k + 16] = [None] * 16  # the engine holds the only reference now
        gc.collect()
        if k % 32 == 16:  # capacity is 32 here: reap as it fills
            drain(engine, 32)
    gc.collect()
    while len(seen) < 256:
        if not engine.poll(1):
            gc.collect()
    for i, off in enumerate(offsets):
        assert seen[i] == data[off:off + 4096], i


@pytest.mark.covers("io_engine.Read")
def test_o_direct_random_reads_qd32(engine: Any, tmp_path: Path) -> None:
    """O_DIRECT on Linux, FILE_FLAG_NO_BUFFERING (overlapped) on Windows."""
    size = 4 << 20
    data = random.Random(11).randbytes(size)
    p = tmp_path / "direct"
    p.write_bytes(data)
    try:
        fd = open_direct(p)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            pytest.skip("environment: the filesystem refuses O_DIRECT")
        raise
    try:
        from vllsi.memory import AlignedBuffer

        bufs = [AlignedBuffer(4096, 4096) for _ in range(32)]
        rng = random.Random(5)
        for _ in range(4):
            offs = [rng.randrange(0, size // 4096) * 4096 for _ in range(32)]
            ids = engine.submit_many(ie.Read(fd, b, None, o) for b, o in zip(bufs, offs, strict=True))
            got = drain(engine, 32)
            for sid, b, o in zip(ids, bufs, offs, strict=True):
                if got[sid].result == -errno.EINVAL:
                    pytest.skip("environment: O_DIRECT reads refused")
                assert got[sid].result == 4096
                assert bytes(memoryview(b)) == data[o:o + 4096]
        for b in bufs:
            b.close()
    finally:
        close_file(fd)


@pytest.mark.covers("io_engine.IoEngineConfig", "io_engine.create_io_engine")
def test_config_and_factory() -> None:
    with pytest.raises(ValueError):
        ie.IoEngineConfig(entries=0)
    with pytest.raises(TypeError):
        ie.IoEngineConfig(entries="8")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ie.create_io_engine("io_uring")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ie.create_io_engine(ie.IoEngineConfig(backend="nope"))
    with ie.create_io_engine(ie.IoEngineConfig(entries=8, backend="sync")) as e:
        assert e.backend == "sync" and e.capacity == 16
    for b in BACKENDS:
        if b.available() is None:
            with ie.create_io_engine(ie.IoEngineConfig(backend=b.name)) as e:
                assert e.backend == b.name and isinstance(e, ie.IOEngine)
                assert one(e, ie.Nop()).result == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ie.EngineFallbackWarning)  # io_uring may be refused
        e = ie.create_io_engine()
    try:
        assert e.backend in {"io_uring", "epoll", "sync", "kqueue", "iocp"}
        assert isinstance(e, ie.IOEngine)
    finally:
        e.shutdown()


@pytest.mark.covers("io_engine.CompletionOp", "io_engine.CompletionResult")
def test_ops_are_frozen_and_results_decode() -> None:
    op = ie.Read(3, bytearray(4), 2, 8)
    assert isinstance(op, ie.OP_TYPES)
    with pytest.raises(AttributeError):
        op.fd = 4  # type: ignore[misc]
    assert "bytearray" not in repr(op)  # buffers are not dumped into reprs
    r = ie.CompletionResult(5, -errno.ENOENT)
    assert isinstance(r.error, errors.NotFound) and not r.cancelled
    assert ie.CompletionResult(5, 7).value() == 7
    assert ie.CompletionResult(5, -errno.ECANCELED).cancelled


@pytest.mark.covers("io_engine.Accept", "io_engine.CompletionResult", "io_engine.Cancel")
def test_multishot_accept(aengine: Any, tmp_path: Path) -> None:
    lst, addr = _listener("inet", tmp_path)
    clients: list[int] = []
    got: list[Any] = []
    try:
        sid = aengine.submit(ie.Accept(lst, multishot=True))
        for _ in range(3):
            c = stream_socket(net_ops.AF_INET, nonblocking=False)
            clients.append(c)
            net_ops.connect(c, addr)
        misses = 0
        while len(got) < 3 and misses < 40:
            batch = aengine.poll(0.25)
            misses += not batch
            got += batch
        assert len(got) == 3, got
        assert all(r.submission_id == sid and r.result >= 0 and r.more for r in got)
        assert sorted(r.address for r in got) == sorted(net_ops.getsockname(c) for c in clients)
        cid = aengine.submit(ie.Cancel(sid))
        fin = drain(aengine, 2)
        assert fin[cid].result == 0
        assert fin[sid].result == -errno.ECANCELED and not fin[sid].more
        assert aengine.statistics()["in_flight"] == 0
    finally:
        for r in got:
            if r.result >= 0:
                close_socket(r.result)
        for c in clients:
            close_socket(c)
        close_socket(lst)


@pytest.mark.covers("io_engine.Accept")
def test_multishot_accept_on_sync_engine_accepts_once(tmp_path: Path) -> None:
    from vllsi.embedded import SyncEngine

    lst, addr = _listener("inet", tmp_path)
    c = stream_socket(net_ops.AF_INET, nonblocking=False)
    net_ops.connect(c, addr)
    with SyncEngine() as e:
        sid = e.submit(ie.Accept(lst, multishot=True))
        (r,) = e.poll(0)
        assert r.submission_id == sid and r.result >= 0 and not r.more
        close_socket(r.result)
        assert e.statistics()["in_flight"] == 0
    close_socket(c)
    close_socket(lst)
