"""EpollDriver: completions emulated from readiness (see vllsi.linux.io's essay).

The per-op work (submit, submit_many, poll, cancel, forget, shutdown's dropping
of queued ops) runs in C when the native extension is built
(``_native/csrc/fast/epoll.c``, ``EpollCore``), on either tier: the core makes
its syscalls through the asm trampolines or libc's ``syscall()`` as the tier
says. The Python methods below are the reference the core implements; they run
when the extension lacks the core, and ``conformance/linux/io/test_epoll_core.py``
checks that both give the same completions for the same ops (a driver with
``_native_core = False`` is the reference).
"""

from __future__ import annotations

import errno as _errno
import heapq
import os
import struct
import time
from collections import deque
from typing import Any, ClassVar, Final

from vllsi import _engine
from vllsi import io_engine as _ie
from vllsi.linux import _ops, _sockaddr
from vllsi.linux import _syscall as _s
from vllsi.linux import event as _ev

_NR_EPOLL_CTL: Final = _s.NR["epoll_ctl"]
_NR_EPOLL_PWAIT: Final = _s.NR["epoll_pwait"]
_NR_EPOLL_PWAIT2: Final = _s.NR["epoll_pwait2"]
_MASK: Final = _ev.EPOLLIN | _ev.EPOLLOUT | _ev.EPOLLRDHUP | _ev.EPOLLET
_IN: Final = _ev.EPOLLIN | _ev.EPOLLHUP | _ev.EPOLLERR | _ev.EPOLLRDHUP
_OUT: Final = _ev.EPOLLOUT | _ev.EPOLLHUP | _ev.EPOLLERR
_WAKE: Final = 1 << 63
_MAXEV: Final = 256
EAGAIN: Final = _errno.EAGAIN
ECANCELED: Final = _errno.ECANCELED
_READ_SIDE = (_ie.Read, _ie.Recv, _ie.Accept)

_unpack = struct.Struct(_ev._EV_FMT).iter_unpack

try:
    from vllsi.linux import _fast as _native

    _HAVE_CORE = hasattr(_native, "epoll_core")
except ImportError:  # no native extension (libc tier only): the Python reference runs
    _native = None  # type: ignore[assignment]
    _HAVE_CORE = False


def _encode_connect(op: Any) -> bytes:
    return _ops.connect_sockaddr(op.fd, op.address)


class _Fd:
    __slots__ = ("fd", "file", "readable", "readq", "stream", "writable", "writeq")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.file = False
        self.stream = False
        self.readable = True
        self.writable = True
        self.readq: deque[tuple[int, Any, Any]] = deque()
        self.writeq: deque[tuple[int, Any, Any]] = deque()


class EpollDriver(_engine.PyEngine):
    """epoll_create1 + epoll_pwait2 readiness turned into completions (the IOEngine contract).

    Ops on sockets, pipes and other pollable descriptors are performed (recvfrom,
    sendto, accept4, read, write, connect + SO_ERROR) when the descriptor is ready;
    regular files and directories (which epoll refuses with EPERM) are served at
    submit with pread64/pwrite64 (read/write for offset -1); Fsync and Close run
    at submit. The wake path is an eventfd registered with the epoll instance.
    See :mod:`vllsi.linux.io` for what this emulation can and cannot promise.

    With the native extension, submit/submit_many/poll are the C core's methods
    (``_native/csrc/fast/epoll.c``); the Python methods are their reference. The
    core enforces io_engine's threading rule: while one call is inside
    submit/submit_many/poll/cancel/forget/shutdown (e.g. blocked in poll), another
    such call (from another thread, or from a signal handler or finaliser running
    during the first) raises RuntimeError instead of racing on the queues;
    ``wake()`` is safe from any thread. poll() EINTR: signal handlers run, their exception
    propagates (completions stay for the next poll), else the wait resumes with
    the remaining time (PEP 475).

    Args: config: IoEngineConfig (``capacity`` = 2 x entries unreaped ops).
    Raises: ResourceExhausted/EMFILE or ENOMEM (epoll_create1, eventfd2).
    Availability: Linux.
    """

    backend = "epoll"
    _native_core: ClassVar[bool] = _HAVE_CORE  # False: the Python reference does the work

    def __init__(self, config: _ie.IoEngineConfig | None = None) -> None:
        super().__init__(config)
        self._core: Any = None
        self._fds: dict[int, _Fd] = {}
        self._where: dict[int, _Fd] = {}  # sid -> fd state of a queued op
        self._timers: list[tuple[int, int]] = []
        self._timer_ids: set[int] = set()
        self._epfd = _ev.epoll_create1(_ev.EPOLL_CLOEXEC)
        try:
            self._wakefd = _ev.eventfd2(0, _ev.EFD_CLOEXEC | _ev.EFD_NONBLOCK)
        except BaseException:
            os.close(self._epfd)
            raise
        _ev.epoll_ctl(self._epfd, _ev.EPOLL_CTL_ADD, self._wakefd, _ev.EPOLLIN, _WAKE)
        self._evbuf = _ev.ffi.new("struct epoll_event[]", _MAXEV)
        self._evaddr = int(_ev.ffi.cast("uintptr_t", self._evbuf))
        self._evmem = _ev.ffi.buffer(self._evbuf)
        self._ts = _ev.ffi.new("struct __kernel_timespec *")
        self._tsaddr = int(_ev.ffi.cast("uintptr_t", self._ts))
        self._one = _ev.ffi.new("uint64_t[1]", [1])
        self._oneaddr = int(_ev.ffi.cast("uintptr_t", self._one))
        self._pwait2 = True
        if self._native_core:
            self._core = _native.epoll_core(
                self._epfd, self._wakefd, self.capacity, _s.TIER != "asm", _ie.OP_TYPES,
                _ie.CompletionResult, _encode_connect, _sockaddr.decode, _ie.closed_error,
                _ie.would_block)
            # The hot paths are the core's own C methods (the inherited Python ones
            # are the reference they implement).
            core = self._core
            vars(self).update(submit=core.submit, submit_many=core.submit_many, poll=core.poll)

    # -- registration ---------------------------------------------------------
    def _state(self, fd: int) -> _Fd:
        st = self._fds.get(fd)
        if st is not None:
            return st
        st = _Fd(fd)
        r = _s.syscall(_NR_EPOLL_CTL, self._epfd, _ev.EPOLL_CTL_ADD, fd,
                       self._ctl_event(fd))
        if r == -_errno.EEXIST:
            r = _s.syscall(_NR_EPOLL_CTL, self._epfd, _ev.EPOLL_CTL_MOD, fd,
                           self._ctl_event(fd))
        if r == -_errno.EPERM:
            st.file = True  # regular file or directory: epoll refuses, serve at submit
        elif r < 0:
            st.file = True  # EBADF and friends: the op itself reports the error; not
            return st  # remembered, so a descriptor opened later under that number works
        else:
            typ = _ops.socket_type(fd)
            st.stream = typ == _ops.SOCK_STREAM
            if typ is None:
                _ops.ensure_nonblocking(fd)
        self._fds[fd] = st
        return st

    def _ctl_event(self, fd: int) -> int:
        ev = _ev.ffi.new("struct epoll_event *")
        ev.events = _MASK
        ev.data = fd
        self._keep_ev = ev
        return int(_ev.ffi.cast("uintptr_t", ev))

    def forget(self, fd: int) -> None:
        """Drop what the driver knows about ``fd`` (call after closing it outside the
        engine, before its number can be reused). Queued ops on it complete with
        -ECANCELED."""
        if self._core is not None:
            self._core.forget(_ie._fd(fd))
            return
        st: _Fd | None = self._fds.pop(_ie._fd(fd), None)
        if st is not None:
            self._cancel_fd(st)
            _s.syscall(_NR_EPOLL_CTL, self._epfd, _ev.EPOLL_CTL_DEL, st.fd, 0)

    # -- ops ------------------------------------------------------------------
    def _prepare(self, op: Any) -> Any:
        return _ops.prepare(op)

    def _start(self, sid: int, op: Any, p: Any) -> None:
        t = type(op)
        if t is _ie.Recv or t is _ie.Send or t is _ie.Read or t is _ie.Write:
            st = self._fds.get(op.fd) or self._state(op.fd)
            if st.file:
                res = _ops.read(op.fd, p, op.offset) if t is _ie.Read else (
                    _ops.write(op.fd, p, op.offset) if t is _ie.Write else (
                        _ops.recv(op.fd, p, op.flags) if t is _ie.Recv
                        else _ops.send(op.fd, p, op.flags)))
                p.release()
                self._complete(sid, res)
                return
            if t is _ie.Recv or t is _ie.Read:
                if st.readable and not st.readq:  # fast path: try it now
                    r = self._perform(op, p)
                    if r != -EAGAIN:
                        p.release()
                        self._complete(sid, r)
                        if st.stream and 0 < r < p.n:
                            st.readable = False  # a short stream read drained the socket
                        return
                    st.readable = False
                st.readq.append((sid, op, p))
                self._where[sid] = st
                if st.readable:
                    self._run_read(st)
            else:
                if st.writable and not st.writeq:
                    r = self._perform(op, p)
                    if r != -EAGAIN:
                        p.release()
                        self._complete(sid, r)
                        if st.stream and 0 <= r < p.n:
                            st.writable = False
                        return
                    st.writable = False
                st.writeq.append((sid, op, p))
                self._where[sid] = st
                if st.writable:
                    self._run_write(st)
        elif t is _ie.Accept:
            if op.multishot:
                self._multishot += 1
            st = self._fds.get(op.fd) or self._state(op.fd)
            st.readq.append((sid, op, p))
            self._where[sid] = st
            if st.readable or st.file:
                self._run_read(st)
        elif t is _ie.Connect:
            r = _ops.connect(op.fd, p)
            if r != -_errno.EINPROGRESS:
                self._complete(sid, r)
                return
            st = self._fds.get(op.fd) or self._state(op.fd)
            st.writable = False
            st.writeq.append((sid, op, p))
            self._where[sid] = st
        elif t is _ie.Nop:
            self._complete(sid, 0)
        elif t is _ie.Timeout:
            heapq.heappush(self._timers, (_engine.deadline_after(op.duration), sid))
            self._timer_ids.add(sid)
        elif t is _ie.Cancel:
            self._complete(sid, self._cancel_one(op.target))
        elif t is _ie.Close:
            cst: _Fd | None = self._fds.pop(op.fd, None)
            if cst is not None:
                self._cancel_fd(cst)
                if not cst.file:
                    _s.syscall(_NR_EPOLL_CTL, self._epfd, _ev.EPOLL_CTL_DEL, op.fd, 0)
            self._complete(sid, _ops.close(op.fd))
        elif t is _ie.Fsync:
            self._complete(sid, _ops.fsync(op.fd, op.datasync))
        else:  # pragma: no cover - _prepare rejected it
            raise TypeError(t.__name__)

    def _perform(self, op: Any, p: Any) -> int:
        t = type(op)
        if t is _ie.Recv:
            return _ops.recv(op.fd, p, op.flags | _ops.MSG_DONTWAIT)
        if t is _ie.Send:
            return _ops.send(op.fd, p, op.flags | _ops.MSG_DONTWAIT)
        if t is _ie.Read:
            return _ops.read(op.fd, p, op.offset)
        if t is _ie.Write:
            return _ops.write(op.fd, p, op.offset)
        return _ops.accept(op.fd, p)

    def _run_read(self, st: _Fd) -> None:
        q = st.readq
        while q:
            sid, op, p = q[0]
            r = self._perform(op, p)
            if r == -EAGAIN and not st.file:
                st.readable = False
                return
            if type(op) is _ie.Accept:
                if op.multishot and r >= 0:  # stays queued: accept the next one too
                    self._complete(sid, r, p.decode(), _ie.CQE_F_MORE)
                    continue
                q.popleft()
                del self._where[sid]
                if op.multishot:
                    self._multishot -= 1
                self._complete(sid, r, p.decode() if r >= 0 else None)
            else:
                q.popleft()
                del self._where[sid]
                p.release()
                self._complete(sid, r)
                if st.stream and 0 < r < p.n:
                    st.readable = False  # a short stream read drained the socket
                    return

    def _run_write(self, st: _Fd) -> None:
        q = st.writeq
        while q:
            sid, op, p = q[0]
            if type(op) is _ie.Connect:
                r = _ops.so_error(op.fd)
            else:
                r = self._perform(op, p)
                if r == -EAGAIN:
                    st.writable = False
                    return
                p.release()
            q.popleft()
            del self._where[sid]
            self._complete(sid, r)
            if st.stream and type(op) is not _ie.Connect and 0 <= r < p.n:
                st.writable = False
                return

    # -- waiting --------------------------------------------------------------
    def _wait(self, timeout: float | None) -> None:
        end = None if timeout is None else time.monotonic_ns() + int(timeout * 1e9)
        while True:
            now = time.monotonic_ns()
            limit = end
            if self._timers:
                t0 = self._timers[0][0]
                limit = t0 if limit is None else min(limit, t0)
            left = None if limit is None else max(0, limit - now)
            n = self._epoll_wait(left)
            woken = n > 0 and self._dispatch(n)
            self._expire()
            if self._ready or woken or (end is not None and time.monotonic_ns() >= end):
                return
            if n == -_errno.EINTR:
                continue

    def _epoll_wait(self, left: int | None) -> int:
        if self._pwait2:
            if left is None:
                ts = 0
            else:
                self._ts.tv_sec, self._ts.tv_nsec = divmod(left, 1_000_000_000)
                ts = self._tsaddr
            r = _s.syscall_blocking(_NR_EPOLL_PWAIT2, self._epfd, self._evaddr, _MAXEV, ts, 0, 8)
            if r != -_errno.ENOSYS:
                return self._check_wait(r)
            self._pwait2 = False
        ms = -1 if left is None else min((left + 999_999) // 1_000_000, 0x7FFFFFFF)
        r = _s.syscall_blocking(_NR_EPOLL_PWAIT, self._epfd, self._evaddr, _MAXEV, ms, 0, 8)
        return self._check_wait(r)

    def _check_wait(self, r: int) -> int:
        if r == -_errno.EINTR:
            return r
        return _s.check(r, "epoll_pwait2")

    def _dispatch(self, n: int) -> bool:
        woken = False
        fds = self._fds
        for events, data in _unpack(self._evmem[: n * _ev.EPOLL_EVENT_SIZE]):
            if data == _WAKE:
                woken = True
                _s.syscall(_ops.NR_READ, self._wakefd, self._oneaddr, 8)
                continue
            st = fds.get(data)
            if st is None:
                continue
            if events & _IN:
                st.readable = True
                if st.readq:
                    self._run_read(st)
            if events & _OUT:
                st.writable = True
                if st.writeq:
                    self._run_write(st)
        return woken

    def _expire(self) -> None:
        if not self._timers:
            return
        now = time.monotonic_ns()
        while self._timers and self._timers[0][0] <= now:
            _, sid = heapq.heappop(self._timers)
            if sid in self._timer_ids:
                self._timer_ids.discard(sid)
                self._complete(sid, 0)

    # -- cancellation, wake, shutdown -------------------------------------------
    def cancel(self, submission_id: int) -> None:
        """Cancel a queued op (it completes with -ECANCELED); no-op if it already
        completed or was already performed."""
        if self._core is None:
            super().cancel(submission_id)
        else:
            self._core.cancel(submission_id)

    def statistics(self) -> dict[str, int]:
        """Counters: submitted, completed, cancelled, waits, in_flight, ready."""
        if self._core is None:
            return super().statistics()
        keys = ("submitted", "completed", "cancelled", "waits", "in_flight", "ready")
        return dict(zip(keys, self._core.counters(), strict=True))

    def _cancel_one(self, sid: int) -> int:
        if sid in self._timer_ids:
            self._timer_ids.discard(sid)
            self._complete(sid, -ECANCELED)
            return 0
        st = self._where.pop(sid, None)
        if st is None:
            return -_errno.ENOENT
        for q in (st.readq, st.writeq):
            for item in q:
                if item[0] == sid:
                    q.remove(item)
                    self._dropped(item[1], item[2])
                    self._complete(sid, -ECANCELED)
                    return 0
        return -_errno.ENOENT  # pragma: no cover

    def _cancel_fd(self, st: _Fd) -> None:
        for q in (st.readq, st.writeq):
            while q:
                sid, op, p = q.popleft()
                self._where.pop(sid, None)
                self._dropped(op, p)
                self._complete(sid, -ECANCELED)

    def _dropped(self, op: Any, p: Any) -> None:
        if hasattr(p, "release"):
            p.release()
        if type(op) is _ie.Accept and op.multishot:
            self._multishot -= 1

    def _wake(self) -> None:
        _s.syscall(_ops.NR_WRITE, self._wakefd, self._oneaddr, 8)

    def _shutdown_pending(self) -> None:
        from vllsi.embedded import _close_unreaped_accepts

        if self._core is not None:
            _close_unreaped_accepts(self._core.close())
            return
        for st in list(self._fds.values()):
            self._cancel_fd(st)
        self._timers.clear()
        self._timer_ids.clear()
        _close_unreaped_accepts(self._ready)

    def _close(self) -> None:
        self._fds.clear()
        self._where.clear()
        _s.syscall(_ops.NR_CLOSE, self._wakefd)
        _s.syscall(_ops.NR_CLOSE, self._epfd)
