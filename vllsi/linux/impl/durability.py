"""Linux backend of :mod:`vllsi.durability` (raw fsync/fdatasync/syncfs/renameat2).

Paths arrive as ``bytes`` (validated by the portable module); data as
``memoryview`` of bytes. See :mod:`vllsi.durability` for the interface.
"""

from __future__ import annotations

import contextlib
import os.path
import stat as _stat

from vllsi import errors
from vllsi.linux import fs

# A batch at least this large makes its temp files durable with one syncfs() per
# file system (one journal commit) instead of one fsync() per file.
SYNCFS_BATCH = 16

_DIR_FLAGS = fs.O_RDONLY | fs.O_DIRECTORY | fs.O_CLOEXEC
_TMP_FLAGS = fs.O_WRONLY | fs.O_CREAT | fs.O_EXCL | fs.O_CLOEXEC | fs.O_NOFOLLOW


def full_fsync(fd: int) -> None:
    fs.fsync(fd)


def data_only_fsync(fd: int) -> None:
    fs.fdatasync(fd)


def sync_directory(path: bytes) -> None:
    d = fs.openat(fs.AT_FDCWD, path, _DIR_FLAGS)
    try:
        fs.fsync(d)
    finally:
        fs.close(d)


def _split(path: bytes) -> tuple[bytes, bytes]:
    head, tail = os.path.split(path)
    return head or b".", tail


def _temp_name(name: bytes) -> bytes:
    rnd = bytearray(8)
    fs.getrandom(rnd, 0)
    return b"." + name[:200] + b"." + rnd.hex().encode() + b".tmp"


def _target_mode(dirfd: int, name: bytes) -> int | None:
    try:
        st = fs.newfstatat(dirfd, name, fs.AT_SYMLINK_NOFOLLOW)
    except errors.NotFound:
        return None
    return _stat.S_IMODE(st.st_mode) if _stat.S_ISREG(st.st_mode) else None


def _write_all(fd: int, data: memoryview) -> None:
    done, n = 0, data.nbytes
    while done < n:
        done += fs.write(fd, data[done:])


def atomic_write_many(items: list[tuple[bytes, memoryview]], durable: bool,
                      mode: int | None) -> None:
    dirs: dict[bytes, int] = {}
    temps: list[tuple[int, bytes, bytes]] = []  # (dirfd, temp name, final name)
    try:
        for path, data in items:
            head, name = _split(path)
            dirfd = dirs.get(head)
            if dirfd is None:
                dirfd = dirs[head] = fs.openat(fs.AT_FDCWD, head, _DIR_FLAGS)
            keep = _target_mode(dirfd, name) if mode is None else mode
            tmp = _temp_name(name)
            fd = fs.openat(dirfd, tmp, _TMP_FLAGS, 0o666)
            temps.append((dirfd, tmp, name))
            try:
                _write_all(fd, data)
                if keep is not None:
                    fs.fchmod(fd, keep)
                if durable and len(items) < SYNCFS_BATCH:
                    fs.fsync(fd)
            finally:
                fs.close(fd)
        if durable and len(items) >= SYNCFS_BATCH:
            seen: set[int] = set()
            for dirfd in dirs.values():
                dev = fs.fstat(dirfd).st_dev
                if dev not in seen:
                    seen.add(dev)
                    fs.syncfs(dirfd)
        for i, (dirfd, tmp, name) in enumerate(temps):
            try:
                fs.renameat2(dirfd, tmp, dirfd, name, 0)
            except BaseException:
                del temps[:i]
                raise
        temps.clear()
        if durable:
            for dirfd in dirs.values():
                fs.fsync(dirfd)
    finally:
        for dirfd, tmp, _name in temps:
            with contextlib.suppress(OSError):
                fs.unlinkat(dirfd, tmp, 0)
        for dirfd in dirs.values():
            fs.close(dirfd)
