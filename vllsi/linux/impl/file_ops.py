"""Linux backend of :mod:`vllsi.file_ops` (raw syscalls of :mod:`vllsi.linux.fs`).

Inputs arrive validated by the portable module (ints, non-negative offsets,
NUL-free ``bytes`` paths); buffers are pinned here, so a read-only buffer for a
read raises TypeError. See :mod:`vllsi.file_ops` for the interface.
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Callable
from typing import Any

from vllsi import errors
from vllsi.linux import _syscall as _s
from vllsi.linux import fs

AT_FDCWD = fs.AT_FDCWD
_EINTR = -_errno.EINTR
_NO_ACCESS = frozenset({_errno.ENOENT, _errno.EACCES, _errno.ENOTDIR, _errno.EROFS})

_pread_raw: Callable[[int, Any, int], int] = fs._pread
_pwrite_raw: Callable[[int, Any, int], int] = fs._pwrite
if _s.TIER == "asm":
    from vllsi.linux import _fast

    _pread_raw = _fast.pread64
    _pwrite_raw = _fast.pwrite64


def pread(fd: int, buf: Any, offset: int) -> int:
    r: int = _pread_raw(fd, buf, offset)
    while r < 0:
        if r != _EINTR:  # PEP 475: handlers ran between the two calls
            raise errors.from_errno(-r, syscall="pread64")
        r = _pread_raw(fd, buf, offset)
    return r


def pwrite(fd: int, data: Any, offset: int) -> int:
    r: int = _pwrite_raw(fd, data, offset)
    while r < 0:
        if r != _EINTR:
            raise errors.from_errno(-r, syscall="pwrite64")
        r = _pwrite_raw(fd, data, offset)
    return r


_ENOSYS = -_errno.ENOSYS
# Raw vectored calls; switched once to preadv/pwritev if the kernel (or qemu-user)
# answers ENOSYS to preadv2/pwritev2.
_rv: Callable[[int, Any, int, int], int] = fs._vec_read
_wv: Callable[[int, Any, int, int], int] = fs._vec_write
_v2 = True


def _v1(call: Callable[[int, Any, int, int], int], name: str) -> Callable[..., int]:
    def no_flags(fd: int, buffers: Any, offset: int, flags: int) -> int:
        if flags:
            raise errors.from_errno(_errno.ENOSYS, syscall=name,
                                    message="RWF_* flags need " + name + ", absent here")
        return call(fd, buffers, offset, 0)

    return no_flags


def _vector_slow(writing: bool, r: int, fd: int, buffers: Any, offset: int, flags: int) -> int:
    global _rv, _wv, _v2
    while r < 0:
        if r == _ENOSYS and _v2 and flags == 0:
            _rv = _v1(fs._vec_read_v1, "preadv2")
            _wv = _v1(fs._vec_write_v1, "pwritev2")
            _v2 = False
        elif r != _EINTR:
            name = ("pwritev" if writing else "preadv") + ("2" if _v2 else "")
            raise errors.from_errno(-r, syscall=name)
        r = (_wv if writing else _rv)(fd, buffers, offset, flags)
    return r


def preadv(fd: int, buffers: Any, offset: int, flags: int) -> int:
    r = _rv(fd, buffers, offset, flags)
    return r if r >= 0 else _vector_slow(False, r, fd, buffers, offset, flags)


def pwritev(fd: int, buffers: Any, offset: int, flags: int) -> int:
    r = _wv(fd, buffers, offset, flags)
    return r if r >= 0 else _vector_slow(True, r, fd, buffers, offset, flags)


def file_size(fd: int) -> int:
    return fs.fstat(fd).st_size


def truncate(fd: int, length: int) -> None:
    fs.ftruncate(fd, length)


def access(path: bytes, mode: int) -> bool:
    try:
        fs.faccessat2(AT_FDCWD, path, mode, 0)
    except errors.Unsupported:
        return _access_old(path, mode)
    except errors.VllsiError as exc:
        if exc.errno in _NO_ACCESS:
            return False
        raise
    return True


def _access_old(path: bytes, mode: int) -> bool:
    try:
        fs.faccessat(AT_FDCWD, path, mode)
    except errors.VllsiError as exc:
        if exc.errno in _NO_ACCESS:
            return False
        raise
    return True


def random_bytes(buf: Any) -> None:
    view = memoryview(buf).cast("B")
    done, n = 0, view.nbytes
    while done < n:
        got = fs.getrandom(view[done:], 0)
        if got <= 0:
            raise errors.from_errno(_errno.EIO, syscall="getrandom")
        done += got


def _dirfd(dir_fd: int | None) -> int:
    return AT_FDCWD if dir_fd is None else dir_fd


_OPEN_BITS = {
    "READ": fs.O_RDONLY, "WRITE": fs.O_WRONLY, "READ_WRITE": fs.O_RDWR,
    "CREATE": fs.O_CREAT, "EXCLUSIVE": fs.O_EXCL, "TRUNCATE": fs.O_TRUNC,
    "APPEND": fs.O_APPEND, "NOFOLLOW": fs.O_NOFOLLOW, "DIRECTORY": fs.O_DIRECTORY,
    "NONBLOCK": fs.O_NONBLOCK, "DIRECT": fs.O_DIRECT, "INHERITABLE": 0,
}


def open(path: bytes, flags: Any, mode: int, dir_fd: int | None) -> int:
    os_flags = 0
    for name, bit in _OPEN_BITS.items():
        if flags & getattr(type(flags), name):
            os_flags |= bit
    if not flags & type(flags).INHERITABLE:
        os_flags |= fs.O_CLOEXEC
    return fs.openat(_dirfd(dir_fd), path, os_flags, mode)


def close(fd: int) -> None:
    fs.close(fd)


def write(fd: int, data: Any) -> int:
    return fs.write(fd, data)


def remove(path: bytes, directory: bool, dir_fd: int | None) -> None:
    fs.unlinkat(_dirfd(dir_fd), path, fs.AT_REMOVEDIR if directory else 0)


def mkdir(path: bytes, mode: int, dir_fd: int | None) -> None:
    fs.mkdirat(_dirfd(dir_fd), path, mode)


def rename(src: bytes, dst: bytes, replace: bool, src_dir_fd: int | None,
           dst_dir_fd: int | None) -> None:
    fs.renameat2(_dirfd(src_dir_fd), src, _dirfd(dst_dir_fd), dst,
                 0 if replace else fs.RENAME_NOREPLACE)
