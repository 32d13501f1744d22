"""StackAllocator, RingBuffer and SyncEngine (the engine contract itself runs in
conformance/io_engine/ over SyncEngine too)."""

from __future__ import annotations

import collections
import errno
import itertools
import mmap
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance._support import linux_only
from vllsi import io_engine as ie
from vllsi.embedded import RingBuffer, StackAllocator, SyncEngine
from vllsi.types import IOVec


@pytest.mark.covers("embedded.StackAllocator")
def test_stack_allocator_alignment_and_reset() -> None:
    m = mmap.mmap(-1, 4096)
    base = IOVec(m).base
    sa = StackAllocator(m)
    a = sa.stack_alloc(3, 1)
    assert a is not None and len(a) == 3
    b = sa.stack_alloc(64, 64)
    assert b is not None and (IOVec(b).base - base) % 64 == 0 and IOVec(b).base % 64 == 0
    b[:] = b"\xaa" * 64
    assert m[64:128] == b"\xaa" * 64
    mark = sa.stack_mark()
    assert sa.stack_alloc(5000) is None and sa.stack_mark() == mark  # unchanged on failure
    c = sa.stack_alloc(100)
    assert c is not None and sa.used == mark + 100 + (-mark % 8)
    sa.stack_reset(mark)
    assert sa.stack_mark() == mark and sa.remaining() == 4096 - mark
    sa.stack_reset()
    assert sa.used == 0 and sa.capacity == 4096
    for bad in (lambda: sa.stack_alloc(-1), lambda: sa.stack_alloc(1, 3),
                lambda: sa.stack_reset(10**6), lambda: StackAllocator(b"ro"),
                lambda: sa.stack_alloc("1")):
        with pytest.raises((TypeError, ValueError)):
            bad()
    del a, b, c
    sa._iov.release()
    m.close()


@pytest.mark.covers("embedded.StackAllocator")
@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 300), st.sampled_from([1, 2, 4, 8, 16, 64])),
                max_size=40))
def test_stack_allocations_never_overlap(reqs: list[tuple[int, int]]) -> None:
    buf = bytearray(2048)
    sa = StackAllocator(buf)
    spans = []
    base = IOVec(buf).base
    for size, align in reqs:
        v = sa.stack_alloc(size, align)
        if v is None:
            continue
        start = IOVec(v).base - base if size else sa.used - size
        assert (base + start) % align == 0 or size == 0
        spans.append((start, start + size))
    for (a0, a1), (b0, _b1) in itertools.pairwise(spans):
        assert a1 <= b0 and a0 <= a1


@pytest.mark.covers("embedded.RingBuffer")
@settings(max_examples=80)
@given(st.integers(1, 16), st.lists(st.one_of(st.integers(-300, 300), st.none()), max_size=80))
def test_ring_buffer_is_a_bounded_fifo(cap: int, actions: list[int | None]) -> None:
    rb = RingBuffer(cap)
    model: collections.deque[int] = collections.deque()
    for a in actions:
        if a is None:
            assert rb.pop() == (model.popleft() if model else -1)
        else:
            assert rb.push(a) == (len(model) < cap)
            if len(model) < cap:
                model.append(a & 0xFF)
        assert len(rb) == len(model) and rb.is_empty() == (not model)
        assert rb.is_full() == (len(model) == cap)
    rb.reset()
    assert rb.is_empty() and rb.capacity == cap


@pytest.mark.covers("embedded.RingBuffer")
def test_ring_buffer_over_caller_memory() -> None:
    mem = bytearray(4)
    rb = RingBuffer(mem)
    for v in (1, 2, 3, 4):
        assert rb.push(v)
    assert not rb.push(5) and mem == b"\x01\x02\x03\x04"
    for bad in (lambda: RingBuffer(0), lambda: RingBuffer(b"ro"), lambda: rb.push("x")):
        with pytest.raises((TypeError, ValueError)):
            bad()


@linux_only
@pytest.mark.covers("embedded.SyncEngine")
def test_sync_engine_performs_at_submit(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"0123456789")
    fd = os.open(p, os.O_RDWR)
    r, w = os.pipe()
    os.set_blocking(r, False)
    with SyncEngine() as e:
        assert e.backend == "sync" and isinstance(e, ie.IOEngine)
        buf = bytearray(4)
        sid = e.submit(ie.Read(fd, buf, None, 2))
        assert buf == b"2345"  # done before any poll
        rid = e.submit(ie.Read(r, bytearray(4)))  # nothing to read: EAGAIN is data
        got = {x.submission_id: x.result for x in e.poll(0)}
        assert got == {sid: 4, rid: -errno.EAGAIN}
        t = e.submit(ie.Timeout(60))
        out: list[object] = []
        th = threading.Thread(target=lambda: out.append(e.poll(None)))
        th.start()
        for _ in range(200):
            e.wake()
            th.join(0.05)
            if not th.is_alive():
                break
        assert out == [[]]
        e.cancel(t)
        assert [(x.submission_id, x.result) for x in e.poll(0)] == [(t, -errno.ECANCELED)]
    os.close(fd)
    os.close(r)
    os.close(w)
