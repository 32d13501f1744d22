"""The portable file_ops, locking and durability modules on their Windows backend
(vllsi/windows/impl), with HANDLE descriptors from ``file_ops.open``.

These run once the portable modules are on the branch (module-level importorskip
until then). Oracles: the stdlib reading the same files, and a second handle.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

file_ops = pytest.importorskip("vllsi.file_ops")
locking = pytest.importorskip("vllsi.locking")
durability = pytest.importorskip("vllsi.durability")

from conformance._support.pending import need  # noqa: E402
from vllsi import errors  # noqa: E402
from vllsi.windows import consts as C  # noqa: E402
from vllsi.windows import kernel32  # noqa: E402

OF = file_ops.OpenFlags
RW = OF.READ_WRITE | OF.CREATE


@pytest.mark.covers("file_ops.open", "file_ops.pread", "file_ops.pwrite", "file_ops.file_size",
                    "file_ops.truncate", "file_ops.close", "file_ops.preadv", "file_ops.pwritev",
                    "file_ops.pread_exact", "file_ops.pwrite_all")
def test_positional_io_on_handles(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    fd = file_ops.open(p, RW)
    try:
        assert file_ops.pwrite(fd, b"hello world", 0) == 11
        buf = bytearray(5)
        assert file_ops.pread(fd, buf, 6) == 5 and buf == b"world"
        assert file_ops.pwritev(fd, [b"AB", memoryview(b"CD")], (1 << 32) + 1) == 4
        a, b = bytearray(1), bytearray(3)
        assert file_ops.preadv(fd, [a, b], (1 << 32) + 1) == 4 and a + b == b"ABCD"
        assert file_ops.file_size(fd) == (1 << 32) + 5
        file_ops.truncate(fd, 11)
        assert file_ops.file_size(fd) == 11
        file_ops.pwrite_all(fd, b"xyz", 11)
        out = bytearray(14)
        file_ops.pread_exact(fd, out, 0)
        assert out == b"hello worldxyz"
        with pytest.raises(EOFError):
            file_ops.pread_exact(fd, bytearray(4), 12)
        with pytest.raises(errors.Unsupported):
            file_ops.preadv(fd, [bytearray(1)], 0, 8)
    finally:
        file_ops.close(fd)
    assert p.read_bytes() == b"hello worldxyz"
    with pytest.raises(errors.BadDescriptor):
        file_ops.close(fd)


@pytest.mark.covers("file_ops.open", "file_ops.create", "file_ops.read_all", "file_ops.write_all",
                    "file_ops.remove", "file_ops.mkdir", "file_ops.rename", "file_ops.access",
                    "file_ops.random_bytes")
def test_path_operations(tmp_path: Path) -> None:
    d = tmp_path / "sub"
    file_ops.mkdir(d)
    with pytest.raises(errors.AlreadyExists):
        file_ops.mkdir(d)
    f = d / "a.txt"
    file_ops.write_all(f, b"one")
    file_ops.write_all(f, b"two", append=True)
    assert file_ops.read_all(f) == b"onetwo" == f.read_bytes()
    fd = file_ops.create(d / "b.txt", exclusive=True)
    file_ops.close(fd)
    with pytest.raises(errors.AlreadyExists):
        file_ops.create(d / "b.txt", exclusive=True)
    with pytest.raises(errors.AlreadyExists):
        file_ops.rename(f, d / "b.txt", replace=False)
    file_ops.rename(f, d / "b.txt")
    assert (d / "b.txt").read_bytes() == b"onetwo" and not f.exists()
    assert file_ops.access(d / "b.txt", file_ops.R_OK | file_ops.W_OK)
    assert not file_ops.access(d / "missing", file_ops.F_OK)
    ro = file_ops.create(d / "ro.txt", mode=0o444)
    file_ops.close(ro)
    assert file_ops.access(d / "ro.txt", file_ops.R_OK)
    assert not file_ops.access(d / "ro.txt", file_ops.W_OK)
    with pytest.raises(errors.NotFound):
        file_ops.open(d / "missing")
    with pytest.raises(errors.Unsupported):
        file_ops.open("x", dir_fd=12)
    file_ops.remove(d / "b.txt")
    os.chmod(d / "ro.txt", 0o666)
    file_ops.remove(d / "ro.txt")
    file_ops.remove(d, directory=True)
    assert not d.exists()
    buf = bytearray(4096)
    file_ops.random_bytes(buf)
    assert buf.count(0) < 100


@pytest.mark.covers("locking.try_lock", "locking.unlock", "locking.lock", "locking.LockRegion",
                    "locking.LockKind", "locking.LockHandle")
def test_locking_on_windows(tmp_path: Path) -> None:
    p = tmp_path / "l.bin"
    a = file_ops.open(p, RW)
    b = file_ops.open(p, RW)
    try:
        h = locking.try_lock(a, locking.LockRegion(0, 0), locking.LockKind.Exclusive)  # to EOF
        with pytest.raises(errors.LockConflict) as ei:
            locking.try_lock(b, locking.LockRegion(1 << 62, 1), locking.LockKind.Shared)
        assert ei.value.owner_pid == -1 and ei.value.winerror == 33
        with pytest.raises(errors.TimedOut):
            locking.lock(b, locking.LockRegion(5, 1), locking.LockKind.Shared, timeout=0.05)
        locking.unlock(h)
        with pytest.raises(ValueError):
            locking.unlock(h)
        s1 = locking.try_lock(a, locking.LockRegion(1 << 32, 10), locking.LockKind.Shared)
        s2 = locking.try_lock(b, locking.LockRegion((1 << 32) + 5, 10), locking.LockKind.Shared)
        with pytest.raises(errors.LockConflict):
            locking.try_lock(b, locking.LockRegion(1 << 32, 2), locking.LockKind.Exclusive)
        s1.unlock()
        s2.unlock()
        with locking.lock(b, locking.LockRegion(0, 10), locking.LockKind.Exclusive, timeout=1), \
                pytest.raises(errors.LockConflict):
            locking.try_lock(a, locking.LockRegion(9, 1), locking.LockKind.Shared)
        locking.try_lock(a, locking.LockRegion(9, 1), locking.LockKind.Shared).unlock()
    finally:
        file_ops.close(b)
        file_ops.close(a)


@pytest.mark.covers("locking.try_lock_region", "locking.unlock_region")
def test_posix_like_convert_and_split(tmp_path: Path) -> None:
    p = tmp_path / "c.bin"
    a = file_ops.open(p, RW)
    b = file_ops.open(p, RW)
    try:
        K = locking.LockKind
        locking.try_lock_region(a, K.Shared, 0, 100)
        locking.try_lock_region(a, K.Shared, 0, 100)  # same owner, same kind: no-op
        locking.try_lock_region(a, K.Exclusive, 0, 100)  # upgrade
        with pytest.raises(errors.LockConflict):
            locking.try_lock_region(b, K.Shared, 50, 1)
        locking.try_lock_region(a, K.Shared, 0, 100)  # downgrade
        locking.try_lock_region(b, K.Shared, 50, 1)
        locking.unlock_region(b, 50, 1)
        locking.unlock_region(a, 40, 20)  # split: [0,40) and [60,100) stay
        locking.try_lock_region(b, K.Exclusive, 45, 10)
        with pytest.raises(errors.LockConflict):
            locking.try_lock_region(b, K.Exclusive, 39, 1)
        locking.unlock_region(a, 0, 0)  # everything from 0 to EOF
        locking.try_lock_region(b, K.Exclusive, 0, 40)
        locking.unlock_region(b, 0, 200)
        locking.unlock_region(b, 0, 200)  # nothing held: not an error
    finally:
        file_ops.close(b)
        file_ops.close(a)


@pytest.mark.covers("durability.full_fsync", "durability.data_only_fsync",
                    "durability.sync_directory", "durability.atomic_write",
                    "durability.atomic_write_many")
def test_durability_on_windows(tmp_path: Path) -> None:
    fd = file_ops.open(tmp_path / "d.bin", RW)
    try:
        file_ops.pwrite(fd, b"data", 0)
        durability.full_fsync(fd)
        durability.data_only_fsync(fd)
    finally:
        file_ops.close(fd)
    durability.sync_directory(tmp_path)
    t = tmp_path / "target.txt"
    durability.atomic_write(t, b"v1")
    assert t.read_bytes() == b"v1"
    os.chmod(t, 0o444)
    durability.atomic_write(t, b"v2")
    assert t.read_bytes() == b"v2" and not os.access(t, os.W_OK)  # read-only kept
    os.chmod(t, 0o666)
    durability.atomic_write_many([(tmp_path / f"m{i}", bytes([i]) * i) for i in range(5)],
                                 durable=False)
    assert [(tmp_path / f"m{i}").read_bytes() for i in range(5)] == [bytes([i]) * i
                                                                     for i in range(5)]
    with pytest.raises(errors.NotFound):
        durability.atomic_write(tmp_path / "nodir" / "x", b"")
    assert sorted(x.name for x in tmp_path.iterdir() if x.name.endswith(".tmp")) == []
    assert kernel32.get_file_attributes(t) & C.FILE_ATTRIBUTE_READONLY == 0


@pytest.mark.covers("durability.sync_directory")
def test_sync_directory_errors(tmp_path: Path) -> None:
    import errno

    durability.sync_directory(str(tmp_path).encode())
    with pytest.raises(errors.NotFound):
        durability.sync_directory(tmp_path / "missing")
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(OSError) as ei:
        durability.sync_directory(tmp_path / "f")
    assert ei.value.errno == errno.ENOTDIR


@pytest.mark.covers("locking.try_lock", "file_ops.close")
def test_close_forgets_locks_of_a_reused_handle_value(tmp_path: Path) -> None:
    p = tmp_path / "r.bin"
    a = file_ops.open(p, RW)
    locking.try_lock_region(a, locking.LockKind.Exclusive, 0, 10)
    file_ops.close(a)  # the OS released the lock; vllsi's bookkeeping too
    b = file_ops.open(p, RW)
    c = file_ops.open(p, RW)
    try:
        locking.try_lock_region(b, locking.LockKind.Exclusive, 0, 10)  # really taken
        with pytest.raises(errors.LockConflict):
            locking.try_lock_region(c, locking.LockKind.Exclusive, 5, 1)
    finally:
        file_ops.close(c)
        file_ops.close(b)


@pytest.mark.covers("locking.sqlite.SqliteLock", "locking.sqlite.LockState")
def test_sqlite_protocol_over_lockfileex(tmp_path: Path) -> None:
    """SQLite's five states on Windows byte-range locks: two handles as two connections."""
    sq = need("vllsi.locking.sqlite")
    S = sq.LockState
    p = tmp_path / "db"
    a, b = file_ops.open(p, RW), file_ops.open(p, RW)
    try:
        A, B = sq.SqliteLock(a), sq.SqliteLock(b)
        A.lock(S.SHARED)
        B.lock(S.SHARED)
        A.lock(S.RESERVED)
        assert B.check_reserved()
        with pytest.raises(errors.LockConflict):
            B.lock(S.RESERVED)
        with pytest.raises(errors.LockConflict):
            A.lock(S.EXCLUSIVE)  # B still reads
        assert A.state == S.PENDING  # a failed PENDING -> EXCLUSIVE keeps PENDING
        B.unlock(S.UNLOCKED)
        with pytest.raises(errors.LockConflict):
            B.lock(S.SHARED)  # PENDING held: no new readers
        A.lock(S.EXCLUSIVE)
        assert A.state == S.EXCLUSIVE
        A.unlock(S.SHARED)  # exclusive -> shared: the SHARED range is re-taken shared
        B.lock(S.SHARED)
        assert (A.state, B.state) == (S.SHARED, S.SHARED)
        A.unlock(S.UNLOCKED)
        B.unlock(S.UNLOCKED)
        with sq.SqliteLock(b) as C:
            C.lock(S.SHARED)
            C.lock(S.RESERVED)
            C.lock(S.EXCLUSIVE)
            assert C.state == S.EXCLUSIVE
        A.lock(S.SHARED)  # released by the context manager
        A.unlock(S.UNLOCKED)
    finally:
        file_ops.close(b)
        file_ops.close(a)


@pytest.mark.covers("file_ops.OpenFlags", "file_ops.open", "file_ops.write_all")
def test_open_flags_on_windows(tmp_path: Path) -> None:
    p = tmp_path / "o.txt"
    with pytest.raises(errors.NotFound):
        file_ops.open(p, OF.READ)
    fd = file_ops.open(p, OF.WRITE | OF.CREATE | OF.EXCLUSIVE)
    file_ops.pwrite(fd, b"12345", 0)
    with pytest.raises(errors.PermissionDenied):
        file_ops.pread(fd, bytearray(1), 0)  # opened write-only
    file_ops.close(fd)
    with pytest.raises(errors.AlreadyExists):
        file_ops.open(p, OF.WRITE | OF.CREATE | OF.EXCLUSIVE)
    fd = file_ops.open(p, OF.READ_WRITE | OF.TRUNCATE)
    assert file_ops.file_size(fd) == 0
    file_ops.close(fd)
    fd = file_ops.open(p, OF.WRITE | OF.APPEND)
    try:
        kernel32.write_file(fd, b"ab", None)
        kernel32.write_file(fd, b"cd", None)
    finally:
        file_ops.close(fd)
    assert p.read_bytes() == b"abcd"
    d = file_ops.open(tmp_path, OF.DIRECTORY)
    file_ops.close(d)
    with pytest.raises(errors.VllsiError) as ei:
        file_ops.open(p, OF.DIRECTORY)
    assert ei.value.errno == errno.ENOTDIR
    fd = file_ops.open(p, OF.READ | OF.INHERITABLE)
    file_ops.close(fd)
    with pytest.raises(ValueError):
        file_ops.open(p, OF.WRITE | OF.READ_WRITE)


@pytest.mark.covers("locking.try_lock_byte_exclusive", "locking.try_lock_byte_shared")
def test_byte_locks_on_windows(tmp_path: Path) -> None:
    p = tmp_path / "b.bin"
    a, b = file_ops.open(p, RW), file_ops.open(p, RW)
    try:
        h = locking.try_lock_byte_exclusive(a, 0x40000000)
        with pytest.raises(errors.LockConflict):
            locking.try_lock_byte_shared(b, 0x40000000)
        s = locking.try_lock_byte_shared(b, 0x40000001)
        h.unlock()
        s.unlock()
        with locking.try_lock_byte_shared(a, 7), locking.try_lock_byte_shared(b, 7), \
                pytest.raises(errors.LockConflict):
            locking.try_lock_byte_exclusive(b, 7)
    finally:
        file_ops.close(b)
        file_ops.close(a)
