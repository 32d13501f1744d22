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
