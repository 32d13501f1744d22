"""Durability: getting bytes onto stable storage, and replacing files atomically.

What "durable" means. ``write()`` only copies into the page cache; a power loss
can drop it. ``fsync(fd)`` returns once the file's data and metadata have
reached the device *and* the device was told to flush its volatile cache; on
Linux that is real. ``fdatasync`` skips metadata not needed to read the data
back (timestamps), which is cheaper but only sound when the file size did not
change or a later metadata sync follows. macOS is different: its ``fsync``
hands data to the drive but does *not* flush the drive's cache, so a power cut
can still lose or reorder it; ``fcntl(F_FULLFSYNC)`` exists for exactly that
reason and is what :func:`full_fsync` uses there (falling back to ``fsync`` only
where the file system answers ENOTSUP/EINVAL, and saying so). Windows uses
``FlushFileBuffers``. An fsync error is raised once and never retried: after a
failed writeback the kernel may have dropped the dirty pages and marked them
clean, so a second fsync "succeeding" proves nothing.

What "durable" means for a rename. ``rename()`` is atomic (any observer sees the
old file or the new one, never a mix), but it is a change to the *directory*:
until the directory itself is fsynced the new name may vanish after a crash,
leaving the old content (or, on some file systems, the new inode under no name).
And if the new file's data was not synced before the rename, a crash can leave
the new name pointing at an empty or partial file. Hence
:func:`atomic_write`'s order: temp file in the same directory (rename cannot
cross file systems), write everything, fsync the temp, rename over the target,
fsync the directory. After it returns, the new content survives power loss; if
it is interrupted at any point, the target holds the complete old or the
complete new content (a crash may leave a ``.<name>.<random>.tmp`` behind).

Backend interface (``vllsi.<os>.impl.durability``): ``full_fsync(fd)``,
``data_only_fsync(fd)``, ``sync_directory(path: bytes)``,
``atomic_write_many(items: list[(path: bytes, data: memoryview)], durable,
mode: int | None)`` (the whole sequence; it removes its temp files on failure).
"""

from __future__ import annotations

import os as _os
from collections.abc import Iterable
from typing import Any

from vllsi import _platform

__all__ = [
    "atomic_write",
    "atomic_write_many",
    "data_only_fsync",
    "full_fsync",
    "sync_directory",
]

_impl: Any = _platform.os_module("durability")


def _fd(fd: Any) -> int:
    if type(fd) is int and fd >= 0:
        return fd
    if isinstance(fd, bool) or not (isinstance(fd, int) or hasattr(fd, "fileno")):
        raise TypeError(f"fd must be an int or have fileno(), not {type(fd).__name__}")
    v = int(fd) if isinstance(fd, int) else fd.fileno()
    if type(v) is not int or v < 0:
        raise ValueError(f"fd {v!r} is not a valid descriptor")
    return v


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


def full_fsync(fd: Any) -> None:
    """fsync(fd): return only once the file's data and metadata are on stable storage.

    Raises: BadDescriptor/EBADF, InvalidArgument/EINVAL (a pipe or socket),
        VllsiError/EIO, ResourceExhausted/ENOSPC or EDQUOT (raised once, never
        retried). EINTR retried.
    Availability: Linux (fsync), macOS (fcntl F_FULLFSYNC, fsync fallback on
        ENOTSUP/EINVAL), Windows (FlushFileBuffers).
    """
    _impl.full_fsync(_fd(fd))


def data_only_fsync(fd: Any) -> None:
    """fdatasync(fd): flush the data and the metadata needed to read it (size), not
    timestamps. Sound only when the size did not change or a metadata sync follows.

    Raises: as :func:`full_fsync`. Availability: Linux (fdatasync), macOS
        (F_FULLFSYNC: Darwin has no cheaper cache-flushing call), Windows
        (FlushFileBuffers).
    """
    _impl.data_only_fsync(_fd(fd))


def sync_directory(path: Any) -> None:
    """open(path, O_RDONLY|O_DIRECTORY) + fsync + close: make the directory's entries
    (creations, renames, removals) durable.

    Raises: NotFound/ENOENT, VllsiError/ENOTDIR, PermissionDenied/EACCES,
        VllsiError/EIO. Availability: Linux, macOS; Windows: FlushFileBuffers on a
        FILE_FLAG_BACKUP_SEMANTICS handle (NTFS journals directory changes).
    """
    _impl.sync_directory(_path(path))


def _data(data: Any) -> memoryview:
    if isinstance(data, str):
        raise TypeError("data must be bytes-like, not str (encode it first)")
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(f"data must be bytes-like, not {type(data).__name__}") from None
    if not view.contiguous:
        raise ValueError("data must be a contiguous buffer")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _mode(mode: Any) -> int | None:
    if mode is None:
        return None
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise TypeError(f"mode must be int or None, not {type(mode).__name__}")
    if not 0 <= mode <= 0o7777:
        raise ValueError(f"mode {mode:#o} outside 0..0o7777")
    return int(mode)


def _target(path: Any) -> bytes:
    p = _path(path)
    if p.endswith(b"/") or _os.path.basename(p) in (b".", b".."):
        raise ValueError(f"{path!r} does not name a file")
    return p


def atomic_write(path: Any, data: Any, *, durable: bool = True, mode: int | None = None) -> None:
    """openat(O_EXCL temp) + write + fsync + renameat2 + fsync(dir): replace a file
    atomically and durably.

    Args:
        path: the target (str/bytes/PathLike); a symlink there is replaced, not
            followed.
        data: bytes-like content.
        durable: False skips both syncs (still atomic, not crash-durable).
        mode: permission bits for the result; None keeps the target's mode when
            it exists, else 0o666 minus the umask.
    Raises: NotFound/ENOENT (missing directory), PermissionDenied/EACCES,
        ResourceExhausted/ENOSPC or EDQUOT, VllsiError/EIO; the temp file is
        removed and the target left untouched on any failure. TypeError/ValueError
        for bad arguments (before any call).
    Availability: Linux, macOS (F_FULLFSYNC), Windows (MoveFileExW
        REPLACE_EXISTING|WRITE_THROUGH).
    """
    _impl.atomic_write_many([(_target(path), _data(data))], bool(durable), _mode(mode))


def atomic_write_many(items: Iterable[tuple[Any, Any]], *, durable: bool = True) -> None:
    """Write and sync every temp file, rename them all, then sync each distinct
    directory once.

    Each target is replaced atomically (old or new content, never torn), but the
    batch is not one transaction: a failure part-way leaves earlier targets
    replaced and later ones untouched (their temp files removed). On Linux a
    batch of 16 or more files makes the temps durable with one ``syncfs`` per file
    system instead of one ``fsync`` each (syncfs also flushes unrelated dirty data
    of that file system). Targets keep their modes.
    Raises: as :func:`atomic_write`; TypeError for items that are not (path, data).
    Availability: as :func:`atomic_write`.
    """
    batch: list[tuple[bytes, memoryview]] = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError("items must be (path, data) pairs")
        batch.append((_target(item[0]), _data(item[1])))
    if batch:
        _impl.atomic_write_many(batch, bool(durable), None)
