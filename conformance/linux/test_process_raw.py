"""Raw process syscalls (vllsi.linux.process) against real children."""

from __future__ import annotations

import os
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance._support import linux_only, skip
from conformance._support.cc import run_c
from conformance._support.child import run_python
from vllsi import errors, linux

pytestmark = linux_only


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "30"])


@pytest.mark.covers("linux.WNOHANG", "linux.WEXITED", "linux.WNOWAIT", "linux.P_ALL",
                    "linux.P_PID", "linux.P_PIDFD", "linux.PIDFD_NONBLOCK")
def test_constants_match_headers() -> None:
    src = """#include <stdio.h>
#include <sys/wait.h>
#include <fcntl.h>
int main(void){printf("%d %d %d %d %d %d %d\\n", WNOHANG, WEXITED, WNOWAIT, P_ALL, P_PID,
  3 /* P_PIDFD: glibc < 2.36 lacks it */, O_NONBLOCK); return 0;}
"""
    got = [int(x) for x in run_c(src).split()]
    assert got == [linux.WNOHANG, linux.WEXITED, linux.WNOWAIT, linux.P_ALL, linux.P_PID,
                   linux.P_PIDFD, linux.PIDFD_NONBLOCK]
    assert (linux.WNOHANG, linux.WEXITED, linux.WNOWAIT) == (os.WNOHANG, os.WEXITED, os.WNOWAIT)
    assert (linux.P_ALL, linux.P_PID) == (os.P_ALL, os.P_PID)


@pytest.mark.covers("linux.wait_status")
@given(st.integers(0, 255), st.integers(1, 64))
def test_wait_status_matches_os(code: int, sig: int) -> None:
    exited = code << 8
    assert linux.wait_status(exited) == os.waitstatus_to_exitcode(exited) == code
    if sig != 0x7F:
        assert linux.wait_status(sig) == os.waitstatus_to_exitcode(sig) == -sig
    assert linux.wait_status(0x7F | (19 << 8)) is None  # stopped
    assert linux.wait_status(0xFFFF) is None  # continued


@pytest.mark.covers("linux.wait4", "linux.wait_status")
def test_wait4_reaps() -> None:
    p = subprocess.Popen(["sh", "-c", "exit 5"])
    pid, status = linux.wait4(p.pid)
    assert pid == p.pid and linux.wait_status(status) == 5
    p.returncode = 5  # reaped by us
    q = _sleeper()
    assert linux.wait4(q.pid, linux.WNOHANG) == (0, 0)
    q.kill()
    pid, status = linux.wait4(q.pid)
    assert linux.wait_status(status) == -9
    q.returncode = -9
    with pytest.raises(errors.VllsiError) as ei:
        linux.wait4(q.pid)
    assert ei.value.errno == 10 and ei.value.syscall == "wait4"  # ECHILD


@pytest.mark.covers("linux.waitid", "linux.pidfd_open", "linux.pidfd_send_signal")
def test_pidfd_and_waitid() -> None:
    q = _sleeper()
    try:
        fd = linux.pidfd_open(q.pid)
    except errors.Unsupported:
        q.kill()
        q.wait()
        skip("kernel", "no pidfd_open")
    try:
        assert not os.get_inheritable(fd)
        assert linux.waitid(linux.P_PIDFD, fd, linux.WEXITED | linux.WNOHANG) is None
        linux.pidfd_send_signal(fd, 15)
        si = linux.waitid(linux.P_PIDFD, fd, linux.WEXITED | linux.WNOWAIT)
        assert si is not None and si.pid == q.pid and si.status == 15 and si.code == 2
        si = linux.waitid(linux.P_PID, q.pid, linux.WEXITED)  # now reap
        assert si is not None and si.signo == 17 and si.status == 15
        q.returncode = -15
        with pytest.raises(errors.VllsiError) as ei:
            linux.pidfd_send_signal(fd, 15)
        assert ei.value.errno == 3
    finally:
        os.close(fd)
    with pytest.raises(errors.VllsiError):
        linux.pidfd_open(q.pid)
    with pytest.raises(ValueError):
        linux.pidfd_open(0)
    with pytest.raises(errors.BadDescriptor):
        linux.pidfd_send_signal(0x7FFF0000, 0)


@pytest.mark.covers("linux.exit_group")
def test_exit_group_in_child() -> None:
    r = run_python("""
        import atexit, os, threading, time
        from vllsi import linux
        atexit.register(lambda: os.write(1, b"atexit"))
        threading.Thread(target=time.sleep, args=(30,)).start()  # not joined: all threads end
        linux.exit_group(42)
    """)
    assert r.returncode == 42 and r.stdout == b""
    with pytest.raises(ValueError):
        linux.exit_group(300)
