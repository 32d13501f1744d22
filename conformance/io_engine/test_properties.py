"""Property: whatever mix of ops, batches and cancellations, every submitted op
completes exactly once, with a result its kind allows, on every backend."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance._support.engines import BACKENDS, EngineBackend, drain, require
from vllsi import errors
from vllsi import io_engine as ie

DATA = bytes(range(256)) * 64

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("nop")),
        st.tuples(st.just("timeout"), st.sampled_from([0, 0.001, 30])),
        st.tuples(st.just("read"), st.integers(0, len(DATA)), st.integers(0, 5000)),
        st.tuples(st.just("cancel"), st.integers(0, 40)),
        st.tuples(st.just("poll")),
    ),
    max_size=40,
)


@pytest.mark.covers("io_engine.Nop", "io_engine.Timeout", "io_engine.Read", "io_engine.Cancel",
                    "io_engine.IOEngine")
@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=OPS)
def test_every_op_completes_exactly_once(backend: EngineBackend, tmp_path: Path,
                                         script: list[tuple[Any, ...]]) -> None:
    require(backend)
    p = tmp_path / "data"
    if not p.exists():
        p.write_bytes(DATA)
    fd = os.open(p, os.O_RDONLY)
    e = backend.make(8)
    expect: dict[int, tuple[Any, ...]] = {}
    bufs: dict[int, tuple[bytearray, int]] = {}
    order: list[int] = []
    done: dict[int, Any] = {}
    try:
        for step in script:
            kind = step[0]
            if kind == "poll":
                for r in e.poll(0):
                    assert r.submission_id not in done
                    done[r.submission_id] = r
                continue
            if kind == "nop":
                op: Any = ie.Nop()
            elif kind == "timeout":
                op = ie.Timeout(step[1])
            elif kind == "read":
                buf = bytearray(step[2])
                op = ie.Read(fd, buf, None, step[1])
            else:
                if not order:
                    continue
                op = ie.Cancel(order[step[1] % len(order)])
            try:
                sid = e.submit(op)
            except errors.WouldBlock:
                done.update(drain(e, 1))
                sid = e.submit(op)
            expect[sid] = step
            order.append(sid)
            if kind == "read":
                bufs[sid] = (buf, step[1])
        for sid, step in expect.items():  # nothing may stay pending forever
            if step[0] == "timeout" and sid not in done:
                e.cancel(sid)
        while len(done) < len(expect):
            batch = e.poll(5)
            assert batch, f"{len(expect) - len(done)} ops never completed"
            for r in batch:
                assert r.submission_id in expect and r.submission_id not in done
                done[r.submission_id] = r
    finally:
        e.shutdown()
        os.close(fd)
    assert set(done) == set(expect)
    for sid, r in done.items():
        kind = expect[sid][0]
        if kind == "nop":
            assert r.result == 0
        elif kind == "timeout":
            assert r.result in (0, -errno.ECANCELED)
        elif kind == "cancel":
            assert r.result in (0, -errno.ENOENT, -errno.EALREADY)
        else:
            buf, off = bufs[sid]
            want = DATA[off:off + len(buf)]
            assert r.result in (len(want), -errno.ECANCELED)
            if r.result >= 0:
                assert bytes(buf[:r.result]) == want
