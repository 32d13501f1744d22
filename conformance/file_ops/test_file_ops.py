"""Positional I/O and path-level file operations, differential against os.*.

OS-neutral: these run unchanged on every backend (Linux, macOS, Windows/Wine).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance._support import ON_WINDOWS
from vllsi import errors, file_ops

posix_fds = pytest.mark.skipif(
    ON_WINDOWS, reason="platform: uses C runtime descriptors (os.open) or POSIX-only os oracles; on Windows vllsi takes HANDLEs (conformance/windows/test_backend_files.py)")


FIXTURE_OK = settings(max_examples=60, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


def _open_rw(p: Path, data: bytes = b"") -> int:
    p.write_bytes(data)
    return os.open(p, os.O_RDWR | getattr(os, "O_BINARY", 0))


@posix_fds
@pytest.mark.covers("file_ops.pread", "file_ops.pwrite")
@FIXTURE_OK
@given(content=st.binary(max_size=2000), offset=st.integers(0, 3000),
       length=st.integers(0, 2500), start=st.integers(0, 100))
def test_pread_pwrite_match_os(tmp_path: Path, content: bytes, offset: int, length: int,
                               start: int) -> None:
    a = _open_rw(tmp_path / "a")
    b = _open_rw(tmp_path / "b")
    try:
        os.lseek(a, start, os.SEEK_SET)
        os.lseek(b, start, os.SEEK_SET)
        assert file_ops.pwrite(a, content, offset) == os.pwrite(b, content, offset)
        buf = bytearray(length)
        n = file_ops.pread(a, buf, offset)
        assert bytes(buf[:n]) == os.pread(b, length, offset)
        assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()
        assert os.lseek(a, 0, os.SEEK_CUR) == start  # the offset never moves
    finally:
        os.close(a)
        os.close(b)


@posix_fds
@pytest.mark.covers("file_ops.preadv", "file_ops.pwritev")
@FIXTURE_OK
@given(parts=st.lists(st.binary(max_size=500), max_size=8), offset=st.integers(0, 4000),
       sizes=st.lists(st.integers(0, 600), min_size=1, max_size=8))
def test_preadv_pwritev_match_os(tmp_path: Path, parts: list[bytes], offset: int,
                                 sizes: list[int]) -> None:
    a = _open_rw(tmp_path / "a", b"seed" * 10)
    b = _open_rw(tmp_path / "b", b"seed" * 10)
    try:
        assert file_ops.pwritev(a, parts, offset) == os.pwritev(b, parts, offset)
        mine = [bytearray(n) for n in sizes]
        theirs = [bytearray(n) for n in sizes]
        assert file_ops.preadv(a, mine, offset) == os.preadv(b, theirs, offset)
        assert mine == theirs
        assert os.lseek(a, 0, os.SEEK_CUR) == 0
    finally:
        os.close(a)
        os.close(b)


@posix_fds
@pytest.mark.covers("file_ops.file_size", "file_ops.truncate")
@FIXTURE_OK
@given(content=st.binary(max_size=3000), length=st.integers(0, 10000), start=st.integers(0, 50))
def test_file_size_truncate_match_os(tmp_path: Path, content: bytes, length: int,
                                     start: int) -> None:
    a = _open_rw(tmp_path / "a", content)
    try:
        os.lseek(a, start, os.SEEK_SET)
        assert file_ops.file_size(a) == os.fstat(a).st_size == len(content)
        file_ops.truncate(a, length)
        assert file_ops.file_size(a) == os.path.getsize(tmp_path / "a") == length
        assert (tmp_path / "a").read_bytes() == (content + bytes(length))[:length]
        assert os.lseek(a, 0, os.SEEK_CUR) == start
    finally:
        os.close(a)


@pytest.mark.covers("file_ops.access", "file_ops.F_OK", "file_ops.R_OK", "file_ops.W_OK",
                    "file_ops.X_OK")
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(perm=st.sampled_from([0o000, 0o400, 0o200, 0o600, 0o700, 0o500, 0o755]),
       mode=st.integers(0, 7), exists=st.booleans())
def test_access_matches_os(tmp_path: Path, perm: int, mode: int, exists: bool) -> None:
    assert (file_ops.F_OK, file_ops.X_OK, file_ops.W_OK, file_ops.R_OK) == (
        os.F_OK, os.X_OK, os.W_OK, os.R_OK)
    p = tmp_path / "f"
    if exists:
        p.write_bytes(b"")
        os.chmod(p, perm)
    elif p.exists():
        os.chmod(p, 0o600)
        p.unlink()
    assert file_ops.access(p, mode) == os.access(p, mode)
    assert file_ops.access(str(p / "below"), file_ops.F_OK) is False  # ENOTDIR or ENOENT


@posix_fds
@pytest.mark.covers("file_ops.pread_exact", "file_ops.pwrite_all")
def test_exact_and_all(tmp_path: Path) -> None:
    fd = _open_rw(tmp_path / "f")
    try:
        data = os.urandom(300_000)
        file_ops.pwrite_all(fd, memoryview(data), 10)
        buf = bytearray(len(data))
        file_ops.pread_exact(fd, buf, 10)
        assert buf == data
        short = bytearray(100)
        with pytest.raises(EOFError):
            file_ops.pread_exact(fd, short, len(data) - 40)
        assert short[:50] == data[-50:]
        file_ops.pread_exact(fd, bytearray(0), 10**9)  # nothing to read: no call, no EOF
        with pytest.raises(TypeError):
            file_ops.pread_exact(fd, b"readonly", 0)
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0
    finally:
        os.close(fd)


@posix_fds
@pytest.mark.covers("file_ops.pread", "file_ops.pwrite", "file_ops.preadv", "file_ops.pwritev",
                    "file_ops.file_size", "file_ops.truncate", "file_ops.pread_exact",
                    "file_ops.pwrite_all")
def test_closed_fd_is_bad_descriptor(tmp_path: Path) -> None:
    fd = _open_rw(tmp_path / "f", b"abc")
    os.close(fd)
    calls = [
        lambda: file_ops.pread(fd, bytearray(1), 0),
        lambda: file_ops.pwrite(fd, b"x", 0),
        lambda: file_ops.preadv(fd, [bytearray(1)], 0),
        lambda: file_ops.pwritev(fd, [b"x"], 0),
        lambda: file_ops.file_size(fd),
        lambda: file_ops.truncate(fd, 0),
        lambda: file_ops.pread_exact(fd, bytearray(1), 0),
        lambda: file_ops.pwrite_all(fd, b"x", 0),
    ]
    for call in calls:
        with pytest.raises(errors.BadDescriptor) as ei:
            call()
        assert isinstance(ei.value, OSError) and ei.value.errno == errno.EBADF


@pytest.mark.covers("file_ops.pread", "file_ops.pwrite", "file_ops.preadv", "file_ops.pwritev",
                    "file_ops.truncate", "file_ops.pread_exact", "file_ops.pwrite_all",
                    "file_ops.random_bytes", "file_ops.access")
def test_bad_input_fails_before_the_call(tmp_path: Path) -> None:
    # The fd is closed, so reaching the OS would raise BadDescriptor: getting
    # TypeError/ValueError instead shows the check happened first.
    fd = _open_rw(tmp_path / "f", b"abc")
    os.close(fd)
    with pytest.raises(TypeError):
        file_ops.pread(fd, b"read-only", 0)
    with pytest.raises(TypeError):
        file_ops.pread_exact(fd, b"read-only", 0)
    with pytest.raises(TypeError):
        file_ops.preadv(fd, [b"read-only"], 0)
    with pytest.raises(TypeError):
        file_ops.preadv(fd, bytearray(4), 0)  # one buffer, not a sequence
    for call in (lambda: file_ops.pread(fd, bytearray(1), -1),
                 lambda: file_ops.pwrite(fd, b"x", -1),
                 lambda: file_ops.preadv(fd, [bytearray(1)], -1),
                 lambda: file_ops.pwritev(fd, [b"x"], -5),
                 lambda: file_ops.truncate(fd, -1),
                 lambda: file_ops.pread_exact(fd, bytearray(1), -1),
                 lambda: file_ops.pwrite_all(fd, b"x", -1),
                 lambda: file_ops.pread(-3, bytearray(1), 0),
                 lambda: file_ops.pread(fd, bytearray(1), 2**63),
                 lambda: file_ops.pwritev(fd, [b"x"], 2**64),
                 lambda: file_ops.truncate(fd, 2**63),
                 lambda: file_ops.access(tmp_path, 8),
                 lambda: file_ops.access("a\0b", 0)):
        with pytest.raises(ValueError):
            call()
    for call in (lambda: file_ops.pread("3", bytearray(1), 0),
                 lambda: file_ops.pread(True, bytearray(1), 0),
                 lambda: file_ops.pwrite(fd, b"x", 1.5),
                 lambda: file_ops.random_bytes(b"read-only"),
                 lambda: file_ops.pwrite(fd, "text", 0),
                 lambda: file_ops.access(3.5, 0)):
        with pytest.raises(TypeError):
            call()


@posix_fds
@pytest.mark.covers("file_ops.pread", "file_ops.pwrite")
def test_fileno_objects_and_short_reads(tmp_path: Path) -> None:
    with open(tmp_path / "f", "w+b") as f:
        assert file_ops.pwrite(f, b"hello", 0) == 5
        buf = bytearray(100)
        assert file_ops.pread(f, buf, 0) == 5  # short at EOF: returned, not hidden
        assert file_ops.pread(f, buf, 5) == 0
        assert file_ops.pread(f, buf, 10**12) == 0
        assert file_ops.pread(f, bytearray(0), 0) == 0
        assert f.tell() == 0


@pytest.mark.covers("file_ops.random_bytes")
def test_random_bytes() -> None:
    a, b = bytearray(100_000), bytearray(100_000)
    file_ops.random_bytes(a)
    file_ops.random_bytes(memoryview(b))
    assert a != b
    assert len(set(a)) == 256  # 100 kB of uniform bytes hits every value
    file_ops.random_bytes(bytearray(0))


@posix_fds
@pytest.mark.covers("file_ops.open", "file_ops.OpenFlags", "file_ops.close", "file_ops.create")
def test_open_flags(tmp_path: Path) -> None:
    F = file_ops.OpenFlags
    p = tmp_path / "f"
    with pytest.raises(errors.NotFound):
        file_ops.open(p)
    fd = file_ops.create(p, 0o640)
    try:
        assert os.write(fd, b"abc") == 3
        assert not os.get_inheritable(fd)
    finally:
        file_ops.close(fd)
    with pytest.raises(errors.BadDescriptor):
        file_ops.close(fd)
    with pytest.raises(errors.AlreadyExists):
        file_ops.create(p, exclusive=True)
    fd = file_ops.open(p, F.READ_WRITE | F.APPEND | F.INHERITABLE)
    try:
        assert os.get_inheritable(fd)
        os.write(fd, b"def")
        assert os.pread(fd, 10, 0) == b"abcdef"
    finally:
        file_ops.close(fd)
    fd = file_ops.open(p, F.WRITE | F.TRUNCATE)
    file_ops.close(fd)
    assert p.read_bytes() == b""
    d = file_ops.open(tmp_path, F.DIRECTORY)
    try:
        fd = file_ops.open("f", F.READ, dir_fd=d)
        file_ops.close(fd)
        with pytest.raises(errors.VllsiError):
            file_ops.open("f", F.DIRECTORY, dir_fd=d)
    finally:
        file_ops.close(d)
    for bad in (F.WRITE | F.READ_WRITE, 1 << 20, -1):
        with pytest.raises(ValueError):
            file_ops.open(p, bad)
    with pytest.raises(ValueError):
        file_ops.open("")
    with pytest.raises(TypeError):
        file_ops.open(p, "r")  # type: ignore[arg-type]


@pytest.mark.covers("file_ops.read_all", "file_ops.write_all")
def test_read_all_write_all(tmp_path: Path) -> None:
    p = tmp_path / "f"
    data = os.urandom(200_001)
    file_ops.write_all(p, data, mode=0o600)
    assert p.read_bytes() == data and file_ops.read_all(p) == data
    file_ops.write_all(p, b"tail", append=True)
    assert file_ops.read_all(str(p)) == data + b"tail"
    file_ops.write_all(p, b"")
    assert file_ops.read_all(p) == b""
    assert file_ops.read_all(os.fsencode(tmp_path / "f")) == b""
    with pytest.raises(errors.NotFound):
        file_ops.read_all(tmp_path / "nope")
    with pytest.raises(TypeError):
        file_ops.write_all(p, "text")


@posix_fds
@pytest.mark.covers("file_ops.mkdir", "file_ops.remove", "file_ops.rename")
def test_mkdir_remove_rename(tmp_path: Path) -> None:
    file_ops.mkdir(tmp_path / "d", 0o755)
    assert stat.S_ISDIR(os.stat(tmp_path / "d").st_mode)
    with pytest.raises(errors.AlreadyExists):
        file_ops.mkdir(tmp_path / "d")
    (tmp_path / "a").write_bytes(b"A")
    (tmp_path / "b").write_bytes(b"B")
    with pytest.raises(errors.AlreadyExists):
        file_ops.rename(tmp_path / "a", tmp_path / "b", replace=False)
    file_ops.rename(tmp_path / "a", tmp_path / "c", replace=False)
    file_ops.rename(tmp_path / "c", tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"A" and not (tmp_path / "c").exists()
    d = os.open(tmp_path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        file_ops.rename("b", "d/b", src_dir_fd=d, dst_dir_fd=d)
        file_ops.remove("d/b", dir_fd=d)
    finally:
        os.close(d)
    with pytest.raises(OSError):
        file_ops.remove(tmp_path / "d")  # a directory without directory=True
    file_ops.remove(tmp_path / "d", directory=True)
    assert os.listdir(tmp_path) == []
    with pytest.raises(errors.NotFound):
        file_ops.remove(tmp_path / "d")
    with pytest.raises(ValueError):
        file_ops.mkdir(tmp_path / "e", 0o17777)


def _as(kind: str, p: Path) -> object:
    return {"str": str(p), "bytes": os.fsencode(p), "path": p}[kind]


@pytest.mark.covers("file_ops.open", "file_ops.create", "file_ops.read_all",
                    "file_ops.write_all", "file_ops.remove", "file_ops.mkdir",
                    "file_ops.rename", "file_ops.access")
@pytest.mark.parametrize("kind", ["str", "bytes", "path"])
def test_error_filename_is_the_callers_path(tmp_path: Path, kind: str) -> None:
    # As os does: .filename is os.fspath(path) (str stays str, bytes stay bytes),
    # never the encoded bytes the backend was given.
    missing = tmp_path / "missing" / "x"
    given = _as(kind, missing)
    want = os.fspath(given)  # type: ignore[call-overload]
    with pytest.raises(FileNotFoundError) as oracle:
        os.open(given, os.O_RDONLY)  # type: ignore[call-overload]
    assert oracle.value.filename == want and type(oracle.value.filename) is type(want)
    calls = [
        lambda: file_ops.open(given),
        lambda: file_ops.create(given),
        lambda: file_ops.read_all(given),
        lambda: file_ops.write_all(given, b"x"),
        lambda: file_ops.remove(given),
        lambda: file_ops.remove(given, directory=True),
        lambda: file_ops.mkdir(given),
    ]
    for call in calls:
        with pytest.raises(errors.NotFound) as ei:
            call()
        got = ei.value.filename
        assert got == want and type(got) is type(want), (got, want)
        assert ei.value.errno == errno.ENOENT and repr(want) in str(ei.value)
    dst = _as(kind, tmp_path / "dst")
    with pytest.raises(errors.NotFound) as ei:
        file_ops.rename(given, dst)
    assert (ei.value.filename, ei.value.filename2) == (want, os.fspath(dst))  # type: ignore[call-overload]
    assert type(ei.value.filename2) is type(want)
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    src, dst = _as(kind, tmp_path / "a"), _as(kind, tmp_path / "b")
    with pytest.raises(errors.AlreadyExists) as ei:
        file_ops.rename(src, dst, replace=False)
    assert (ei.value.filename, ei.value.filename2) == (os.fspath(src), os.fspath(dst))  # type: ignore[call-overload]
    with pytest.raises(errors.AlreadyExists) as ei:
        file_ops.mkdir(_as(kind, tmp_path / "a"))
    assert ei.value.filename == os.fspath(_as(kind, tmp_path / "a"))  # type: ignore[call-overload]


@pytest.mark.skipif(ON_WINDOWS, reason="platform: ELOOP needs a symlink loop (privileged on Windows)")
@pytest.mark.covers("file_ops.access")
@pytest.mark.parametrize("kind", ["str", "bytes"])
def test_access_error_filename_is_the_callers_path(tmp_path: Path, kind: str) -> None:
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    given = _as(kind, loop / "x")
    with pytest.raises(errors.VllsiError) as ei:
        file_ops.access(given, file_ops.F_OK)
    assert ei.value.errno == errno.ELOOP
    assert ei.value.filename == given and type(ei.value.filename) is type(given)
