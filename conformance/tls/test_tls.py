"""vllsi.tls: the thread pointer and the per-thread slot table (native and portable)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance._support import ON_LINUX, linux_only
from conformance._support.cc import python_argv
from vllsi import errors, tls
from vllsi._platform import ARCH

ALL = ("tls.tls_slot_get", "tls.tls_slot_set", "tls.tls_slot_has", "tls.tls_slot_clear")


def _native() -> SimpleNamespace:
    return SimpleNamespace(get=tls.tls_slot_get, set=tls.tls_slot_set, has=tls.tls_slot_has,
                           clear=tls.tls_slot_clear, push=tls.tls_frame_push,
                           pop=tls.tls_frame_pop, depth=tls.tls_frame_depth,
                           init=tls.init_thread, cleanup=tls.cleanup_thread)


def _portable() -> SimpleNamespace:
    return SimpleNamespace(get=tls._py_get, set=tls._py_set, has=tls._py_has, clear=tls._py_clear,
                           push=tls._py_push, pop=tls._py_pop, depth=tls._py_depth,
                           init=tls._py_init, cleanup=tls._py_cleanup)


@pytest.fixture(params=["native", "portable"])
def table(request: pytest.FixtureRequest) -> object:
    t = _native() if request.param == "native" else _portable()
    t.cleanup()
    yield t
    t.cleanup()


@pytest.mark.covers("tls.MAX_CONTEXT_SLOTS", "tls.CONTEXT_STACK_DEPTH", *ALL)
def test_limits_and_invalid_slot(table: SimpleNamespace) -> None:
    assert tls.MAX_CONTEXT_SLOTS == 32 and tls.CONTEXT_STACK_DEPTH == 256
    for bad in (32, -1, 1 << 70):
        for f in (table.get, table.has, table.clear):
            with pytest.raises(errors.InvalidSlot):
                f(bad)
        with pytest.raises(errors.InvalidSlot):
            table.set(bad, 1)
    with pytest.raises(errors.InvalidSlot) as ei:
        table.get(32)
    assert isinstance(ei.value, errors.ContextError) and ei.value.errno == 22
    with pytest.raises(TypeError):
        table.get("1")
    with pytest.raises(TypeError):
        table.get(True)
    with pytest.raises(TypeError):
        table.set(1, 1.5)
    with pytest.raises(ValueError):
        table.set(1, 1 << 64)
    with pytest.raises(ValueError):
        table.set(1, -(1 << 63) - 1)


@pytest.mark.covers(*ALL)
def test_set_get_has_clear(table: SimpleNamespace) -> None:
    assert table.get(0) is None and not table.has(0)
    table.set(0, 0)
    assert table.get(0) == 0 and table.has(0)  # 0 is a value, not "empty"
    table.set(31, (1 << 64) - 1)
    table.set(30, -(1 << 63))
    assert table.get(31) == (1 << 64) - 1 and table.get(30) == -(1 << 63)
    with pytest.raises(errors.SlotOccupied):
        table.set(0, 5, True)
    table.set(0, 5)
    assert table.get(0) == 5
    table.clear(0)
    assert table.get(0) is None
    table.set(0, 6, True)
    assert table.get(0) == 6


@pytest.mark.covers("tls.tls_frame_push", "tls.tls_frame_pop", "tls.tls_frame_depth")
def test_frames_256_then_overflow_and_underflow(table: SimpleNamespace) -> None:
    with pytest.raises(errors.StackUnderflow):
        table.pop()
    table.set(1, 100)
    for i in range(256):
        assert table.push() == i + 1
        table.set(1, i)
    with pytest.raises(errors.StackOverflow):
        table.push()
    assert table.depth() == 256
    for i in reversed(range(256)):
        assert table.get(1) == i
        assert table.pop() == i
    assert table.get(1) == 100
    with pytest.raises(errors.StackUnderflow):
        table.pop()


@pytest.mark.covers("tls.tls_frame_push", "tls.tls_frame_pop", *ALL)
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["set", "clear", "push", "pop"]), st.integers(0, 31),
                          st.integers(-(1 << 63), (1 << 64) - 1)), max_size=60))
def test_native_and_portable_tables_agree(ops: list[tuple[str, int, int]]) -> None:
    nat, por = _native(), _portable()
    nat.cleanup()
    por.cleanup()
    try:
        for op, slot, value in ops:
            outcomes = []
            for t in (nat, por):
                try:
                    if op == "set":
                        t.set(slot, value)
                    elif op == "clear":
                        t.clear(slot)
                    elif op == "push":
                        t.push()
                    else:
                        t.pop()
                    outcomes.append("ok")
                except errors.ContextError as e:
                    outcomes.append(type(e).__name__)
            assert outcomes[0] == outcomes[1]
            assert [nat.get(i) for i in range(32)] == [por.get(i) for i in range(32)]
            assert nat.depth() == por.depth()
    finally:
        nat.cleanup()
        por.cleanup()


@pytest.mark.covers("tls.tls_read_i32", "tls.tls_write_i32", "tls.tls_read_usize",
                    "tls.tls_write_usize", "tls.tls_read_ptr", "tls.tls_write_ptr")
def test_typed_views() -> None:
    tls.cleanup_thread()
    with pytest.raises(errors.SlotEmpty):
        tls.tls_read_i32(2)
    tls.tls_write_i32(2, 0x1_8000_0001)  # stores the low 32 bits
    assert tls.tls_read_i32(2) == -0x7FFFFFFF
    tls.tls_write_i32(2, -1)
    assert tls.tls_read_i32(2) == -1
    tls.tls_write_usize(3, -1)
    assert tls.tls_read_usize(3) == (1 << 64) - 1
    tls.tls_write_ptr(4, 0xDEADBEEF000)
    assert tls.tls_read_ptr(4) == 0xDEADBEEF000
    with pytest.raises(ValueError):
        tls.tls_write_ptr(4, -1)
    with pytest.raises(errors.SlotEmpty):
        tls.tls_read_ptr(5)
    with pytest.raises(errors.InvalidSlot):
        tls.tls_read_usize(40)
    with pytest.raises(TypeError):
        tls.tls_write_i32(2, "x")  # type: ignore[arg-type]
    tls.cleanup_thread()


@pytest.mark.covers("tls.init_thread", "tls.cleanup_thread", *ALL)
def test_values_never_leak_between_threads(table: SimpleNamespace) -> None:
    table.set(7, 1234)
    table.push()
    seen: list[object] = []

    def worker(n: int) -> None:
        seen.append((table.get(7), table.depth()))
        table.init()
        table.set(7, n)
        barrier.wait()
        seen.append(table.get(7) == n)
        table.cleanup()
        seen.append(table.get(7))

    barrier = threading.Barrier(4)
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen.count((None, 0)) == 4 and seen.count(True) == 4 and seen.count(None) == 4
    assert table.get(7) == 1234 and table.depth() == 1


@pytest.mark.covers("tls.tls_slot_get", "tls.tls_slot_set")
def test_values_survive_fork_in_child_only() -> None:
    if not hasattr(os, "fork"):
        pytest.skip("platform: no fork")
    tls.tls_slot_set(9, 99)
    pid = os.fork()
    if pid == 0:
        ok = tls.tls_slot_get(9) == 99
        tls.tls_slot_set(9, 1)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert tls.tls_slot_get(9) == 99
    tls.tls_slot_clear(9)


def _errno_location() -> int:
    f = ctypes.CDLL(None).__errno_location
    f.restype = ctypes.c_void_p
    return int(f())


@linux_only
@pytest.mark.covers("tls.tls_get_base")
def test_tls_base_is_the_thread_pointer() -> None:
    base = tls.tls_get_base()
    assert base != 0 and base == tls.tls_get_base()
    if ARCH == "x86_64":
        from vllsi import linux

        assert base == linux.arch_prctl(linux.ARCH_GET_FS)  # %fs:0 == the FS base
        assert base == threading.get_ident()  # glibc: pthread_self() is the TCB
    # static TLS (libc's errno) sits at a fixed offset from the thread pointer:
    # below it on x86_64 (variant II), above it on aarch64 (variant I)
    offsets: list[tuple[int, int, int]] = []

    barrier = threading.Barrier(3)

    def probe() -> None:
        offsets.append((tls.tls_get_base(), _errno_location(), threading.get_ident()))
        barrier.wait(30)  # all alive at once: no thread control block is reused

    ts = [threading.Thread(target=probe) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    offsets.append((tls.tls_get_base(), _errno_location(), threading.get_ident()))
    assert len({b for b, _, _ in offsets}) == 4  # one per thread
    assert len({e - b for b, e, _ in offsets}) == 1
    assert len({b - i for b, _, i in offsets}) == 1
    delta = offsets[0][1] - offsets[0][0]
    assert delta < 0 if ARCH == "x86_64" else delta > 0


@linux_only
@pytest.mark.covers("tls.tls_get_base")
def test_tls_base_without_compiled_table_x86_64_fallback() -> None:
    if ARCH != "x86_64":
        pytest.skip("platform: the arch_prctl fallback exists on x86_64 only")
    code = ("import sys; sys.modules['vllsi.linux._fast'] = None\n"
            "import os; os.environ['VLLSI_TIER'] = 'libc'\n"
            "from vllsi import tls, linux; import threading\n"
            "assert tls._fast_table is None\n"
            "assert tls.tls_get_base() == linux.arch_prctl(linux.ARCH_GET_FS) == threading.get_ident()\n"
            "tls.tls_slot_set(1, 5); assert tls.tls_slot_get(1) == 5; print('ok')\n")
    env = {**os.environ, "VLLSI_TIER": "libc"}
    cmd = python_argv("-c", code)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.stdout.strip() == "ok", r.stderr
    assert ON_LINUX
