"""vllsi.init: steps, errors, panics, cleanup — each in a fresh child interpreter.

OS-neutral: SIGPIPE is checked where the OS has it, the stack bounds on Linux
(elsewhere ``InitInfo.stack`` is None, as documented); child output is compared
with Windows' text-mode ``\r\n`` folded to ``\n``.
"""

from __future__ import annotations

import re

import pytest

from conformance._support.child import run_python
from vllsi import init as vinit


def _run(code: str, status: int = 0) -> tuple[str, str]:
    r = run_python(code)
    err = r.stderr.decode().replace("\r\n", "\n")
    assert r.returncode == status, err
    return r.stdout.decode().replace("\r\n", "\n"), err


@pytest.mark.covers("init.init", "init.is_initialized", "init.InitInfo", "init.InitConfig",
                    "init.AlreadyInitialized", "init.InitError", "init.StackBounds")
def test_steps_once_in_order_and_already_initialized() -> None:
    out, _ = _run("""
        import errno, signal, sys, threading
        from vllsi import init as I
        assert not I.is_initialized()
        hook = sys.excepthook
        info = I.init()
        assert info.steps == ("validate", "sigpipe", "stack", "name", "tls",
                              "panic_handler", "cleanup"), info.steps
        assert I.is_initialized() and info.main_thread_name == "main"
        assert sys.excepthook is not hook and threading.excepthook is not threading.__excepthook__
        if hasattr(signal, "SIGPIPE"):
            assert signal.getsignal(signal.SIGPIPE) is signal.SIG_IGN
        try:
            I.init()
        except I.AlreadyInitialized as e:
            assert isinstance(e, I.InitError) and e.errno == errno.EALREADY
            print("already")
        st = info.stack
        if sys.platform == "linux":
            stat = open("/proc/self/stat").read()
            start = int(stat.rsplit(")", 1)[1].split()[25])  # startstack
            assert st.low < start < st.high and st.guard > 0 and st.guard % 4096 == 0, \
                (st, start)
        else:
            assert st is None, st  # the stack step records bounds on Linux only
        print("ok")
    """)
    assert out == "already\nok\n"


@pytest.mark.covers("init.init", "init.InvalidConfig", "init.InitConfig", "init.PlatformError")
def test_invalid_config_and_wrong_thread() -> None:
    out, _ = _run("""
        import errno, signal, sys, threading
        from vllsi import init as I
        for bad in (I.InitConfig(sigpipe="sometimes"), I.InitConfig(main_thread_name=""),
                    I.InitConfig(panic_exit_status=0), I.InitConfig(panic_handler=1)):
            try:
                I.init(bad)
            except I.InvalidConfig as e:
                assert e.errno == errno.EINVAL and isinstance(e, I.InitError)
            else:
                raise AssertionError(bad)
        assert not I.is_initialized() and sys.excepthook is sys.__excepthook__
        try:
            I.init("defaults")
        except TypeError:
            pass
        res = []
        def other():
            try:
                I.init()
            except I.PlatformError as e:
                res.append(e.errno)
        t = threading.Thread(target=other); t.start(); t.join()
        assert res == [errno.EPERM] and not I.is_initialized()
        print("ok")
    """)
    assert out == "ok\n"


@pytest.mark.covers("init.init", "init.panic_impl", "init.PanicInfo")
def test_main_thread_panic_prints_cleans_up_once_exits_101() -> None:
    out, err = _run("""
        import atexit, os
        from vllsi import init as I
        I.init()
        I.register_cleanup(lambda: os.write(1, b"cleanup\\n"))
        atexit.register(lambda: os.write(1, b"atexit\\n"))
        def deep():
            raise ValueError("boom")  # LINE
        deep()
    """, status=101)
    assert out == "cleanup\natexit\n"
    m = re.fullmatch(r"thread 'main' panicked at (.*):(\d+): ValueError: boom\n", err)
    assert m is not None, err
    assert m.group(1) == "<string>" and int(m.group(2)) == 8


@pytest.mark.covers("init.set_panic_handler", "init.PanicInfo", "init.panic_impl")
def test_custom_handler_replaces_default_and_still_exits_101() -> None:
    out, err = _run("""
        import os, threading
        from vllsi import init as I
        I.init(I.InitConfig(main_thread_name="boss"))
        seen = []
        def handler(info):
            assert isinstance(info, I.PanicInfo)
            assert info.thread_id == threading.get_native_id()
            os.write(1, ("custom:" + info.line() + "\\n").encode())
            return "ignored"
        assert I.set_panic_handler(handler) is None
        I.register_cleanup(lambda: os.write(1, b"cleanup\\n"))
        raise KeyError("k")
    """, status=101)
    assert err == ""
    assert re.fullmatch(r"custom:thread 'boss' panicked at <string>:13: KeyError: 'k'\n"
                        r"cleanup\n", out), out


@pytest.mark.covers("init.init", "init.PanicInfo")
def test_other_thread_panic_ends_only_that_thread() -> None:
    out, err = _run("""
        import threading
        from vllsi import init as I
        I.init()
        def work():
            raise RuntimeError("thread failure")
        t = threading.Thread(target=work, name="worker-3")
        t.start(); t.join()
        print("main goes on", I.is_initialized())
    """)
    assert out == "main goes on True\n"
    assert re.fullmatch(r"thread 'worker-3' panicked at <string>:6: RuntimeError: thread failure\n",
                        err), err


@pytest.mark.covers("init.shutdown", "init.register_cleanup", "init.is_initialized",
                    "init.init")
def test_cleanup_reverse_order_once_and_shutdown() -> None:
    out, _ = _run("""
        import os, signal, sys, threading
        from vllsi import init as I
        hooks = (sys.excepthook, threading.excepthook)
        I.init(I.InitConfig(sigpipe="default"))
        pipe = getattr(signal, "SIGPIPE", None)  # absent on Windows: the step does nothing
        assert pipe is None or signal.getsignal(pipe) is signal.SIG_DFL
        I.register_cleanup(lambda: print("first registered"))
        I.register_cleanup(lambda: print("second registered"))
        print(I.shutdown())
        assert not I.is_initialized() and (sys.excepthook, threading.excepthook) == hooks
        assert pipe is None or signal.getsignal(pipe) is signal.SIG_IGN  # CPython's, restored
        assert I.shutdown() == []                                   # once
        try:
            I.register_cleanup(print)
        except I.InitError:
            pass
        I.init()                                                     # again, after shutdown
        I.register_cleanup(lambda: print("at exit"))
        print("end of main")
    """)
    assert out == ("second registered\nfirst registered\n"
                   "['cleanup', 'panic_handler', 'tls', 'name', 'stack', 'sigpipe']\n"
                   "end of main\nat exit\n")


@pytest.mark.covers("init.init_thread", "init.cleanup_thread")
def test_thread_tables() -> None:
    # vllsi.tls may not exist yet: then both are documented no-ops; either way
    # they are idempotent and usable from any thread.
    vinit.init_thread()
    vinit.init_thread()
    vinit.cleanup_thread()
    vinit.cleanup_thread()
    out, _ = _run("""
        import threading
        from vllsi import init as I
        def t():
            I.init_thread(); I.cleanup_thread()
        th = threading.Thread(target=t); th.start(); th.join()
        print("ok")
    """)
    assert out == "ok\n"


@pytest.mark.covers("init.panic_impl", "init.PanicInfo", "init.set_panic_handler")
def test_panic_impl_writes_fd2_without_init() -> None:
    out, err = _run("""
        from vllsi import init as I
        info = I.PanicInfo("msg", "f.py:3", 1, "t")
        I.panic_impl(info)
        prev = I.set_panic_handler(print)
        assert prev is None and I.set_panic_handler(None) is print
        try:
            I.set_panic_handler(3)
        except TypeError:
            print("ok")
        raise SystemExit(0)
    """)
    assert err == "thread 't' panicked at f.py:3: msg\n" and out == "ok\n"
