"""Processes: identity, signals to processes, exit, and spawn without fork hazards.

``spawn(argv, ...)`` starts a program with *no Python code between fork and
exec*. CPython's ``os.fork`` in a threaded process copies locks held by other
threads (the child may deadlock at its first allocation); vllsi never runs the
interpreter in the child. On Linux the C in ``_native/csrc/ffi/spawn.c`` does
raw clone(CLONE_VM|CLONE_VFORK|SIGCHLD) on a private stack, resets caught
signal handlers, arranges the requested descriptors, closes every other one,
and calls execve; an exec failure travels back through a CLOEXEC pipe, so the
parent raises with the real errno (NotFound/ENOENT, PermissionDenied/EACCES).
On the ``libc`` tier glibc's posix_spawn does the same job.

Exit statuses are decoded as ``subprocess`` does: the exit code, or ``-signal``
for a child killed by a signal.

Backend interface (``vllsi/<os>/impl/process_ops.py``): ``getpid() getppid()
gettid() kill(pid, sig) tgkill(tgid, tid, sig) pidfd_open(pid, flags)
pidfd_send_signal(fd, sig, flags) exit_group(status) wait4(pid, options) ->
(pid, status) waitid(idtype, id, options) spawn_raw(paths, argv, envp, cwd,
stdio, pass_fds, flags) -> (pid, [parent fds])`` with ``envp`` None for the
process's own environment and ``stdio`` three ``(mode, fd)`` pairs (mode 0
inherit, 1 pipe, 2 /dev/null, 3 the given fd); optionally ``SELECTABLE_PIPES``
(default True; False where pipes cannot be polled, e.g. Windows, and
``Child.communicate`` then feeds and drains the pipes with threads).

Signal numbers are checked here (0..64, ValueError otherwise) before any backend
runs, so a bad number never reaches an OS that would treat it as something else
(Windows' ``kill`` ends the target with exit code 128 + sig).
"""

from __future__ import annotations

import atexit
import contextlib
import enum
import errno as _errno
import os
import selectors
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

from vllsi import _platform, errors
from vllsi._args import int_arg as _int

__all__ = [
    "DEVNULL",
    "INHERIT",
    "PIPE",
    "Child",
    "Stdio",
    "exit",
    "exit_group",
    "getpid",
    "getppid",
    "gettid",
    "kill",
    "pidfd_open",
    "pidfd_send_signal",
    "spawn",
    "tgkill",
]

_impl: Any = _platform.os_module("process_ops")
_SELECTABLE_PIPES: bool = getattr(_impl, "SELECTABLE_PIPES", True)

_WNOHANG = 1
_WEXITED = 4
_WNOWAIT = 0x01000000
_P_PID = 1
_PIPE_BUF = 4096  # POSIX minimum; Linux's value
_SIGKILL = 9
_SIGTERM = 15


class Stdio(enum.Enum):
    """What a child's stdin/stdout/stderr is connected to."""

    INHERIT = 0  # the parent's descriptor of the same number
    PIPE = 1  # a new pipe; the parent's end is CLOEXEC
    DEVNULL = 2  # /dev/null


INHERIT = Stdio.INHERIT
PIPE = Stdio.PIPE
DEVNULL = Stdio.DEVNULL




def _sig(v: Any) -> int:
    s = _int(v, "sig")
    if not 0 <= s <= 64:
        raise ValueError(f"signal number {s} outside 0..64")
    return s


def getpid() -> int:
    """getpid(): the calling process's id. Never fails. Availability: Linux, Windows."""
    return int(_impl.getpid())


def getppid() -> int:
    """getppid(): the parent process's id. Never fails.
    Availability: Linux, Windows (NtQueryInformationProcess)."""
    return int(_impl.getppid())


def gettid() -> int:
    """gettid(): the calling thread's kernel id. Never fails.
    Availability: Linux, Windows (GetCurrentThreadId)."""
    return int(_impl.gettid())


def kill(pid: int, sig: int) -> None:
    """kill(pid, sig): send a signal to a process (or group: pid 0 / -pgid).

    Args: pid: the target; sig: a signal number or :class:`vllsi.signal.Signal`
        (0 only probes).
    Raises: VllsiError/ESRCH (no such process), PermissionDenied/EPERM,
        TypeError/ValueError for bad input (a signal outside 0..64).
    Availability: Linux; Windows (0 probes, any other signal TerminateProcess
    with exit code 128 + sig; a reaped child then reports -sig).
    """
    _impl.kill(_int(pid, "pid"), _sig(sig))


def tgkill(tgid: int, tid: int, sig: int) -> None:
    """tgkill(tgid, tid, sig): send a signal to one thread of a process.

    Raises: VllsiError/ESRCH, PermissionDenied/EPERM, TypeError/ValueError.
    Availability: Linux.
    """
    _impl.tgkill(_int(tgid, "tgid"), _int(tid, "tid"), _sig(sig))


def pidfd_open(pid: int, flags: int = 0) -> int:
    """pidfd_open(pid, flags): a CLOEXEC descriptor naming process ``pid``.

    Raises: VllsiError/ESRCH, Unsupported/ENOSYS (kernel < 5.3), InvalidArgument/EINVAL.
    Availability: Linux >= 5.3.
    """
    return int(_impl.pidfd_open(_int(pid, "pid"), _int(flags, "flags")))


def pidfd_send_signal(pidfd: Any, sig: int, flags: int = 0) -> None:
    """pidfd_send_signal(pidfd, sig, NULL, flags): signal the process behind a pidfd.

    Raises: VllsiError/ESRCH (exited), BadDescriptor/EBADF, Unsupported/ENOSYS.
    Availability: Linux >= 5.1.
    """
    _impl.pidfd_send_signal(pidfd, _sig(sig), _int(flags, "flags"))


def exit_group(status: int) -> NoReturn:
    """exit_group(status): end the process now: no atexit, no flush (``os._exit``).

    Raises: TypeError/ValueError (status outside 0..255) before the call.
    Availability: Linux; Windows (TerminateProcess on the current process).
    """
    st = _int(status, "status")
    if not 0 <= st <= 255:  # checked here: Windows would end the process with it
        raise ValueError(f"exit status {st} outside 0..255")
    _impl.exit_group(st)
    raise AssertionError("exit_group returned")  # pragma: no cover


def exit(status: int = 0) -> NoReturn:
    """exit(status): C ``exit(3)`` semantics, then exit_group.

    Runs the atexit handlers (Python's and ``vllsi.init``'s cleanup), flushes
    ``sys.stdout``/``sys.stderr``, then ends every thread with exit_group. Unlike
    ``sys.exit`` it cannot be caught, and it does not join other threads.
    Raises: TypeError/ValueError (status outside 0..255) before anything runs.
    Availability: Linux, Windows.
    """
    st = _int(status, "status")
    if not 0 <= st <= 255:
        raise ValueError(f"exit status {st} outside 0..255")
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except Exception:
                pass
        _impl.exit_group(st)
    raise AssertionError("exit_group returned")  # pragma: no cover


def _decode(status: int) -> int | None:
    sig = status & 0x7F
    if sig == 0:
        return (status >> 8) & 0xFF
    if sig == 0x7F or status == 0xFFFF:
        return None
    return -sig


class Child:
    """A spawned process: ``pid``, ``pidfd`` (or None), the parent's pipe ends
    ``stdin``/``stdout``/``stderr`` (int descriptors, CLOEXEC, or None), and
    ``returncode`` once reaped. A context manager: leaving it closes the pipes,
    waits for the child and closes the pidfd.
    """

    def __init__(self, pid: int, fds: Sequence[int], pidfd: int | None, argv: list[bytes]):
        self.pid = pid
        self.pidfd = pidfd
        self.argv = argv
        self.stdin: int | None = fds[0] if fds[0] >= 0 else None
        self.stdout: int | None = fds[1] if fds[1] >= 0 else None
        self.stderr: int | None = fds[2] if fds[2] >= 0 else None
        self.returncode: int | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Child(pid={self.pid}, returncode={self.returncode})"

    def _reap(self) -> int | None:
        # Reaping (wait4 WNOHANG) and signalling share a lock, so a pid is never
        # signalled after it was reaped (and possibly reused); blocking waits
        # happen outside it (waitid WNOWAIT), so kill() from another thread
        # never waits behind wait().
        with self._lock:
            if self.returncode is not None:
                return self.returncode
            try:
                pid, status = _impl.wait4(self.pid, _WNOHANG)
            except errors.VllsiError as exc:
                if exc.errno != _errno.ECHILD:  # ECHILD: SIGCHLD is ignored, the kernel reaped it
                    raise
                pid, status = self.pid, 0
            if pid == 0:
                return None
            code = _decode(status)
            if code is None:
                return None
            self.returncode = code
            return code

    def poll(self) -> int | None:
        """wait4(pid, WNOHANG): the decoded status if the child has exited, else None.

        Raises: VllsiError from wait4 (other than ECHILD). Availability: Linux, Windows.
        """
        return self._reap()

    def wait(self, timeout: float | None = None) -> int:
        """waitid(P_PID, pid, WEXITED|WNOWAIT) then wait4(WNOHANG): wait for the child.

        Returns its exit code, or -signal. Without a timeout it blocks in waitid
        (GIL released) and reaps after; with one it polls the pidfd (or backs off
        with WNOHANG where there is none). EINTR is retried (PEP 475).
        Raises: TimedOut when ``timeout`` expires (the child keeps running);
            ValueError for a negative timeout. Availability: Linux, Windows.
        """
        if timeout is None:
            while self._reap() is None:
                try:
                    _impl.waitid(_P_PID, self.pid, _WEXITED | _WNOWAIT)
                except errors.VllsiError as exc:
                    if exc.errno != _errno.ECHILD:  # ECHILD: reaped meanwhile; _reap decides
                        raise
            assert self.returncode is not None
            return self.returncode
        if timeout < 0:
            raise ValueError("timeout must be >= 0")
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while True:
            code = self.poll()
            if code is not None:
                return code
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.from_errno(_errno.ETIMEDOUT, syscall="wait4", cls=errors.TimedOut,
                                        message=f"child {self.pid} still running")
            if self.pidfd is not None:
                sel = selectors.DefaultSelector()
                try:
                    sel.register(self.pidfd, selectors.EVENT_READ)
                    sel.select(left)
                finally:
                    sel.close()
            else:
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.05)

    def send_signal(self, sig: int) -> None:
        """pidfd_send_signal (or kill without a pidfd); nothing once reaped.

        Raises: PermissionDenied/EPERM; VllsiError. Availability: Linux, Windows.
        """
        s = _sig(sig)
        with self._lock:
            if self.returncode is not None:
                return
            try:
                if self.pidfd is not None:
                    _impl.pidfd_send_signal(self.pidfd, s, 0)
                else:
                    _impl.kill(self.pid, s)
            except errors.VllsiError as exc:
                if exc.errno != _errno.ESRCH:  # ESRCH: it is a zombie already
                    raise

    def kill(self) -> None:
        """Send SIGKILL (see :meth:`send_signal`)."""
        self.send_signal(_SIGKILL)

    def terminate(self) -> None:
        """Send SIGTERM (see :meth:`send_signal`)."""
        self.send_signal(_SIGTERM)

    def communicate(self, input: bytes | None = None, timeout: float | None = None
                    ) -> tuple[bytes | None, bytes | None]:
        """poll/read/write loop (selectors): feed ``input``, read stdout/stderr to EOF, wait.

        One selector loop over the pipes, so a child filling both output pipes
        never deadlocks against a parent still writing its input. The pipes are
        closed afterwards. Returns ``(out, err)`` (None for a stream not piped).
        Raises: TimedOut (the child is left running, pipes closed); ValueError
            for input without a stdin pipe. Availability: Linux; Windows (one
            thread per pipe instead of a selector).
        """
        if input is not None and self.stdin is None:
            raise ValueError("input given but stdin is not a pipe")
        deadline = None if timeout is None else time.monotonic() + timeout
        if not _SELECTABLE_PIPES:
            out, err = self._communicate_threads(input, deadline)
        else:
            out, err = self._communicate_select(input, deadline)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        self.wait(left)
        return out, err

    def _communicate_threads(self, input: bytes | None, deadline: float | None
                             ) -> tuple[bytes | None, bytes | None]:
        # Where pipes cannot be polled (Windows), one thread per pipe, as subprocess
        # does there. Each thread owns its descriptor and closes it when done, so
        # on a timeout the pipes are already gone from this Child while a thread
        # still blocked in read/write ends once the child exits.
        sinks: dict[str, list[bytes]] = {}
        threads = []
        view = memoryview(input or b"")

        def feed(fd: int) -> None:
            try:
                done = 0
                while done < len(view):
                    done += os.write(fd, view[done:done + (1 << 16)])
            except (BrokenPipeError, OSError):  # the child stopped reading: as subprocess
                pass
            finally:
                with contextlib.suppress(OSError):
                    os.close(fd)

        def drain(fd: int, sink: list[bytes]) -> None:
            try:
                while data := os.read(fd, 1 << 16):
                    sink.append(data)
            except OSError:  # e.g. a broken pipe on Windows: end of data
                pass
            finally:
                with contextlib.suppress(OSError):
                    os.close(fd)

        for name in ("stdin", "stdout", "stderr"):
            fd = getattr(self, name)
            if fd is None:
                continue
            setattr(self, name, None)  # the thread owns it now
            if name == "stdin":
                t = threading.Thread(target=feed, args=(fd,), daemon=True)
            else:
                sinks[name] = []
                t = threading.Thread(target=drain, args=(fd, sinks[name]), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                raise errors.from_errno(_errno.ETIMEDOUT, syscall="communicate",
                                        cls=errors.TimedOut)
        out = b"".join(sinks["stdout"]) if "stdout" in sinks else None
        err = b"".join(sinks["stderr"]) if "stderr" in sinks else None
        return out, err

    def _communicate_select(self, input: bytes | None, deadline: float | None
                            ) -> tuple[bytes | None, bytes | None]:
        chunks: dict[int, list[bytes]] = {}
        sel = selectors.DefaultSelector()
        view = memoryview(input or b"")
        try:
            if self.stdin is not None:
                if view:
                    sel.register(self.stdin, selectors.EVENT_WRITE)
                else:
                    self._close_fd("stdin")
            for name in ("stdout", "stderr"):
                fd = getattr(self, name)
                if fd is not None:
                    chunks[fd] = []
                    sel.register(fd, selectors.EVENT_READ)
            while sel.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise errors.from_errno(_errno.ETIMEDOUT, syscall="communicate",
                                            cls=errors.TimedOut)
                for key, _ev in sel.select(left):
                    fd = int(key.fd)
                    if fd == self.stdin:
                        try:  # <= PIPE_BUF into a writable pipe never blocks (as subprocess)
                            n = os.write(fd, view[:_PIPE_BUF])
                        except BrokenPipeError:
                            n = len(view)
                        view = view[n:]
                        if not view:
                            sel.unregister(fd)
                            self._close_fd("stdin")
                    else:
                        data = os.read(fd, 1 << 16)
                        if data:
                            chunks[fd].append(data)
                        else:
                            sel.unregister(fd)
        finally:
            sel.close()
            out = b"".join(chunks[self.stdout]) if self.stdout in chunks else None
            err = b"".join(chunks[self.stderr]) if self.stderr in chunks else None
            self.close_pipes()
        return out, err

    def _close_fd(self, name: str) -> None:
        fd = getattr(self, name)
        if fd is not None:
            setattr(self, name, None)
            with contextlib.suppress(OSError):
                os.close(fd)

    def close_pipes(self) -> None:
        """Close the parent's pipe ends (idempotent)."""
        for name in ("stdin", "stdout", "stderr"):
            self._close_fd(name)

    def close(self) -> None:
        """Close the pipes and the pidfd (idempotent); does not wait."""
        self.close_pipes()
        fd, self.pidfd = self.pidfd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_pipes()
        try:
            self.wait()
        finally:
            self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _stdio(v: Any, i: int) -> tuple[int, int]:
    if isinstance(v, Stdio):
        return v.value, -1
    if v is None:
        return Stdio.INHERIT.value, -1
    if isinstance(v, bool):
        raise TypeError("stdio must be PIPE, INHERIT, DEVNULL, an fd or have fileno()")
    if isinstance(v, int):
        fd = int(v)
    elif hasattr(v, "fileno"):
        fd = v.fileno()
    else:
        raise TypeError("stdio must be PIPE, INHERIT, DEVNULL, an fd or have fileno()")
    if not 0 <= fd <= 0x7FFFFFFF:
        raise ValueError(f"descriptor {fd} for std stream {i} is invalid")
    return 3, fd


def _arg(v: Any, what: str) -> bytes:
    try:
        b = os.fsencode(v)
    except TypeError:
        raise TypeError(f"{what} must be str, bytes or os.PathLike, not {type(v).__name__}") \
            from None
    if b"\0" in b:
        raise ValueError(f"{what} contains a NUL byte")
    return b


def _envp(env: Mapping[Any, Any] | None) -> list[bytes] | None:
    if env is None:
        return None  # the backend passes the process's own environ (kept in sync by os)
    out = []
    for k, v in env.items():
        kb, vb = _arg(k, "environment name"), _arg(v, "environment value")
        if not kb or b"=" in kb:
            raise ValueError(f"illegal environment variable name {kb!r}")
        out.append(kb + b"=" + vb)
    return out


_SEPS = tuple(os.fsencode(c) for c in (os.sep, os.altsep) if c)


def _paths(prog: bytes, env: Mapping[Any, Any] | None) -> list[bytes]:
    if any(sep in prog for sep in _SEPS):  # a path, not a name to search (execvp)
        return [prog]
    search: Any = None if env is None else {os.fsdecode(k): os.fsdecode(v)
                                            for k, v in env.items()}
    dirs = os.get_exec_path(search)
    return [os.path.join(os.fsencode(d), prog) for d in dirs] or [prog]


def spawn(argv: Sequence[Any], env: Mapping[Any, Any] | None = None, cwd: Any = None, *,
          stdin: Any = INHERIT, stdout: Any = INHERIT, stderr: Any = INHERIT,
          pass_fds: Iterable[int] = (), restore_signals: bool = True,
          start_new_session: bool = False, pidfd: bool = True) -> Child:
    """clone(CLONE_VM|CLONE_VFORK) + execve: start ``argv`` with no Python in the child.

    Args:
        argv: program and arguments (str/bytes/PathLike); a program without a
            ``/`` is searched in env's (or the current) PATH, as execvp does.
        env: the environment (None: the current one).
        cwd: directory to run in (None: the current one).
        stdin/stdout/stderr: PIPE, INHERIT (default), DEVNULL, or a descriptor
            (int or ``fileno()``) of the parent to place there.
        pass_fds: further parent descriptors (>= 3) the child keeps at the same
            numbers, CLOEXEC cleared. Every other descriptor is closed in the child.
        restore_signals: reset SIGPIPE and SIGXFSZ to SIG_DFL (CPython ignores
            them). Caught signals are always reset; the signal mask is inherited.
        start_new_session: setsid() in the child.
        pidfd: also open a pidfd for the child (None on kernels without it).
    Returns: a :class:`Child`.
    Raises:
        NotFound/ENOENT, PermissionDenied/EACCES (``.syscall`` "execve", ``.filename``
        the program), the chdir error (``.syscall`` "chdir", ``.filename`` cwd),
        ResourceExhausted/EMFILE/EAGAIN-class errors from pipe2/clone;
        TypeError/ValueError for bad arguments, before anything is created.
    Availability: Linux (asm tier: vllsi's C; libc tier: glibc posix_spawn);
    Windows (CreateProcessW; ``pass_fds`` is Unsupported, restore_signals has
    no meaning, ``start_new_session`` is CREATE_NEW_PROCESS_GROUP, no pidfd).
    """
    if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence):
        raise TypeError("argv must be a sequence of str/bytes/PathLike (not a string)")
    args = [_arg(a, "argv item") for a in argv]
    if not args or not args[0]:
        raise ValueError("argv must name a program")
    envp = _envp(env)
    wd = None if cwd is None else _arg(cwd, "cwd")
    stdio = [_stdio(v, i) for i, v in enumerate((stdin, stdout, stderr))]
    fds = sorted({_int(f, "pass_fds item") for f in pass_fds})
    if any(not 3 <= f <= 0x7FFFFFFF for f in fds) or len(fds) > 256:
        raise ValueError("pass_fds: at most 256 descriptors in 3..2**31-1 "
                         "(0..2 are set with stdin/stdout/stderr)")
    flags = (1 if restore_signals else 0) | (2 if start_new_session else 0)
    pid, parent = _impl.spawn_raw(_paths(args[0], env), args, envp, wd, stdio, fds, flags)
    pfd: int | None = None
    if pidfd:
        try:
            pfd = int(_impl.pidfd_open(pid, 0))
        except errors.VllsiError:  # ENOSYS (< 5.3), EMFILE...: the Child works without
            pfd = None
    return Child(pid, parent, pfd, args)
