"""Raw signal syscalls (vllsi.linux.signal): masks in child interpreters, layouts vs gcc."""

from __future__ import annotations

import os
import signal as pysignal
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance._support import linux_only
from conformance._support.cc import run_c
from conformance._support.child import run_python
from vllsi import errors, linux

pytestmark = linux_only


def _child(code: str) -> str:
    r = run_python(code)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


@pytest.mark.covers("linux.SIG_BLOCK", "linux.SIG_UNBLOCK", "linux.SIG_SETMASK",
                    "linux.SFD_CLOEXEC", "linux.SFD_NONBLOCK", "linux.SIGINFO_SIZE")
def test_constants_match_headers() -> None:
    src = """#include <stdio.h>
#include <signal.h>
#include <sys/signalfd.h>
int main(void){printf("%d %d %d %d %d %zu %zu\\n", SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK,
 SFD_CLOEXEC, SFD_NONBLOCK, sizeof(siginfo_t), sizeof(struct signalfd_siginfo)); return 0;}
"""
    got = [int(x) for x in run_c(src).split()]
    assert got == [linux.SIG_BLOCK, linux.SIG_UNBLOCK, linux.SIG_SETMASK, linux.SFD_CLOEXEC,
                   linux.SFD_NONBLOCK, linux.SIGINFO_SIZE, linux.SIGINFO_SIZE]
    assert (linux.SIG_BLOCK, linux.SIG_UNBLOCK, linux.SIG_SETMASK) == (
        pysignal.SIG_BLOCK, pysignal.SIG_UNBLOCK, pysignal.SIG_SETMASK)


@pytest.mark.covers("linux.parse_siginfo", "linux.parse_signalfd_siginfo", "linux.SigInfo")
def test_siginfo_offsets_match_headers() -> None:
    src = """#include <stdio.h>
#include <stddef.h>
#include <signal.h>
#include <sys/signalfd.h>
int main(void){
 printf("%zu %zu %zu %zu %zu %zu\\n", offsetof(siginfo_t, si_signo), offsetof(siginfo_t, si_errno),
   offsetof(siginfo_t, si_code), offsetof(siginfo_t, si_pid), offsetof(siginfo_t, si_uid),
   offsetof(siginfo_t, si_status));
 printf("%zu %zu %zu %zu %zu %zu %zu\\n", offsetof(struct signalfd_siginfo, ssi_signo),
   offsetof(struct signalfd_siginfo, ssi_errno), offsetof(struct signalfd_siginfo, ssi_code),
   offsetof(struct signalfd_siginfo, ssi_pid), offsetof(struct signalfd_siginfo, ssi_uid),
   offsetof(struct signalfd_siginfo, ssi_status), offsetof(struct signalfd_siginfo, ssi_int));
 return 0;}
"""
    lines = run_c(src).splitlines()
    assert [int(x) for x in lines[0].split()] == [0, 4, 8, 16, 20, 24]
    assert [int(x) for x in lines[1].split()] == [0, 4, 8, 12, 16, 40, 44]
    raw = struct.pack("<iiiiiIi", 17, 0, 1, 0, 1234, 1000, 7) + bytes(100)
    assert linux.parse_siginfo(raw) == linux.SigInfo(17, 0, 1, 1234, 1000, 7)
    sfd = struct.pack("<IiiIIiIIIIii", 10, 0, -6, 55, 0, 0, 0, 0, 0, 0, 0, 99) + bytes(80)
    assert linux.parse_signalfd_siginfo(sfd) == linux.SigInfo(10, 0, -6, 55, 0, 99)
    with pytest.raises(ValueError):
        linux.parse_siginfo(b"\0" * 8)
    with pytest.raises(ValueError):
        linux.parse_signalfd_siginfo(b"\0" * 40)


@given(st.integers(1, 64), st.integers(-(1 << 31), (1 << 31) - 1),
       st.integers(0, (1 << 32) - 1))
@pytest.mark.covers("linux.parse_siginfo")
def test_parse_siginfo_fields(signo: int, pid: int, uid: int) -> None:
    raw = struct.pack("<iiiiiIi", signo, 0, 0, 0, pid, uid, 0) + bytes(100)
    si = linux.parse_siginfo(raw)
    assert (si.signo, si.pid, si.uid) == (signo, pid, uid)


@pytest.mark.covers("linux.rt_sigprocmask", "linux.rt_sigpending", "linux.rt_sigtimedwait",
                    "linux.kill", "linux.tgkill", "linux.signalfd4")
def test_raw_signal_calls_in_child() -> None:
    out = _child("""
        import os, signal, threading
        from vllsi import errors, linux
        U1, U2 = 1 << 9, 1 << 11
        assert linux.rt_sigprocmask(linux.SIG_BLOCK, U1 | U2) == 0
        assert linux.rt_sigprocmask(linux.SIG_BLOCK, None) == U1 | U2
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == {signal.SIGUSR1, signal.SIGUSR2}
        linux.kill(os.getpid(), 10)
        linux.tgkill(os.getpid(), threading.get_native_id(), 12)
        assert linux.rt_sigpending() == U1 | U2
        si = linux.rt_sigtimedwait(U1, 5)
        assert si.signo == 10 and si.pid == os.getpid() and si.code == 0       # SI_USER
        si = linux.rt_sigtimedwait(U2, 5)
        assert si.signo == 12 and si.code == -6                                # SI_TKILL
        try:
            linux.rt_sigtimedwait(U1, 0.01)
        except errors.WouldBlock as e:
            assert e.syscall == "rt_sigtimedwait"
        fd = linux.signalfd4(-1, U1, linux.SFD_CLOEXEC | linux.SFD_NONBLOCK)
        assert not os.get_inheritable(fd)
        try:
            os.read(fd, 128)
        except BlockingIOError:
            pass
        linux.kill(os.getpid(), 10)
        si = linux.parse_signalfd_siginfo(os.read(fd, 128))
        assert si.signo == 10 and si.pid == os.getpid()
        assert linux.signalfd4(fd, U1 | U2) == fd
        linux.tgkill(os.getpid(), threading.get_native_id(), 12)
        assert linux.parse_signalfd_siginfo(os.read(fd, 128)).signo == 12
        os.close(fd)
        assert linux.rt_sigprocmask(linux.SIG_UNBLOCK, U2) == U1 | U2
        assert linux.rt_sigprocmask(linux.SIG_SETMASK, 0) == U1
        try:
            linux.rt_sigprocmask(7, 0)
        except errors.InvalidArgument:
            print("ok")
    """)
    assert out == "ok\n"


@pytest.mark.covers("linux.kill", "linux.tgkill", "linux.rt_sigtimedwait", "linux.signalfd4",
                    "linux.rt_sigprocmask")
def test_raw_signal_errors() -> None:
    with pytest.raises(errors.VllsiError) as ei:
        linux.tgkill(os.getpid(), 0x7FFFFFF0, 0)
    assert ei.value.errno == 3 and ei.value.syscall == "tgkill"
    with pytest.raises(ValueError):
        linux.kill(os.getpid(), 65)
    with pytest.raises(ValueError):
        linux.rt_sigtimedwait(0, 0)
    with pytest.raises(ValueError):
        linux.rt_sigtimedwait(1, -1)
    with pytest.raises(ValueError):
        linux.rt_sigprocmask(linux.SIG_BLOCK, 1 << 64)
    with pytest.raises(errors.InvalidArgument):
        linux.signalfd4(0, 1)  # fd 0 is not a signalfd
    with pytest.raises(TypeError):
        linux.kill("1", 0)  # type: ignore[arg-type]
