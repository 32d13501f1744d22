"""vllsi.interrupt: critical sections over the real signal mask (in child interpreters)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance._support import linux_only
from conformance._support.child import run_python
from vllsi.interrupt import ExceptionFrame, interrupts_enabled

u64 = st.integers(0, (1 << 64) - 1)


def _child(code: str) -> str:
    r = run_python(code)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


@linux_only
@pytest.mark.covers("interrupt.disable_interrupts", "interrupt.CriticalSection",
                    "interrupt.interrupts_enabled")
def test_signal_to_self_delivered_only_after_release() -> None:
    out = _child("""
        import os, signal, threading
        from vllsi import interrupt as I, signal as S
        got = []
        signal.signal(signal.SIGUSR1, lambda *a: got.append("usr1"))
        S.block([S.Signal.SIGUSR2])                 # a mask the caller chose on purpose
        before = S.get_mask()
        # the most the kernel lets a thread block (oracle: CPython's pthread_sigmask;
        # everything but SIGKILL/SIGSTOP, and qemu-user also keeps 63/64 for itself)
        old = signal.pthread_sigmask(signal.SIG_SETMASK, signal.valid_signals())
        everything = S.SignalSet(signal.pthread_sigmask(signal.SIG_SETMASK, old))
        assert S.Signal.SIGKILL not in everything and len(everything) >= 58
        assert I.interrupts_enabled()
        cs = I.disable_interrupts()
        assert not I.interrupts_enabled() and cs.active and cs.depth == 1
        assert S.get_mask() == everything
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)   # tgkill to this thread
        os.kill(os.getpid(), signal.SIGUSR1)                         # and to the process
        for _ in range(1000):
            pass                                    # bytecode boundaries: nothing runs
        assert got == [] and S.Signal.SIGUSR1 in S.pending()
        with I.disable_interrupts() as inner:        # nested
            assert inner.depth == 2 and cs.depth == 2
        assert inner.active is False and cs.active
        for _ in range(1000):
            pass
        assert got == [] and not I.interrupts_enabled() and S.get_mask() == everything
        cs.release()
        for _ in range(10):
            pass
        assert got == ["usr1"], got                 # standard signals do not queue
        assert S.get_mask() == before               # restored exactly (SIGUSR2 still blocked)
        assert I.interrupts_enabled()
        cs.release()                                # idempotent
        assert S.get_mask() == before
        print("ok")
    """)
    assert out == "ok\n"


@linux_only
@pytest.mark.covers("interrupt.enable_interrupts", "interrupt.disable_interrupts",
                    "interrupt.CriticalSection", "interrupt.interrupts_enabled")
def test_enable_interrupts_and_threads() -> None:
    out = _child("""
        import signal, threading
        from vllsi import interrupt as I, signal as S
        old = signal.pthread_sigmask(signal.SIG_SETMASK, signal.valid_signals())
        everything = len(signal.pthread_sigmask(signal.SIG_SETMASK, old))
        S.set_mask([S.Signal.SIGHUP])
        before = S.get_mask()
        a = I.disable_interrupts()
        b = I.disable_interrupts()
        I.enable_interrupts()
        assert I.interrupts_enabled() and S.get_mask() == before
        assert not a.active and not b.active
        b.release(); a.release()                    # inert now
        assert S.get_mask() == before
        I.enable_interrupts()                       # outside a section: nothing
        assert S.get_mask() == before
        # sections are per thread: another thread's section leaves ours alone
        res = {}
        def other():
            with I.disable_interrupts() as cs:
                res["depth"] = cs.depth
                res["mask"] = len(S.get_mask())
                res["cs"] = cs
            res["after"] = S.get_mask()
        t = threading.Thread(target=other); t.start(); t.join()
        assert res["depth"] == 1 and res["mask"] == everything and res["after"] == before
        assert I.interrupts_enabled() and S.get_mask() == before
        c = I.disable_interrupts()
        err = []
        t = threading.Thread(target=lambda: err.append(_try(c.release)))
        def _try(f):
            try:
                f()
            except RuntimeError:
                return "RuntimeError"
        t.start(); t.join()
        assert err == ["RuntimeError"] and c.active
        c.release()
        assert S.get_mask() == before
        print("ok")
    """)
    assert out == "ok\n"


@pytest.mark.covers("interrupt.interrupts_enabled")
def test_interrupts_enabled_by_default() -> None:
    assert interrupts_enabled()


@pytest.mark.covers("interrupt.ExceptionFrame")
@pytest.mark.law("interrupt.frame_roundtrip")
@given(st.lists(u64, min_size=6, max_size=6), st.lists(u64, min_size=35, max_size=35))
def test_frame_roundtrip(x86: list[int], arm: list[int]) -> None:
    names = ExceptionFrame.LAYOUTS["x86_64"]
    f = ExceptionFrame("x86_64", dict(zip(names, x86, strict=False)))
    raw = f.to_bytes()
    assert len(raw) == 48 and ExceptionFrame.from_bytes("x86_64", raw) == f
    assert f.instruction_pointer() == x86[1] and f.stack_pointer() == x86[4]
    g = ExceptionFrame("aarch64", dict(zip(ExceptionFrame.LAYOUTS["aarch64"], arm[31:], strict=False)),
                       tuple(arm[:31]))
    raw = g.to_bytes()
    assert len(raw) == 35 * 8 and ExceptionFrame.from_bytes("aarch64", raw) == g
    assert g.stack_pointer() == arm[31] and g.instruction_pointer() == arm[32]


@pytest.mark.covers("interrupt.ExceptionFrame")
def test_frame_validation() -> None:
    with pytest.raises(ValueError):
        ExceptionFrame("mips", {})
    with pytest.raises(ValueError):
        ExceptionFrame("x86_64", {"rip": 1})
    with pytest.raises(ValueError):
        ExceptionFrame("aarch64", dict.fromkeys(ExceptionFrame.LAYOUTS["aarch64"], 0), (0,))
    with pytest.raises(ValueError):
        ExceptionFrame("x86_64", dict.fromkeys(ExceptionFrame.LAYOUTS["x86_64"], -1))
    with pytest.raises(ValueError):
        ExceptionFrame.from_bytes("x86_64", b"\0" * 47)
