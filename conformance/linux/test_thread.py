"""Raw thread syscalls (vllsi.linux.thread) against os.*, the headers and the kernel."""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading

import pytest

from conformance._support import linux_only
from vllsi import errors, linux
from vllsi._platform import ARCH

pytestmark = linux_only

FUTEX = ["FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_WAIT_BITSET", "FUTEX_WAKE_BITSET", "FUTEX_PRIVATE_FLAG",
         "FUTEX_CLOCK_REALTIME", "FUTEX_BITSET_MATCH_ANY"]


@pytest.mark.covers(*(f"linux.{n}" for n in FUTEX), "linux.ARCH_GET_FS", "linux.ARCH_GET_GS")
def test_constants_match_headers() -> None:
    from conformance._support.cc import run_c

    src = "#include <stdio.h>\n#include <linux/futex.h>\nint main(void){"
    src += "".join(f'printf("{n} %u\\n", (unsigned){n});' for n in FUTEX) + "return 0;}"
    got = dict(line.split() for line in run_c(src).splitlines())
    for n in FUTEX:
        assert int(got[n]) == getattr(linux, n), n
    assert (linux.ARCH_GET_FS, linux.ARCH_GET_GS) == (0x1003, 0x1004)  # asm/prctl.h


def _word() -> tuple[ctypes.c_uint32, int]:
    w = ctypes.c_uint32(5)
    return w, ctypes.addressof(w)


@pytest.mark.covers("linux.futex", "linux.FUTEX_WAIT", "linux.FUTEX_WAKE", "linux.FUTEX_PRIVATE_FLAG")
def test_futex_wait_wake_eagain_timeout() -> None:
    w, a = _word()
    with pytest.raises(errors.WouldBlock):
        linux.futex(a, linux.FUTEX_WAIT | linux.FUTEX_PRIVATE_FLAG, 4)
    with pytest.raises(errors.TimedOut):
        linux.futex(a, linux.FUTEX_WAIT | linux.FUTEX_PRIVATE_FLAG, 5, 0.01)
    assert linux.futex(a, linux.FUTEX_WAKE | linux.FUTEX_PRIVATE_FLAG, 1) == 0
    done = threading.Event()

    def waiter() -> None:
        while w.value == 5:
            with contextlib.suppress(errors.WouldBlock):
                linux.futex(a, linux.FUTEX_WAIT | linux.FUTEX_PRIVATE_FLAG, 5, 30)
        done.set()

    t = threading.Thread(target=waiter)
    t.start()
    woken = 0
    for _ in range(5000):
        woken = linux.futex(a, linux.FUTEX_WAKE | linux.FUTEX_PRIVATE_FLAG, 1)
        if woken:
            break
        os.sched_yield()
    w.value = 6
    linux.futex(a, linux.FUTEX_WAKE | linux.FUTEX_PRIVATE_FLAG, 1)
    t.join(30)
    assert done.is_set()


@pytest.mark.covers("linux.futex")
def test_futex_bad_address_is_an_error_not_a_crash() -> None:
    with pytest.raises(errors.InvalidArgument):
        linux.futex(0x1001, linux.FUTEX_WAIT, 0)  # unaligned
    with pytest.raises(errors.VllsiError) as ei:
        linux.futex(0x1000, linux.FUTEX_WAIT, 0)  # unmapped page
    assert ei.value.errno == 14  # EFAULT
    with pytest.raises(ValueError):
        linux.futex(-1, linux.FUTEX_WAKE, 1)
    with pytest.raises(TypeError):
        linux.futex(0x1000, "wait", 0)  # type: ignore[arg-type]


@pytest.mark.covers("linux.sched_yield", "linux.sched_getaffinity")
def test_sched_calls() -> None:
    linux.sched_yield()
    assert linux.sched_getaffinity() == frozenset(os.sched_getaffinity(0))
    assert linux.sched_getaffinity(os.getpid()) == frozenset(os.sched_getaffinity(0))
    with pytest.raises(errors.VllsiError) as ei:
        linux.sched_getaffinity(0x7FFFFFF0)
    assert ei.value.errno == 3  # ESRCH
    with pytest.raises(ValueError):
        linux.sched_getaffinity(-5)


@pytest.mark.covers("linux.arch_prctl", "linux.ARCH_GET_FS", "linux.ARCH_GET_GS")
def test_arch_prctl_get_fs_is_the_tcb() -> None:
    if ARCH != "x86_64":
        with pytest.raises(errors.Unsupported):
            linux.arch_prctl(linux.ARCH_GET_FS)
        return
    fs = linux.arch_prctl(linux.ARCH_GET_FS)
    assert fs == threading.get_ident()  # glibc: pthread_self() is the TCB, which FS points to
    assert linux.arch_prctl(linux.ARCH_GET_GS) >= 0
    with pytest.raises(ValueError):
        linux.arch_prctl(0x1002)  # ARCH_SET_FS: vllsi never writes the thread pointer


@pytest.mark.covers("linux.futex", "linux.FUTEX_WAIT_BITSET", "linux.FUTEX_WAKE_BITSET",
                    "linux.FUTEX_BITSET_MATCH_ANY", "linux.FUTEX_CLOCK_REALTIME")
def test_futex_bitset_absolute_deadlines() -> None:
    import time

    _w, a = _word()
    op = linux.FUTEX_WAIT_BITSET | linux.FUTEX_PRIVATE_FLAG
    # absolute CLOCK_MONOTONIC deadline already past: times out at once
    with pytest.raises(errors.TimedOut):
        linux.futex(a, op, 5, time.monotonic() - 1, 0, linux.FUTEX_BITSET_MATCH_ANY)
    # with FUTEX_CLOCK_REALTIME the deadline is wall-clock time
    with pytest.raises(errors.TimedOut):
        linux.futex(a, op | linux.FUTEX_CLOCK_REALTIME, 5, time.time() - 1, 0,
                    linux.FUTEX_BITSET_MATCH_ANY)
    # a bitset of 0 is invalid
    with pytest.raises(errors.InvalidArgument):
        linux.futex(a, op, 5, None, 0, 0)
    # a wake whose bitset does not intersect the waiter's wakes nobody
    assert linux.futex(a, linux.FUTEX_WAKE_BITSET | linux.FUTEX_PRIVATE_FLAG, 1, None, 0, 1) == 0
