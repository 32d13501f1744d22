"""vllsi.signal: masks, pending, wait, SignalFd, kill. Mask changes run in child interpreters."""

from __future__ import annotations

import signal as pysignal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance._support import linux_only
from conformance._support.child import run_python
from vllsi import signal as vsig
from vllsi.signal import NSIG, Signal, SignalSet

masks = st.integers(0, (1 << 64) - 1)


@pytest.mark.covers("signal.Signal", "signal.NSIG")
def test_signal_numbers_match_host() -> None:
    for s in Signal:
        host = getattr(pysignal, s.name, None)
        if host is None:
            assert not s.available
        else:
            assert s.value == int(host), s.name
    assert not Signal.SIGKILL.catchable and not Signal.SIGSTOP.catchable
    assert Signal.SIGTERM.catchable
    assert NSIG == 65


@pytest.mark.covers("signal.SignalSet")
@pytest.mark.law("signal.mask_roundtrip")
@given(masks)
def test_mask_roundtrip(m: int) -> None:
    s = SignalSet.from_mask(m)
    assert s.to_mask() == m
    assert SignalSet(s) == s and SignalSet(list(s)) == s
    assert len(s) == bin(m).count("1")
    assert all(((m >> (n - 1)) & 1) == (n in s) for n in range(1, NSIG))


@pytest.mark.covers("signal.SignalSet")
@pytest.mark.law("signal.set_algebra")
@given(masks, masks)
def test_set_algebra(a: int, b: int) -> None:
    x, y = SignalSet.from_mask(a), SignalSet.from_mask(b)
    assert (x | y).to_mask() == a | b and (x | y) == (y | x)
    assert (x & y).to_mask() == a & b and (x & y) == (y & x)
    assert (x - y).to_mask() == a & ~b
    assert (x - y) | (x & y) == x


@pytest.mark.covers("signal.SignalSet")
def test_signalset_validation() -> None:
    with pytest.raises(ValueError):
        SignalSet([0])
    with pytest.raises(ValueError):
        SignalSet([65])
    with pytest.raises(TypeError):
        SignalSet(["SIGINT"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        SignalSet.from_mask(1 << 64)
    assert 0 not in SignalSet.full() and 64 in SignalSet.full()
    sig = Signal.SIGUSR1 if Signal.SIGUSR1.available else Signal.SIGTERM  # Windows: no USR1
    assert list(SignalSet([sig, 40])) == [sig, 40]
    if not Signal.SIGUSR1.available:
        with pytest.raises(ValueError):
            SignalSet([Signal.SIGUSR1])


def _child(code: str) -> str:
    r = run_python(code)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


@linux_only
@pytest.mark.covers("signal.block", "signal.unblock", "signal.set_mask", "signal.get_mask",
                    "signal.pending", "signal.kill")
def test_mask_round_trips_in_child() -> None:
    out = _child("""
        import os, signal
        from vllsi import signal as S
        U1, U2 = S.Signal.SIGUSR1, S.Signal.SIGUSR2
        got = []
        signal.signal(U1, lambda *a: got.append("U1"))
        assert S.get_mask() == S.SignalSet()
        assert S.block([U1]) == S.SignalSet()
        assert S.get_mask() == S.SignalSet([U1])
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == {signal.SIGUSR1}  # oracle
        assert S.block(S.SignalSet([U2])) == S.SignalSet([U1])
        S.kill(os.getpid(), U1)
        assert S.pending() == S.SignalSet([U1]) and got == []
        assert signal.sigpending() == {signal.SIGUSR1}
        assert S.unblock([U2]) == S.SignalSet([U1, U2])
        prev = S.set_mask([])
        assert prev == S.SignalSet([U1])  # delivered on the way out of rt_sigprocmask
        assert got == ["U1"], got
        assert S.pending() == S.SignalSet()
        full = S.SignalSet.full()
        S.set_mask(full)
        m = S.get_mask()
        assert S.Signal.SIGKILL not in m and S.Signal.SIGSTOP not in m  # kernel refuses
        # oracle: what CPython's pthread_sigmask reads back (qemu-user keeps 63/64 too)
        assert m == S.SignalSet(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        assert len(m) >= 60
        S.kill(os.getpid(), 0)
        print("ok")
    """)
    assert out == "ok\n"


@linux_only
@pytest.mark.covers("signal.wait", "signal.SignalInfo")
def test_wait_returns_pending_and_honours_timeout() -> None:
    out = _child("""
        import os, threading
        from vllsi import signal as S
        U1, U2 = S.Signal.SIGUSR1, S.Signal.SIGUSR2
        S.block([U1, U2])
        S.kill(os.getpid(), U2)
        info = S.wait([U1, U2], timeout=5)
        assert info is not None and info.signal is U2 and info.pid == os.getpid(), info
        assert info.code == 0 and info.uid == os.getuid()  # SI_USER
        assert S.wait([U1, U2], timeout=0) is None
        assert S.wait([U1], timeout=0.05) is None
        # a signal raised by another thread while we sleep in rt_sigtimedwait
        t = threading.Timer(0.05, lambda: S.kill(os.getpid(), U1))
        t.start()
        info = S.wait([U1], timeout=60)
        t.join()
        assert info is not None and info.signal is U1
        assert S.pending() == S.SignalSet()
        for bad in ([], [0]):
            try:
                S.wait(bad, 0)
            except ValueError:
                pass
            else:
                raise AssertionError(bad)
        print("ok")
    """)
    assert out == "ok\n"


@linux_only
@pytest.mark.covers("signal.SignalFd", "signal.SignalInfo")
def test_signalfd_delivers_siginfo() -> None:
    out = _child("""
        import os, selectors, signal, threading
        from vllsi import signal as S
        from vllsi.process_ops import spawn
        U1, CHLD = S.Signal.SIGUSR1, S.Signal.SIGCHLD
        with S.SignalFd([U1, CHLD], block=True) as sfd:
            assert S.get_mask() == S.SignalSet([U1, CHLD])
            assert sfd.read() == []
            sel = selectors.DefaultSelector()
            sel.register(sfd, selectors.EVENT_READ)
            assert sel.select(0) == []
            signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)  # tgkill
            assert len(sel.select(5)) == 1
            [info] = sfd.read()
            assert info.signal is U1 and info.pid == os.getpid() and info.code == -6, info
            child = spawn(["/bin/sh", "-c", "exit 7"], pidfd=False)
            pid = child.pid
            sel.select(30)
            [info] = sfd.read()
            assert info.signal is CHLD and info.pid == pid and info.status == 7, info
            assert info.code == 1  # CLD_EXITED
            assert child.wait() == 7
            sfd.set_signals([U1])
            assert sfd.signals == S.SignalSet([U1])
            fd = sfd.fileno()
        try:
            os.fstat(fd)
        except OSError:
            pass
        else:
            raise AssertionError("fd left open")
        try:
            sfd.fileno()
        except ValueError:
            print("ok")
    """)
    assert out == "ok\n"


@pytest.mark.covers("signal.kill")
def test_kill_validation() -> None:
    with pytest.raises(TypeError):
        vsig.kill("1", 9)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        vsig.kill(1, 65)
