"""Linux backend of :mod:`vllsi.process_ops`.

``spawn_raw`` starts a program with no Python between fork and exec:

- tier ``asm``: ``vllsi_spawn`` in ``_native/csrc/ffi/spawn.c`` (raw
  clone(CLONE_VM|CLONE_VFORK|SIGCHLD) on a private stack, then execve; the
  stdio pipes, /dev/null and the CLOEXEC error pipe are made in the same C call);
- tier ``libc``: glibc's ``posix_spawn`` through cffi ABI mode (itself
  clone(CLONE_VM|CLONE_VFORK) + execve in C), with file actions for the same fd
  layout (``posix_spawn_file_actions_addclosefrom_np``, glibc >= 2.34) and the
  execvp walk, cwd and descriptors checked in the parent first (posix_spawnp
  would read the parent's PATH, not env's; see ``_precheck`` for why).
"""

from __future__ import annotations

import errno as _errno
import os
from collections.abc import Sequence
from typing import Any, Final

from vllsi import errors
from vllsi.linux import _syscall as _s
from vllsi.linux import fs
from vllsi.linux.proc import getpid, getppid, gettid
from vllsi.linux.process import exit_group, pidfd_open, pidfd_send_signal, wait4, waitid
from vllsi.linux.signal import kill, tgkill

__all__ = ["exit_group", "getpid", "getppid", "gettid", "kill", "pidfd_open",
           "pidfd_send_signal", "spawn_raw", "tgkill", "wait4", "waitid"]

MODE_INHERIT: Final = 0
MODE_PIPE: Final = 1
MODE_DEVNULL: Final = 2
MODE_FD: Final = 3
FLAG_RESTORE_SIGNALS: Final = 1
FLAG_SETSID: Final = 2
MAX_PASS_FDS: Final = 256

_STAGES: Final = {1: "execve", 2: "chdir", 3: "dup3", 4: "setsid", 5: "clone"}


def _raise(code: int, stage: int, argv0: bytes, cwd: bytes | None) -> None:
    name = _STAGES.get(stage, "clone")
    filename: Any = None
    if name == "execve":
        filename = argv0.decode("utf-8", "surrogateescape")
    elif name == "chdir" and cwd is not None:
        filename = cwd.decode("utf-8", "surrogateescape")
    raise errors.from_errno(code, syscall=name, filename=filename)


if _s.TIER == "asm":
    import importlib

    _trampoline: Any = importlib.import_module("vllsi.linux._trampoline")
    _ffi: Any = _trampoline.ffi
    _lib: Any = _trampoline.lib

    def _cstrings(items: Sequence[bytes], keep: list[Any]) -> Any:
        arr = [_ffi.new("char[]", b) for b in items]
        keep.extend(arr)
        out = _ffi.new("char *[]", len(arr) + 1)
        out[0:len(arr)] = arr
        keep.append(out)  # a struct field does not own what it points to
        return out

    def spawn_raw(paths: Sequence[bytes], argv: Sequence[bytes], envp: Sequence[bytes] | None,
                  cwd: bytes | None, stdio: Sequence[tuple[int, int]],
                  pass_fds: Sequence[int], flags: int) -> tuple[int, list[int]]:
        """Start ``paths[0]`` (or the next candidate); returns (pid, parent fds or -1)."""
        keep: list[Any] = []
        req = _ffi.new("struct vllsi_spawn_req *")
        req.paths = _cstrings(paths, keep)
        req.argv = _cstrings(argv, keep)
        if envp is not None:
            req.envp = _cstrings(envp, keep)
        if cwd is not None:
            c = _ffi.new("char[]", cwd)
            keep.append(c)
            req.cwd = c
        for i, (mode, fd) in enumerate(stdio):
            req.stdio_mode[i] = mode
            req.stdio_fd[i] = fd
        if pass_fds:
            pf = _ffi.new("int[]", list(pass_fds))
            keep.append(pf)
            req.pass_fds = pf
        req.npass = len(pass_fds)
        req.flags = flags
        r = int(_lib.vllsi_spawn(req))
        if r < 0:
            _raise(-r, int(req.err_stage), argv[0], cwd)
        return r, [int(req.parent_fds[i]) for i in range(3)]

else:
    import cffi

    from vllsi.linux._ffi import addr
    from vllsi.linux._ffi import ffi as _kffi

    _cffi = cffi.FFI()
    _cffi.cdef("""
        typedef int pid_t;
        extern char **environ;
        int posix_spawn(pid_t *pid, const char *path, const void *fa, const void *attr,
                        char *const argv[], char *const envp[]);
        int posix_spawn_file_actions_init(void *fa);
        int posix_spawn_file_actions_destroy(void *fa);
        int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd);
        int posix_spawn_file_actions_addclose(void *fa, int fd);
        int posix_spawn_file_actions_addchdir_np(void *fa, const char *path);
        int posix_spawn_file_actions_addclosefrom_np(void *fa, int from);
        int posix_spawnattr_init(void *attr);
        int posix_spawnattr_destroy(void *attr);
        int posix_spawnattr_setflags(void *attr, short flags);
        int posix_spawnattr_setsigdefault(void *attr, const void *sigset);
    """)
    _libc: Any = _cffi.dlopen(None)
    # glibc's <spawn.h>: POSIX_SPAWN_SETSIGDEF 0x04, POSIX_SPAWN_SETSID 0x80.
    _SETSIGDEF: Final = 0x04
    _SETSID: Final = 0x80
    _NR_PIPE2: Final = _s.NR["pipe2"]
    _NR_OPENAT: Final = _s.NR["openat"]
    _NR_CLOSE: Final = _s.NR["close"]
    _NR_FCNTL: Final = _s.NR["fcntl"]
    _F_GETFD: Final = 1
    _F_DUPFD_CLOEXEC: Final = 1030
    _O_CLOEXEC: Final = 0o2000000

    def _close(fd: int) -> None:
        if fd >= 0:
            _s.syscall(_NR_CLOSE, fd)

    def _pipe() -> tuple[int, int]:
        fds = _kffi.new("int[2]")
        _s.check(_s.syscall(_NR_PIPE2, addr(fds), _O_CLOEXEC), "pipe2")
        return int(fds[0]), int(fds[1])

    def _cstrings(items: Sequence[bytes], keep: list[Any]) -> Any:
        arr = [_cffi.new("char[]", b) for b in items]
        keep.extend(arr)
        out = _cffi.new("char *[]", len(arr) + 1)
        out[0:len(arr)] = arr
        keep.append(out)  # a struct field does not own what it points to
        return out

    def _ok(r: int, name: str) -> None:
        if r != 0:
            raise errors.from_errno(r, syscall=name)

    _NR_FACCESSAT: Final = _s.NR["faccessat"]
    _X_OK: Final = 1
    _S_IFMT: Final = 0o170000
    _S_IFREG: Final = 0o100000
    _S_IFDIR: Final = 0o040000

    def _precheck(paths: Sequence[bytes], argv0: bytes, cwd: bytes | None,
                  stdio: Sequence[tuple[int, int]], pass_fds: Sequence[int]) -> bytes:
        """The parent-side checks of the libc tier; returns the program to run.

        glibc's posix_spawn reports a failure through memory it shares with the
        vfork child; an emulator that turns CLONE_VFORK into fork (qemu-user)
        loses it, and the child just exits 127. So the fds, cwd and the execvp
        walk are checked here first (newfstatat, faccessat); glibc's own report
        still covers a change between the check and the exec.
        """
        for mode, fd in stdio:
            if mode == MODE_FD and _s.syscall(_NR_FCNTL, fd, _F_GETFD) < 0:
                raise errors.from_errno(_errno.EBADF, syscall="dup3")
        for fd in pass_fds:
            if _s.syscall(_NR_FCNTL, fd, _F_GETFD) < 0:
                raise errors.from_errno(_errno.EBADF, syscall="dup3")
        if cwd is not None:
            try:
                mode = fs.newfstatat(fs.AT_FDCWD, cwd).st_mode
            except errors.VllsiError as exc:
                _raise(exc.errno or _errno.EIO, 2, argv0, cwd)
            if mode & _S_IFMT != _S_IFDIR:
                _raise(_errno.ENOTDIR, 2, argv0, cwd)
            if _access(cwd) != 0:
                _raise(_errno.EACCES, 2, argv0, cwd)
        saved = 0
        last = _errno.ENOENT
        for path in paths:
            check = path if cwd is None or path.startswith(b"/") else os.path.join(cwd, path)
            try:
                mode = fs.newfstatat(fs.AT_FDCWD, check).st_mode
            except errors.VllsiError as exc:
                last = exc.errno or _errno.EIO
                if last in (_errno.ENOENT, _errno.ENOTDIR):
                    continue
                if last == _errno.EACCES:
                    saved = last
                    continue
                break
            if mode & _S_IFMT != _S_IFREG or _access(check) != 0:
                saved = last = _errno.EACCES
                continue
            return path
        _raise(saved or last, 1, argv0, cwd)
        raise AssertionError("unreachable")  # pragma: no cover

    def _access(path: bytes) -> int:
        c = _kffi.new("char[]", path)
        return _s.syscall(_NR_FACCESSAT, -100, addr(c), _X_OK)

    def spawn_raw(paths: Sequence[bytes], argv: Sequence[bytes], envp: Sequence[bytes] | None,
                  cwd: bytes | None, stdio: Sequence[tuple[int, int]],
                  pass_fds: Sequence[int], flags: int) -> tuple[int, list[int]]:
        """Start ``paths[0]`` (or the next candidate); returns (pid, parent fds or -1)."""
        paths = [_precheck(paths, argv[0], cwd, stdio, pass_fds)]
        parent = [-1, -1, -1]
        temps: list[int] = []
        mapping: dict[int, int] = {}  # dst -> src
        try:
            for i, (mode, fd) in enumerate(stdio):
                if mode == MODE_INHERIT:
                    if _s.syscall(_NR_FCNTL, i, _F_GETFD) >= 0:
                        mapping[i] = i
                elif mode == MODE_PIPE:
                    r, w = _pipe()
                    parent[i], child = (w, r) if i == 0 else (r, w)
                    temps.append(child)
                    mapping[i] = child
                elif mode == MODE_DEVNULL:
                    d = _s.check(_s.syscall(_NR_OPENAT, -100, addr(_DEVNULL), 0o2 | _O_CLOEXEC),
                                 "openat", "/dev/null")
                    temps.append(d)
                    mapping[i] = d
                else:
                    mapping[i] = fd
            for fd in pass_fds:
                mapping[fd] = fd
            top = max(mapping, default=2)
            top = max(top, 2)
            for dst, src in list(mapping.items()):
                if src != dst and src <= top:  # would be clobbered by an earlier dup2
                    t = _s.check(_s.syscall(_NR_FCNTL, src, _F_DUPFD_CLOEXEC, top + 1), "fcntl")
                    temps.append(t)
                    mapping[dst] = t
            return _posix_spawn(paths, argv, envp, cwd, mapping, top, flags), parent
        except BaseException:
            for p in parent:
                _close(p)
            raise
        finally:
            for t in temps:
                _close(t)

    _DEVNULL = _kffi.new("char[]", b"/dev/null")

    def _posix_spawn(paths: Sequence[bytes], argv: Sequence[bytes], envp: Sequence[bytes] | None,
                     cwd: bytes | None, mapping: dict[int, int], top: int, flags: int) -> int:
        keep: list[Any] = []
        fa = _cffi.new("uint64_t[64]")  # >= sizeof(posix_spawn_file_actions_t) (80)
        attr = _cffi.new("uint64_t[128]")  # >= sizeof(posix_spawnattr_t) (336)
        sigdef = _cffi.new("uint64_t[16]")  # sigset_t: 1024 bits
        _ok(_libc.posix_spawn_file_actions_init(fa), "posix_spawn_file_actions_init")
        _ok(_libc.posix_spawnattr_init(attr), "posix_spawnattr_init")
        try:
            for fd in range(top + 1):
                if fd in mapping:
                    _ok(_libc.posix_spawn_file_actions_adddup2(fa, mapping[fd], fd),
                        "posix_spawn_file_actions_adddup2")
                else:
                    _ok(_libc.posix_spawn_file_actions_addclose(fa, fd),
                        "posix_spawn_file_actions_addclose")
            _ok(_libc.posix_spawn_file_actions_addclosefrom_np(fa, top + 1),
                "posix_spawn_file_actions_addclosefrom_np")
            if cwd is not None:
                c = _cffi.new("char[]", cwd)
                keep.append(c)
                _ok(_libc.posix_spawn_file_actions_addchdir_np(fa, c),
                    "posix_spawn_file_actions_addchdir_np")
            aflags = 0
            if flags & FLAG_RESTORE_SIGNALS:
                sigdef[0] = (1 << 12) | (1 << 24)  # SIGPIPE (13), SIGXFSZ (25)
                _ok(_libc.posix_spawnattr_setsigdefault(attr, sigdef),
                    "posix_spawnattr_setsigdefault")
                aflags |= _SETSIGDEF
            if flags & FLAG_SETSID:
                aflags |= _SETSID
            _ok(_libc.posix_spawnattr_setflags(attr, aflags), "posix_spawnattr_setflags")
            cargv = _cstrings(argv, keep)
            cenv = _libc.environ if envp is None else _cstrings(envp, keep)
            pid = _cffi.new("pid_t *")
            saved = 0
            last = _errno.ENOENT
            for path in paths:
                last = int(_libc.posix_spawn(pid, path, fa, attr, cargv, cenv))
                if last == 0:
                    return int(pid[0])
                if last == _errno.EACCES:
                    saved = last
                elif last not in (_errno.ENOENT, _errno.ENOTDIR):
                    break
            if saved and last in (_errno.ENOENT, _errno.ENOTDIR, _errno.EACCES):
                last = saved
            stage = 1
            if (cwd is not None and last in (_errno.ENOENT, _errno.ENOTDIR, _errno.EACCES)
                    and not (os.path.isdir(cwd) and os.access(cwd, os.X_OK))):
                stage = 2
            _raise(last, stage, argv[0], cwd)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            _libc.posix_spawn_file_actions_destroy(fa)
            _libc.posix_spawnattr_destroy(attr)
