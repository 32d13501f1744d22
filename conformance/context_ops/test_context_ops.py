"""vllsi.context_ops: slots scoped to the execution context (asyncio tasks, threads)."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from vllsi import context_ops as C
from vllsi import errors

ALL = ("context_ops.ctx_get", "context_ops.ctx_set", "context_ops.ctx_has", "context_ops.ctx_clear")


def _fresh(fn: object) -> object:
    return contextvars.Context().run(fn)  # type: ignore[arg-type]


@pytest.mark.covers("context_ops.MAX_CONTEXT_SLOTS", "context_ops.CONTEXT_STACK_DEPTH", *ALL,
                    "context_ops.ctx_get_mut")
def test_slot_contract() -> None:
    def body() -> None:
        assert C.MAX_CONTEXT_SLOTS == 32 and C.CONTEXT_STACK_DEPTH == 256
        assert C.ctx_get(0) is None and not C.ctx_has(0)
        C.ctx_set(0, 0)
        assert C.ctx_has(0) and C.ctx_get(0) == 0 and C.ctx_get_mut(0) == 0
        with pytest.raises(errors.SlotOccupied):
            C.ctx_set(0, 1, exclusive=True)
        C.ctx_set(31, (1 << 64) - 1)
        assert C.ctx_get(31) == (1 << 64) - 1
        C.ctx_clear(0)
        assert C.ctx_get(0) is None
        for f in (C.ctx_get, C.ctx_get_mut, C.ctx_has, C.ctx_clear, C.using):
            with pytest.raises(errors.InvalidSlot):
                f(32)
        with pytest.raises(errors.InvalidSlot):
            C.ctx_set(-1, 0)
        with pytest.raises(TypeError):
            C.ctx_set(1, "v")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            C.ctx_set(1, 1 << 64)

    _fresh(body)


@pytest.mark.covers("context_ops.ctx_push_frame", "context_ops.ctx_pop_frame")
def test_frames_256_overflow_underflow() -> None:
    def body() -> None:
        with pytest.raises(errors.StackUnderflow):
            C.ctx_pop_frame()
        C.ctx_set(2, 50)
        for i in range(256):
            assert C.ctx_push_frame() == i + 1
            C.ctx_set(2, i)
        with pytest.raises(errors.StackOverflow):
            C.ctx_push_frame()
        for i in reversed(range(256)):
            assert C.ctx_get(2) == i
            assert C.ctx_pop_frame() == i
        assert C.ctx_get(2) == 50

    _fresh(body)


@pytest.mark.covers("context_ops.provide", "context_ops.using")
def test_provide_using_nesting() -> None:
    def body() -> None:
        with pytest.raises(errors.SlotEmpty):
            C.using(4)
        with C.provide(4, 10) as v:
            assert v == 10 and C.using(4) == 10
            with C.provide(4, 11):
                assert C.using(4) == 11
                C.ctx_push_frame()  # left unbalanced on purpose
            assert C.using(4) == 10
        with pytest.raises(errors.SlotEmpty):
            C.using(4)
        with pytest.raises(ValueError), C.provide(4, 1):
            raise ValueError
        assert C.ctx_get(4) is None

    _fresh(body)


@pytest.mark.covers("context_ops.provide", "context_ops.using", *ALL)
def test_provide_never_leaks_between_asyncio_tasks() -> None:
    async def task(n: int, gate: asyncio.Event, seen: list[object]) -> None:
        seen.append(("start", n, C.ctx_get(5)))
        with C.provide(5, n):
            C.ctx_set(6, n * 10)
            await gate.wait()
            await asyncio.sleep(0)
            seen.append(("inside", n, C.using(5), C.ctx_get(6)))
        seen.append(("after", n, C.ctx_get(5), C.ctx_get(6)))

    async def main() -> list[object]:
        gate = asyncio.Event()
        seen: list[object] = []
        tasks = [asyncio.create_task(task(n, gate, seen)) for n in range(1, 6)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*tasks)
        seen.append(("main", C.ctx_get(5), C.ctx_get(6)))
        return seen

    seen = asyncio.run(main())
    for n in range(1, 6):
        assert ("start", n, None) in seen
        assert ("inside", n, n, n * 10) in seen
        assert ("after", n, None, None) in seen  # provide restored the whole table
    assert ("main", None, None) in seen


@pytest.mark.covers("context_ops.ctx_set", "context_ops.ctx_get")
def test_never_leaks_between_threads() -> None:
    def body() -> None:
        C.ctx_set(8, 1)
        out: list[object] = []
        t = threading.Thread(target=lambda: out.append(C.ctx_get(8)))
        t.start()
        t.join()
        assert out == [None]
        assert C.ctx_get(8) == 1

    _fresh(body)
