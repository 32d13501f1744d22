"""Windows backend of :mod:`vllsi.file_ops` (kernel32 + bcrypt through vllsi.windows).

Descriptors are HANDLE values (``vllsi.types.FileDesc.from_crt`` converts a C
runtime descriptor). Positional reads and writes pass the offset in an
OVERLAPPED; on a handle opened without FILE_FLAG_OVERLAPPED (what :func:`open`
gives) Windows still moves the file pointer to the end of the transfer: the OS
forces it. Files are opened with FILE_SHARE_READ|WRITE|DELETE so that, as on
POSIX, an open file can be read, written, renamed and deleted through other
handles. ``dir_fd`` (a directory handle as the base of a relative path) is not
supported on Windows (Unsupported). Directories are created without a POSIX
mode (Windows ACLs apply); a created file whose ``mode`` lacks the owner-write
bit gets FILE_ATTRIBUTE_READONLY, as the C runtime does.
"""

from __future__ import annotations

import errno as _errno
from typing import Any

from vllsi import errors
from vllsi.windows import bcrypt, kernel32
from vllsi.windows import consts as C

_SHARE = C.FILE_SHARE_READ | C.FILE_SHARE_WRITE | C.FILE_SHARE_DELETE
_NO_ACCESS = frozenset({_errno.ENOENT, _errno.EACCES, _errno.ENOTDIR, _errno.EROFS})
_APPEND_ACCESS = C.FILE_GENERIC_WRITE & ~C.FILE_WRITE_DATA


def pread(fd: int, buf: Any, offset: int) -> int:
    return kernel32.read_file(fd, buf, offset)


def pwrite(fd: int, data: Any, offset: int) -> int:
    return kernel32.write_file(fd, data, offset)


def _no_flags(flags: int, name: str) -> None:
    if flags:
        raise errors.unsupported(f"{name} flags (RWF_*) on Windows", syscall=name)


def preadv(fd: int, buffers: Any, offset: int, flags: int) -> int:
    _no_flags(flags, "ReadFile")
    total = 0
    for b in buffers:
        view = memoryview(b).cast("B")
        if view.readonly:
            raise TypeError("preadv needs writable buffers")
        if not view.nbytes:
            continue
        got = kernel32.read_file(fd, view, offset + total)
        total += got
        if got < view.nbytes:
            break
    return total


def pwritev(fd: int, buffers: Any, offset: int, flags: int) -> int:
    _no_flags(flags, "WriteFile")
    views = [memoryview(b).cast("B") for b in buffers]
    total = 0
    for view in views:
        if not view.nbytes:
            continue
        got = kernel32.write_file(fd, view, offset + total)
        total += got
        if got < view.nbytes:
            break
    return total


def file_size(fd: int) -> int:
    return kernel32.get_file_size_ex(fd)


def truncate(fd: int, length: int) -> None:
    kernel32.set_file_end_of_file_info(fd, length)


def access(path: bytes, mode: int) -> bool:
    try:
        attrs = kernel32.get_file_attributes(path)
    except errors.VllsiError as exc:
        if exc.errno in _NO_ACCESS:
            return False
        raise
    # As CPython's os.access on Windows: W_OK fails only on a read-only file;
    # R_OK and X_OK are granted for anything that exists.
    return not (mode & 2 and attrs & C.FILE_ATTRIBUTE_READONLY
                and not attrs & C.FILE_ATTRIBUTE_DIRECTORY)


def random_bytes(buf: Any) -> None:
    bcrypt.bcrypt_gen_random(buf)


def _no_dir_fd(dir_fd: int | None, name: str) -> None:
    if dir_fd is not None:
        raise errors.unsupported("dir_fd (paths relative to a directory handle) on Windows",
                                 syscall=name)


def open(path: bytes, flags: Any, mode: int, dir_fd: int | None) -> int:
    _no_dir_fd(dir_fd, "CreateFileW")
    F = type(flags)
    if flags & F.APPEND:
        access_ = _APPEND_ACCESS | (C.GENERIC_READ if flags & F.READ_WRITE else 0)
    elif flags & F.READ_WRITE:
        access_ = C.GENERIC_READ | C.GENERIC_WRITE
    elif flags & F.WRITE:
        access_ = C.GENERIC_WRITE
    else:
        access_ = C.GENERIC_READ
    create, trunc, excl = flags & F.CREATE, flags & F.TRUNCATE, flags & F.EXCLUSIVE
    if create and excl:
        disposition = C.CREATE_NEW
    elif create and trunc:
        disposition = C.CREATE_ALWAYS
    elif create:
        disposition = C.OPEN_ALWAYS
    elif trunc:
        disposition = C.TRUNCATE_EXISTING
    else:
        disposition = C.OPEN_EXISTING
    attrs = C.FILE_ATTRIBUTE_NORMAL
    if create and not mode & 0o200:
        attrs = C.FILE_ATTRIBUTE_READONLY
    if flags & F.DIRECTORY:
        attrs |= C.FILE_FLAG_BACKUP_SEMANTICS
    if flags & F.NOFOLLOW:
        attrs |= C.FILE_FLAG_OPEN_REPARSE_POINT
    if flags & F.DIRECT:
        attrs |= C.FILE_FLAG_NO_BUFFERING
    h = kernel32.create_file(path, access_, _SHARE, disposition, attrs,
                             inheritable=bool(flags & F.INHERITABLE))
    if flags & F.DIRECTORY and not kernel32.get_file_attributes(path) & \
            C.FILE_ATTRIBUTE_DIRECTORY:
        kernel32.close_handle(h)
        raise errors.from_errno(_errno.ENOTDIR, syscall="CreateFileW", filename=path)
    return h


def close(fd: int) -> None:
    from vllsi.windows.impl import locking

    locking.forget(fd)
    kernel32.close_handle(fd)


def write(fd: int, data: Any) -> int:
    return kernel32.write_file(fd, data, None)


def remove(path: bytes, directory: bool, dir_fd: int | None) -> None:
    _no_dir_fd(dir_fd, "DeleteFileW")
    if directory:
        kernel32.remove_directory(path)
    else:
        kernel32.delete_file(path)


def mkdir(path: bytes, mode: int, dir_fd: int | None) -> None:
    _no_dir_fd(dir_fd, "CreateDirectoryW")
    kernel32.create_directory(path)


def rename(src: bytes, dst: bytes, replace: bool, src_dir_fd: int | None,
           dst_dir_fd: int | None) -> None:
    _no_dir_fd(src_dir_fd, "MoveFileExW")
    _no_dir_fd(dst_dir_fd, "MoveFileExW")
    kernel32.move_file_ex(src, dst, C.MOVEFILE_REPLACE_EXISTING if replace else 0)
