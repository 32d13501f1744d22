"""EpollDriver's C core (``_native/csrc/fast/epoll.c``) against its Python reference.

The driver's submit/submit_many/poll/cancel/forget run in C when the extension is
built; the Python methods they replace are the reference (a driver class with
``_native_core = False``). Property: for any script of ops (socket and pipe
transfers that complete at once or wait, regular-file reads at submit, Nop,
Timeout, Cancel, Close, batches beyond capacity, ops whose buffer shrank), both
give the same submission ids, the same completions in the same polls, the same
exceptions, the same bytes and the same counters.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance._support import linux_only, skip
from conformance._support.engines import drain
from vllsi import errors
from vllsi import io_engine as ie
from vllsi.io_engine import IoEngineConfig

pytestmark = linux_only

DATA = bytes(range(251)) * 40


def _drivers() -> tuple[Any, Any]:
    from vllsi.linux import _epoll

    if not _epoll._HAVE_CORE:
        skip("environment", "the native extension (EpollCore) is not built")

    class Reference(_epoll.EpollDriver):
        _native_core = False

    return _epoll.EpollDriver, Reference


SIZES = st.integers(0, 3000)
STEP = st.one_of(
    st.tuples(st.just("send"), st.integers(0, 1), SIZES),
    st.tuples(st.just("recv"), st.integers(0, 1), SIZES),
    st.tuples(st.just("pwrite"), SIZES),
    st.tuples(st.just("pread"), SIZES),
    st.tuples(st.just("fread"), st.integers(-1, len(DATA)), SIZES),
    st.tuples(st.just("fwrite"), st.integers(-1, 200), SIZES),
    st.tuples(st.just("nop")),
    st.tuples(st.just("timeout"), st.sampled_from([0, 30])),
    st.tuples(st.just("cancel"), st.integers(0, 60)),
    st.tuples(st.just("cancel_method"), st.integers(0, 60)),
    st.tuples(st.just("close"), st.integers(0, 1)),
    st.tuples(st.just("shrunk"), st.integers(0, 1)),
    st.tuples(st.just("poll")),
    st.tuples(st.just("pollt"), st.sampled_from([1e-12, 0.001])),
)
SCRIPT = st.lists(st.one_of(STEP, st.tuples(st.just("many"), st.lists(STEP, max_size=12))),
                  max_size=30)


def _run(cls: Any, script: list[Any], path: Path) -> list[Any]:
    """Run script on a fresh driver and fresh descriptors; return what was seen."""
    a, b = socket.socketpair()
    socks = [a.detach(), b.detach()]
    pr, pw = os.pipe()
    ffd = os.open(path, os.O_RDWR)
    os.pwrite(ffd, DATA, 0)
    os.lseek(ffd, 0, os.SEEK_SET)
    closed: set[int] = set()
    e = cls(IoEngineConfig(entries=4))
    seen: list[Any] = []
    bufs: list[bytearray] = []
    ids: list[int] = []

    def op_for(step: Any) -> Any:
        kind = step[0]
        if kind == "send":
            return ie.Send(socks[step[1]], DATA[: step[2]])
        if kind == "recv":
            buf = bytearray(step[2])
            bufs.append(buf)
            return ie.Recv(socks[step[1]], buf)
        if kind == "pwrite":
            return ie.Write(pw, DATA[: step[1]])
        if kind == "pread":
            buf = bytearray(step[1])
            bufs.append(buf)
            return ie.Read(pr, buf)
        if kind == "fread":
            buf = bytearray(step[2])
            bufs.append(buf)
            return ie.Read(ffd, buf, None, step[1])
        if kind == "fwrite":
            return ie.Write(ffd, DATA[-step[2]:] if step[2] else b"", None, step[1])
        if kind == "nop":
            return ie.Nop()
        if kind == "timeout":
            return ie.Timeout(step[1])
        if kind == "cancel":
            return ie.Cancel(ids[step[1] % len(ids)] if ids else 1)
        if kind == "close":
            closed.add(socks[step[1]])
            return ie.Close(socks[step[1]])
        if kind == "shrunk":  # valid when made, invalid at submit
            buf = bytearray(16)
            op = ie.Recv(socks[step[1]], buf, 16)
            del buf[8:]
            return op
        raise AssertionError(kind)

    def record(r: list[ie.CompletionResult]) -> None:
        seen.append(("poll", [(x.submission_id, x.result, x.flags, x.address) for x in r]))

    try:
        for step in script:
            kind = step[0]
            try:
                if kind == "poll":
                    record(e.poll(0))
                elif kind == "pollt":
                    record(e.poll(step[1]))
                elif kind == "cancel_method":
                    e.cancel(ids[step[1] % len(ids)] if ids else 12345)
                    seen.append(("cancelled",))
                elif kind == "many":
                    got = e.submit_many([op_for(s) for s in step[1] if s[0] not in
                                         ("poll", "pollt", "cancel_method")])
                    ids.extend(got)
                    seen.append(("ids", got))
                else:
                    sid = e.submit(op_for(step))
                    ids.append(sid)
                    seen.append(("id", sid))
            except errors.WouldBlock as exc:
                got = getattr(exc, "ids", [])
                ids.extend(got)
                seen.append(("WouldBlock", exc.submitted, got))
                record(e.poll(0))
            except (TypeError, ValueError) as exc:
                seen.append((type(exc).__name__,))
        record(e.poll(0))
        seen.append(("bufs", [bytes(x) for x in bufs]))
        seen.append(("stats", e.statistics()))
    finally:
        e.shutdown()
        for fd in [*socks, pr, pw, ffd]:
            if fd not in closed:
                os.close(fd)
    return seen


@pytest.mark.covers("linux.io.EpollDriver")
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=SCRIPT)
def test_c_core_agrees_with_the_python_reference(tmp_path: Path, script: list[Any]) -> None:
    fast, ref = _drivers()
    p = tmp_path / "f"
    p.write_bytes(b"")
    assert _run(fast, script, p) == _run(ref, script, p)


@pytest.mark.covers("linux.io.EpollDriver")
def test_c_core_is_bound_and_reports_its_state() -> None:
    fast, _ = _drivers()
    e = fast(IoEngineConfig(entries=4))
    a, b = socket.socketpair()
    try:
        assert type(e.submit).__name__ == "builtin_function_or_method"
        buf = bytearray(8)
        sid = e.submit(ie.Recv(a.fileno(), buf))
        # registered once, edge-triggered; the Recv waits in the fd's read queue
        assert e._core.fd_state(a.fileno()) == (0, 1, 0, 1, 1, 0)
        assert e._core.fd_state(b.fileno()) is None
        b.send(b"hi")
        assert [(r.submission_id, r.result) for r in drain(e, 1).values()] == [(sid, 2)]
        assert e.statistics() == {"submitted": 1, "completed": 1, "cancelled": 0,
                                  "waits": e.statistics()["waits"], "in_flight": 0,
                                  "ready": 0}
    finally:
        e.shutdown()
        a.close()
        b.close()


@pytest.mark.covers("linux.io.EpollDriver")
def test_c_core_refuses_a_second_thread_instead_of_racing() -> None:
    """One thread at a time may submit/poll (io_engine's threading rule): the core
    enforces it, so a submit racing a blocked poll cannot corrupt its queues."""
    fast, _ = _drivers()
    e = fast(IoEngineConfig(entries=4))
    started = threading.Event()
    out: list[Any] = []

    def waiter() -> None:
        started.set()
        out.append(e.poll(None))

    e.submit(ie.Timeout(120))
    t = threading.Thread(target=waiter)
    t.start()
    started.wait()
    try:
        refused = False
        for _ in range(200):  # until the poll is inside the core
            try:
                e.submit(ie.Timeout(120))  # completes nothing: the poll stays blocked
            except RuntimeError:
                refused = True
                break
            t.join(0.01)
        assert refused
    finally:
        for _ in range(200):
            e.wake()
            t.join(0.05)
            if not t.is_alive():
                break
        assert not t.is_alive() and out == [[]]
        e.shutdown()


@pytest.mark.covers("linux.io.EpollDriver")
def test_c_core_short_and_blocked_transfers() -> None:
    """A full socket buffer: the fast path's Send comes back short or -EAGAIN-queued;
    queued Sends go out in order once the peer reads; nothing is lost or reordered."""
    fast, _ = _drivers()
    e = fast(IoEngineConfig(entries=64))
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    try:
        chunks = [bytes([i]) * 50_000 for i in range(6)]
        ids = [e.submit(ie.Send(a.fileno(), c)) for c in chunks]
        got = bytearray()
        results: dict[int, Any] = {}
        b.setblocking(False)
        for _ in range(2000):  # bounded: each round moves at least a buffer's worth
            if len(results) == len(ids):
                break
            for r in e.poll(0.05):
                results[r.submission_id] = r
            with contextlib.suppress(BlockingIOError):
                got += b.recv(1 << 20)
        with contextlib.suppress(BlockingIOError):
            while True:
                more = b.recv(1 << 20)
                if not more:
                    break
                got += more
        sent = [results[i].result for i in ids]
        assert all(n > 0 for n in sent)
        assert bytes(got) == b"".join(c[:n] for c, n in zip(chunks, sent, strict=True))
    finally:
        e.shutdown()
        a.close()
        b.close()


@pytest.mark.covers("linux.io.EpollDriver")
def test_c_core_bad_input_before_any_syscall() -> None:
    fast, _ = _drivers()
    e = fast(IoEngineConfig(entries=4))
    a, b = socket.socketpair()
    try:
        ro = ie.Send(a.fileno(), b"abc")
        with pytest.raises(TypeError):
            e.submit(object())
        with pytest.raises(TypeError):
            e.submit_many([ro, 5])
        assert e.statistics()["submitted"] == 0  # nothing of the bad batch went in
        with pytest.raises(TypeError):
            e.poll("1")
        with pytest.raises(ValueError):
            e.poll(float("nan"))
        with pytest.raises(TypeError):
            e.cancel(True)
        buf = bytearray(4)
        op = ie.Recv(a.fileno(), buf, 4)
        buf.extend(b"1234")
        del buf[2:]
        with pytest.raises(ValueError):
            e.submit(op)  # len 4 > the (now 2-byte) buffer
        # an exported buffer cannot be resized while the op is queued
        q = bytearray(4)
        sid = e.submit(ie.Recv(a.fileno(), q))
        with pytest.raises(BufferError):
            q.extend(b"x" * 100)
        e.cancel(sid)
        assert [(r.submission_id, r.result) for r in e.poll(0)] == [(sid, -errno.ECANCELED)]
        q.extend(b"x")  # released
    finally:
        e.shutdown()
        a.close()
        b.close()


TIER_FUNCS = ["syscall", "recvfrom", "sendto", "epoll_ctl", "epoll_wait", "epoll_pwait",
              "epoll_pwait2", "read", "write", "close", "getsockopt", "accept4", "connect"]

TIER_PRELOAD = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <signal.h>
#include <time.h>
static volatile int on;
long vllsi_probe_counts[13];
void vllsi_probe_start(void) { for (int i = 0; i < 13; i++) vllsi_probe_counts[i] = 0; on = 1; }
void vllsi_probe_stop(void) { on = 0; }
#define REAL(name) static __typeof__(name) *real; if (!real) real = dlsym(RTLD_NEXT, #name)
#define COUNT(i) do { if (on) vllsi_probe_counts[i]++; } while (0)
long syscall(long nr, ...) { va_list a; va_start(a, nr); long x[6];
    for (int i = 0; i < 6; i++) x[i] = va_arg(a, long); va_end(a);
    REAL(syscall); COUNT(0); return real(nr, x[0], x[1], x[2], x[3], x[4], x[5]); }
ssize_t recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *s, socklen_t *l) {
    REAL(recvfrom); COUNT(1); return real(fd, b, n, f, s, l); }
ssize_t sendto(int fd, const void *b, size_t n, int f, const struct sockaddr *s, socklen_t l) {
    REAL(sendto); COUNT(2); return real(fd, b, n, f, s, l); }
int epoll_ctl(int e, int o, int fd, struct epoll_event *ev) { REAL(epoll_ctl); COUNT(3);
    return real(e, o, fd, ev); }
int epoll_wait(int e, struct epoll_event *ev, int n, int t) { REAL(epoll_wait); COUNT(4);
    return real(e, ev, n, t); }
int epoll_pwait(int e, struct epoll_event *ev, int n, int t, const sigset_t *m) {
    REAL(epoll_pwait); COUNT(5); return real(e, ev, n, t, m); }
int epoll_pwait2(int e, struct epoll_event *ev, int n, const struct timespec *t,
                 const sigset_t *m) { REAL(epoll_pwait2); COUNT(6); return real(e, ev, n, t, m); }
ssize_t read(int fd, void *b, size_t n) { REAL(read); COUNT(7); return real(fd, b, n); }
ssize_t write(int fd, const void *b, size_t n) { REAL(write); COUNT(8); return real(fd, b, n); }
int close(int fd) { REAL(close); COUNT(9); return real(fd); }
int getsockopt(int fd, int l, int o, void *v, socklen_t *n) { REAL(getsockopt); COUNT(10);
    return real(fd, l, o, v, n); }
int accept4(int fd, struct sockaddr *s, socklen_t *l, int f) { REAL(accept4); COUNT(11);
    return real(fd, s, l, f); }
int connect(int fd, const struct sockaddr *s, socklen_t l) { REAL(connect); COUNT(12);
    return real(fd, s, l); }
"""

TIER_CHILD = r"""
import ctypes, json, os, socket
from vllsi import _platform
from vllsi import io_engine as ie
from vllsi.linux._epoll import EpollDriver
e = EpollDriver()
assert e._core is not None
pairs = [socket.socketpair() for _ in range(4)]
r, w = os.pipe()
buf = bytearray(64)
def ops(a, b):
    rid = e.submit(ie.Recv(b.fileno(), buf))  # waits: registration, then the queue
    e.submit(ie.Send(a.fileno(), b"ping"))
    e.submit(ie.Write(w, b"pipe"))
    e.submit(ie.Read(r, bytearray(4)))
    got = {}
    while rid not in got:
        got.update((x.submission_id, x) for x in e.poll(1.0))
    e.wake()
    e.poll(1.0)
    e.submit(ie.Close(a.fileno()))
    a.detach()
ops(*pairs[0])  # warm up: imports happen outside the window
lib = ctypes.CDLL(None)
counts = (ctypes.c_long * 13).in_dll(lib, "vllsi_probe_counts")
lib.vllsi_probe_start()
for a, b in pairs[1:]:
    ops(a, b)
lib.vllsi_probe_stop()
e.poll(0)
print(json.dumps({"tier": _platform.TIER, "counts": list(counts)}))
"""


def _tier_counts(tier: str, tmp_path: Path) -> dict[str, int]:
    import json
    import subprocess

    from conformance._support import UNDER_QEMU
    from conformance._support.cc import build_shared, python_argv

    _drivers()
    lib = build_shared(TIER_PRELOAD, str(tmp_path / "libcount.so"))
    env = dict(os.environ, VLLSI_TIER=tier)
    if not UNDER_QEMU:
        env["LD_PRELOAD"] = lib
    root = Path(__file__).resolve().parents[3]
    argv = python_argv("-c", TIER_CHILD, env_for_guest={"LD_PRELOAD": lib})
    out = subprocess.run(argv, env=env, cwd=root, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["tier"] == tier
    return dict(zip(TIER_FUNCS, doc["counts"], strict=True))


@pytest.mark.covers("linux.io.EpollDriver")
def test_c_core_follows_the_tier(tmp_path: Path) -> None:
    """The core's syscalls go through the active tier: on the libc tier every one is
    libc's syscall() (so an LD_PRELOAD or seccomp user sees them), on the asm tier
    none is a libc call."""
    from vllsi import _platform

    libc = _tier_counts("libc", tmp_path)
    assert libc["syscall"] >= 3 * 8, libc
    assert {k: v for k, v in libc.items() if k != "syscall"} == dict.fromkeys(TIER_FUNCS[1:], 0)
    if _platform.TIER == "asm":
        asm = _tier_counts("asm", tmp_path)
        assert asm == dict.fromkeys(TIER_FUNCS, 0), asm


@pytest.mark.covers("linux.io.EpollDriver")
@settings(max_examples=20, deadline=None)
@given(order=st.permutations(range(48)), keep=st.sets(st.integers(0, 47), max_size=12),
       gaps=st.lists(st.integers(0, 200), min_size=48, max_size=48))
def test_c_core_cancel_finds_queued_ops_among_many(order: list[int], keep: set[int],
                                                   gaps: list[int]) -> None:
    """Cancel looks queued ops up by id (an index, not a scan of every descriptor):
    48 Recvs queued 3 per socket, their ids spread by completed Nops in between (so
    ids collide in the index); cancelling some in any order completes exactly those
    with -ECANCELED, and the others still receive their peer's bytes in FIFO order."""
    fast, _ = _drivers()
    e = fast(IoEngineConfig(entries=64))
    pairs = [socket.socketpair() for _ in range(16)]
    try:
        bufs = [bytearray(1) for _ in range(48)]
        ids = []
        for i in range(48):
            for k in range(0, gaps[i], 40):
                e.submit_many([ie.Nop()] * min(40, gaps[i] - k))
                assert all(r.result == 0 for r in e.poll(0))
            ids.append(e.submit(ie.Recv(pairs[i // 3][0].fileno(), bufs[i])))
        for i in order:
            if i not in keep:
                e.cancel(ids[i])
        e.cancel(ids[-1] + 1000)  # unknown: a no-op
        for j, (_, b) in enumerate(pairs):
            b.send(bytes([3 * j, 3 * j + 1, 3 * j + 2])[: sum(1 for i in keep if i // 3 == j)])
        got = drain(e, 48)
        assert sorted(got) == sorted(ids)
        for i, sid in enumerate(ids):
            assert got[sid].result == (1 if i in keep else -errno.ECANCELED)
        for j in range(16):  # FIFO: the kept Recvs of a socket got its bytes in order
            kept = [i for i in range(3 * j, 3 * j + 3) if i in keep]
            assert [bufs[i][0] for i in kept] == [3 * j + k for k in range(len(kept))]
        assert e.statistics()["cancelled"] == 48 - len(keep)
    finally:
        e.shutdown()
        for a, b in pairs:
            a.close()
            b.close()
