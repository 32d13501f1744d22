"""Byte-range locks: semantics across descriptors and processes, timeouts, EINTR,
handle lifetime, bad input. Linux-only tests pin OFD semantics."""

from __future__ import annotations

import gc
import json
import os
import textwrap
import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance._support import ON_WINDOWS, linux_only, only_on
from conformance._support.proc import run, spawn
from vllsi import errors, locking
from vllsi.locking import LockKind, LockRegion

posix_fds = pytest.mark.skipif(
    ON_WINDOWS, reason="platform: uses C runtime descriptors (os.open) or POSIX-only os oracles; on Windows vllsi takes HANDLEs (conformance/windows/test_backend_files.py)")


EX, SH = LockKind.Exclusive, LockKind.Shared


def _fds(tmp: Path, n: int) -> list[int]:
    p = tmp / "lockfile"
    p.write_bytes(b"")
    return [os.open(p, os.O_RDWR) for _ in range(n)]


HOLD = textwrap.dedent("""
    import os, sys
    from vllsi import locking
    fd = os.open(sys.argv[1], os.O_RDWR)
    kind = locking.LockKind[sys.argv[2]]
    h = locking.try_lock(fd, locking.LockRegion(int(sys.argv[3]), int(sys.argv[4])), kind)
    print(os.getpid(), flush=True)
    sys.stdin.readline()
    h.unlock()
    print("released", flush=True)
    sys.stdin.readline()
""")


class Holder:
    """A second process holding a vllsi lock until told to release."""

    def __init__(self, path: Path, kind: str, start: int, length: int) -> None:
        self.proc = spawn(HOLD, str(path), kind, str(start), str(length))
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip().isdigit(), line
        self.pid = int(line)

    def release(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "released"

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        finally:
            self.proc.wait(timeout=60)


@posix_fds
@pytest.mark.covers("locking.try_lock", "locking.unlock", "locking.LockHandle",
                    "locking.LockKind", "locking.LockRegion")
def test_try_lock_and_unlock(tmp_path: Path) -> None:
    (fd,) = _fds(tmp_path, 1)
    try:
        h = locking.try_lock(fd, LockRegion(0, 10), EX)
        assert h.active and h.fd == fd and h.kind is EX and h.region == LockRegion(0, 10)
        assert h.region.start == 0 and h.region.length == 10
        locking.unlock(h)
        assert not h.active
        with locking.try_lock(fd, LockRegion.to_eof(5), SH) as h2:
            assert h2.region == (5, 0)
        assert not h2.active
    finally:
        os.close(fd)


@posix_fds
@pytest.mark.covers("locking.try_lock", "locking.unlock", "locking.LockHandle")
def test_double_unlock_raises(tmp_path: Path) -> None:
    (fd,) = _fds(tmp_path, 1)
    try:
        h = locking.try_lock(fd, LockRegion.byte(3), EX)
        h.unlock()
        with pytest.raises(ValueError):
            h.unlock()
        with pytest.raises(ValueError):
            locking.unlock(h)
        with pytest.raises(TypeError):
            locking.unlock("handle")  # type: ignore[arg-type]
    finally:
        os.close(fd)


@posix_fds
@pytest.mark.covers("locking.try_lock", "locking.LockHandle")
def test_dropped_handle_warns_and_releases(tmp_path: Path) -> None:
    a, b = _fds(tmp_path, 2)
    try:
        h = locking.try_lock(a, LockRegion(0, 1), EX)
        with pytest.warns(ResourceWarning, match="unreleased"):
            del h
            gc.collect()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            locking.try_lock(b, LockRegion(0, 1), EX).unlock()  # released by the drop
    finally:
        os.close(a)
        os.close(b)


@linux_only
@pytest.mark.covers("locking.try_lock", "locking.try_lock_byte_exclusive",
                    "locking.try_lock_byte_shared")
def test_two_fds_of_one_process_conflict_ofd(tmp_path: Path) -> None:
    a, b = _fds(tmp_path, 2)
    try:
        h = locking.try_lock_byte_exclusive(a, 100)
        with pytest.raises(errors.LockConflict) as ei:
            locking.try_lock_byte_shared(b, 100)
        assert ei.value.owner_pid == -1  # OFD holder: the kernel does not say
        assert isinstance(ei.value, BlockingIOError)
        locking.try_lock_byte_exclusive(b, 101).unlock()  # the next byte is free
        h.unlock()
        s1 = locking.try_lock_byte_shared(a, 100)
        s2 = locking.try_lock_byte_shared(b, 100)  # shared locks coexist
        with pytest.raises(errors.LockConflict):
            locking.try_lock_byte_exclusive(b, 100)
        s1.unlock()
        s2.unlock()
    finally:
        os.close(a)
        os.close(b)


@linux_only
@pytest.mark.covers("locking.try_lock")
def test_closing_a_third_fd_keeps_the_lock(tmp_path: Path) -> None:
    a, b, c = _fds(tmp_path, 3)
    try:
        h = locking.try_lock(a, LockRegion(0, 0), EX)
        os.close(c)  # a classic POSIX lock would be dropped right here
        with pytest.raises(errors.LockConflict):
            locking.try_lock(b, LockRegion(0, 0), SH)
        holder = spawn(HOLD, str(tmp_path / "lockfile"), "Shared", "0", "1")
        assert holder.stdout is not None
        out = holder.stdout.readline()
        holder.kill()
        holder.wait()
        assert not out.strip().isdigit(), "another process got the lock after close(c)"
        h.unlock()
    finally:
        os.close(a)
        os.close(b)


@posix_fds
@pytest.mark.covers("locking.try_lock", "locking.lock", "locking.try_lock_region",
                    "locking.unlock_region")
def test_second_process_conflicts_and_proceeds_after_release(tmp_path: Path) -> None:
    (fd,) = _fds(tmp_path, 1)
    holder = Holder(tmp_path / "lockfile", "Exclusive", 10, 20)
    try:
        with pytest.raises(errors.LockConflict) as ei:
            locking.try_lock(fd, LockRegion(25, 1), SH)
        assert ei.value.owner_pid == -1 and ei.value.errno in (11, 13, 35, 33)
        with pytest.raises(errors.LockConflict):
            locking.try_lock_region(fd, EX, 0, 0)
        locking.try_lock_region(fd, EX, 0, 10)  # adjacent: no overlap
        locking.unlock_region(fd, 0, 10)
        holder.release()
        with locking.lock(fd, LockRegion(10, 20), EX, timeout=10):
            pass
    finally:
        holder.close()
        os.close(fd)


CLASSIC = textwrap.dedent("""
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX, 4, 0)
    print(os.getpid(), flush=True)
    sys.stdin.readline()
""")


@linux_only
@pytest.mark.covers("locking.try_lock")
def test_owner_pid_of_a_classic_lock(tmp_path: Path) -> None:
    (fd,) = _fds(tmp_path, 1)
    child = spawn(CLASSIC, str(tmp_path / "lockfile"))
    try:
        assert child.stdout is not None and child.stdin is not None
        pid = int(child.stdout.readline())
        with pytest.raises(errors.LockConflict) as ei:
            locking.try_lock(fd, LockRegion(2, 1), SH)
        assert ei.value.owner_pid == pid
        child.stdin.write("\n")
        child.stdin.flush()
    finally:
        child.wait(timeout=60)
        os.close(fd)


# lock() with a timeout while signals keep interrupting: run in a subprocess
# because it installs a SIGALRM handler and an interval timer (process-global).
EINTR_SCRIPT = textwrap.dedent("""
    import json, os, signal, subprocess, sys, time
    from vllsi import errors, locking
    path, hold = sys.argv[1], sys.argv[2]
    hits = []
    signal.signal(signal.SIGALRM, lambda *a: hits.append(1))
    signal.setitimer(signal.ITIMER_REAL, 0.005, 0.005)
    fd = os.open(path, os.O_RDWR)
    R = locking.LockRegion(0, 1)
    holder = subprocess.Popen(json.loads(hold) + [path, "Exclusive", "0", "1"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    holder.stdout.readline()
    t0 = time.monotonic()
    try:
        locking.lock(fd, R, locking.LockKind.Exclusive, timeout=0.3)
    except errors.TimedOut as exc:
        print("timedout", exc.errno == __import__("errno").ETIMEDOUT, time.monotonic() - t0 >= 0.3)
    try:
        locking.lock(fd, R, locking.LockKind.Exclusive, timeout=0)
    except errors.TimedOut:
        print("timedout0")
    n = len(hits)
    # release after a while; a finite and an infinite wait must both get the lock
    def release():
        holder.stdin.write("\\n"); holder.stdin.flush()
    signal.signal(signal.SIGUSR1, lambda *a: release())
    pid = os.fork()
    if pid == 0:
        time.sleep(0.3); os.kill(os.getppid(), signal.SIGUSR1); os._exit(0)
    h = locking.lock(fd, R, locking.LockKind.Exclusive, timeout=None)
    os.waitpid(pid, 0)
    print("acquired", len(hits) > n)
    h.unlock()
    holder.stdin.close(); holder.wait()
    # a handler that raises ends the wait (PEP 475)
    holder = subprocess.Popen(json.loads(hold) + [path, "Exclusive", "0", "1"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    holder.stdout.readline()
    class Stop(Exception):
        pass
    def boom(*a):
        raise Stop
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, boom)
    for t in (None, 5.0):
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.05)  # one shot, lands in the wait
            locking.lock(fd, R, locking.LockKind.Exclusive, timeout=t)
        except Stop:
            print("raised", t)
    signal.setitimer(signal.ITIMER_REAL, 0)
    holder.stdin.close(); holder.wait()
""")


@pytest.mark.covers("locking.lock")
def test_lock_timeout_and_eintr(tmp_path: Path) -> None:
    (fd,) = _fds(tmp_path, 1)
    os.close(fd)
    from conformance._support.proc import python_argv

    hold = json.dumps(python_argv("-c", HOLD))
    if hasattr(os, "fork") is False:
        pytest.skip("platform: needs fork and SIGALRM")
    r = run(EINTR_SCRIPT, str(tmp_path / "lockfile"), hold, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines == ["timedout True True", "timedout0", "acquired True", "raised None",
                     "raised 5.0"], (lines, r.stderr)


@posix_fds
@pytest.mark.covers("locking.lock", "locking.try_lock", "locking.try_lock_region",
                    "locking.unlock_region", "locking.try_lock_byte_exclusive")
def test_bad_input_before_the_call(tmp_path: Path) -> None:
    (fd,) = _fds(tmp_path, 1)
    os.close(fd)  # reaching the OS would raise BadDescriptor
    for call in (lambda: locking.try_lock(fd, LockRegion(0, 1), "x"),  # type: ignore[arg-type]
                 lambda: locking.try_lock(fd, (0, "1"), EX),  # type: ignore[arg-type]
                 lambda: locking.try_lock("3", LockRegion(0, 1), EX),
                 lambda: locking.lock(fd, LockRegion(0, 1), EX, timeout="1"),  # type: ignore[arg-type]
                 lambda: locking.try_lock(fd, 5, EX)):  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            call()
    for call in (lambda: LockRegion(-1, 1),
                 lambda: LockRegion(0, -2),
                 lambda: LockRegion(2**63, 1),
                 lambda: locking.try_lock(fd, (0, -5), EX),
                 lambda: locking.try_lock_region(fd, EX, -1, 1),
                 lambda: locking.unlock_region(fd, 0, -3),
                 lambda: locking.try_lock_byte_exclusive(fd, -1),
                 lambda: locking.lock(fd, LockRegion(0, 1), EX, timeout=-1),
                 lambda: locking.lock(fd, LockRegion(0, 1), EX, timeout=float("nan"))):
        with pytest.raises(ValueError):
            call()
    with pytest.raises(errors.BadDescriptor):
        locking.try_lock(fd, LockRegion(0, 1), EX)
    with pytest.raises(errors.BadDescriptor):
        locking.unlock_region(fd, 0, 1)


@only_on("linux", "darwin")
@pytest.mark.covers("locking.try_lock")
def test_exclusive_lock_needs_a_writable_fd(tmp_path: Path) -> None:
    (tmp_path / "ro").write_bytes(b"")
    fd = os.open(tmp_path / "ro", os.O_RDONLY)
    try:
        with pytest.raises(errors.BadDescriptor):
            locking.try_lock(fd, LockRegion(0, 1), EX)
        locking.try_lock(fd, LockRegion(0, 1), SH).unlock()
    finally:
        os.close(fd)


@pytest.mark.covers("locking.LockRegion")
@given(a=st.tuples(st.integers(0, 50), st.integers(-1, 20)),
       b=st.tuples(st.integers(0, 50), st.integers(-1, 20)))
def test_region_overlap_is_interval_intersection(a: tuple[int, int], b: tuple[int, int]) -> None:
    ra, rb = LockRegion(*a), LockRegion(*b)
    assert ra.length >= 0  # -1 normalised to 0 (to EOF)

    def cells(r: LockRegion) -> set[int]:
        end = 200 if r.length == 0 else r.start + r.length
        return set(range(r.start, end))

    assert ra.overlaps(rb) == rb.overlaps(ra) == bool(cells(ra) & cells(rb))


FORK_CHILD = textwrap.dedent("""
    import os, sys
    from vllsi import errors, locking
    fd = os.open(sys.argv[1], os.O_RDWR)
    R, EX = locking.LockRegion(0, 1), locking.LockKind.Exclusive
    h = locking.try_lock(fd, R, EX)
    pid = os.fork()
    if pid == 0:
        locking.try_lock(fd, R, EX).unlock()  # same description: no conflict, and this
        os._exit(0)                           # unlock releases the parent's lock too
    os.waitpid(pid, 0)
    other = os.open(sys.argv[1], os.O_RDWR)
    locking.try_lock(other, R, EX).unlock()
    h.active = False
    print("shared-by-fork")
""")


@linux_only
@pytest.mark.covers("locking.try_lock", "locking.LockHandle")
def test_fork_shares_the_ofd_lock(tmp_path: Path) -> None:
    _fds(tmp_path, 0)
    r = run(FORK_CHILD, str(tmp_path / "lockfile"))
    assert r.returncode == 0 and r.stdout.strip() == "shared-by-fork", r.stderr


def _shape(exc: BaseException) -> tuple[object, ...]:
    assert isinstance(exc, errors.VllsiError)
    return (type(exc), exc.errno, exc.strerror, exc.syscall, exc.filename, exc.filename2)


@linux_only
@pytest.mark.covers("locking.try_lock")
def test_try_lock_errors_are_pinned(tmp_path: Path) -> None:
    # The exact exceptions of the F_OFD_SETLK path (on tier asm: the C fast path,
    # raising through the shared C error hook), and the same from the Python path.
    import errno

    from vllsi.linux.impl import locking as backend

    a, b = _fds(tmp_path, 2)
    try:
        h = locking.try_lock(a, LockRegion(0, 10), EX)
        calls = {"public": lambda: locking.try_lock(b, LockRegion(5, 1), SH),
                 "backend": lambda: backend.try_set_lock(b, 5, 1, 1),
                 "python": lambda: backend._try_set_lock(b, 5, 1, 1)}
        seen = {}
        for name, call in calls.items():
            with pytest.raises(errors.LockConflict) as ei:
                call()
            seen[name] = _shape(ei.value)
        want = (errors.LockConflict, errno.EAGAIN, "byte-range lock held by another owner",
                "fcntl", None, None)
        assert seen == {n: want for n in calls}, seen
        h.unlock()
    finally:
        os.close(a)
        os.close(b)
    seen = {}
    for name, call in calls.items():
        with pytest.raises(errors.BadDescriptor) as ei:
            call()  # b is closed now
        seen[name] = _shape(ei.value)
    want = (errors.BadDescriptor, errno.EBADF, os.strerror(errno.EBADF), "fcntl", None, None)
    assert seen == {n: want for n in calls}, seen
