"""Typed wrappers for the file syscalls, named after them.

One call each, the result decoded by :func:`vllsi.linux._syscall.check`. Calls
that can block (read, write, and pread64/pwrite64 on pipes or slow devices)
release the GIL and follow PEP 475: on EINTR, Python signal handlers run and the
call is retried.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from vllsi._platform import ARCH as _ARCH
from vllsi.linux import _syscall as _s
from vllsi.linux._ffi import addr, buffer, ffi

__all__ = [
    "AT_EMPTY_PATH",
    "AT_FDCWD",
    "AT_REMOVEDIR",
    "AT_SYMLINK_NOFOLLOW",
    "O_APPEND",
    "O_CLOEXEC",
    "O_CREAT",
    "O_DIRECT",
    "O_DIRECTORY",
    "O_EXCL",
    "O_NOFOLLOW",
    "O_NONBLOCK",
    "O_RDONLY",
    "O_RDWR",
    "O_TRUNC",
    "O_WRONLY",
    "STATX_BASIC_STATS",
    "Stat",
    "close",
    "fstat",
    "newfstatat",
    "openat",
    "pread64",
    "pwrite64",
    "read",
    "statx",
    "write",
]


# include/uapi/asm-generic/fcntl.h; arm64 moves O_DIRECTORY/O_NOFOLLOW/O_DIRECT
# (arch/arm64/include/uapi/asm/fcntl.h).
AT_FDCWD: Final = -100
AT_SYMLINK_NOFOLLOW: Final = 0x100
AT_REMOVEDIR: Final = 0x200
AT_EMPTY_PATH: Final = 0x1000
O_RDONLY: Final = 0o0
O_WRONLY: Final = 0o1
O_RDWR: Final = 0o2
O_CREAT: Final = 0o100
O_EXCL: Final = 0o200
O_TRUNC: Final = 0o1000
O_APPEND: Final = 0o2000
O_NONBLOCK: Final = 0o4000
O_CLOEXEC: Final = 0o2000000
O_DIRECTORY: Final = 0o40000 if _ARCH == "aarch64" else 0o200000
O_NOFOLLOW: Final = 0o100000 if _ARCH == "aarch64" else 0o400000
O_DIRECT: Final = 0o200000 if _ARCH == "aarch64" else 0o40000
STATX_BASIC_STATS: Final = 0x7FF

_NR_OPENAT: Final = _s.NR["openat"]
_NR_CLOSE: Final = _s.NR["close"]
_NR_READ: Final = _s.NR["read"]
_NR_WRITE: Final = _s.NR["write"]
_NR_PREAD64: Final = _s.NR["pread64"]
_NR_PWRITE64: Final = _s.NR["pwrite64"]
_NR_NEWFSTATAT: Final = _s.NR["newfstatat"]
_NR_STATX: Final = _s.NR["statx"]


class Stat(NamedTuple):
    """The fields of ``struct stat`` / ``struct statx`` that both calls report."""

    st_mode: int
    st_ino: int
    st_dev: int
    st_nlink: int
    st_uid: int
    st_gid: int
    st_size: int
    st_blksize: int
    st_blocks: int
    st_rdev: int
    st_atime_ns: int
    st_mtime_ns: int
    st_ctime_ns: int


def _int(v: Any, name: str) -> int:
    if type(v) is int:
        return v
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be int, not {type(v).__name__}")
    return int(v)


def openat(dirfd: Any, path: Any, flags: int, mode: int = 0o666) -> int:
    """openat(dirfd, path, flags, mode): open a file relative to a directory fd.

    Args:
        dirfd: a directory descriptor or AT_FDCWD.
        path: str, bytes or os.PathLike.
        flags: O_* flags (O_CLOEXEC is *not* added for you: this layer is literal).
        mode: permission bits for O_CREAT/O_TMPFILE.
    Returns:
        The new descriptor.
    Raises:
        NotFound/ENOENT, PermissionDenied/EACCES, AlreadyExists/EEXIST,
        ResourceExhausted/EMFILE, BadDescriptor/EBADF, VllsiError otherwise
        (``.filename`` is the path); TypeError/ValueError for bad arguments.
    Availability: Linux.
    """
    d = _s.fd_arg(dirfd, name="dirfd", allow=(AT_FDCWD,))
    p = _s.path_arg(path)
    f = _int(flags, "flags")
    m = _int(mode, "mode")
    if not 0 <= m <= 0o7777:
        raise ValueError(f"mode {m:#o} outside 0..0o7777")
    c = ffi.new("char[]", p)
    r = _s.retry(lambda: _s.syscall_blocking(_NR_OPENAT, d, addr(c), f & 0xFFFFFFFF, m))
    return _s.check(r, "openat", path)


def close(fd: Any) -> None:
    """close(fd): release a descriptor.

    EINTR is not retried (on Linux the fd is released even then, and a retry could
    close a descriptor another thread just received); it is ignored, as CPython does.
    Raises: BadDescriptor/EBADF; VllsiError/EIO. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    r = _s.syscall(_NR_CLOSE, f)
    if r != -_s.EINTR:
        _s.check(r, "close")


def read(fd: Any, buf: Any) -> int:
    """read(fd, buf): read into a writable buffer at the file position.

    Returns the byte count (0 at end of file; short counts are returned as is).
    Raises: BadDescriptor/EBADF, WouldBlock/EAGAIN on a non-blocking fd,
    VllsiError/EIO; TypeError for a read-only buffer. Blocking, EINTR-retried.
    Availability: Linux.
    """
    f = _s.fd_arg(fd)
    c = buffer(buf, writable=True)
    a, n = addr(c), len(c)
    return _s.check(_s.retry(lambda: _s.syscall_blocking(_NR_READ, f, a, n)), "read")


def write(fd: Any, data: Any) -> int:
    """write(fd, data): write a buffer at the file position; returns the byte count.

    Raises: BadDescriptor/EBADF, WouldBlock/EAGAIN, ResourceExhausted/ENOSPC,
    VllsiError/EPIPE or EIO. Blocking, EINTR-retried. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    c = buffer(data, writable=False)
    a, n = addr(c), len(c)
    return _s.check(_s.retry(lambda: _s.syscall_blocking(_NR_WRITE, f, a, n)), "write")


def _offset(offset: Any) -> int:
    o = _int(offset, "offset")
    if o < 0:
        raise ValueError("offset must be >= 0")
    return o


if _s.TIER == "asm":
    from vllsi.linux import _fast

    def _pread(f: int, buf: Any, o: int) -> int:
        return int(_fast.pread64(f, buf, o))

    def _pwrite(f: int, data: Any, o: int) -> int:
        return int(_fast.pwrite64(f, data, o))
else:

    def _pread(f: int, buf: Any, o: int) -> int:
        c = buffer(buf, writable=True)
        return _s.syscall_blocking(_NR_PREAD64, f, addr(c), len(c), o)

    def _pwrite(f: int, data: Any, o: int) -> int:
        c = buffer(data, writable=False)
        return _s.syscall_blocking(_NR_PWRITE64, f, addr(c), len(c), o)


def pread64(fd: Any, buf: Any, offset: int) -> int:
    """pread64(fd, buf, offset): read into a writable buffer at ``offset``.

    The file position does not move. Returns the byte count (short at EOF).
    Raises: BadDescriptor/EBADF, InvalidArgument/EINVAL, VllsiError/ESPIPE on a
    pipe; TypeError for a read-only buffer, ValueError for a negative offset.
    Blocking, EINTR-retried. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    o = _offset(offset)
    return _s.check(_s.retry(lambda: _pread(f, buf, o)), "pread64")


def pwrite64(fd: Any, data: Any, offset: int) -> int:
    """pwrite64(fd, data, offset): write a buffer at ``offset`` without moving the position.

    Returns the byte count (may be short). Raises: BadDescriptor/EBADF,
    ResourceExhausted/ENOSPC, VllsiError/ESPIPE; ValueError for a negative offset.
    Blocking, EINTR-retried. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    o = _offset(offset)
    return _s.check(_s.retry(lambda: _pwrite(f, data, o)), "pwrite64")


def _from_stat(st: Any) -> Stat:
    return Stat(
        st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, st.st_size,
        st.st_blksize, st.st_blocks, st.st_rdev,
        st.st_atime * 10**9 + st.st_atime_nsec,
        st.st_mtime * 10**9 + st.st_mtime_nsec,
        st.st_ctime * 10**9 + st.st_ctime_nsec,
    )


def newfstatat(dirfd: Any, path: Any, flags: int = 0) -> Stat:
    """newfstatat(dirfd, path, flags): stat a path relative to a directory fd.

    ``flags``: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH (stat ``dirfd`` itself with "").
    Raises: NotFound/ENOENT, PermissionDenied/EACCES, BadDescriptor/EBADF.
    Availability: Linux (``fstatat`` on aarch64's generic table, same number name).
    """
    d = _s.fd_arg(dirfd, name="dirfd", allow=(AT_FDCWD,))
    p = _s.path_arg(path)
    f = _int(flags, "flags")
    c = ffi.new("char[]", p)
    st = ffi.new("struct stat *")
    _s.check(_s.syscall(_NR_NEWFSTATAT, d, addr(c), addr(st), f), "newfstatat", path)
    return _from_stat(st)


def fstat(fd: Any) -> Stat:
    """newfstatat(fd, "", AT_EMPTY_PATH): stat an open descriptor.

    Raises: BadDescriptor/EBADF. Availability: Linux.
    """
    return newfstatat(_s.fd_arg(fd), b"", AT_EMPTY_PATH)


def statx(dirfd: Any, path: Any, flags: int = 0, mask: int = STATX_BASIC_STATS) -> Stat:
    """statx(dirfd, path, flags, mask): extended stat, same layout on every arch.

    Raises: NotFound/ENOENT, PermissionDenied/EACCES, BadDescriptor/EBADF,
    Unsupported/ENOSYS before Linux 4.11. Availability: Linux.
    """
    d = _s.fd_arg(dirfd, name="dirfd", allow=(AT_FDCWD,))
    p = _s.path_arg(path)
    f = _int(flags, "flags")
    m = _int(mask, "mask")
    c = ffi.new("char[]", p)
    sx = ffi.new("struct statx *")
    _s.check(_s.syscall(_NR_STATX, d, addr(c), f, m & 0xFFFFFFFF, addr(sx)), "statx", path)

    def ns(ts: Any) -> int:
        return int(ts.tv_sec) * 10**9 + int(ts.tv_nsec)

    dev = _makedev(sx.stx_dev_major, sx.stx_dev_minor)
    rdev = _makedev(sx.stx_rdev_major, sx.stx_rdev_minor)
    return Stat(
        sx.stx_mode, sx.stx_ino, dev, sx.stx_nlink, sx.stx_uid, sx.stx_gid, sx.stx_size,
        sx.stx_blksize, sx.stx_blocks, rdev, ns(sx.stx_atime), ns(sx.stx_mtime),
        ns(sx.stx_ctime),
    )


def _makedev(major: int, minor: int) -> int:
    # glibc's gnu_dev_makedev (the encoding os.stat reports)
    return (
        ((major & 0x00000FFF) << 8) | ((major & 0xFFFFF000) << 32)
        | (minor & 0x000000FF) | ((minor & 0xFFFFFF00) << 12)
    )
