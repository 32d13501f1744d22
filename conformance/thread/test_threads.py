"""vllsi.thread: identities, thread_spawn with a real stack, join/detach, panics."""

from __future__ import annotations

import os
import subprocess
import threading

import pytest

from conformance._support import linux_only
from conformance._support.cc import python_argv
from vllsi import thread as T
from vllsi.types import PAGE_SIZE


@pytest.mark.covers("thread.get_thread_id", "thread.thread_self")
def test_ids_match_threading() -> None:
    assert T.get_thread_id() == threading.get_native_id()
    assert T.thread_self() == threading.get_ident()
    seen: list[tuple[int, int, int, int]] = []

    def probe() -> None:
        seen.append((T.get_thread_id(), threading.get_native_id(), T.thread_self(), threading.get_ident()))

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    (a, b, c, d), = seen
    assert a == b and c == d and a != T.get_thread_id()


@pytest.mark.covers("thread.thread_yield")
def test_yield() -> None:
    for _ in range(10):
        T.thread_yield()


@pytest.mark.covers("thread.num_online_cpus")
def test_online_cpus_matches_affinity() -> None:
    if hasattr(os, "sched_getaffinity"):
        assert T.num_online_cpus() == len(os.sched_getaffinity(0))
    else:
        assert T.num_online_cpus() == os.cpu_count()


@linux_only
@pytest.mark.covers("thread.num_online_cpus")
def test_online_cpus_follows_affinity_in_child() -> None:
    cpu = sorted(os.sched_getaffinity(0))[0]
    code = f"import os; os.sched_setaffinity(0, {{{cpu}}}); from vllsi import thread; print(thread.num_online_cpus())"
    cmd = python_argv("-c", code)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    assert out.strip() == "1"


def _probe() -> tuple[int, int, int, int]:
    from vllsi.linux.impl.thread import stack_probe

    sp, lo, size = stack_probe()
    return T.get_thread_id(), sp, lo, size


@linux_only
@pytest.mark.covers("thread.thread_spawn", "thread.ThreadHandle", "thread.thread_join")
@pytest.mark.parametrize("size", [128 * 1024, 1 << 20, (8 << 20) + 4096, 32 << 20])
def test_requested_stack_size_is_real(size: int) -> None:
    h = T.thread_spawn(lambda _: _probe(), None, size)
    assert isinstance(h, T.ThreadHandle) and h.stack_size == size
    tid, sp, lo, real = h.join()
    assert tid == h.id  # the handle's id is the thread's gettid
    assert real == size  # glibc's own record of the thread's stack block
    assert lo <= sp < lo + real  # and the thread really runs on it
    # the kernel agrees: the stack pointer is inside one mapping of the thread's stack
    # (no longer mapped now that it has been joined, or reused: just check it was not ours)
    main_sp = _probe()[1]
    assert not lo <= main_sp < lo + real


@linux_only
@pytest.mark.covers("thread.thread_spawn")
def test_default_stack_and_tid_visible_in_proc() -> None:
    started = threading.Event()
    release = threading.Event()

    def body(_: object) -> int:
        started.set()
        release.wait(30)
        return T.get_thread_id()

    h = T.thread_spawn(body)
    try:
        assert started.wait(30)
        assert os.path.isdir(f"/proc/self/task/{h.id}")
        assert h.is_alive()
    finally:
        release.set()
    assert h.join() == h.id
    assert not h.is_alive()


@pytest.mark.covers("thread.thread_spawn", "thread.thread_join", "thread.thread_detach")
def test_join_detach_contract() -> None:
    h = T.thread_spawn(lambda x: x * 2, 21, name="doubler")
    assert h.name == "doubler"
    assert T.thread_join(h) == 42
    with pytest.raises(ValueError):
        T.thread_join(h)
    with pytest.raises(ValueError):
        T.thread_detach(h)
    done = threading.Event()
    d = T.thread_spawn(lambda _: done.set())
    T.thread_detach(d)
    assert done.wait(30)
    with pytest.raises(ValueError):
        T.thread_join(d)
    with pytest.raises(TypeError):
        T.thread_join(object())  # type: ignore[arg-type]


@pytest.mark.covers("thread.thread_spawn")
def test_spawn_validation() -> None:
    with pytest.raises(TypeError):
        T.thread_spawn(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        T.thread_spawn(print, None, 4096)
    with pytest.raises(TypeError):
        T.thread_spawn(print, None, "big")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        T.thread_spawn(print, None, name=5)  # type: ignore[arg-type]


@pytest.mark.covers("thread.thread_join")
def test_join_self_refused() -> None:
    box: list[object] = []
    ready = threading.Event()

    def body(_: object) -> None:
        ready.wait(30)
        try:
            T.thread_join(box[0])  # type: ignore[arg-type]
        except ValueError as e:
            box.append(e)

    h = T.thread_spawn(body)
    box.append(h)
    ready.set()
    h.join()
    assert isinstance(box[1], ValueError)


@pytest.mark.covers("thread.ThreadPanicked", "thread.thread_spawn", "thread.thread_join")
def test_panic_prints_line_and_join_raises(capfd: pytest.CaptureFixture[str]) -> None:
    def body(_: object) -> None:
        raise KeyError("lost")  # the panic location is this line

    line = body.__code__.co_firstlineno + 1
    h = T.thread_spawn(body, name="worker-7")
    with pytest.raises(T.ThreadPanicked) as ei:
        h.join()
    info = ei.value.info
    assert info.thread_name == "worker-7"
    assert info.thread_id == h.id
    assert info.location == f"{__file__}:{line}"
    assert info.message == "KeyError: 'lost'"
    assert isinstance(ei.value.__cause__, KeyError)
    err = capfd.readouterr().err
    assert f"thread 'worker-7' panicked at {__file__}:{line}: KeyError: 'lost'" in err
    # the process goes on: another thread runs fine
    assert T.thread_spawn(lambda _: 1).join() == 1


@pytest.mark.covers("thread.thread_spawn")
def test_exit_joins_pending_threads() -> None:
    code = ("import time; from vllsi import thread\n"
            "def body(_):\n    time.sleep(0.2); print('done', flush=True)\n"
            "thread.thread_spawn(body)\nprint('main', flush=True)\n")
    cmd = python_argv("-c", code)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["main", "done"]



@pytest.mark.covers("thread.thread_spawn", "thread.thread_join")
def test_many_threads_and_page_rounding() -> None:
    hs = [T.thread_spawn(lambda i: i * i, i, 200_000) for i in range(16)]
    assert [h.join() for h in hs] == [i * i for i in range(16)]
    assert hs[0].stack_size == (200_000 + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
