"""Typed wrappers for the file syscalls, named after them.

One call each, the result decoded by :func:`vllsi.linux._syscall.check`. Calls
that can block (read, write, and pread64/pwrite64 on pipes or slow devices)
release the GIL and follow PEP 475: on EINTR, Python signal handlers run and the
call is retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple

import cffi

from vllsi._args import int_arg as _int
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
    BrokenPipe/EPIPE or EIO. Blocking, EINTR-retried. Availability: Linux.
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


_FAST: Final = _s.TIER == "asm"
_pread: Callable[[int, Any, int], int]
_pwrite: Callable[[int, Any, int], int]
if _FAST:
    from vllsi.linux import _fast

    _pread = _fast.pread64  # validates fd range, offset sign and writability in C
    _pwrite = _fast.pwrite64
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
    if _FAST and type(fd) is int and type(offset) is int:
        # Fast path: the C call validates fd range, offset sign and writability itself.
        r = _pread(fd, buf, offset)
        if r >= 0:
            return r
        if r != -_s.EINTR:
            return _s.check(r, "pread64")
    f = _s.fd_arg(fd)
    o = _offset(offset)
    return _s.check(_s.retry(lambda: _pread(f, buf, o)), "pread64")


def pwrite64(fd: Any, data: Any, offset: int) -> int:
    """pwrite64(fd, data, offset): write a buffer at ``offset`` without moving the position.

    Returns the byte count (may be short). Raises: BadDescriptor/EBADF,
    ResourceExhausted/ENOSPC, VllsiError/ESPIPE; ValueError for a negative offset.
    Blocking, EINTR-retried. Availability: Linux.
    """
    if _FAST and type(fd) is int and type(offset) is int:
        r = _pwrite(fd, data, offset)  # validates like pread64's fast path
        if r >= 0:
            return r
        if r != -_s.EINTR:
            return _s.check(r, "pwrite64")
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


# --- vectored I/O, sizes, sync, renames, directories, locks, randomness ---------
# Values: include/uapi/linux/fs.h (RWF_*, RENAME_*), asm-generic/fcntl.h (F_*,
# F_OFD_*, LOCK_*, struct flock; identical on x86_64 and aarch64), linux/falloc.h,
# linux/random.h (GRND_*), linux/openat2.h (RESOLVE_*), linux/fcntl.h (AT_EACCESS).

__all__ += [
    "AT_EACCESS",
    "FALLOC_FL_KEEP_SIZE",
    "FALLOC_FL_PUNCH_HOLE",
    "FD_CLOEXEC",
    "F_DUPFD_CLOEXEC",
    "F_GETFD",
    "F_GETFL",
    "F_GETLK",
    "F_OFD_GETLK",
    "F_OFD_SETLK",
    "F_OFD_SETLKW",
    "F_RDLCK",
    "F_SETFD",
    "F_SETFL",
    "F_SETLK",
    "F_SETLKW",
    "F_UNLCK",
    "F_WRLCK",
    "GRND_INSECURE",
    "GRND_NONBLOCK",
    "GRND_RANDOM",
    "LOCK_EX",
    "LOCK_NB",
    "LOCK_SH",
    "LOCK_UN",
    "O_TMPFILE",
    "RENAME_EXCHANGE",
    "RENAME_NOREPLACE",
    "RENAME_WHITEOUT",
    "RESOLVE_BENEATH",
    "RESOLVE_IN_ROOT",
    "RESOLVE_NO_MAGICLINKS",
    "RESOLVE_NO_SYMLINKS",
    "RESOLVE_NO_XDEV",
    "RWF_APPEND",
    "RWF_DSYNC",
    "RWF_HIPRI",
    "RWF_NOWAIT",
    "RWF_SYNC",
    "SEEK_SET",
    "SYNC_FILE_RANGE_WAIT_AFTER",
    "SYNC_FILE_RANGE_WAIT_BEFORE",
    "SYNC_FILE_RANGE_WRITE",
    "Dirent",
    "Flock",
    "faccessat",
    "faccessat2",
    "fallocate",
    "fcntl",
    "fcntl_lock",
    "fdatasync",
    "flock",
    "fsync",
    "ftruncate",
    "getdents64",
    "getrandom",
    "mkdirat",
    "openat2",
    "preadv2",
    "pwritev2",
    "renameat2",
    "sync_file_range",
    "unlinkat",
]

AT_EACCESS: Final = 0x200
O_TMPFILE: Final = 0o20000000 | O_DIRECTORY
RWF_HIPRI: Final = 0x1
RWF_DSYNC: Final = 0x2
RWF_SYNC: Final = 0x4
RWF_NOWAIT: Final = 0x8
RWF_APPEND: Final = 0x10
RENAME_NOREPLACE: Final = 0x1
RENAME_EXCHANGE: Final = 0x2
RENAME_WHITEOUT: Final = 0x4
F_GETFD: Final = 1
F_SETFD: Final = 2
F_GETFL: Final = 3
F_SETFL: Final = 4
F_GETLK: Final = 5
F_SETLK: Final = 6
F_SETLKW: Final = 7
F_DUPFD_CLOEXEC: Final = 1030
F_OFD_GETLK: Final = 36
F_OFD_SETLK: Final = 37
F_OFD_SETLKW: Final = 38
FD_CLOEXEC: Final = 1
F_RDLCK: Final = 0
F_WRLCK: Final = 1
F_UNLCK: Final = 2
SEEK_SET: Final = 0
LOCK_SH: Final = 1
LOCK_EX: Final = 2
LOCK_NB: Final = 4
LOCK_UN: Final = 8
FALLOC_FL_KEEP_SIZE: Final = 0x1
FALLOC_FL_PUNCH_HOLE: Final = 0x2
SYNC_FILE_RANGE_WAIT_BEFORE: Final = 1
SYNC_FILE_RANGE_WRITE: Final = 2
SYNC_FILE_RANGE_WAIT_AFTER: Final = 4
GRND_NONBLOCK: Final = 0x1
GRND_RANDOM: Final = 0x2
GRND_INSECURE: Final = 0x4
RESOLVE_NO_XDEV: Final = 0x01
RESOLVE_NO_MAGICLINKS: Final = 0x02
RESOLVE_NO_SYMLINKS: Final = 0x04
RESOLVE_BENEATH: Final = 0x08
RESOLVE_IN_ROOT: Final = 0x10

_xffi = cffi.FFI()
_xffi.include(ffi)
_xffi.cdef("""
struct flock { int16_t l_type; int16_t l_whence; int64_t l_start; int64_t l_len;
               int32_t l_pid; };
struct open_how { uint64_t flags; uint64_t mode; uint64_t resolve; };
""")

_NR = _s.NR
_NR_PREADV2: Final = _NR["preadv2"]
_NR_PWRITEV2: Final = _NR["pwritev2"]
_NR_FCNTL: Final = _NR["fcntl"]


class Flock(NamedTuple):
    """``struct flock`` (asm-generic/fcntl.h): type F_RDLCK/F_WRLCK/F_UNLCK, whence,
    start, len (0 = to the end of the file, growing with it), pid (-1 for OFD locks)."""

    l_type: int
    l_whence: int
    l_start: int
    l_len: int
    l_pid: int


class Dirent(NamedTuple):
    """One ``struct linux_dirent64`` record: inode, next offset, DT_* type, name (bytes)."""

    d_ino: int
    d_off: int
    d_type: int
    d_name: bytes


def _iovecs(buffers: Any, writable: bool) -> tuple[Any, list[Any], int]:
    if isinstance(buffers, (bytes, bytearray, memoryview, str)):
        raise TypeError("buffers must be a sequence of buffers, not a single buffer")
    try:
        items = list(buffers)
    except TypeError:
        raise TypeError(f"buffers must be a sequence, not {type(buffers).__name__}") from None
    if len(items) > 1024:  # UIO_MAXIOV
        raise ValueError("at most 1024 buffers (IOV_MAX)")
    pins = [buffer(b, writable=writable) for b in items]
    iov = _xffi.new("struct iovec[]", max(len(pins), 1))
    for i, c in enumerate(pins):
        iov[i].iov_base = _xffi.cast("void *", c)
        iov[i].iov_len = len(c)
    return iov, pins, len(pins)


def _pos(offset: Any) -> int:
    o = _int(offset, "offset")
    if o < -1:
        raise ValueError("offset must be >= 0, or -1 for the file position")
    return o


def _vec_cffi(nr: int, writable: bool) -> Any:
    def call(f: int, buffers: Any, o: int, fl: int) -> int:
        iov, pins, n = _iovecs(buffers, writable)
        if nr in (_NR_PREADV2, _NR_PWRITEV2):
            r = _s.syscall_blocking(nr, f, addr(iov), n, o & 0xFFFFFFFFFFFFFFFF, 0, fl)
        else:
            r = _s.syscall_blocking(nr, f, addr(iov), n, o & 0xFFFFFFFFFFFFFFFF, 0)
        del pins
        return r

    return call


# Raw (fd, buffers, offset, flags) -> kernel value; the v1 forms ignore flags (pass 0).
if _s.TIER == "asm":
    _vec_read: Any = _fast.preadv2
    _vec_write: Any = _fast.pwritev2
    _vec_read_v1: Any = _fast.preadv
    _vec_write_v1: Any = _fast.pwritev
else:
    _vec_read = _vec_cffi(_NR_PREADV2, True)
    _vec_write = _vec_cffi(_NR_PWRITEV2, False)
    _vec_read_v1 = _vec_cffi(_NR["preadv"], True)
    _vec_write_v1 = _vec_cffi(_NR["pwritev"], False)


def preadv2(fd: Any, buffers: Any, offset: int, flags: int = 0) -> int:
    """preadv2(fd, iov, iovcnt, offset, flags): scatter-read into writable buffers.

    Args:
        fd: descriptor. buffers: a sequence of writable buffers (<= 1024).
        offset: file offset, or -1 for the file position (which then moves).
        flags: RWF_HIPRI, RWF_NOWAIT, RWF_DSYNC, RWF_SYNC (read side: HIPRI/NOWAIT).
    Returns: bytes read in total (short at EOF).
    Raises: BadDescriptor/EBADF, WouldBlock/EAGAIN (RWF_NOWAIT, data not cached),
        Unsupported/EOPNOTSUPP for an unknown flag, VllsiError/ESPIPE on a pipe
        with an offset; TypeError for a read-only buffer, ValueError for offset < -1.
    Blocking, EINTR-retried (PEP 475). Availability: Linux 4.6+.
    """
    f = _s.fd_arg(fd)
    o = _pos(offset)
    fl = _int(flags, "flags") & 0xFFFFFFFF
    return _s.check(_s.retry(lambda: _vec_read(f, buffers, o, fl)), "preadv2")


def pwritev2(fd: Any, buffers: Any, offset: int, flags: int = 0) -> int:
    """pwritev2(fd, iov, iovcnt, offset, flags): gather-write readable buffers.

    Args as :func:`preadv2`; flags RWF_DSYNC/RWF_SYNC (per-write O_DSYNC/O_SYNC),
    RWF_APPEND, RWF_NOWAIT, RWF_HIPRI.
    Returns: bytes written (may be short).
    Raises: BadDescriptor/EBADF, ResourceExhausted/ENOSPC, WouldBlock/EAGAIN,
        Unsupported/EOPNOTSUPP; ValueError for offset < -1.
    Blocking, EINTR-retried (PEP 475). Availability: Linux 4.6+.
    """
    f = _s.fd_arg(fd)
    o = _pos(offset)
    fl = _int(flags, "flags") & 0xFFFFFFFF
    return _s.check(_s.retry(lambda: _vec_write(f, buffers, o, fl)), "pwritev2")


def _nonneg(v: Any, name: str) -> int:
    i = _int(v, name)
    if i < 0:
        raise ValueError(f"{name} must be >= 0")
    return i


def ftruncate(fd: Any, length: int) -> None:
    """ftruncate(fd, length): set the file's size (extending with zeros).

    Raises: BadDescriptor/EBADF, InvalidArgument/EINVAL (not a regular file or not
    open for writing), ResourceExhausted/EFBIG-free ENOSPC; ValueError for length < 0.
    EINTR-retried. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    n = _nonneg(length, "length")
    _s.check(_s.retry(lambda: _s.syscall_blocking(_NR["ftruncate"], f, n)), "ftruncate")


def fallocate(fd: Any, mode: int, offset: int, length: int) -> None:
    """fallocate(fd, mode, offset, len): reserve (mode 0), or with FALLOC_FL_* flags
    keep the size / punch a hole.

    Raises: BadDescriptor/EBADF, ResourceExhausted/ENOSPC, Unsupported/EOPNOTSUPP
    (file system without it), InvalidArgument/EINVAL (length 0); ValueError for
    negative offset or length. EINTR-retried. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    m = _int(mode, "mode") & 0xFFFFFFFF
    o = _nonneg(offset, "offset")
    n = _nonneg(length, "length")
    r = _s.retry(lambda: _s.syscall_blocking(_NR["fallocate"], f, m, o, n))
    _s.check(r, "fallocate")


def fsync(fd: Any) -> None:
    """fsync(fd): flush the file's data and metadata to the device.

    An error (EIO, ENOSPC) is reported once: the kernel may have dropped the dirty
    pages, so a retry proving "success" would be a lie; it is raised, not retried.
    EINTR is retried. Raises: BadDescriptor/EBADF, InvalidArgument/EINVAL (object
    that cannot be synced), VllsiError/EIO, ResourceExhausted/ENOSPC.
    Availability: Linux.
    """
    f = _s.fd_arg(fd)
    _s.check(_s.retry(lambda: _s.syscall_blocking(_NR["fsync"], f)), "fsync")


def fdatasync(fd: Any) -> None:
    """fdatasync(fd): flush the file's data and the metadata needed to read it back
    (size), not timestamps. Errors as :func:`fsync`. EINTR-retried. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    _s.check(_s.retry(lambda: _s.syscall_blocking(_NR["fdatasync"], f)), "fdatasync")


def sync_file_range(fd: Any, offset: int, nbytes: int, flags: int) -> None:
    """sync_file_range(fd, offset, nbytes, flags): start and/or wait for writeback of
    a range (SYNC_FILE_RANGE_*). Not a durability guarantee: no metadata, no cache flush.

    nbytes 0 = to the end of the file. Raises: BadDescriptor/EBADF,
    InvalidArgument/EINVAL, VllsiError/ESPIPE; ValueError for negatives.
    EINTR-retried. Availability: Linux (aarch64 number: sync_file_range, arg order
    as x86_64 on 64-bit).
    """
    f = _s.fd_arg(fd)
    o = _nonneg(offset, "offset")
    n = _nonneg(nbytes, "nbytes")
    fl = _int(flags, "flags") & 0xFFFFFFFF
    r = _s.retry(lambda: _s.syscall_blocking(_NR["sync_file_range"], f, o, n, fl))
    _s.check(r, "sync_file_range")


def renameat2(olddirfd: Any, oldpath: Any, newdirfd: Any, newpath: Any, flags: int = 0) -> None:
    """renameat2(olddirfd, oldpath, newdirfd, newpath, flags): rename atomically;
    RENAME_NOREPLACE fails with EEXIST instead of replacing, RENAME_EXCHANGE swaps.

    Raises: NotFound/ENOENT, AlreadyExists/EEXIST (NOREPLACE), PermissionDenied/EACCES,
    InvalidArgument/EINVAL (flag unsupported by the file system), VllsiError/EXDEV
    (different file systems). Availability: Linux 3.15+.
    """
    od = _s.fd_arg(olddirfd, name="olddirfd", allow=(AT_FDCWD,))
    nd = _s.fd_arg(newdirfd, name="newdirfd", allow=(AT_FDCWD,))
    op = ffi.new("char[]", _s.path_arg(oldpath, name="oldpath"))
    np_ = ffi.new("char[]", _s.path_arg(newpath, name="newpath"))
    fl = _int(flags, "flags") & 0xFFFFFFFF
    r = _s.retry(lambda: _s.syscall_blocking(_NR["renameat2"], od, addr(op), nd, addr(np_), fl))
    _s.check(r, "renameat2", oldpath, newpath)


def unlinkat(dirfd: Any, path: Any, flags: int = 0) -> None:
    """unlinkat(dirfd, path, flags): remove a name (AT_REMOVEDIR: an empty directory).

    Raises: NotFound/ENOENT, PermissionDenied/EACCES or EPERM, VllsiError/EISDIR
    (a directory without AT_REMOVEDIR), VllsiError/ENOTEMPTY. Availability: Linux.
    """
    d = _s.fd_arg(dirfd, name="dirfd", allow=(AT_FDCWD,))
    c = ffi.new("char[]", _s.path_arg(path))
    fl = _int(flags, "flags") & 0xFFFFFFFF
    r = _s.retry(lambda: _s.syscall_blocking(_NR["unlinkat"], d, addr(c), fl))
    _s.check(r, "unlinkat", path)


def mkdirat(dirfd: Any, path: Any, mode: int = 0o777) -> None:
    """mkdirat(dirfd, path, mode): create a directory (mode filtered by the umask).

    Raises: AlreadyExists/EEXIST, NotFound/ENOENT, PermissionDenied/EACCES,
    ResourceExhausted/ENOSPC; ValueError for a mode outside 0..0o7777.
    Availability: Linux.
    """
    d = _s.fd_arg(dirfd, name="dirfd", allow=(AT_FDCWD,))
    c = ffi.new("char[]", _s.path_arg(path))
    m = _int(mode, "mode")
    if not 0 <= m <= 0o7777:
        raise ValueError(f"mode {m:#o} outside 0..0o7777")
    r = _s.retry(lambda: _s.syscall_blocking(_NR["mkdirat"], d, addr(c), m))
    _s.check(r, "mkdirat", path)


def getdents64(fd: Any, bufsize: int = 32768) -> list[Dirent]:
    """getdents64(fd, dirp, count): one batch of entries of an open directory.

    Call repeatedly until it returns an empty list (end of directory); "." and
    ".." are included, as the kernel reports them.
    Raises: BadDescriptor/EBADF, VllsiError/ENOTDIR, InvalidArgument/EINVAL (buffer
    too small for one entry); ValueError for bufsize outside 32..2**24.
    Availability: Linux.
    """
    f = _s.fd_arg(fd)
    n = _int(bufsize, "bufsize")
    if not 32 <= n <= 1 << 24:
        raise ValueError("bufsize must be in 32..2**24")
    buf = ffi.new("char[]", n)
    got = _s.check(_s.retry(lambda: _s.syscall_blocking(_NR["getdents64"], f, addr(buf), n)),
                   "getdents64")
    raw = ffi.buffer(buf, got)[:]
    out: list[Dirent] = []
    pos = 0
    while pos < got:
        ino = int.from_bytes(raw[pos:pos + 8], "little")
        off = int.from_bytes(raw[pos + 8:pos + 16], "little", signed=True)
        reclen = int.from_bytes(raw[pos + 16:pos + 18], "little")
        dtype = raw[pos + 18]
        name = raw[pos + 19:pos + reclen].split(b"\0", 1)[0]
        out.append(Dirent(ino, off, dtype, name))
        pos += reclen
    return out


def faccessat2(dirfd: Any, path: Any, mode: int, flags: int = 0) -> None:
    """faccessat2(dirfd, path, mode, flags): check access (F_OK, or R/W/X bits);
    flags AT_EACCESS (effective ids), AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH.

    Returns None when granted. Raises: PermissionDenied/EACCES, NotFound/ENOENT,
    VllsiError/ENOTDIR or EROFS, Unsupported/ENOSYS before Linux 5.8;
    ValueError for mode outside 0..7. Availability: Linux 5.8+.
    """
    _access_call("faccessat2", dirfd, path, mode, flags)


def faccessat(dirfd: Any, path: Any, mode: int) -> None:
    """faccessat(dirfd, path, mode): check access with the real ids (no flags).

    As :func:`faccessat2` without flags; available on every Linux. Availability: Linux.
    """
    _access_call("faccessat", dirfd, path, mode, None)


def _access_call(name: str, dirfd: Any, path: Any, mode: int, flags: int | None) -> None:
    d = _s.fd_arg(dirfd, name="dirfd", allow=(AT_FDCWD,))
    c = ffi.new("char[]", _s.path_arg(path))
    m = _int(mode, "mode")
    if not 0 <= m <= 7:
        raise ValueError("mode must be F_OK or a combination of R_OK, W_OK, X_OK")
    args = (d, addr(c), m) if flags is None else (d, addr(c), m, _int(flags, "flags"))
    _s.check(_s.syscall(_NR[name], *args), name, path)


def fcntl(fd: Any, cmd: int, arg: int = 0) -> int:
    """fcntl(fd, cmd, arg): the integer-argument commands (F_GETFD, F_SETFD, F_GETFL,
    F_SETFL, F_DUPFD_CLOEXEC, ...). Lock commands take a struct: :func:`fcntl_lock`.

    Returns the command's result. Raises: BadDescriptor/EBADF,
    InvalidArgument/EINVAL (unknown command); ValueError for a struct-lock command.
    Availability: Linux.
    """
    f = _s.fd_arg(fd)
    c = _int(cmd, "cmd")
    if c in (F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW):
        raise ValueError("lock commands take a struct flock: use fcntl_lock")
    a = _int(arg, "arg")
    return _s.check(_s.retry(lambda: _s.syscall_blocking(_NR_FCNTL, f, c, a)), "fcntl")


def fcntl_lock(fd: Any, cmd: int, lock: Flock) -> Flock:
    """fcntl(fd, cmd, &struct flock): F_SETLK/F_SETLKW/F_GETLK (process-owned locks) or
    F_OFD_SETLK/F_OFD_SETLKW/F_OFD_GETLK (open-file-description locks, l_pid 0).

    Returns the struct after the call (GETLK: the conflicting lock, or l_type
    F_UNLCK if none). EINTR is *returned* as Interrupted for the waiting commands
    (the caller owns the timeout); non-waiting commands are retried.
    Raises: WouldBlock/EAGAIN or PermissionDenied/EACCES on conflict (SETLK),
    BadDescriptor/EBADF (also: a write lock on a read-only fd), InvalidArgument/EINVAL,
    VllsiError/EDEADLK (SETLKW), Unsupported/ENOLCK-free ENOSYS; Interrupted/EINTR.
    Availability: Linux (OFD commands 3.15+).
    """
    f = _s.fd_arg(fd)
    c = _int(cmd, "cmd")
    if c not in (F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW):
        raise ValueError(f"cmd {c} is not a struct flock command")
    if not isinstance(lock, tuple) or len(lock) != 5:
        raise TypeError("lock must be a Flock")
    fl = _xffi.new("struct flock *")
    fl.l_type, fl.l_whence = _int(lock[0], "l_type"), _int(lock[1], "l_whence")
    fl.l_start, fl.l_len, fl.l_pid = (_int(lock[2], "l_start"), _int(lock[3], "l_len"),
                                      _int(lock[4], "l_pid"))
    a = addr(fl)
    if c in (F_SETLKW, F_OFD_SETLKW):
        r = _s.syscall_blocking(_NR_FCNTL, f, c, a)
    else:
        r = _s.retry(lambda: _s.syscall(_NR_FCNTL, f, c, a))
    _s.check(r, "fcntl")
    return Flock(fl.l_type, fl.l_whence, fl.l_start, fl.l_len, fl.l_pid)


def flock(fd: Any, operation: int) -> None:
    """flock(fd, operation): whole-file BSD lock, LOCK_SH/LOCK_EX (| LOCK_NB) or LOCK_UN.

    Owned by the open file description; independent of fcntl locks on Linux.
    Raises: WouldBlock/EAGAIN (LOCK_NB conflict), BadDescriptor/EBADF,
    InvalidArgument/EINVAL. Blocking without LOCK_NB, EINTR-retried.
    Availability: Linux.
    """
    f = _s.fd_arg(fd)
    op = _int(operation, "operation")
    _s.check(_s.retry(lambda: _s.syscall_blocking(_NR["flock"], f, op)), "flock")


def openat2(dirfd: Any, path: Any, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """openat2(dirfd, path, &open_how, sizeof): open with RESOLVE_* path restrictions.

    Unlike openat, unknown flag bits and a mode without O_CREAT/O_TMPFILE are EINVAL.
    Returns the new descriptor. Raises: as :func:`openat`, plus VllsiError/EXDEV or
    ELOOP for a resolution the restrictions refuse, Unsupported/ENOSYS before 5.6.
    Availability: Linux 5.6+.
    """
    d = _s.fd_arg(dirfd, name="dirfd", allow=(AT_FDCWD,))
    c = ffi.new("char[]", _s.path_arg(path))
    how = _xffi.new("struct open_how *")
    how.flags = _int(flags, "flags") & 0xFFFFFFFF
    m = _int(mode, "mode")
    if not 0 <= m <= 0o7777:
        raise ValueError(f"mode {m:#o} outside 0..0o7777")
    how.mode = m
    how.resolve = _int(resolve, "resolve") & 0xFFFFFFFFFFFFFFFF
    size = _xffi.sizeof("struct open_how")
    r = _s.retry(lambda: _s.syscall_blocking(_NR["openat2"], d, addr(c), addr(how), size))
    return _s.check(r, "openat2", path)


def getrandom(buf: Any, flags: int = 0) -> int:
    """getrandom(buf, buflen, flags): fill a writable buffer from the kernel CSPRNG.

    Returns the count (up to 33554431 per call; may be short if interrupted).
    flags: GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE. Raises: WouldBlock/EAGAIN
    (GRND_NONBLOCK before the pool is seeded), InvalidArgument/EINVAL; TypeError
    for a read-only buffer. Blocking until seeded, EINTR-retried. Availability: Linux 3.17+.
    """
    c = buffer(buf, writable=True)
    fl = _int(flags, "flags") & 0xFFFFFFFF
    a, n = addr(c), len(c)
    return _s.check(_s.retry(lambda: _s.syscall_blocking(_NR["getrandom"], a, n, fl)),
                    "getrandom")


__all__ += ["fchmod", "syncfs"]


def fchmod(fd: Any, mode: int) -> None:
    """fchmod(fd, mode): set the permission bits of an open file (no umask applies).

    Raises: BadDescriptor/EBADF, PermissionDenied/EPERM (not the owner),
    VllsiError/EROFS; ValueError for a mode outside 0..0o7777. Availability: Linux.
    """
    f = _s.fd_arg(fd)
    m = _int(mode, "mode")
    if not 0 <= m <= 0o7777:
        raise ValueError(f"mode {m:#o} outside 0..0o7777")
    _s.check(_s.retry(lambda: _s.syscall(_NR["fchmod"], f, m)), "fchmod")


def syncfs(fd: Any) -> None:
    """syncfs(fd): write back every dirty inode of the file system holding ``fd`` and
    flush it to stable storage (one journal commit for many files).

    Since Linux 5.8 it reports writeback errors that happened since ``fd`` was
    opened. Raises: BadDescriptor/EBADF, VllsiError/EIO, ResourceExhausted/ENOSPC
    or EDQUOT. EINTR-retried. Availability: Linux 2.6.39+.
    """
    f = _s.fd_arg(fd)
    _s.check(_s.retry(lambda: _s.syscall_blocking(_NR["syncfs"], f)), "syncfs")
