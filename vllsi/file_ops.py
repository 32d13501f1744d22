"""Positional file I/O and path-level file operations.

Positional calls (``pread``, ``pwrite``, ``preadv``, ``pwritev``) never move
the file offset: L pread64/pwrite64/preadv2/pwritev2, D pread/pwrite/preadv,
W ReadFile/WriteFile with an OVERLAPPED offset (on a synchronous handle Windows
does move the file pointer; the backend says so). Short counts are returned,
not hidden; ``pread_exact``/``pwrite_all`` loop and raise at EOF.

The path-level operations (``open``, ``create``, ``read_all``, ``write_all``,
``remove``, ``mkdir``, ``rename``) take explicit flags (:class:`OpenFlags`, a
portable flag set translated per OS, never raw O_* values) and an optional
directory descriptor; on Linux they are openat/unlinkat/mkdirat/renameat2.
Descriptors are opened close-on-exec unless ``OpenFlags.INHERITABLE`` is given.
``write_all`` is *not* atomic: :func:`vllsi.durability.atomic_write` is.

Validation of Python input (TypeError/ValueError) happens here, before any OS
call; the backends receive ints, ``bytes`` paths and non-negative offsets. An
error names the path as the caller gave it, as ``os`` does: ``.filename`` (and
``.filename2`` for ``rename``'s destination) is ``os.fspath(path)`` — a str
stays a str, bytes stay bytes — not the encoded bytes the backend received.

Backend interface (``vllsi.<os>.impl.file_ops``, same names on every OS):
``pread(fd, buf, offset) -> int``, ``pwrite(fd, data, offset) -> int``,
``preadv(fd, buffers, offset, flags) -> int``, ``pwritev(...)``,
``file_size(fd) -> int``, ``truncate(fd, length)``, ``access(path, mode) ->
bool`` (False for ENOENT/EACCES/ENOTDIR/EROFS), ``random_bytes(buf)`` (fills it),
``open(path, flags: OpenFlags, mode, dir_fd|None) -> fd``, ``close(fd)``,
``write(fd, data) -> int``, ``remove(path, directory, dir_fd)``,
``mkdir(path, mode, dir_fd)``, ``rename(src, dst, replace, src_dir_fd,
dst_dir_fd)``. Backends pin buffers themselves (TypeError for a read-only
buffer given to a read), retry EINTR and raise through the error factory.
"""

from __future__ import annotations

import enum
import errno as _errno
import os as _os
from collections.abc import Iterable
from typing import Any, Final

from vllsi import _platform, errors

__all__ = [
    "F_OK",
    "R_OK",
    "W_OK",
    "X_OK",
    "OpenFlags",
    "access",
    "close",
    "create",
    "file_size",
    "mkdir",
    "open",
    "pread",
    "pread_exact",
    "preadv",
    "pwrite",
    "pwrite_all",
    "pwritev",
    "random_bytes",
    "read_all",
    "remove",
    "rename",
    "truncate",
    "write_all",
]

_impl: Any = _platform.os_module("file_ops")

F_OK: Final = 0
X_OK: Final = 1
W_OK: Final = 2
R_OK: Final = 4


class OpenFlags(enum.IntFlag):
    """Portable open flags (vllsi's own bits, translated by each backend).

    Exactly one of READ (the default, 0), WRITE, READ_WRITE; then CREATE,
    EXCLUSIVE (with CREATE: fail if it exists), TRUNCATE, APPEND, NOFOLLOW (fail
    on a final symlink), DIRECTORY (must be a directory), NONBLOCK, DIRECT
    (bypass the page cache: O_DIRECT / FILE_FLAG_NO_BUFFERING; aligned buffers
    needed), INHERITABLE (do not set close-on-exec).
    """

    READ = 0
    WRITE = 0x1
    READ_WRITE = 0x2
    CREATE = 0x10
    EXCLUSIVE = 0x20
    TRUNCATE = 0x40
    APPEND = 0x80
    NOFOLLOW = 0x100
    DIRECTORY = 0x200
    NONBLOCK = 0x400
    DIRECT = 0x800
    INHERITABLE = 0x1000


_ALL_FLAGS: Final = sum(int(f) for f in OpenFlags)
_MAX_OFF: Final = (1 << 63) - 1


def _fd(fd: Any) -> int:
    if type(fd) is int:
        v = fd
    elif isinstance(fd, bool) or not (isinstance(fd, int) or hasattr(fd, "fileno")):
        raise TypeError(f"fd must be an int or have fileno(), not {type(fd).__name__}")
    else:
        v = int(fd) if isinstance(fd, int) else fd.fileno()
        if type(v) is not int:
            raise TypeError("fd.fileno() must return int")
    if v < 0:
        raise ValueError(f"fd {v} is not a valid descriptor")
    return v


def _nonneg(v: Any, name: str) -> int:
    if type(v) is not int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name} must be int, not {type(v).__name__}")
        v = int(v)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    if v > _MAX_OFF:
        raise ValueError(f"{name} must be below 2**63, got {v}")
    return int(v)


def _path(path: Any, name: str = "path") -> bytes:
    try:
        b = _os.fsencode(path)
    except TypeError:
        raise TypeError(
            f"{name} must be str, bytes or os.PathLike, not {type(path).__name__}"
        ) from None
    if b"\0" in b:
        raise ValueError(f"{name} contains a NUL byte")
    if not b:
        raise ValueError(f"{name} is empty")
    return b


def _named(exc: errors.VllsiError, path: Any, encoded: bytes, attr: str = "filename") -> None:
    """Give the caller's path back on ``exc`` as ``os`` does (``os.fspath(path)``:
    a str stays a str, bytes stay bytes, a PathLike becomes what it names), where
    the backend named the encoded path it was given."""
    got = getattr(exc, attr)
    if isinstance(got, bytes):
        same = got == encoded
    else:  # never compare bytes with str (python -bb makes that an error)
        same = isinstance(got, str) and got == _os.fsdecode(encoded)
    if same:
        setattr(exc, attr, _os.fspath(path))


def _dir_fd(dir_fd: Any) -> int | None:
    return None if dir_fd is None else _fd(dir_fd)


def _mode(mode: Any) -> int:
    m = _nonneg(mode, "mode")
    if m > 0o7777:
        raise ValueError(f"mode {m:#o} outside 0..0o7777")
    return m


_pread = _impl.pread
_pwrite = _impl.pwrite
_preadv = _impl.preadv
_pwritev = _impl.pwritev


def pread(fd: Any, buf: Any, offset: int) -> int:
    """pread64(fd, buf, offset): read into a writable buffer without moving the offset.

    Args:
        fd: an int descriptor or an object with ``fileno()``.
        buf: a writable buffer-protocol object (bytearray, memoryview, mmap...).
        offset: file offset, >= 0.
    Returns:
        Bytes read: short at end of file, 0 at or past it.
    Raises:
        BadDescriptor/EBADF (closed fd, or not open for reading), InvalidArgument/
        EINVAL, VllsiError/ESPIPE (a pipe) or EISDIR; TypeError for a read-only
        buffer or a non-int offset, ValueError for a negative offset (before the call).
        Blocking; EINTR is retried (PEP 475).
    Availability: Linux (pread64), macOS (pread), Windows (ReadFile + OVERLAPPED).
    """
    if type(fd) is not int or fd < 0:
        fd = _fd(fd)
    if type(offset) is not int or not 0 <= offset <= _MAX_OFF:
        offset = _nonneg(offset, "offset")
    return _pread(fd, buf, offset)  # type: ignore[no-any-return]


def pwrite(fd: Any, data: Any, offset: int) -> int:
    """pwrite64(fd, data, offset): write a buffer at ``offset`` without moving the offset.

    Args: fd; data: any readable buffer; offset >= 0.
    Returns: bytes written (may be short; see :func:`pwrite_all`).
    Raises: BadDescriptor/EBADF (closed or read-only fd), ResourceExhausted/ENOSPC
        or EDQUOT, VllsiError/EFBIG or ESPIPE; TypeError for a non-buffer,
        ValueError for a negative offset. Blocking; EINTR retried (PEP 475).
    Availability: Linux (pwrite64), macOS (pwrite), Windows (WriteFile + OVERLAPPED).
    Note: on Linux a descriptor opened with APPEND writes at the end regardless of
    ``offset`` (a documented kernel quirk).
    """
    if type(fd) is not int or fd < 0:
        fd = _fd(fd)
    if type(offset) is not int or not 0 <= offset <= _MAX_OFF:
        offset = _nonneg(offset, "offset")
    return _pwrite(fd, data, offset)  # type: ignore[no-any-return]


def pread_exact(fd: Any, buf: Any, offset: int) -> None:
    """pread64 in a loop: fill ``buf`` completely from ``offset``.

    Raises: EOFError if the file ends first (the bytes read so far are in
    ``buf``); otherwise as :func:`pread`. Availability: all.
    """
    f = _fd(fd)
    off = _nonneg(offset, "offset")
    view = memoryview(buf)
    if view.readonly:
        raise TypeError("pread_exact needs a writable buffer")
    view = view.cast("B")
    done, n = 0, view.nbytes
    while done < n:
        got = _pread(f, view[done:], off + done)
        if got == 0:
            raise EOFError(f"end of file after {done} of {n} bytes at offset {off}")
        done += got


def pwrite_all(fd: Any, data: Any, offset: int) -> None:
    """pwrite64 in a loop until every byte of ``data`` is written at ``offset``.

    Raises: as :func:`pwrite`; OSError/EIO if the OS reports 0 bytes written.
    Availability: all.
    """
    f = _fd(fd)
    off = _nonneg(offset, "offset")
    view = memoryview(data).cast("B")
    done, n = 0, view.nbytes
    while done < n:
        got = _pwrite(f, view[done:], off + done)
        if got == 0:
            raise errors.from_errno(_errno.EIO, syscall="pwrite64",
                                    message="pwrite wrote 0 bytes")
        done += got


def _flags(flags: Any) -> int:
    f = _nonneg(flags, "flags")
    if f > 0xFFFFFFFF:
        raise ValueError("flags must fit 32 bits")
    return f


def preadv(fd: Any, buffers: Iterable[Any], offset: int, flags: int = 0) -> int:
    """preadv2(fd, iov, offset, flags): scatter-read into several writable buffers.

    Args: fd; buffers: a sequence (not a single buffer) of <= 1024 writable
        buffers; offset >= 0; flags: RWF_* (Linux values, e.g. RWF_NOWAIT=8).
    Returns: total bytes read (fills buffers in order; short at EOF).
    Raises: as :func:`pread`; WouldBlock/EAGAIN with RWF_NOWAIT when the data is
        not cached; Unsupported/EOPNOTSUPP for flags the kernel lacks. Blocking;
        EINTR retried.
    Availability: Linux (preadv2), macOS (preadv; flags must be 0), Windows
        (one ReadFile per buffer).
    """
    if type(fd) is not int or fd < 0:
        fd = _fd(fd)
    if type(offset) is not int or not 0 <= offset <= _MAX_OFF:
        offset = _nonneg(offset, "offset")
    if type(buffers) is not list or len(buffers) > 1024:
        buffers = _buffers(buffers)
    if type(flags) is not int or not 0 <= flags <= 0xFFFFFFFF:
        flags = _flags(flags)
    return _preadv(fd, buffers, offset, flags)  # type: ignore[no-any-return]


def pwritev(fd: Any, buffers: Iterable[Any], offset: int, flags: int = 0) -> int:
    """pwritev2(fd, iov, offset, flags): gather-write several buffers at ``offset``.

    Args as :func:`preadv` (flags e.g. RWF_DSYNC=2 for a per-write data sync).
    Returns: total bytes written (may be short). Raises: as :func:`pwrite`.
    Availability: Linux (pwritev2), macOS (pwritev), Windows (WriteFile per buffer).
    """
    if type(fd) is not int or fd < 0:
        fd = _fd(fd)
    if type(offset) is not int or not 0 <= offset <= _MAX_OFF:
        offset = _nonneg(offset, "offset")
    if type(buffers) is not list or len(buffers) > 1024:
        buffers = _buffers(buffers)
    if type(flags) is not int or not 0 <= flags <= 0xFFFFFFFF:
        flags = _flags(flags)
    return _pwritev(fd, buffers, offset, flags)  # type: ignore[no-any-return]


def _buffers(buffers: Any) -> list[Any]:
    if isinstance(buffers, (bytes, bytearray, memoryview, str)):
        raise TypeError("buffers must be a sequence of buffers, not one buffer")
    try:
        items = list(buffers)
    except TypeError:
        raise TypeError(f"buffers must be iterable, not {type(buffers).__name__}") from None
    if len(items) > 1024:
        raise ValueError("at most 1024 buffers")
    return items


def file_size(fd: Any) -> int:
    """fstat(fd).st_size: the size of an open file in bytes.

    Raises: BadDescriptor/EBADF. Availability: Linux (newfstatat AT_EMPTY_PATH),
    macOS (fstat), Windows (GetFileSizeEx).
    """
    return _impl.file_size(_fd(fd))  # type: ignore[no-any-return]


def truncate(fd: Any, length: int) -> None:
    """ftruncate(fd, length): set the size of an open file (zero-filling growth).

    Does not move the file offset. Raises: BadDescriptor/EBADF, InvalidArgument/
    EINVAL (fd not open for writing, or not a regular file), ResourceExhausted/
    ENOSPC; ValueError for a negative length (before the call).
    Availability: Linux/macOS (ftruncate), Windows (SetFileInformationByHandle).
    """
    f = _fd(fd)
    _impl.truncate(f, _nonneg(length, "length"))


def access(path: Any, mode: int) -> bool:
    """faccessat2(AT_FDCWD, path, mode): may the real user access ``path`` so?

    Args: path (str/bytes/PathLike); mode: F_OK or an OR of R_OK, W_OK, X_OK.
    Returns: True if granted; False for ENOENT, EACCES, ENOTDIR, EROFS.
    Raises: other errors (ELOOP, ENAMETOOLONG, EIO...) as VllsiError; ValueError
        for a mode outside 0..7. Availability: Linux (faccessat2, faccessat before
        5.8), macOS (access), Windows (GetFileAttributesW).
    """
    m = _nonneg(mode, "mode")
    if m > 7:
        raise ValueError("mode must be F_OK or an OR of R_OK, W_OK, X_OK")
    b = _path(path)
    try:
        return bool(_impl.access(b, m))
    except errors.VllsiError as exc:
        _named(exc, path, b)
        raise


def random_bytes(buf: Any) -> None:
    """getrandom(buf): fill a writable buffer with cryptographically secure bytes.

    Loops until the buffer is full (an empty buffer makes no call); blocks only
    until the kernel pool is first seeded. Raises: TypeError for a read-only
    buffer. EINTR retried. Availability: Linux (getrandom), macOS (getentropy in
    256-byte chunks), Windows (BCryptGenRandom).
    """
    view = memoryview(buf)
    if view.readonly:
        raise TypeError("random_bytes needs a writable buffer")
    if view.nbytes:
        _impl.random_bytes(view)


def open(
    path: Any, flags: OpenFlags | int = OpenFlags.READ, mode: int = 0o666, *,
    dir_fd: Any = None,
) -> int:
    """openat(dir_fd, path, flags, mode): open a file with explicit portable flags.

    Args:
        path: str/bytes/PathLike (relative to ``dir_fd`` when given).
        flags: :class:`OpenFlags`; close-on-exec unless INHERITABLE.
        mode: permission bits for a created file (the umask applies).
        dir_fd: a directory descriptor, or None for the current directory.
    Returns: the new descriptor (close it with :func:`close`).
    Raises: NotFound/ENOENT, AlreadyExists/EEXIST (CREATE|EXCLUSIVE),
        PermissionDenied/EACCES, VllsiError/ELOOP (NOFOLLOW on a symlink), ENOTDIR,
        EISDIR; ValueError for unknown flag bits or two access modes.
    Availability: Linux (openat), macOS (openat), Windows (CreateFileW).
    """
    f = _nonneg(flags, "flags")
    if f & ~_ALL_FLAGS:
        raise ValueError(f"unknown OpenFlags bits {f & ~_ALL_FLAGS:#x}")
    if f & OpenFlags.WRITE and f & OpenFlags.READ_WRITE:
        raise ValueError("WRITE and READ_WRITE are exclusive")
    b = _path(path)
    try:
        return _impl.open(b, OpenFlags(f), _mode(mode), _dir_fd(dir_fd))  # type: ignore[no-any-return]
    except errors.VllsiError as exc:
        _named(exc, path, b)
        raise


def create(path: Any, mode: int = 0o666, *, exclusive: bool = False, dir_fd: Any = None) -> int:
    """openat(dir_fd, path, O_WRONLY|O_CREAT|O_TRUNC [|O_EXCL], mode): create or
    truncate a file for writing.

    Returns: the descriptor. Raises: as :func:`open` (AlreadyExists/EEXIST when
    ``exclusive`` and it exists). Availability: all.
    """
    f = OpenFlags.WRITE | OpenFlags.CREATE | OpenFlags.TRUNCATE
    if exclusive:
        f |= OpenFlags.EXCLUSIVE
    return open(path, f, mode, dir_fd=dir_fd)


def close(fd: Any) -> None:
    """close(fd): release a descriptor (EINTR is not retried: the fd is gone anyway).

    Raises: BadDescriptor/EBADF (already closed), VllsiError/EIO (a deferred write
    error). Availability: all.
    """
    _impl.close(_fd(fd))


def read_all(path: Any, *, dir_fd: Any = None) -> bytes:
    """openat + pread64 loop + close: the whole content of a file.

    Reads until end of file (a file growing meanwhile is read to its new end).
    Raises: as :func:`open` and :func:`pread`. Availability: all.
    """
    fd = open(path, OpenFlags.READ, dir_fd=dir_fd)
    try:
        size = _impl.file_size(fd)
        out = bytearray(max(size, 0) + 1)
        done = 0
        while True:
            if done == len(out):
                out.extend(bytes(max(len(out), 4096)))
            got = _pread(fd, memoryview(out)[done:], done)
            if got == 0:
                break
            done += got
        del out[done:]
        return bytes(out)
    finally:
        _impl.close(fd)


def write_all(path: Any, data: Any, *, mode: int = 0o666, append: bool = False,
              dir_fd: Any = None) -> None:
    """openat(O_WRONLY|O_CREAT|O_TRUNC or O_APPEND) + write loop + close.

    Not atomic and not durable (a crash can leave a torn file): use
    :func:`vllsi.durability.atomic_write` for that.
    Raises: as :func:`open` and :func:`pwrite`. Availability: all.
    """
    view = memoryview(data).cast("B")
    f = OpenFlags.WRITE | OpenFlags.CREATE
    f |= OpenFlags.APPEND if append else OpenFlags.TRUNCATE
    fd = open(path, f, mode, dir_fd=dir_fd)
    try:
        done = 0
        while done < view.nbytes:
            done += _impl.write(fd, view[done:])
    finally:
        _impl.close(fd)


def remove(path: Any, *, directory: bool = False, dir_fd: Any = None) -> None:
    """unlinkat(dir_fd, path, directory and AT_REMOVEDIR): remove a file or an empty
    directory.

    Raises: NotFound/ENOENT, PermissionDenied/EACCES or EPERM, VllsiError/EISDIR
    (a directory without ``directory=True``), ENOTDIR, ENOTEMPTY.
    Availability: Linux (unlinkat), macOS (unlinkat), Windows (DeleteFileW/RemoveDirectoryW).
    """
    b = _path(path)
    try:
        _impl.remove(b, bool(directory), _dir_fd(dir_fd))
    except errors.VllsiError as exc:
        _named(exc, path, b)
        raise


def mkdir(path: Any, mode: int = 0o777, *, dir_fd: Any = None) -> None:
    """mkdirat(dir_fd, path, mode): create a directory (the umask applies).

    Raises: AlreadyExists/EEXIST, NotFound/ENOENT (missing parent),
    PermissionDenied/EACCES, ResourceExhausted/ENOSPC; ValueError for a bad mode.
    Availability: Linux/macOS (mkdirat), Windows (CreateDirectoryW).
    """
    b = _path(path)
    try:
        _impl.mkdir(b, _mode(mode), _dir_fd(dir_fd))
    except errors.VllsiError as exc:
        _named(exc, path, b)
        raise


def rename(src: Any, dst: Any, *, replace: bool = True, src_dir_fd: Any = None,
           dst_dir_fd: Any = None) -> None:
    """renameat2(src_dir_fd, src, dst_dir_fd, dst, replace or RENAME_NOREPLACE):
    atomically rename, replacing ``dst`` unless ``replace=False``.

    Raises: NotFound/ENOENT, AlreadyExists/EEXIST (``replace=False`` and dst
    exists), PermissionDenied/EACCES, VllsiError/EXDEV (across file systems),
    InvalidArgument/EINVAL (NOREPLACE unsupported by the file system).
    Availability: Linux (renameat2), macOS (renameatx_np), Windows (MoveFileExW).
    """
    s, d = _path(src, "src"), _path(dst, "dst")
    try:
        _impl.rename(s, d, bool(replace), _dir_fd(src_dir_fd), _dir_fd(dst_dir_fd))
    except errors.VllsiError as exc:
        _named(exc, src, s)
        _named(exc, dst, d, "filename2")
        raise
