"""File syscall wrappers, differential against os.*."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance._support import linux_only
from vllsi import errors, linux

pytestmark = linux_only

FLAGS = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_EXCL", "O_TRUNC", "O_APPEND", "O_NONBLOCK", "O_CLOEXEC", "O_DIRECTORY", "O_NOFOLLOW", "O_DIRECT", "AT_FDCWD", "AT_SYMLINK_NOFOLLOW", "AT_REMOVEDIR", "AT_EMPTY_PATH"]


@pytest.mark.covers(*(f"linux.{n}" for n in FLAGS))
def test_constants_match_os_module() -> None:
    for n in FLAGS:
        if hasattr(os, n):
            assert getattr(linux, n) == getattr(os, n), n
    assert linux.AT_EMPTY_PATH == 0x1000 and linux.AT_REMOVEDIR == 0x200


@pytest.mark.covers("linux.openat", "linux.close", "linux.read", "linux.write")
def test_open_write_read_close(tmp_path: Path) -> None:
    p = tmp_path / "f"
    fd = linux.openat(linux.AT_FDCWD, p, linux.O_CREAT | linux.O_RDWR | linux.O_CLOEXEC, 0o640)
    try:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o640 & ~_umask()
        assert linux.write(fd, b"hello world") == 11
        assert os.lseek(fd, 0, os.SEEK_CUR) == 11
        os.lseek(fd, 0, os.SEEK_SET)
        buf = bytearray(64)
        assert linux.read(fd, buf) == 11
        assert bytes(buf[:11]) == b"hello world"
        assert linux.read(fd, buf) == 0
        assert os.get_inheritable(fd) is False
    finally:
        linux.close(fd)
    with pytest.raises(errors.BadDescriptor) as ei:
        linux.close(fd)
    assert ei.value.errno == errno.EBADF and ei.value.syscall == "close"


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


@pytest.mark.covers("linux.openat")
def test_openat_enoent_is_notfound() -> None:
    with pytest.raises(errors.NotFound) as ei:
        linux.openat(linux.AT_FDCWD, "/nonexistent", linux.O_RDONLY)
    e = ei.value
    assert isinstance(e, FileNotFoundError) and isinstance(e, errors.VllsiError)
    assert e.errno == errno.ENOENT
    assert e.syscall == "openat"
    assert e.filename == "/nonexistent"


@pytest.mark.covers("linux.openat")
def test_openat_relative_to_dirfd(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"abc")
    d = linux.openat(linux.AT_FDCWD, tmp_path, linux.O_RDONLY | linux.O_DIRECTORY)
    try:
        fd = linux.openat(d, "x", linux.O_RDONLY)
        assert os.read(fd, 10) == b"abc"
        os.close(fd)
        with pytest.raises(errors.AlreadyExists):
            linux.openat(d, b"x", linux.O_CREAT | linux.O_EXCL | linux.O_WRONLY)
    finally:
        os.close(d)


@pytest.mark.covers("linux.openat", "linux.read", "linux.write", "linux.pread64",
                    "linux.pwrite64", "linux.close", "linux.fstat", "linux.newfstatat",
                    "linux.statx")
@pytest.mark.parametrize(
    "call",
    [
        lambda: linux.openat("3", "/x", 0),
        lambda: linux.openat(linux.AT_FDCWD, 3.5, 0),
        lambda: linux.openat(linux.AT_FDCWD, "/x", "0"),
        lambda: linux.read(0, b"immutable"),
        lambda: linux.read(0, "text"),
        lambda: linux.write(1, "text"),
        lambda: linux.pread64(0, b"ro", 0),
        lambda: linux.pwrite64(1, 12, 0),
        lambda: linux.close(None),
        lambda: linux.close(True),
        lambda: linux.fstat("0"),
        lambda: linux.newfstatat(linux.AT_FDCWD, None),
        lambda: linux.statx(linux.AT_FDCWD, object()),
    ],
)
def test_wrong_types_raise_typeerror(call: object) -> None:
    with pytest.raises(TypeError):
        call()  # type: ignore[operator]


@pytest.mark.covers("linux.openat", "linux.pread64", "linux.pwrite64", "linux.close")
@pytest.mark.parametrize(
    "call",
    [
        lambda: linux.openat(linux.AT_FDCWD, "a\0b", 0),
        lambda: linux.openat(-5, "x", 0),
        lambda: linux.openat(linux.AT_FDCWD, "x", 0, 0o177777),
        lambda: linux.pread64(0, bytearray(1), -1),
        lambda: linux.pwrite64(1, b"x", -4096),
        lambda: linux.close(-1),
        lambda: linux.close(2**40),
    ],
)
def test_bad_values_raise_valueerror(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]


@pytest.mark.covers("linux.pread64", "linux.pwrite64")
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=9000),
    offset=st.integers(min_value=0, max_value=20000),
    rlen=st.integers(min_value=0, max_value=12000),
    roff=st.integers(min_value=0, max_value=30000),
)
def test_pread_pwrite_match_os(tmp_path: Path, data: bytes, offset: int, rlen: int,
                               roff: int) -> None:
    p = tmp_path / "d"
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.lseek(fd, 7, os.SEEK_SET)
        assert linux.pwrite64(fd, data, offset) == len(data)
        assert os.lseek(fd, 0, os.SEEK_CUR) == 7  # the position never moves
        buf = bytearray(rlen)
        n = linux.pread64(fd, memoryview(buf), roff)
        assert bytes(buf[:n]) == os.pread(fd, rlen, roff)
        assert os.lseek(fd, 0, os.SEEK_CUR) == 7
    finally:
        os.close(fd)


@pytest.mark.covers("linux.fstat", "linux.newfstatat", "linux.statx", "linux.Stat",
                    "linux.STATX_BASIC_STATS", "linux.AT_EMPTY_PATH",
                    "linux.AT_SYMLINK_NOFOLLOW")
@pytest.mark.parametrize("target", ["/etc/passwd", "/dev/null", "/tmp", "/bin/sh"])
def test_stat_matches_os_stat(target: str) -> None:
    ref = os.stat(target)
    lref = os.lstat(target)
    fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_PATH", 0))
    try:
        results = [linux.fstat(fd), linux.newfstatat(linux.AT_FDCWD, target),
                   linux.statx(linux.AT_FDCWD, target)]
    finally:
        os.close(fd)
    for r in results:
        assert isinstance(r, linux.Stat)
        for f in ("st_mode", "st_ino", "st_dev", "st_nlink", "st_uid", "st_gid", "st_size",
                  "st_rdev", "st_mtime_ns", "st_ctime_ns", "st_blocks", "st_blksize"):
            assert getattr(r, f) == getattr(ref, f), (target, f)
    nf = linux.newfstatat(linux.AT_FDCWD, target, linux.AT_SYMLINK_NOFOLLOW)
    assert nf.st_mode == lref.st_mode and nf.st_ino == lref.st_ino


@pytest.mark.covers("linux.fstat", "linux.statx")
def test_stat_errors() -> None:
    with pytest.raises(errors.BadDescriptor):
        linux.fstat(0x7FFFFFF0)
    with pytest.raises(errors.NotFound) as ei:
        linux.statx(linux.AT_FDCWD, "/no/such/path")
    assert ei.value.filename == "/no/such/path" and ei.value.syscall == "statx"


@pytest.mark.covers("linux.read", "linux.write")
def test_pipe_roundtrip_and_wouldblock() -> None:
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        with pytest.raises(errors.WouldBlock) as ei:
            linux.read(r, bytearray(4))
        assert isinstance(ei.value, BlockingIOError) and ei.value.errno == errno.EAGAIN
        assert linux.write(w, memoryview(b"xyz")) == 3
        b = bytearray(8)
        assert linux.read(r, b) == 3 and b[:3] == b"xyz"
    finally:
        os.close(r)
        os.close(w)
