"""IoUringDriver extras: provided-buffer rings (IORING_REGISTER_PBUF_RING) and multishot
recv (IORING_RECV_MULTISHOT), over real sockets and a real peer process."""

from __future__ import annotations

import errno
import gc
import hashlib
import os
import random
import socket
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from conformance._support import UNDER_QEMU, linux_only, skip
from conformance._support.cc import python_argv, run_c
from conformance._support.engines import open_fds
from vllsi import errors
from vllsi.io_engine import IoEngineConfig

pytestmark = linux_only

F_BUFFER = 1


def _ms(entries: int = 8) -> Any:
    """An IoUringDriver on a kernel with provided-buffer rings and multishot recv."""
    from vllsi.linux.io import IoUringDriver

    ok, why = IoUringDriver.probe()
    if not ok:
        skip("environment" if UNDER_QEMU or "EPERM" in why else "kernel", why)
    ok, why = IoUringDriver.probe_multishot_recv()
    if not ok:
        skip("kernel", why)
    return IoUringDriver(IoEngineConfig(entries=entries))


def _take(e: Any, group: int, r: Any) -> bytes:
    """The bytes of one completion, its buffer recycled."""
    assert r.flags & F_BUFFER, r
    bid = r.flags >> 16
    data = bytes(e.provided(group, bid, r.result))
    e.recycle(group, bid)
    return data


def _some(e: Any, timeout: float = 10.0) -> list[Any]:
    """The next non-empty batch of completions (fails after ``timeout`` seconds
    without one: a hang guard, not a timing assertion)."""
    for _ in range(int(timeout / 0.5)):
        batch: list[Any] = e.poll(0.5)
        if batch:
            return batch
    pytest.fail("no completion arrived")


def _collect(e: Any, sid: int, group: int, last: int = -1) -> tuple[bytes, Any]:
    """Poll one multishot recv until its last completion (or ``last`` bytes), recycling
    buffers as they are consumed: (data, last result)."""
    out = bytearray()
    while True:
        for r in _some(e):
            assert r.submission_id == sid
            if r.result > 0:
                out += _take(e, group, r)
            if not r.more or len(out) == last:
                return bytes(out), r


_PEER = r"""
import hashlib, random, socket, struct, sys, zlib
port, seed, count, nconn = map(int, sys.argv[1:5])
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(nconn)]
for i, c in enumerate(conns):
    c.sendall(struct.pack("=I", i))  # which connection this is
rng = random.Random(seed)
hashes = [hashlib.sha256() for _ in conns]
for _ in range(count):  # messages interleaved over the connections
    i = rng.randrange(nconn)
    p = rng.randbytes(rng.randint(1, 5000))
    m = struct.pack("=II", len(p), zlib.crc32(p)) + p
    hashes[i].update(m)
    conns[i].sendall(m)
for c in conns:
    c.shutdown(socket.SHUT_WR)
print(" ".join(h.hexdigest() for h in hashes))
"""


@pytest.mark.covers("linux.io.IoUringDriver")
def test_multishot_recv_integrity_from_another_process() -> None:
    """A peer process sends 400 random-sized (1..5000 bytes) checksummed messages
    interleaved over 4 TCP connections; one multishot recv per connection shares one
    group of 8 x 1 KiB provided buffers, recycled as consumed: every message is
    intact and each connection's sha256 matches the sender's. A recv that ends with
    -ENOBUFS (ring dry) or with data (CQ ring full) is submitted again; each ends
    with EOF (0)."""
    e = _ms()
    lsock = socket.create_server(("127.0.0.1", 0))
    seed, count, nconn, group = random.randrange(1 << 30), 400, 4, 7
    peer = subprocess.Popen(python_argv("-c", _PEER, str(lsock.getsockname()[1]), str(seed),
                                        str(count), str(nconn)),
                            stdout=subprocess.PIPE, text=True)
    socks: list[socket.socket] = []
    try:
        for _ in range(nconn):
            c = lsock.accept()[0]
            socks.insert(struct.unpack("=I", c.recv(4, socket.MSG_WAITALL))[0], c)
        e.provide_buffers(group, [bytearray(1024) for _ in range(8)])
        streams = [bytearray() for _ in socks]
        hashes = [hashlib.sha256() for _ in socks]
        conn_of = {e.submit_recv_multishot(c, group): i for i, c in enumerate(socks)}
        msgs = resubmits = 0
        while conn_of:
            for r in _some(e, 60.0):
                i = conn_of[r.submission_id]
                if r.result > 0:
                    chunk = _take(e, group, r)
                    hashes[i].update(chunk)
                    stream = streams[i]
                    stream += chunk
                    while len(stream) >= 8:  # parse whole messages, check each
                        n, crc = struct.unpack_from("=II", stream)
                        if len(stream) < 8 + n:
                            break
                        assert zlib.crc32(stream[8:8 + n]) == crc, f"message {msgs} corrupt"
                        del stream[:8 + n]
                        msgs += 1
                if not r.more:
                    del conn_of[r.submission_id]
                    if r.result == -errno.ENOBUFS or r.result > 0:  # ring dry, CQ full
                        resubmits += 1
                        conn_of[e.submit_recv_multishot(socks[i], group)] = i
                    else:
                        assert r.result == 0, r  # EOF ends it
        out, _ = peer.communicate(timeout=60)
        assert peer.returncode == 0
        assert msgs == count and not any(streams)
        assert [h.hexdigest() for h in hashes] == out.split()
        assert e.statistics()["in_flight"] == 0
        assert e._core.pbuf_state(group) == (8, 0, 0)  # every buffer went back
        print(f"{resubmits} resubmissions")
    finally:
        e.shutdown()
        lsock.close()
        for c in socks:
            c.close()
        if peer.poll() is None:
            peer.kill()
            peer.wait()


@pytest.mark.covers("linux.io.IoUringDriver")
def test_multishot_recv_enobufs_then_resume_after_recycle() -> None:
    e = _ms()
    a, b = socket.socketpair()
    try:
        e.provide_buffers(0, [bytearray(8), bytearray(8)])  # referenced by the engine only
        gc.collect()
        data = os.urandom(24)
        b.sendall(data)
        sid = e.submit_recv_multishot(a, 0)
        got: list[Any] = []
        while not got or got[-1].more:
            got += _some(e)
        # Two buffers filled, then the ring ran dry: -ENOBUFS without F_MORE.
        assert [r.result for r in got] == [8, 8, -errno.ENOBUFS]
        assert all(r.submission_id == sid for r in got)
        assert [r.flags >> 16 for r in got[:2]] == [0, 1] and got[0].more and got[1].more
        assert not got[2].flags & F_BUFFER
        first = b"".join(bytes(e.provided(0, r.flags >> 16, 8)) for r in got[:2])
        assert first == data[:16]
        assert e._core.pbuf_state(0) == (2, 0, 2)
        e.recycle(0, 1)
        with pytest.raises(ValueError):
            e.recycle(0, 1)  # in the ring already: cannot be added twice
        e.recycle(0, 0)
        sid = e.submit_recv_multishot(a, 0)
        rest, last = _collect(e, sid, 0, 8)
        assert rest == data[16:] and last.more  # the recycled buffers keep it armed
        b.sendall(b"more")
        assert _collect(e, sid, 0, 4)[0] == b"more"
    finally:
        e.shutdown()
        a.close()
        b.close()


@pytest.mark.covers("linux.io.IoUringDriver")
def test_multishot_recv_cq_ring_full_and_poll0_overflow() -> None:
    """40 one-byte chunks into a CQ ring of 8: CQEs beyond the ring wait in the
    kernel's overflow backlog, and poll(0), which never waits, still brings them in
    (it enters when IORING_SQ_CQ_OVERFLOW is set). Recent kernels end the multishot
    recv when the CQ ring is full, with a last completion that carries data: it is
    resubmitted, and every byte arrives once, in order."""
    import time

    e = _ms(2)
    assert e.params.cq_entries == 8
    a, b = socket.socketpair()
    try:
        e.provide_buffers(0, [bytearray(1) for _ in range(64)])
        data = os.urandom(40)
        b.sendall(data)
        out = bytearray()
        sid = e.submit_recv_multishot(a, 0)
        got: list[Any] = []
        for _ in range(2000):  # poll(0) only: a bounded retry loop, no waiting poll
            batch = e.poll(0)
            got += batch
            if got and not got[-1].more:
                break
            if not batch:
                time.sleep(0.001)
        assert got and not got[-1].more, f"{len(got)} completions, the last still armed"
        assert len(got) > 8  # more than the CQ ring holds: the backlog came in
        while True:
            assert all(r.submission_id == sid for r in got)
            out += b"".join(_take(e, 0, r) for r in got if r.result > 0)
            last = got[-1]
            if len(out) == len(data):
                break
            assert last.result > 0 or last.result == -errno.ENOBUFS, last
            sid = e.submit_recv_multishot(a, 0)
            got = []
            while not got or (got[-1].more and len(out) + len(got) < len(data)):
                got += _some(e)
        assert bytes(out) == data
    finally:
        e.shutdown()
        a.close()
        b.close()


@pytest.mark.covers("linux.io.IoUringDriver")
def test_provided_buffer_ring_tail_wraps() -> None:
    """32768 one-byte buffers: the ring's 16-bit tail starts at 32768 and wraps to 0
    after 32768 recycles; the kernel keeps taking the recycled entries in order, and
    every byte arrives once, in order."""
    e = _ms(256)
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    n = 32768
    try:
        e.provide_buffers(3, [bytearray(1) for _ in range(n)])
        data = os.urandom(n + 300)
        out = bytearray()
        bids: list[int] = []
        sent = 0
        sid = e.submit_recv_multishot(a, 3)
        while len(out) < len(data):
            if sent < len(data):
                sent += b.send(data[sent:sent + 8192])
            for r in e.poll(0 if sent < len(data) else 1.0):
                assert r.submission_id == sid
                if r.result > 0:
                    bids.append(r.flags >> 16)
                    out += _take(e, 3, r)
                if not r.more:  # the CQ ring was full (or the ring dry): rearm
                    assert r.result > 0 or r.result == -errno.ENOBUFS, r
                    sid = e.submit_recv_multishot(a, 3)
        assert bytes(out) == data
        assert bids == list(range(n)) + list(range(300))  # recycled entries, in order
    finally:
        e.shutdown()
        a.close()
        b.close()


@pytest.mark.covers("linux.io.IoUringDriver")
def test_multishot_recv_eof_ends_it() -> None:
    e = _ms()
    a, b = socket.socketpair()
    try:
        e.provide_buffers(1, [bytearray(64) for _ in range(4)])
        sid = e.submit_recv_multishot(a.fileno(), 1)
        assert e.poll(0) == []
        b.sendall(b"tail bytes")
        b.shutdown(socket.SHUT_WR)
        data, last = _collect(e, sid, 1)
        assert data == b"tail bytes"
        assert last.result == 0 and not last.more and last.submission_id == sid
        assert e.statistics()["in_flight"] == 0
        e.remove_buffers(1)  # nothing selects from it any more
    finally:
        e.shutdown()
        a.close()
        b.close()


@pytest.mark.covers("linux.io.IoUringDriver")
def test_multishot_recv_cancel_and_remove_busy() -> None:
    e = _ms()
    a, b = socket.socketpair()
    bufs = [bytearray(32) for _ in range(2)]
    try:
        e.provide_buffers(2, bufs)
        sid = e.submit_recv_multishot(a.fileno(), 2)
        b.sendall(b"one")
        (r,) = _some(e)
        assert r.result == 3 and r.more and _take(e, 2, r) == b"one"
        with pytest.raises(errors.Busy) as ei:
            e.remove_buffers(2)  # the recv still selects from it
        assert ei.value.errno == errno.EBUSY
        with pytest.raises(BufferError):
            bufs[0].extend(b"x")  # pinned while provided
        e.cancel(sid)
        (r,) = _some(e)
        assert r.submission_id == sid
        assert r.result == -errno.ECANCELED and r.cancelled and not r.more
        assert e.statistics()["in_flight"] == 0
        e.remove_buffers(2)
        bufs[0].extend(b"x")  # no longer exported
        with pytest.raises(ValueError):
            e.remove_buffers(2)
        with pytest.raises(ValueError):
            e.submit_recv_multishot(a.fileno(), 2)  # the group is gone
        e.provide_buffers(2, [bytearray(4)])  # the id can be used again
        b.sendall(b"again")
        sid = e.submit_recv_multishot(a.fileno(), 2)
        r = _some(e)[0]
        assert r.result == 4 and _take(e, 2, r) == b"agai"
    finally:
        e.shutdown()
        a.close()
        b.close()


@pytest.mark.covers("linux.io.IoUringDriver")
def test_multishot_recv_shutdown_releases_pins_and_fds() -> None:
    before = open_fds()
    e = _ms()
    a, b = socket.socketpair()
    bufs = [bytearray(16) for _ in range(4)]
    try:
        e.provide_buffers(5, bufs[:2])
        e.provide_buffers(6, bufs[2:])
        s1 = e.submit_recv_multishot(a.fileno(), 5)
        b.sendall(b"kept")  # one buffer handed out and never recycled
        (r,) = _some(e)
        assert r.submission_id == s1 and r.more
        e.submit_recv_multishot(b.fileno(), 6)  # waits: in flight at shutdown
        view = e.provided(5, 0, 4)
        assert bytes(view) == b"kept"
        view.release()
    finally:
        e.shutdown()
    for buf in bufs:
        buf.extend(b"x")  # every export released
    with pytest.raises(errors.BadDescriptor):
        e.provide_buffers(0, [bytearray(1)])
    with pytest.raises(errors.BadDescriptor):
        e.recycle(5, 1)
    with pytest.raises(errors.BadDescriptor):
        e.submit_recv_multishot(a.fileno(), 5)
    with pytest.raises(errors.BadDescriptor):
        e.remove_buffers(5)
    a.close()
    b.close()
    assert open_fds() == before


@pytest.mark.covers("linux.io.IoUringDriver")
def test_provided_buffers_bad_input_before_any_syscall() -> None:
    e = _ms(4)
    a, b = socket.socketpair()
    ok = bytearray(8)
    try:
        enters = e.statistics()["enters"]
        for group in (-1, 65536, 1 << 70):
            with pytest.raises(ValueError):
                e.provide_buffers(group, [ok])
        for group in (True, "1", 1.0):
            with pytest.raises(TypeError):
                e.provide_buffers(group, [ok])
        for n in (0, 3, 6, 65536):
            with pytest.raises(ValueError):
                e.provide_buffers(0, [bytearray(1) for _ in range(n)])
        with pytest.raises(TypeError):
            e.provide_buffers(0, [bytearray(1), b"read-only"])
        with pytest.raises(TypeError):
            e.provide_buffers(0, [bytearray(1), "text"])
        with pytest.raises(ValueError):
            e.provide_buffers(0, [bytearray(1), bytearray(0)])
        with pytest.raises(ValueError):
            e.provide_buffers(0, [ok, ok])  # the same memory twice
        big = bytearray(64)
        m = memoryview(big)
        with pytest.raises(ValueError):
            e.provide_buffers(0, [m[0:16], m[32:48], m[40:56], m[48:64]])  # 2 overlap
        e.provide_buffers(9, [m[0:16], m[16:32], m[32:48], m[48:64]])  # adjacent: fine
        e.remove_buffers(9)
        m.release()
        ok.extend(b"x")  # the failed calls pinned nothing
        with pytest.raises(ValueError):
            e.recycle(0, 0)  # unknown group
        with pytest.raises(ValueError):
            e.provided(0, 0, 1)
        with pytest.raises(ValueError):
            e.remove_buffers(0)
        with pytest.raises(ValueError):
            e.submit_recv_multishot(a.fileno(), 0)
        assert e.statistics()["enters"] == enters and e.statistics()["submitted"] == 0
        e.provide_buffers(0, [ok, bytearray(8)])
        with pytest.raises(errors.AlreadyExists):
            e.provide_buffers(0, [bytearray(8)])
        for bid in (-1, 2, 1 << 40):
            with pytest.raises(ValueError):
                e.recycle(0, bid)
        with pytest.raises(ValueError):
            e.recycle(0, 1)  # in the ring: never handed out
        with pytest.raises(TypeError):
            e.recycle(0, "1")
        for bid, n in ((2, 1), (-1, 1), (0, 10), (0, -1)):
            with pytest.raises(ValueError):
                e.provided(0, bid, n)
        with pytest.raises(TypeError):
            e.submit_recv_multishot("x", 0)
        with pytest.raises(ValueError):
            e.submit_recv_multishot(-1, 0)
        with pytest.raises(ValueError):
            e.submit_recv_multishot(a.fileno(), 0, -1)
        assert e.statistics()["submitted"] == 0
    finally:
        e.shutdown()
        a.close()
        b.close()


@pytest.mark.covers("linux.io.IoUringDriver")
def test_provided_buffer_ring_layout_matches_headers() -> None:
    """struct vl_buf (_native/csrc/uring_ring.h) and the io_uring_buf_reg the driver
    packs, against <linux/io_uring.h>; the ring's tail overlays bufs[0].resv."""
    from vllsi.linux.io import _buf_reg

    inc = Path(__file__).resolve().parents[3] / "_native" / "csrc"
    src = ("#include <stdio.h>\n#include <stddef.h>\n#include <linux/io_uring.h>\n"
           '#include "uring_ring.h"\nint main(void){\n'
           'printf("%zu %zu %zu %zu %zu\\n", sizeof(struct vl_buf), offsetof(struct vl_buf, '
           "addr), offsetof(struct vl_buf, len), offsetof(struct vl_buf, bid), "
           "offsetof(struct vl_buf, resv));\n"
           'printf("%zu %zu %zu %zu %zu\\n", sizeof(struct io_uring_buf), offsetof(struct '
           "io_uring_buf, addr), offsetof(struct io_uring_buf, len), offsetof(struct "
           "io_uring_buf, bid), offsetof(struct io_uring_buf, resv));\n"
           'printf("%zu %zu\\n", offsetof(struct io_uring_buf_ring, tail), '
           "sizeof(struct io_uring_buf_reg));\n"
           "struct io_uring_buf_reg r = {0}; r.ring_addr = 0x1122334455667788ULL; "
           "r.ring_entries = 0x99aabbcc; r.bgid = 0xddee;\n"
           "const unsigned char *p = (const void *)&r; for (size_t i = 0; i < sizeof r; i++) "
           'printf("%02x", p[i]);\nprintf("\\n");\nreturn 0;}\n')
    try:
        lines = run_c(src, args=(f"-I{inc}",)).splitlines()
    except subprocess.CalledProcessError as exc:
        skip("environment", f"no <linux/io_uring.h> with io_uring_buf here: {exc.stderr!r}")
    assert lines[0] == lines[1] == "16 0 8 12 14"
    assert lines[2] == "14 40"
    assert _buf_reg(0x1122334455667788, 0x99AABBCC, 0xDDEE).hex() == lines[3]


@pytest.mark.covers("linux.io.IoUringDriver")
def test_without_kernel_support_methods_raise_unsupported(monkeypatch: Any) -> None:
    """What a kernel without PBUF_RING (< 5.19) or RECV_MULTISHOT (< 6.0) gets: the
    probe's cached answer is set to those verdicts (this kernel has both)."""
    from vllsi.linux import io

    e = _ms()
    a, b = socket.socketpair()
    buf = bytearray(8)
    try:
        monkeypatch.setattr(io, "_extras", (False, False, "no PBUF_RING (test)"))
        assert io.IoUringDriver.probe_multishot_recv() == (False, "no PBUF_RING (test)")
        with pytest.raises(errors.Unsupported):
            e.provide_buffers(0, [buf])
        buf.extend(b"x")  # nothing stayed pinned
        monkeypatch.setattr(io, "_extras", (True, True, "ok"))
        e.provide_buffers(0, [buf])
        monkeypatch.setattr(io, "_extras", (True, False, "no RECV_MULTISHOT (test)"))
        with pytest.raises(errors.Unsupported):
            e.submit_recv_multishot(a.fileno(), 0)
        assert e.statistics()["submitted"] == 0
    finally:
        e.shutdown()
        a.close()
        b.close()
