"""vllsi.process_ops on its Windows backend (CreateProcessW), plus the raw process calls.

The spawn tests run once vllsi.process_ops is on the branch (importorskip)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conformance._support.pending import need
from vllsi import errors
from vllsi import windows as w
from vllsi.windows import consts as C

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.covers("windows.create_process", "windows.ProcessInfo", "windows.create_pipe",
                    "windows.set_handle_information", "windows.get_exit_code_process",
                    "windows.wait_for_single_object", "windows.get_std_handle",
                    "windows.duplicate_handle")
def test_create_process_roundtrips_argv_and_exit_code(tmp_path: Path) -> None:
    import msvcrt

    argv = [sys.executable, "-c", "import sys; print(sys.argv[1:]); sys.exit(7)",
            "a b", 'q"uote', "back\\slash\\", "", "tail"]
    r, wr = w.create_pipe(inheritable=True)
    w.set_handle_information(r, C.HANDLE_FLAG_INHERIT, 0)
    err = w.duplicate_handle(w.get_std_handle(C.STD_ERROR_HANDLE), inheritable=True)
    try:
        info = w.create_process(sys.executable, argv, stdio=(0, wr, err), cwd=tmp_path,
                                env=dict(os.environ, VLLSI_PROBE="1"))
    finally:
        w.close_handle(wr)
        w.close_handle(err)
    assert isinstance(info, w.ProcessInfo) and info.pid > 0
    fd = msvcrt.open_osfhandle(r, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        out = f.read()
    assert w.wait_for_single_object(info.process, 60_000) == C.WAIT_OBJECT_0
    assert w.get_exit_code_process(info.process) == 7
    assert out.decode().strip() == repr(argv[3:])
    w.close_handle(info.thread)
    w.close_handle(info.process)
    with pytest.raises(errors.NotFound):
        w.create_process(tmp_path / "missing.exe", ["missing"])
    with pytest.raises(TypeError):
        w.create_process(sys.executable, "not a list")  # type: ignore[arg-type]


@pytest.mark.covers("windows.open_process", "windows.terminate_process",
                    "windows.nt_query_process_basic")
def test_open_and_terminate() -> None:
    info = w.create_process(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        h = w.open_process(info.pid, C.PROCESS_TERMINATE | C.PROCESS_QUERY_LIMITED_INFORMATION)
        assert w.get_exit_code_process(h) == C.STILL_ACTIVE
        pid, ppid, peb = w.nt_query_process_basic(info.process)
        assert pid == info.pid and ppid == os.getpid() and peb
        w.terminate_process(h, 99)
        assert w.wait_for_single_object(info.process, 60_000) == C.WAIT_OBJECT_0
        assert w.get_exit_code_process(info.process) == 99
        w.close_handle(h)
    finally:
        w.close_handle(info.thread)
        w.close_handle(info.process)
    assert w.nt_query_process_basic()[0] == os.getpid()
    with pytest.raises(OSError):
        w.open_process(0xFFFFFFF0, C.PROCESS_TERMINATE)


@pytest.mark.covers("process_ops.spawn", "process_ops.getpid", "process_ops.getppid",
                    "process_ops.Child")
def test_spawn_through_process_ops(tmp_path: Path) -> None:
    po = need("vllsi.process_ops")
    assert po.getpid() == os.getpid()
    # getppid oracle: a child reports its parent (os.getppid() itself crashes under
    # Wine 8: CPython 3.13 calls the unimplemented PssCaptureSnapshot).
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from vllsi import process_ops; " \
        "print(process_ops.getppid())"
    kid = po.spawn([sys.executable, "-c", code], stdout=po.PIPE)
    got = b""
    while chunk := os.read(kid.stdout, 4096):
        got += chunk
    assert kid.wait(60) == 0 and int(got) == os.getpid()
    kid.close()
    child = po.spawn([sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read()[::-1])"],
                     stdin=po.PIPE, stdout=po.PIPE, cwd=tmp_path)
    os.write(child.stdin, b"hello")
    child._close_fd("stdin")
    out = b""
    while chunk := os.read(child.stdout, 4096):
        out += chunk
    assert out == b"olleh" and child.wait() == 0
    child.close()
    c2 = po.spawn([sys.executable, "-c", "import time; time.sleep(60)"], stdout=po.DEVNULL)
    assert c2.poll() is None
    c2.kill()
    assert c2.wait(60) == -9
    c3 = po.spawn(["python", "-c", "raise SystemExit(3)"],
                  env=dict(os.environ, PATH=os.path.dirname(sys.executable)),
                  stdin=po.DEVNULL, stdout=po.DEVNULL, stderr=po.DEVNULL)
    assert c3.wait(60) == 3  # found on the given PATH with .exe
    with pytest.raises(errors.NotFound):
        po.spawn(["no-such-program-vllsi"])
    with pytest.raises(errors.Unsupported):
        po.spawn([sys.executable, "-c", "pass"], pass_fds=[3])
