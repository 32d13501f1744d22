"""Raw clock syscalls (vllsi.linux.time) against the time module and the headers."""

from __future__ import annotations

import signal
import time

import pytest

from conformance._support import linux_only
from vllsi import errors, linux

pytestmark = linux_only

NAMES = ["CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID",
         "CLOCK_MONOTONIC_RAW", "CLOCK_REALTIME_COARSE", "CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME",
         "CLOCK_TAI", "TIMER_ABSTIME"]


STDLIB = [n for n in NAMES if hasattr(time, n)]


@pytest.mark.covers(*(f"linux.{n}" for n in STDLIB))
def test_constants_match_time_module() -> None:
    for n in STDLIB:
        assert getattr(linux, n) == getattr(time, n), n


@pytest.mark.covers(*(f"linux.{n}" for n in NAMES))
def test_constants() -> None:
    from conformance._support.cc import run_c

    src = "#include <stdio.h>\n#include <time.h>\nint main(void){"
    src += "".join(f'printf("{n} %d\\n", (int){n});' for n in NAMES) + "return 0;}"
    got = dict(line.split() for line in run_c(src).splitlines())
    for n in NAMES:
        assert int(got[n]) == getattr(linux, n), n


@pytest.mark.covers("linux.clock_gettime", "linux.clock_getres")
def test_gettime_getres() -> None:
    a = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    s, ns = linux.clock_gettime(linux.CLOCK_MONOTONIC)
    b = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    assert a <= s * 10**9 + ns <= b
    assert linux.clock_getres(linux.CLOCK_MONOTONIC) == (0, round(time.clock_getres(time.CLOCK_MONOTONIC) * 1e9))
    with pytest.raises(errors.InvalidArgument) as ei:
        linux.clock_gettime(1234)
    assert ei.value.syscall == "clock_gettime"
    with pytest.raises(errors.InvalidArgument):
        linux.clock_getres(1234)
    with pytest.raises(TypeError):
        linux.clock_gettime(None)  # type: ignore[arg-type]


@pytest.mark.covers("linux.clock_nanosleep", "linux.TIMER_ABSTIME")
def test_nanosleep_relative_and_absolute_with_eintr() -> None:
    hits: list[int] = []
    old = signal.signal(signal.SIGALRM, lambda *a: hits.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
        a = time.monotonic_ns()
        linux.clock_nanosleep(linux.CLOCK_MONOTONIC, 0, 0, 60_000_000)
        b = time.monotonic_ns()
        deadline = b + 40_000_000
        linux.clock_nanosleep(linux.CLOCK_MONOTONIC, linux.TIMER_ABSTIME, deadline // 10**9, deadline % 10**9)
        c = time.monotonic_ns()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert hits
    assert b - a >= 60_000_000 and c >= deadline
    with pytest.raises(ValueError):
        linux.clock_nanosleep(linux.CLOCK_MONOTONIC, 0, 0, 10**9)
    with pytest.raises(errors.InvalidArgument):
        linux.clock_nanosleep(1234, 0, 0, 1)


@pytest.mark.covers("linux.clock_gettime", "linux.clock_getres", "linux.CLOCK_REALTIME_COARSE",
                    "linux.CLOCK_MONOTONIC_COARSE")
def test_coarse_clocks_trail_their_fine_clocks() -> None:
    for coarse, fine in ((linux.CLOCK_REALTIME_COARSE, linux.CLOCK_REALTIME),
                         (linux.CLOCK_MONOTONIC_COARSE, linux.CLOCK_MONOTONIC)):
        res_c = linux.clock_getres(coarse)
        res_f = linux.clock_getres(fine)
        assert res_c >= res_f  # a jiffy-grained clock: coarser than the fine one
        s0, n0 = linux.clock_gettime(fine)
        s1, n1 = linux.clock_gettime(coarse)
        s2, n2 = linux.clock_gettime(fine)
        c = s1 * 10**9 + n1
        tick = res_c[0] * 10**9 + res_c[1]
        assert s0 * 10**9 + n0 - 2 * tick <= c <= s2 * 10**9 + n2
