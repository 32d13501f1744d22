"""Windows backend of :mod:`vllsi.process_ops`: CreateProcessW and process handles.

- ``spawn_raw``: CreateProcessW with the program found among ``paths`` (each
  tried as given, then with ``.exe``), ``argv`` quoted into one command line by
  the C runtime's rules, the environment as a UTF-16 block (None inherits),
  ``cwd`` (checked first, so a missing one is NotFound naming it, as POSIX's
  chdir error, not ERROR_DIRECTORY naming the program), and the three std
  handles made inheritable for the child (a pipe: CreatePipe, the parent's end
  kept non-inheritable; DEVNULL: ``NUL``; a given descriptor: a C runtime fd
  duplicated as an inheritable handle). The parent's pipe ends are returned as
  C runtime descriptors (``msvcrt.open_osfhandle``) so ``os.read``/``os.write``/
  ``os.close`` work on them. ``pass_fds`` cannot keep
  numbers on Windows: Unsupported. ``start_new_session`` is
  CREATE_NEW_PROCESS_GROUP; restoring signals has no meaning here.
  Handle inheritance is process-wide in CreateProcessW: other inheritable
  handles of the parent are inherited too (vllsi creates its own non-inheritable).
  Spawns are serialised (one lock from the first inheritable handle to
  CreateProcessW's return), so concurrent vllsi spawns never inherit each
  other's pipe ends; handles other code makes inheritable meanwhile still can be.
- ``SELECTABLE_PIPES`` is False: Windows' select() takes sockets only, so
  ``Child.communicate`` drains and feeds the pipes with threads (as ``subprocess``
  does on Windows).
- ``wait4``/``waitid`` wait on the process handle kept since spawn
  (WaitForSingleObject) and build a POSIX status: ``code << 8`` for an exit, the
  signal number for a child ended by :func:`kill` (so Child.returncode is
  -signal as on POSIX). Unknown pids: ECHILD.
- ``kill(pid, sig)``: 0 checks the process exists; any other signal
  TerminateProcess(exit code 128 + sig). Process groups (pid <= 0), ``tgkill``,
  ``pidfd_*``: Unsupported.
- ``exit_group``: TerminateProcess on the current process (no cleanup, as the
  syscall). ``getppid``: NtQueryInformationProcess(ProcessBasicInformation).
"""

from __future__ import annotations

import errno as _errno
import importlib
import os
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

from vllsi import errors
from vllsi.windows import consts as C
from vllsi.windows import kernel32, ntdll

__all__ = ["SELECTABLE_PIPES", "exit_group", "getpid", "getppid", "gettid", "kill",
           "pidfd_open", "pidfd_send_signal", "spawn_raw", "tgkill", "wait4", "waitid"]

SELECTABLE_PIPES = False  # anonymous pipes are not select()able: communicate uses threads
_WNOHANG = 1
_WNOWAIT = 0x01000000
_children: dict[int, int] = {}  # pid -> process handle (until reaped)
_signalled: dict[int, int] = {}  # pid -> the signal kill() ended it with
_lock = threading.Lock()
_spawn_lock = threading.Lock()  # see spawn_raw


def getpid() -> int:
    return kernel32.get_current_process_id()


def getppid() -> int:
    return ntdll.nt_query_process_basic(-1)[1]


def gettid() -> int:
    return kernel32.get_current_thread_id()


def _echild(call: str) -> errors.VllsiError:
    return errors.from_errno(_errno.ECHILD, syscall=call)


def kill(pid: int, sig: int) -> None:
    if pid <= 0:
        raise errors.unsupported("kill of a process group (pid <= 0) on Windows",
                                 syscall="kill")
    with _lock:
        h = _children.get(pid)
    own = h is not None
    if h is None:
        access = C.PROCESS_QUERY_LIMITED_INFORMATION | (C.PROCESS_TERMINATE if sig else 0)
        try:
            h = kernel32.open_process(pid, access)
        except errors.InvalidArgument:  # no such process
            raise errors.from_errno(_errno.ESRCH, syscall="OpenProcess") from None
    try:
        if sig == 0:
            if kernel32.get_exit_code_process(h) != C.STILL_ACTIVE:
                raise errors.from_errno(_errno.ESRCH, syscall="GetExitCodeProcess")
            return
        if kernel32.get_exit_code_process(h) != C.STILL_ACTIVE:
            raise errors.from_errno(_errno.ESRCH, syscall="TerminateProcess")
        kernel32.terminate_process(h, 128 + sig)
        with _lock:
            _signalled[pid] = sig
    finally:
        if not own:
            kernel32.close_handle(h)


def tgkill(tgid: int, tid: int, sig: int) -> None:
    raise errors.unsupported("tgkill (signals to a thread) on Windows", syscall="tgkill")


def pidfd_open(pid: int, flags: int) -> int:
    raise errors.unsupported("pidfd_open on Windows", syscall="pidfd_open")


def pidfd_send_signal(fd: Any, sig: int, flags: int) -> None:
    raise errors.unsupported("pidfd_send_signal on Windows", syscall="pidfd_send_signal")


def exit_group(status: int) -> NoReturn:
    kernel32.terminate_process(-1, status & 0xFFFFFFFF)
    raise AssertionError("unreachable")  # pragma: no cover


def _status(pid: int, h: int) -> int:
    code = kernel32.get_exit_code_process(h)
    with _lock:
        sig = _signalled.get(pid)
    if sig is not None and code == 128 + sig:
        return sig & 0x7F
    return (code & 0xFF) << 8


def wait4(pid: int, options: int) -> tuple[int, int]:
    with _lock:
        h = _children.get(pid)
    if h is None:
        raise _echild("wait4")
    ms = 0 if options & _WNOHANG else C.INFINITE
    if kernel32.wait_for_single_object(h, ms) == C.WAIT_TIMEOUT:
        return 0, 0
    status = _status(pid, h)
    if not options & _WNOWAIT:
        with _lock:
            _children.pop(pid, None)
            _signalled.pop(pid, None)
        kernel32.close_handle(h)
    return pid, status


def waitid(idtype: int, id_: int, options: int) -> Any:
    with _lock:
        h = _children.get(id_)
    if h is None:
        raise _echild("waitid")
    kernel32.wait_for_single_object(h, C.INFINITE)
    if not options & _WNOWAIT:
        wait4(id_, 0)
    return None


def _find(paths: Sequence[bytes]) -> bytes:
    for p in paths:
        for cand in (p, p + b".exe") if not os.path.splitext(p)[1] else (p,):
            try:
                attrs = kernel32.get_file_attributes(cand)
            except OSError:
                continue
            if not attrs & C.FILE_ATTRIBUTE_DIRECTORY:
                return cand
    raise errors.from_errno(_errno.ENOENT, syscall="CreateProcessW",
                            filename=os.fsdecode(paths[0]) if paths else None)


def _check_cwd(cwd: bytes) -> None:
    # CreateProcessW reports a bad directory as ERROR_DIRECTORY naming the program;
    # checked first so the error is POSIX's chdir one: NotFound/ENOTDIR naming cwd.
    name = os.fsdecode(cwd)
    try:
        attrs = kernel32.get_file_attributes(cwd)
    except errors.VllsiError as exc:
        exc.filename = name
        raise
    if not attrs & C.FILE_ATTRIBUTE_DIRECTORY:
        raise errors.from_errno(_errno.ENOTDIR, syscall="GetFileAttributesW", filename=name)


def _osfhandle(msvcrt: Any, fd: int) -> int:
    try:
        return int(msvcrt.get_osfhandle(fd))
    except OSError as exc:  # the C runtime's EBADF, through the factory
        raise errors.from_errno(exc.errno or _errno.EBADF, syscall="_get_osfhandle") from None


def _child_std(msvcrt: Any, stdio: Sequence[tuple[int, int]], parent: list[int],
               child_ends: list[int]) -> list[int]:
    """The child's three std handles (inheritable); the parent's pipe ends go to
    ``parent`` (C runtime fds), every handle to close after the spawn to ``child_ends``."""
    std = (C.STD_INPUT_HANDLE, C.STD_OUTPUT_HANDLE, C.STD_ERROR_HANDLE)
    handles: list[int] = []
    for i, (mode, fd) in enumerate(stdio):
        if mode == 1:  # pipe
            r, w = kernel32.create_pipe(inheritable=True)
            mine, theirs = (w, r) if i == 0 else (r, w)
            child_ends.append(theirs)
            try:
                kernel32.set_handle_information(mine, C.HANDLE_FLAG_INHERIT, 0)
                parent[i] = msvcrt.open_osfhandle(mine, os.O_WRONLY if i == 0 else os.O_RDONLY)
            except BaseException:
                kernel32.close_handle(mine)
                raise
            handles.append(theirs)
        elif mode == 2:  # devnull
            h = kernel32.create_file("NUL", C.GENERIC_READ | C.GENERIC_WRITE,
                                     C.FILE_SHARE_READ | C.FILE_SHARE_WRITE,
                                     C.OPEN_EXISTING, inheritable=True)
            child_ends.append(h)
            handles.append(h)
        else:
            src = kernel32.get_std_handle(std[i]) if mode == 0 else _osfhandle(msvcrt, fd)
            if src in (0, -1):
                handles.append(0)
                continue
            h = kernel32.duplicate_handle(src, inheritable=True)
            child_ends.append(h)
            handles.append(h)
    return handles


def spawn_raw(paths: Sequence[bytes], argv: Sequence[bytes], envp: Sequence[bytes] | None,
              cwd: bytes | None, stdio: Sequence[tuple[int, int]], pass_fds: Sequence[int],
              flags: int) -> tuple[int, list[int]]:
    msvcrt: Any = importlib.import_module("msvcrt")

    if pass_fds:
        raise errors.unsupported("pass_fds on Windows (descriptor numbers are not inherited)",
                                 syscall="CreateProcessW")
    program = _find(paths)
    if cwd is not None:
        _check_cwd(cwd)
    env = None
    if envp is not None:
        env = {}
        for item in envp:
            k, _, v = os.fsdecode(item).partition("=")
            env[k] = v
    child_ends: list[int] = []  # inheritable handles to close after the spawn
    parent: list[int] = [-1, -1, -1]
    # Inheritable handles exist only inside this lock, and CreateProcessW runs in
    # it: two spawns from different threads never inherit each other's pipe ends
    # (a child holding another child's write end would keep its reader from EOF).
    with _spawn_lock:
        try:
            handles = _child_std(msvcrt, stdio, parent, child_ends)
            pflags = C.CREATE_NEW_PROCESS_GROUP if flags & 2 else 0
            info = kernel32.create_process(os.fsdecode(program), list(argv), env=env, cwd=cwd,
                                           stdio=(handles[0], handles[1], handles[2]),
                                           flags=pflags)
        except BaseException:
            for fd in parent:
                if fd >= 0:
                    os.close(fd)
            raise
        finally:
            for h in child_ends:
                kernel32.close_handle(h)
    kernel32.close_handle(info.thread)
    with _lock:
        _children[info.pid] = info.process
    return info.pid, parent
