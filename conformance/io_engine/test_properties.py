"""Property: whatever mix of ops, batches and cancellations, every submitted op
completes exactly once, with a result its kind allows, on every backend."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance._support import linux_only
from conformance._support.engines import (
    BACKENDS,
    EngineBackend,
    close_file,
    drain,
    open_file,
    require,
)
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
    fd = open_file(p)
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
        close_file(fd)
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


# -- the C initialisers of the buffer ops agree with the Python reference ---------
class _FileNo:
    def __init__(self, n: int) -> None:
        self.n = n

    def fileno(self) -> int:
        return self.n


class _Int(int):
    pass


_VALUES = st.one_of(
    st.integers(-2, 3), st.integers(0x7FFFFFFE, 0x80000001),
    st.integers(0x7FFFEFFF, 0x7FFFF001), st.integers(0xFFFFFFFE, 0x100000001),
    st.integers((1 << 63) - 2, 1 << 64), st.just(-(1 << 70)),
    st.none(), st.booleans(), st.floats(allow_nan=True), st.just("3"),
    st.builds(_FileNo, st.integers(-1, 5)), st.builds(_Int, st.integers(-1, 5)),
)
_BUFS = st.sampled_from([
    "bytearray", "bytes", "memoryview", "strided", "readonly_view", "str", "none", "mmap",
])


def _buf(kind: str) -> Any:
    import mmap as _mmap

    return {
        "bytearray": lambda: bytearray(8), "bytes": lambda: b"12345678",
        "memoryview": lambda: memoryview(bytearray(8)),
        "strided": lambda: memoryview(bytearray(8))[::2],
        "readonly_view": lambda: memoryview(b"12345678"), "str": lambda: "text",
        "none": lambda: None, "mmap": lambda: _mmap.mmap(-1, 4096),
    }[kind]()


def _outcome(init: Any, cls: type, fd: Any, buf: Any, length: Any, last: Any) -> Any:
    obj = object.__new__(cls)
    try:
        init(obj, fd, buf, length, last)
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)
    last_name = "offset" if cls in (ie.Read, ie.Write) else "flags"
    assert obj.buf is buf  # type: ignore[attr-defined]
    return tuple((type(v), v) for v in (obj.fd, obj.len, getattr(obj, last_name)))  # type: ignore[attr-defined]


@pytest.mark.covers("io_engine.Read", "io_engine.Write", "io_engine.Send", "io_engine.Recv")
@settings(max_examples=400, deadline=None)
@given(cls=st.sampled_from([ie.Read, ie.Write, ie.Send, ie.Recv]), fd=_VALUES,
       buf=_BUFS, length=_VALUES, last=_VALUES)
def test_op_initialisers_agree(cls: type, fd: Any, buf: str, length: Any, last: Any) -> None:
    """Same fields or the same exception (class and message) from the accelerated
    __init__ body and the Python reference, for valid and invalid input alike."""
    b = _buf(buf)
    init, ref = cls.__init__, ie.PY_INIT[cls]
    assert _outcome(init, cls, fd, b, length, last) == _outcome(ref, cls, fd, b, length, last)
    # The defaults (len None, offset -1 / flags 0) and keywords take the same path.
    assert _outcome(lambda o, f, bb, *_: init(o, f, bb), cls, fd, b, None, None) == \
        _outcome(lambda o, f, bb, *_: ref(o, f, bb), cls, fd, b, None, None)
    kw = {"len": length}
    assert _outcome(lambda o, f, bb, *_: init(o, f, bb, **kw), cls, fd, b, None, None) == \
        _outcome(lambda o, f, bb, *_: ref(o, f, bb, **kw), cls, fd, b, None, None)


@linux_only
def test_op_initialiser_is_accelerated_on_linux() -> None:
    """On Linux with the shim built, the buffer ops use the C initialisers (the
    agreement test above would otherwise compare the reference with itself)."""
    for cls in (ie.Read, ie.Write, ie.Send, ie.Recv):
        assert type(cls.__dict__["__init__"]).__name__ == "OpInit"
        assert cls.__init__ is not ie.PY_INIT[cls]
    r = ie.Read(3, bytearray(4))  # instance creation goes through it: defaults filled
    assert (r.fd, r.len, r.offset) == (3, None, -1)
    assert ie.Send(3, b"x", flags=4).flags == 4  # keywords: the reference


def test_op_initialiser_subclass_takes_the_reference() -> None:
    """A subclass that turns a field into a property gets the reference's behaviour
    (AttributeError: the property has no setter), never a slot write behind it."""

    class Computed(ie.Read):
        __slots__ = ()

        @property
        def len(self) -> int:  # type: ignore[override]
            return 8

    with pytest.raises(AttributeError):
        Computed(3, bytearray(4))
    with pytest.raises(AttributeError):
        ie.PY_INIT[ie.Read](object.__new__(Computed), 3, bytearray(4))
