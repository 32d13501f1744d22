"""spawn(): real children, real pipes, errno from exec, fd hygiene, threads.

OS-neutral unless marked: the children are small programs picked per OS by the
helpers below (``/bin/sh``, ``cat``, ``sleep`` on POSIX; this Python on
Windows, where those do not exist). POSIX-only checks (exec permission bits,
/proc views of descriptors, signal dispositions, sessions, SIGCHLD) skip
elsewhere with reason ``platform``.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance._support import ON_LINUX, ON_WINDOWS, linux_only, only_on, windows_only
from conformance._support.cc import python_argv
from vllsi import errors, process_ops
from vllsi.process_ops import DEVNULL, INHERIT, PIPE, Stdio, spawn

posix_only = only_on("linux", "darwin")
SH = "/bin/sh"


def py(code: str) -> list[str]:
    """This interpreter running ``code`` (through qemu when the suite is emulated)."""
    return python_argv("-c", code)


def exit_with(code: int) -> list[str]:
    return py(f"raise SystemExit({code})") if ON_WINDOWS else [SH, "-c", f"exit {code}"]


def sleeper() -> list[str]:
    return py("import time; time.sleep(30)") if ON_WINDOWS else ["sleep", "30"]


def cat() -> list[str]:
    if ON_WINDOWS:
        return py("import shutil, sys; shutil.copyfileobj(sys.stdin.buffer, sys.stdout.buffer)")
    return ["cat"]


def echo(text: str, code: int = 0) -> list[str]:
    """Write ``text`` and a newline to stdout, then exit with ``code``."""
    if ON_WINDOWS:
        data = (text + "\n").encode()
        return py(f"import os; os.write(1, {data!r}); raise SystemExit({code})")
    return [SH, "-c", f"echo {text}; exit {code}"]


@pytest.mark.covers("process_ops.spawn", "process_ops.Child")
def test_exit_status_decoded() -> None:
    with spawn(exit_with(3)) as c:
        assert c.wait() == 3 and c.returncode == 3
    c = spawn(sleeper())
    assert c.poll() is None
    c.kill()
    assert c.wait() == -9
    assert c.poll() == -9  # stays decoded once reaped
    c.close()


@pytest.mark.covers("process_ops.spawn")
def test_exec_enoent_raises_in_parent(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFound) as ei:
        spawn([str(tmp_path / "missing")])
    assert ei.value.errno == errno.ENOENT
    assert ei.value.syscall == ("CreateProcessW" if ON_WINDOWS else "execve")
    assert ei.value.filename == str(tmp_path / "missing")
    with pytest.raises(errors.NotFound):
        spawn(["vllsi-no-such-program-anywhere"], env={"PATH": str(tmp_path)})
    if ON_LINUX:
        assert not _zombies()


@posix_only
@pytest.mark.covers("process_ops.spawn")
def test_exec_eacces_raises_in_parent(tmp_path: Path) -> None:
    script = tmp_path / "noexec.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)  # no x bit: EACCES even for root
    with pytest.raises(errors.PermissionDenied) as ei:
        spawn([str(script)])
    assert ei.value.errno == errno.EACCES and ei.value.syscall == "execve"
    with pytest.raises(errors.PermissionDenied):
        spawn([str(tmp_path)])  # a directory
    # execvp rules: EACCES on the way, ENOENT later -> EACCES is reported
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "prog").write_text("x")
    with pytest.raises(errors.PermissionDenied):
        spawn(["prog"], env={"PATH": f"{tmp_path / 'd'}:{tmp_path / 'nope'}"})
    if ON_LINUX:
        assert not _zombies()


def _zombies() -> list[str]:
    me = str(os.getpid())
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                text = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = text.rsplit(")", 1)[1].split()
            if fields[0] == "Z" and fields[1] == me:
                out.append(pid)
    return out


@pytest.mark.covers("process_ops.spawn")
def test_cwd_and_env(tmp_path: Path) -> None:
    env = {"VL_X": "abc", "PATH": "/bin:/usr/bin"}
    if ON_WINDOWS:  # a Windows child needs SYSTEMROOT & co.; only VL_X is checked
        env = dict(os.environ, VL_X="abc")
    code = "import os, sys; sys.stdout.write(os.getcwd() + '|' + os.environ['VL_X'])"
    c = spawn(py(code), env=env, cwd=tmp_path, stdout=PIPE)
    out, err = c.communicate()
    assert err is None and c.returncode == 0
    cwd, _, x = out.decode().partition("|")
    assert os.path.samefile(cwd, tmp_path) and x == "abc"
    if not ON_WINDOWS:
        c = spawn([SH, "-c", 'pwd; echo "$VL_X"'], env=env, cwd=tmp_path, stdout=PIPE)
        assert c.communicate()[0] == f"{tmp_path}\nabc\n".encode()
    (tmp_path / "file").write_bytes(b"")
    for bad, code_ in ((tmp_path / "missing", errno.ENOENT), (tmp_path / "file", errno.ENOTDIR)):
        with pytest.raises(errors.VllsiError) as ei:
            spawn(exit_with(0), cwd=bad)
        assert ei.value.errno == code_ and ei.value.filename == str(bad)
        if not ON_WINDOWS:
            assert ei.value.syscall == "chdir"
    with pytest.raises(errors.NotFound):
        spawn(exit_with(0), cwd=tmp_path / "missing")


def _child_fds(out: bytes) -> set[int]:
    fds = set()
    for line in out.decode().splitlines():
        m = re.search(r" (\d+) -> (.*)$", line)
        if m and not re.fullmatch(r"/proc/\d+/fd", m.group(2)):
            fds.add(int(m.group(1)))
    return fds


@linux_only
@pytest.mark.covers("process_ops.spawn", "process_ops.Child")
def test_only_requested_fds_reach_child(tmp_path: Path) -> None:
    leaks = [os.open(tmp_path, os.O_RDONLY) for _ in range(4)]
    r, w = os.pipe()
    try:
        for fd in [*leaks, r, w]:
            os.set_inheritable(fd, True)  # even inheritable fds must not leak
        c = spawn(["ls", "-l", "/proc/self/fd"], stdout=PIPE, stderr=DEVNULL)
        out, _ = c.communicate()
        assert _child_fds(out) == {0, 1, 2}
        os.set_inheritable(w, False)  # pass_fds clears CLOEXEC in the child
        c = spawn(["ls", "-l", "/proc/self/fd"], stdout=PIPE, pass_fds=[w, leaks[2]])
        out, _ = c.communicate()
        assert _child_fds(out) == {0, 1, 2, w, leaks[2]}
        c = spawn([SH, "-c", f"echo passed >/dev/fd/{w}"], pass_fds=[w])
        assert c.wait() == 0
        assert os.read(r, 100) == b"passed\n"
        assert os.get_inheritable(w) is False  # the parent's flag is untouched
    finally:
        for fd in [*leaks, r, w]:
            os.close(fd)


@windows_only
@pytest.mark.covers("process_ops.spawn")
def test_pass_fds_is_unsupported_on_windows() -> None:
    # Windows cannot place a handle at a descriptor number in the child: refused
    # before anything is created (documented in the Windows backend).
    r, w = os.pipe()
    try:
        with pytest.raises(errors.Unsupported):
            spawn(exit_with(0), pass_fds=[w])
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.covers("process_ops.spawn", "process_ops.PIPE", "process_ops.INHERIT",
                    "process_ops.DEVNULL", "process_ops.Stdio")
def test_stdio_modes() -> None:
    assert {PIPE, INHERIT, DEVNULL} == set(Stdio)
    c = spawn(cat(), stdin=DEVNULL, stdout=PIPE)
    assert c.communicate() == (b"", None)
    c = spawn(cat(), stdin=PIPE, stdout=PIPE, stderr=PIPE)
    for fd in (c.stdin, c.stdout, c.stderr):
        assert fd is not None and os.get_inheritable(fd) is False  # CLOEXEC
    assert c.communicate(b"hello") == (b"hello", b"")
    # a parent descriptor placed on a std stream: stderr = the stdout pipe's write end
    both = (py("import os; os.write(1, b'out '); os.write(2, b'err ')") if ON_WINDOWS
            else [SH, "-c", "echo out; echo err >&2"])
    r, w = os.pipe()
    try:
        c = spawn(both, stdout=w, stderr=w)
        assert c.wait() == 0
        os.close(w)
        w = -1
        assert sorted(os.read(r, 100).split()) == [b"err", b"out"]
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    c = spawn(echo("x"), stdout=DEVNULL)
    assert c.wait() == 0 and c.stdout is None


@pytest.mark.covers("process_ops.spawn", "process_ops.Child")
def test_large_output_both_pipes_without_deadlock() -> None:
    mib = 1 << 20
    if ON_WINDOWS:
        child = py(f"import sys; sys.stderr.buffer.write(b'e' * {3 * mib}); "
                   f"sys.stdout.buffer.write(b'o' * {2 * mib}); sys.stdout.flush(); "
                   "sys.stdin.buffer.read()")
    else:
        child = [SH, "-c", f"head -c {3 * mib} /dev/zero | tr '\\0' e >&2; "
                 f"head -c {2 * mib} /dev/zero | tr '\\0' o; cat >/dev/null"]
    c = spawn(child, stdin=PIPE, stdout=PIPE, stderr=PIPE)
    out, err = c.communicate(b"i" * (2 * mib))
    assert c.returncode == 0
    assert out == b"o" * (2 * mib) and err == b"e" * (3 * mib)
    c = spawn(cat(), stdin=PIPE, stdout=PIPE)
    data = os.urandom(3 * mib)
    assert c.communicate(data)[0] == data


@pytest.mark.covers("process_ops.spawn", "process_ops.Child")
def test_spawn_from_busy_threads_holding_locks() -> None:
    stop = threading.Event()
    held = threading.Lock()
    held.acquire()  # held for the whole test: a forked Python child touching it would hang
    counters = [0] * 4

    def busy(i: int) -> None:
        lock = threading.Lock()
        while not stop.is_set():
            with lock:
                counters[i] += len(str(list(range(200))))  # allocate under a lock
            stop.wait(0.0005)

    threads = [threading.Thread(target=busy, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(5 if ON_WINDOWS else 20):
            c = spawn(echo(str(i)), stdout=PIPE)
            assert c.communicate() == (f"{i}\n".encode(), None) and c.returncode == 0
    finally:
        stop.set()
        for t in threads:
            t.join()
        held.release()
    assert all(counters)


@linux_only
@pytest.mark.covers("process_ops.spawn")
def test_signal_dispositions_in_child() -> None:
    # CPython catches SIGINT and ignores SIGPIPE/SIGXFSZ: the child must not inherit
    # a handler (it would run on shared memory), and by default not the SIG_IGNs either.
    def status(**kw: object) -> dict[str, int]:
        c = spawn(["cat", "/proc/self/status"], stdout=PIPE, **kw)  # type: ignore[arg-type]
        out, _ = c.communicate()
        return {k: int(v, 16) for k, v in re.findall(r"^(Sig\w+):\s+([0-9a-f]+)$",
                                                     out.decode(), re.M)}
    s = status()
    assert s["SigCgt"] == 0
    assert not s["SigIgn"] & ((1 << 12) | (1 << 24))
    s = status(restore_signals=False)
    assert s["SigIgn"] & (1 << 12)  # SIGPIPE stays ignored when asked
    assert status()["SigBlk"] == 0


@linux_only
@pytest.mark.covers("process_ops.spawn")
def test_new_session() -> None:
    c = spawn(["cat", "/proc/self/stat"], start_new_session=True, stdout=PIPE)
    out, _ = c.communicate()
    fields = out.decode().rsplit(")", 1)[1].split()
    assert int(fields[3]) == c.pid != os.getsid(0)  # its own session


@pytest.mark.covers("process_ops.spawn", "process_ops.Child")
def test_timeouts_and_terminate() -> None:
    c = spawn(sleeper())
    try:
        with pytest.raises(errors.TimedOut):
            c.wait(timeout=0.05)
        c.terminate()
        assert c.wait(timeout=60) == -15
    finally:
        c.kill()
        c.wait()
        c.close()
    c = spawn(sleeper(), pidfd=False)
    assert c.pidfd is None
    with pytest.raises(errors.TimedOut):
        c.wait(0.02)
    c.kill()
    assert c.wait() == -9


@pytest.mark.covers("process_ops.spawn")
def test_bad_arguments_before_any_syscall() -> None:
    with pytest.raises(TypeError):
        spawn("ls")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        spawn([])
    with pytest.raises(ValueError):
        spawn(["ls\0x"])
    with pytest.raises(TypeError):
        spawn(["ls"], stdout="pipe")
    with pytest.raises(ValueError):
        spawn(["ls"], env={"A=B": "c"})
    with pytest.raises(ValueError):
        spawn(["ls"], pass_fds=[-1])
    with pytest.raises(ValueError):
        spawn(["ls"], pass_fds=[1])
    with pytest.raises(TypeError):
        spawn(["ls"], pass_fds=[True])


@posix_only
@pytest.mark.covers("process_ops.spawn")
def test_exec_bit_checked_via_stat(tmp_path: Path) -> None:
    prog = tmp_path / "ok.sh"
    prog.write_text("#!/bin/sh\nexit 7\n")
    prog.chmod(prog.stat().st_mode | stat.S_IXUSR)
    assert spawn([str(prog)]).wait() == 7
    assert spawn(["ok.sh"], env={"PATH": str(tmp_path)}).wait() == 7
    assert process_ops.spawn([os.fsencode(prog)]).wait() == 7


@pytest.mark.covers("process_ops.spawn", "process_ops.Child")
def test_concurrent_spawns_from_threads() -> None:
    errors_seen: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(3 if ON_WINDOWS else 8):
                c = spawn(echo(f"{k}-{i}", i), stdout=PIPE)
                out, _ = c.communicate()
                assert out == f"{k}-{i}\n".encode() and c.returncode == i
        except BaseException as exc:
            errors_seen.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors_seen == []


@pytest.mark.covers("process_ops.spawn", "process_ops.Child")
def test_pipes_do_not_leak_into_concurrent_children() -> None:
    # A child started while another spawn's pipe ends exist must not get them: a
    # long-lived child holding the write end of someone else's stdout pipe keeps
    # that reader from ever seeing EOF. (Windows: handle inheritance is
    # process-wide, so vllsi serialises its spawns; POSIX: the child closes every
    # descriptor it was not given.)
    stop = threading.Event()
    sleepers: list[process_ops.Child] = []

    def spawner() -> None:
        while not stop.is_set() and len(sleepers) < 40:
            sleepers.append(spawn(sleeper(), stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL,
                                  pidfd=False))

    t = threading.Thread(target=spawner)
    t.start()
    try:
        for i in range(8):
            c = spawn(echo(str(i)), stdout=PIPE)
            out, _ = c.communicate(timeout=30)  # EOF needs every copy of the write end gone
            assert out == f"{i}\n".encode() and c.returncode == 0
    finally:
        stop.set()
        t.join()
        for s in sleepers:
            s.kill()
            s.wait()


@pytest.mark.covers("process_ops.spawn")
def test_closed_descriptor_for_a_std_stream() -> None:
    r, w = os.pipe()
    high = os.dup2(w, 900)  # a closed number spawn's own new fds will not reuse
    for fd in (r, w, high):
        os.close(fd)
    with pytest.raises(errors.BadDescriptor) as ei:
        spawn(exit_with(0), stdout=high)
    assert ei.value.errno == errno.EBADF
    if ON_LINUX:
        assert not _zombies()


@pytest.mark.covers("process_ops.Child")
def test_communicate_timeout_and_close() -> None:
    early = (py("import os, time; os.write(1, b'early'); time.sleep(30)") if ON_WINDOWS
             else [SH, "-c", "echo early; exec sleep 30"])
    c = spawn(early, stdout=PIPE)
    with pytest.raises(errors.TimedOut):
        c.communicate(timeout=0.2)
    assert c.stdout is None  # pipes closed; the child is left running
    assert c.poll() is None
    c.kill()
    assert c.wait() == -9
    c.close()
    c.close()  # idempotent
    with pytest.raises(ValueError):
        spawn(cat(), stdout=PIPE).communicate(b"x")  # no stdin pipe


@pytest.mark.covers("process_ops.Child")
def test_kill_from_another_thread_while_waiting() -> None:
    for use_pidfd in (True, False):
        c = spawn(sleeper(), pidfd=use_pidfd)
        t = threading.Timer(0.05, c.kill)
        t.start()
        assert c.wait() == -9  # a kill() must not queue behind the blocked wait()
        t.join()
        c.close()


@posix_only
@pytest.mark.covers("process_ops.Child")
def test_wait_with_sigchld_ignored() -> None:
    from conformance._support.child import run_python

    r = run_python("""
        import signal
        from vllsi.process_ops import spawn
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps children itself
        c = spawn(["/bin/sh", "-c", "exit 3"])
        print(c.wait(), c.poll())
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"0 0\n"  # the status is gone; reported as 0, as subprocess does


@pytest.mark.covers("process_ops.spawn", "process_ops.Child")
@settings(max_examples=10 if ON_WINDOWS else 25, deadline=None)
@given(st.integers(0, 255))
def test_any_exit_code_round_trips(code: int) -> None:
    assert spawn(exit_with(code), pidfd=False).wait() == code


@pytest.mark.covers("process_ops.Child", "process_ops.kill")
@settings(max_examples=10, deadline=None)
@given(st.sampled_from([1, 2, 3, 6, 9, 10, 12, 13, 14, 15]))
def test_signalled_child_decodes_negative(sig: int) -> None:
    c = spawn(sleeper(), pidfd=False)
    process_ops.kill(c.pid, sig)
    assert c.wait() == -sig
