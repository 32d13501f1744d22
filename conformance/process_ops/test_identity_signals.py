"""Identity calls, signals to other processes, exit/exit_group (in child interpreters).

OS-neutral except tgkill and pidfds (Linux calls; on Windows they raise
Unsupported, checked by a Windows-only test that covers no name: those names stay
uncovered on Windows, as they do not exist there).
"""

from __future__ import annotations

import errno
import os
import threading

import pytest

from conformance._support import ON_WINDOWS, linux_only, skip, windows_only
from conformance._support.cc import python_argv
from conformance._support.child import ROOT, run_python
from vllsi import errors, process_ops
from vllsi.process_ops import PIPE, spawn


def sleeper() -> list[str]:
    return (python_argv("-c", "import time; time.sleep(30)") if ON_WINDOWS
            else ["sleep", "30"])


@pytest.mark.covers("process_ops.getpid", "process_ops.getppid", "process_ops.gettid")
def test_identity_matches_os() -> None:
    assert process_ops.getpid() == os.getpid()
    assert process_ops.gettid() == threading.get_native_id()
    out: list[int] = []
    t = threading.Thread(target=lambda: out.append(process_ops.gettid() -
                                                   threading.get_native_id()))
    t.start()
    t.join()
    assert out == [0]
    # getppid: a child names its parent (os.getppid() itself crashes under Wine 8:
    # CPython 3.13 calls the unimplemented PssCaptureSnapshot)
    code = (f"import sys; sys.path.insert(0, {ROOT!r}); from vllsi import process_ops; "
            "sys.stdout.write(str(process_ops.getppid()))")
    c = spawn(python_argv("-c", code), stdout=PIPE)
    got, _ = c.communicate()
    assert c.returncode == 0 and int(got) == os.getpid()
    if not ON_WINDOWS:
        assert process_ops.getppid() == os.getppid()


@pytest.mark.covers("process_ops.kill")
def test_kill_reaches_target() -> None:
    c = spawn(sleeper())
    process_ops.kill(c.pid, 0)  # probe
    process_ops.kill(c.pid, 15)
    assert c.wait() == -15
    c.close()
    with pytest.raises(errors.VllsiError) as ei:
        process_ops.kill(c.pid, 15)  # reaped: no such process (pids are not reused this fast)
    assert ei.value.errno == errno.ESRCH
    for bad in (99, -1, 65):  # refused before any OS call (Windows would end us with 227)
        with pytest.raises(ValueError):
            process_ops.kill(os.getpid(), bad)
    with pytest.raises(TypeError):
        process_ops.kill(os.getpid(), "SIGTERM")  # type: ignore[arg-type]


@linux_only
@pytest.mark.covers("process_ops.tgkill")
def test_tgkill_reaches_thread() -> None:
    c = spawn(["sleep", "30"])
    process_ops.tgkill(c.pid, c.pid, 10)  # SIGUSR1's default action ends it
    assert c.wait() == -10
    with pytest.raises(errors.VllsiError) as ei:
        process_ops.tgkill(os.getpid(), c.pid, 0)  # not a thread of ours
    assert ei.value.errno == 3


@linux_only
@pytest.mark.covers("process_ops.pidfd_open", "process_ops.pidfd_send_signal")
def test_pidfd_reaches_target() -> None:
    c = spawn(["sleep", "30"], pidfd=False)
    try:
        fd = process_ops.pidfd_open(c.pid)
    except errors.Unsupported:
        c.kill()
        c.wait()
        skip("kernel", "pidfd_open is ENOSYS")
    try:
        assert os.get_inheritable(fd) is False
        process_ops.pidfd_send_signal(fd, 9)
        assert c.wait() == -9
        with pytest.raises(errors.VllsiError) as ei:
            process_ops.pidfd_send_signal(fd, 9)
        assert ei.value.errno == 3  # ESRCH: exited, and never someone else
    finally:
        os.close(fd)
    with pytest.raises(errors.VllsiError):
        process_ops.pidfd_open(c.pid)


@windows_only
def test_linux_calls_are_unsupported_on_windows() -> None:
    c = spawn(sleeper())
    try:
        assert c.pidfd is None  # spawn works without pidfds
        with pytest.raises(errors.Unsupported):
            process_ops.tgkill(c.pid, c.pid, 15)
        with pytest.raises(errors.Unsupported):
            process_ops.pidfd_open(c.pid)
        with pytest.raises(errors.Unsupported):
            process_ops.pidfd_send_signal(3, 15)
        for group in (0, -c.pid):  # POSIX process groups: no such thing here
            with pytest.raises(errors.Unsupported):
                process_ops.kill(group, 15)
        assert c.poll() is None
    finally:
        c.kill()
        c.wait()


@pytest.mark.covers("process_ops.exit")
def test_exit_runs_atexit_and_flushes() -> None:
    r = run_python("""
        import atexit, sys
        from vllsi import process_ops
        atexit.register(lambda: sys.stdout.write("atexit ran\\n"))
        sys.stdout.write("buffered")
        try:
            process_ops.exit(3)
        finally:
            sys.stdout.write("never")
    """)
    assert r.returncode == 3, r.stderr
    assert r.stdout.replace(b"\r\n", b"\n") == b"bufferedatexit ran\n"


@pytest.mark.covers("process_ops.exit_group")
def test_exit_group_skips_atexit() -> None:
    r = run_python("""
        import atexit, os, sys
        from vllsi import process_ops
        atexit.register(lambda: os.write(1, b"atexit ran"))
        os.write(1, b"direct;")
        sys.stdout.write("buffered")
        process_ops.exit_group(4)
    """)
    assert r.returncode == 4, r.stderr
    assert r.stdout == b"direct;"
    with pytest.raises(ValueError):
        process_ops.exit_group(256)
    with pytest.raises(ValueError):
        process_ops.exit(-1)
