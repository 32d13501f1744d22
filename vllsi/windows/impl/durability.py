"""Windows backend of :mod:`vllsi.durability`.

``full_fsync`` and ``data_only_fsync`` are both FlushFileBuffers (Windows has no
data-only flush for ordinary handles; it writes data and metadata and asks the
device to flush its cache). ``sync_directory`` opens the directory with
FILE_FLAG_BACKUP_SEMANTICS and calls FlushFileBuffers on it; file systems that
refuse to flush a directory handle (ERROR_ACCESS_DENIED / ERROR_INVALID_FUNCTION,
as NTFS does for a read-only handle) make it a documented no-op, since NTFS
journals the metadata of MoveFileExW(WRITE_THROUGH) itself. ``atomic_write``
writes a temp file in the target's directory, flushes it, then
MoveFileExW(REPLACE_EXISTING | WRITE_THROUGH) over the target (WRITE_THROUGH:
the call returns only once the rename is on disk). The target's read-only
attribute is kept when ``mode`` is None; otherwise a mode without the owner
write bit makes the result read-only (POSIX modes do not exist on Windows).
"""

from __future__ import annotations

import contextlib
import errno as _errno
import os
from typing import Any

from vllsi import errors
from vllsi.windows import bcrypt, kernel32
from vllsi.windows import consts as C

_SHARE = C.FILE_SHARE_READ | C.FILE_SHARE_WRITE | C.FILE_SHARE_DELETE
_DIR_UNFLUSHABLE = frozenset({1, 5})  # ERROR_INVALID_FUNCTION, ERROR_ACCESS_DENIED


def full_fsync(fd: int) -> None:
    kernel32.flush_file_buffers(fd)


def data_only_fsync(fd: int) -> None:
    kernel32.flush_file_buffers(fd)


def sync_directory(path: bytes) -> None:
    if not kernel32.get_file_attributes(path) & C.FILE_ATTRIBUTE_DIRECTORY:
        raise errors.from_errno(_errno.ENOTDIR, syscall="CreateFileW", filename=path)
    h = kernel32.create_file(path, C.GENERIC_READ | C.GENERIC_WRITE, _SHARE,
                             C.OPEN_EXISTING, C.FILE_FLAG_BACKUP_SEMANTICS)
    try:
        kernel32.flush_file_buffers(h)
    except errors.VllsiError as exc:
        if getattr(exc, "winerror", None) not in _DIR_UNFLUSHABLE:
            raise
    finally:
        kernel32.close_handle(h)


def _temp_path(path: bytes) -> bytes:
    head, name = os.path.split(path)
    rnd = bytearray(8)
    bcrypt.bcrypt_gen_random(rnd)
    return os.path.join(head, b"." + name[:200] + b"." + rnd.hex().encode() + b".tmp")


def _readonly(path: bytes, mode: int | None) -> bool:
    if mode is not None:
        return not mode & 0o200
    try:
        attrs = kernel32.get_file_attributes(path)
    except errors.NotFound:
        return False
    return bool(attrs & C.FILE_ATTRIBUTE_READONLY and not attrs & C.FILE_ATTRIBUTE_DIRECTORY)


def atomic_write_many(items: list[tuple[bytes, Any]], durable: bool,
                      mode: int | None) -> None:
    temps: list[tuple[bytes, bytes, bool]] = []  # (temp, target, read-only)
    try:
        for path, data in items:
            tmp = _temp_path(path)
            h = kernel32.create_file(tmp, C.GENERIC_READ | C.GENERIC_WRITE, _SHARE,
                                     C.CREATE_NEW)
            temps.append((tmp, path, _readonly(path, mode)))
            try:
                view = memoryview(data).cast("B")
                done = 0
                while done < view.nbytes:
                    done += kernel32.write_file(h, view[done:], done)
                if durable:
                    kernel32.flush_file_buffers(h)
            finally:
                kernel32.close_handle(h)
        flags = C.MOVEFILE_REPLACE_EXISTING | (C.MOVEFILE_WRITE_THROUGH if durable else 0)
        for i, (tmp, path, ro) in enumerate(temps):
            try:
                if _target_readonly(path):
                    _clear_readonly(path)  # MoveFileExW cannot replace a read-only file
                kernel32.move_file_ex(tmp, path, flags)
            except BaseException:
                del temps[:i]
                raise
            if ro:
                _set_readonly(path)
        temps.clear()
        if durable:
            for d in {os.path.dirname(p) or b"." for p, _ in items}:
                sync_directory(d)
    finally:
        for tmp, _path, _ro in temps:
            with contextlib.suppress(OSError):
                kernel32.delete_file(tmp)


def _target_readonly(path: bytes) -> bool:
    try:
        return bool(kernel32.get_file_attributes(path) & C.FILE_ATTRIBUTE_READONLY)
    except errors.NotFound:
        return False


def _clear_readonly(path: bytes) -> None:
    attrs = kernel32.get_file_attributes(path) & ~C.FILE_ATTRIBUTE_READONLY
    kernel32.set_file_attributes(path, attrs or C.FILE_ATTRIBUTE_NORMAL)


def _set_readonly(path: bytes) -> None:
    attrs = kernel32.get_file_attributes(path) & ~C.FILE_ATTRIBUTE_NORMAL
    kernel32.set_file_attributes(path, attrs | C.FILE_ATTRIBUTE_READONLY)
