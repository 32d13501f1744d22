"""Driver-specific behaviour of IoUringDriver and EpollDriver (the shared contract is in
conformance/io_engine/)."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from conformance._support import UNDER_QEMU, linux_only, skip
from conformance._support.engines import drain
from vllsi import errors
from vllsi import io_engine as ie
from vllsi.io_engine import IoEngineConfig

pytestmark = linux_only


def _uring(entries: int = 8) -> Any:
    from vllsi.linux.io import IoUringDriver

    ok, why = IoUringDriver.probe()
    if not ok:
        skip("environment" if UNDER_QEMU or "EPERM" in why else "kernel", why)
    return IoUringDriver(IoEngineConfig(entries=entries))


@pytest.mark.covers("linux.io.IoUringDriver")
def test_uring_probe_params_and_sq_chunking() -> None:
    from vllsi.linux.io import NEEDED_FEATURES, IoUringDriver

    e = _uring(4)
    try:
        assert IoUringDriver.probe() == (True, "ok")
        assert e.params.sq_entries == 4 and e.params.cq_entries >= 16
        assert e.params.features & NEEDED_FEATURES == NEEDED_FEATURES
        assert e.capacity == 8
        # 8 ops through a 4-entry SQ ring: flushed to the kernel as the ring fills.
        ids = e.submit_many([ie.Nop() for _ in range(8)])
        got = drain(e, 8)
        assert set(got) == set(ids) and all(r.result == 0 for r in got.values())
        assert e.statistics()["enters"] >= 2
    finally:
        e.shutdown()
    with pytest.raises(TypeError):
        IoUringDriver("8")  # type: ignore[arg-type]


@pytest.mark.covers("linux.io.IoUringDriver")
def test_uring_sqes_are_zeroed_between_uses(tmp_path: Path) -> None:
    """A reused SQE slot carries no stale field: an Accept's addr2 left in a Nop
    or a Send's msg_flags left in a Read would change their results."""
    e = _uring(2)
    p = tmp_path / "f"
    p.write_bytes(b"0123456789")
    fd = os.open(p, os.O_RDONLY)
    a, b = socket.socketpair()
    try:
        for _ in range(6):
            s = e.submit(ie.Send(a.fileno(), b"x", None, 0x8000))  # MSG_MORE-style flags
            drain(e, 1)
            buf = bytearray(4)
            r = e.submit(ie.Read(fd, buf, None, 3))
            assert drain(e, 1)[r].result == 4 and buf == b"3456"
            assert s != r
    finally:
        e.shutdown()
        os.close(fd)
        a.close()
        b.close()


@pytest.mark.covers("linux.io.IoUringDriver", "linux.io.EpollDriver")
def test_ring_primitives_acquire_release() -> None:
    try:
        from vllsi.linux import _trampoline
    except ImportError:
        skip("environment", "native extension not built")
    lib, ffi = _trampoline.lib, _trampoline.ffi
    cell = ffi.new("uint32_t[4]")
    addr = int(ffi.cast("uintptr_t", cell))
    lib.vllsi_uring_store_release(addr + 4, 0xFFFFFFFE)
    assert cell[1] == 0xFFFFFFFE and lib.vllsi_uring_load_acquire(addr + 4) == 0xFFFFFFFE
    assert lib.vllsi_uring_sizeof_sqe() == 64
    # A fake CQ ring of 4 entries with head 2, tail 5 (wrapping): copy 3 CQEs in order.
    head_tail = ffi.new("uint32_t[2]", [2, 5])
    cqes = ffi.new("uint64_t[8]")
    for i in range(4):
        cqes[2 * i] = 100 + i
        cqes[2 * i + 1] = i  # res = i, flags = 0
    out = ffi.new("uint64_t[8]")
    ht = int(ffi.cast("uintptr_t", head_tail))
    n = lib.vllsi_uring_copy_cqes(ht, ht + 4, 3, int(ffi.cast("uintptr_t", cqes)),
                                  int(ffi.cast("uintptr_t", out)), 8)
    assert n == 3 and head_tail[0] == 5
    assert [out[0], out[2], out[4]] == [102, 103, 100]


@pytest.mark.covers("linux.io.EpollDriver")
def test_epoll_serves_regular_files_at_submit(tmp_path: Path) -> None:
    from vllsi.linux.io import EpollDriver

    p = tmp_path / "f"
    p.write_bytes(b"abcdef")
    fd = os.open(p, os.O_RDWR)
    e = EpollDriver()
    try:
        buf = bytearray(3)
        sid = e.submit(ie.Read(fd, buf, None, 2))
        assert buf == b"cde"  # performed at submit (epoll refuses regular files)
        assert [(r.submission_id, r.result) for r in e.poll(0)] == [(sid, 3)]
    finally:
        e.shutdown()
        os.close(fd)


@pytest.mark.covers("linux.io.EpollDriver")
def test_epoll_fifo_per_fd_and_pipe_made_nonblocking() -> None:
    from vllsi.linux.io import EpollDriver

    r, w = os.pipe()
    e = EpollDriver()
    try:
        bufs = [bytearray(2) for _ in range(3)]
        ids = e.submit_many(ie.Read(r, b) for b in bufs)
        assert os.get_blocking(r) is False  # the documented side effect
        os.write(w, b"aabbcc")
        got = drain(e, 3)
        assert [got[i].result for i in ids] == [2, 2, 2]
        assert [bytes(b) for b in bufs] == [b"aa", b"bb", b"cc"]
    finally:
        e.shutdown()
        os.close(r)
        os.close(w)


@pytest.mark.covers("linux.io.EpollDriver")
def test_epoll_forget_after_outside_close() -> None:
    from vllsi.linux.io import EpollDriver

    e = EpollDriver()
    a, b = socket.socketpair()
    try:
        fd = a.fileno()
        rid = e.submit(ie.Recv(fd, bytearray(4)))
        e.forget(fd)
        assert [(x.submission_id, x.result) for x in e.poll(0)] == [(rid, -errno.ECANCELED)]
        a.close()
        c, d = socket.socketpair()  # may reuse the number
        try:
            rid = e.submit(ie.Recv(c.fileno(), bytearray(4)))
            d.send(b"ok")
            assert drain(e, 1)[rid].result == 2
        finally:
            c.close()
            d.close()
    finally:
        e.shutdown()
        b.close()


@pytest.mark.covers("linux.io.IoUringDriver", "linux.io.EpollDriver")
def test_drivers_after_shutdown() -> None:
    from vllsi.linux.io import EpollDriver

    for e in (_uring(), EpollDriver()):
        e.shutdown()
        e.shutdown()
        with pytest.raises(errors.BadDescriptor):
            e.submit(ie.Nop())
        with pytest.raises(errors.BadDescriptor):
            e.poll(0)
        with pytest.raises(errors.BadDescriptor):
            e.cancel(1)
        e.wake()  # harmless
        assert e.statistics()["in_flight"] == 0


@pytest.mark.covers("linux.io.EpollDriver")
def test_epoll_bad_fd_is_not_remembered() -> None:
    from vllsi.linux.io import EpollDriver

    e = EpollDriver()
    try:
        a, b = socket.socketpair()
        fd = a.fileno()
        a.close()
        bad = e.submit(ie.Recv(fd, bytearray(4)))
        assert [(x.submission_id, x.result) for x in e.poll(0)] == [(bad, -errno.EBADF)]
        c, d = socket.socketpair()  # likely the same number
        try:
            rid = e.submit(ie.Recv(c.fileno(), bytearray(4)))
            assert e.poll(0) == []  # waits for data instead of failing with EAGAIN
            d.send(b"hi")
            assert drain(e, 1)[rid].result == 2
        finally:
            c.close()
            d.close()
            b.close()
    finally:
        e.shutdown()


@pytest.mark.covers("linux.io.IoUringDriver")
def test_uring_registered_buffers_and_files(tmp_path: Path) -> None:
    """READ_FIXED/WRITE_FIXED through registered buffers, with and without a fixed
    file table: the bytes match os.pread/os.pwrite, results are the byte counts."""
    data = os.urandom(64 * 1024)
    p = tmp_path / "fixed"
    p.write_bytes(data)
    fd = os.open(p, os.O_RDWR | os.O_CLOEXEC)
    e = _uring(8)
    try:
        bufs = [bytearray(4096) for _ in range(12)]  # more than the 8-entry SQ ring
        e.register_buffers(bufs)
        offs = [i * 4096 for i in (3, 0, 7, 1, 15, 2, 9, 4, 5, 6, 8, 10)]
        ids = e.submit_fixed_reads(fd, list(range(12)), offs)
        got = drain(e, 12)
        assert [got[i].result for i in ids] == [4096] * 12
        assert all(bytes(b) == data[o:o + 4096] for b, o in zip(bufs, offs, strict=True))
        e.register_files([-1, fd])
        bufs[0][:] = b"\xab" * 4096
        ids = e.submit_fixed_writes(1, [0], [8192], fixed_file=True)
        assert drain(e, 1)[ids[0]].result == 4096
        assert os.pread(fd, 4096, 8192) == b"\xab" * 4096
        ids = e.submit_fixed_reads(1, [5], [-1], fixed_file=True)  # the file position
        assert drain(e, 1)[ids[0]].result == 4096 and bytes(bufs[5]) == data[:4096]
        e.unregister_files()
        e.unregister_buffers()
        bufs[0].extend(b"x")  # no longer exported
    finally:
        e.shutdown()
        os.close(fd)


@pytest.mark.covers("linux.io.IoUringDriver")
def test_uring_registered_buffers_pin_and_errors(tmp_path: Path) -> None:
    e = _uring(4)
    r, w = os.pipe()
    try:
        buf, ro = bytearray(16), b"read-only"
        with pytest.raises(ValueError):
            e.unregister_buffers()
        with pytest.raises(ValueError):
            e.submit_fixed_reads(r, [0], [-1])  # nothing registered
        with pytest.raises(TypeError):
            e.register_buffers([buf, "text"])
        buf.extend(b"x")  # the failed registration pinned nothing
        e.register_buffers([buf, ro])
        with pytest.raises(BufferError):
            buf.extend(b"x")  # pinned while registered
        with pytest.raises(errors.Busy):
            e.register_buffers([bytearray(1)])
        # Bad input: nothing submitted, even in a batch longer than the SQ ring.
        with pytest.raises(ValueError):
            e.submit_fixed_reads(r, [0, 0, 0, 0, 0, 2], [-1] * 6)
        with pytest.raises(TypeError):
            e.submit_fixed_reads(r, [1], [-1])  # a read into the read-only one
        with pytest.raises(ValueError):
            e.submit_fixed_reads(0, [0], [-1], fixed_file=True)  # no file table
        assert e.statistics()["submitted"] == 0
        # In flight: a pipe read that waits. Unregistering must refuse.
        (sid,) = e.submit_fixed_reads(r, [0], [-1])
        assert e.poll(0) == []
        with pytest.raises(errors.Busy):
            e.unregister_buffers()
        os.write(w, b"hello")
        assert drain(e, 1)[sid].result == 5 and bytes(buf[:5]) == b"hello"
        (sid,) = e.submit_fixed_reads(r, [0], [-1])  # left in flight for shutdown
    finally:
        e.shutdown()
        os.close(r)
        os.close(w)
    buf.extend(b"x")  # shutdown released the registration and the op's pin
    with pytest.raises(errors.BadDescriptor):
        e.register_buffers([bytearray(1)])


@pytest.mark.covers("linux.io.IoUringDriver")
def test_uring_linked_chain_runs_in_order(tmp_path: Path) -> None:
    """Write -> Fsync -> Read linked: the read sees the write; results in chain order."""
    p = tmp_path / "chain"
    p.write_bytes(b"\0" * 64)
    fd = os.open(p, os.O_RDWR | os.O_CLOEXEC)
    e = _uring(8)
    try:
        out = bytearray(5)
        ids = e.submit_linked([ie.Write(fd, b"HELLO", None, 10), ie.Fsync(fd),
                               ie.Read(fd, out, None, 10)])
        got = drain(e, 3)
        assert [got[i].result for i in ids] == [5, 0, 5]
        assert bytes(out) == b"HELLO"
    finally:
        e.shutdown()
        os.close(fd)


@pytest.mark.covers("linux.io.IoUringDriver")
def test_uring_linked_failure_cancels_the_rest(tmp_path: Path) -> None:
    """A failing op breaks the chain: the ops after it complete with -ECANCELED and
    never run (the file is untouched)."""
    p = tmp_path / "chain"
    p.write_bytes(b"\0" * 16)
    fd = os.open(p, os.O_RDWR | os.O_CLOEXEC)
    r, w = os.pipe()
    os.close(w)
    e = _uring(8)
    try:
        bad = os.open(p, os.O_RDONLY | os.O_CLOEXEC)  # a write on it fails with EBADF
        ids = e.submit_linked([ie.Write(bad, b"x", None, 0), ie.Write(fd, b"NO", None, 0),
                               ie.Close(r), ie.Nop()])
        got = drain(e, 4)
        assert got[ids[0]].result == -errno.EBADF
        assert [got[i].result for i in ids[1:]] == [-errno.ECANCELED] * 3
        assert os.pread(fd, 2, 0) == b"\0\0"
        os.fstat(r)  # the linked Close never ran
        os.close(bad)
    finally:
        e.shutdown()
        os.close(fd)
        os.close(r)


@pytest.mark.covers("linux.io.IoUringDriver")
def test_uring_linked_all_or_nothing() -> None:
    e = _uring(4)  # SQ ring of 4, capacity 8
    try:
        with pytest.raises(TypeError):
            e.submit_linked([ie.Nop(), "not an op"])
        with pytest.raises(ValueError):
            e.submit_linked([ie.Nop()] * 5)  # longer than the SQ ring
        assert e.statistics()["submitted"] == 0
        e.submit_many([ie.Timeout(60) for _ in range(6)])
        with pytest.raises(errors.WouldBlock) as exc:
            e.submit_linked([ie.Nop()] * 3)  # 2 free slots
        assert exc.value.submitted == 0  # type: ignore[attr-defined]
        assert e.submit_linked([]) == []
        ids = e.submit_linked([ie.Nop(), ie.Nop()])
        got = drain(e, 2)
        assert [got[i].result for i in ids] == [0, 0]
    finally:
        e.shutdown()
    with pytest.raises(errors.BadDescriptor):
        e.submit_linked([ie.Nop()])
