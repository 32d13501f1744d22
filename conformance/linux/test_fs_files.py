"""Raw wrappers for vectored I/O, sizes, syncs, renames, directories, locks and
randomness: differential against os.*, fcntl and the kernel headers."""

from __future__ import annotations

import errno
import fcntl as _fcntl
import os
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance._support import UNDER_QEMU, linux_only, skip
from conformance._support.cc import python_argv, run_c
from vllsi import errors, linux
from vllsi.linux import fs

pytestmark = linux_only

CONSTS = {
    # name: (header expression, header)
    "AT_EACCESS": "AT_EACCESS", "O_TMPFILE": "O_TMPFILE",
    "RWF_HIPRI": "RWF_HIPRI", "RWF_DSYNC": "RWF_DSYNC", "RWF_SYNC": "RWF_SYNC",
    "RWF_NOWAIT": "RWF_NOWAIT", "RWF_APPEND": "RWF_APPEND",
    "RENAME_NOREPLACE": "RENAME_NOREPLACE", "RENAME_EXCHANGE": "RENAME_EXCHANGE",
    "RENAME_WHITEOUT": "RENAME_WHITEOUT",
    "F_GETFD": "F_GETFD", "F_SETFD": "F_SETFD", "F_GETFL": "F_GETFL", "F_SETFL": "F_SETFL",
    "F_GETLK": "F_GETLK", "F_SETLK": "F_SETLK", "F_SETLKW": "F_SETLKW",
    "F_DUPFD_CLOEXEC": "F_DUPFD_CLOEXEC", "F_OFD_GETLK": "F_OFD_GETLK",
    "F_OFD_SETLK": "F_OFD_SETLK", "F_OFD_SETLKW": "F_OFD_SETLKW", "FD_CLOEXEC": "FD_CLOEXEC",
    "F_RDLCK": "F_RDLCK", "F_WRLCK": "F_WRLCK", "F_UNLCK": "F_UNLCK", "SEEK_SET": "0",
    "LOCK_SH": "LOCK_SH", "LOCK_EX": "LOCK_EX", "LOCK_NB": "LOCK_NB", "LOCK_UN": "LOCK_UN",
    "FALLOC_FL_KEEP_SIZE": "FALLOC_FL_KEEP_SIZE", "FALLOC_FL_PUNCH_HOLE": "FALLOC_FL_PUNCH_HOLE",
    "SYNC_FILE_RANGE_WAIT_BEFORE": "SYNC_FILE_RANGE_WAIT_BEFORE",
    "SYNC_FILE_RANGE_WRITE": "SYNC_FILE_RANGE_WRITE",
    "SYNC_FILE_RANGE_WAIT_AFTER": "SYNC_FILE_RANGE_WAIT_AFTER",
    "GRND_NONBLOCK": "GRND_NONBLOCK", "GRND_RANDOM": "GRND_RANDOM",
    "GRND_INSECURE": "GRND_INSECURE",
    "RESOLVE_NO_XDEV": "RESOLVE_NO_XDEV", "RESOLVE_NO_MAGICLINKS": "RESOLVE_NO_MAGICLINKS",
    "RESOLVE_NO_SYMLINKS": "RESOLVE_NO_SYMLINKS", "RESOLVE_BENEATH": "RESOLVE_BENEATH",
    "RESOLVE_IN_ROOT": "RESOLVE_IN_ROOT",
}
HEADERS = ("linux/fcntl.h", "linux/fs.h", "linux/falloc.h", "linux/random.h", "linux/openat2.h")


@pytest.mark.covers(*(f"linux.{n}" for n in CONSTS), "linux.Flock")
def test_constants_and_flock_layout_match_headers() -> None:
    src = "#include <stdio.h>\n#include <stddef.h>\n"
    src += "".join(f"#include <{h}>\n" for h in HEADERS)
    src += "int main(void){\n"
    src += "".join(f'printf("{n} %lld\\n", (long long)({e}));\n' for n, e in CONSTS.items())
    src += 'printf("sizeof %zu\\n", sizeof(struct flock));\n'
    for f in ("l_type", "l_whence", "l_start", "l_len", "l_pid"):
        src += f'printf("{f} %zu\\n", offsetof(struct flock, {f}));\n'
    src += "return 0;}\n"
    got = {k: int(v) for k, v in (line.split() for line in run_c(src).splitlines())}
    for n in CONSTS:
        assert getattr(linux, n) == got[n], n
    xffi = fs._xffi
    assert xffi.sizeof("struct flock") == got["sizeof"]
    for f in ("l_type", "l_whence", "l_start", "l_len", "l_pid"):
        assert xffi.offsetof("struct flock", f) == got[f], f


@pytest.mark.covers("linux.F_OFD_SETLK", "linux.F_GETFD", "linux.LOCK_EX", "linux.RWF_NOWAIT",
                    "linux.FD_CLOEXEC", "linux.F_WRLCK", "linux.LOCK_NB")
def test_constants_match_python_modules() -> None:
    for n in ("F_OFD_SETLK", "F_OFD_GETLK", "F_OFD_SETLKW", "F_GETFD", "F_SETFD", "F_GETFL",
              "F_SETFL", "F_GETLK", "F_SETLK", "F_SETLKW", "FD_CLOEXEC", "F_RDLCK", "F_WRLCK",
              "F_UNLCK", "LOCK_SH", "LOCK_EX", "LOCK_NB", "LOCK_UN", "F_DUPFD_CLOEXEC"):
        if hasattr(_fcntl, n):
            assert getattr(linux, n) == getattr(_fcntl, n), n
    for n in ("RWF_HIPRI", "RWF_DSYNC", "RWF_SYNC", "RWF_NOWAIT", "RWF_APPEND", "GRND_NONBLOCK",
              "GRND_RANDOM", "O_TMPFILE", "SEEK_SET"):
        if hasattr(os, n):
            assert getattr(linux, n) == getattr(os, n), n


def _need_v2() -> None:
    r, w = os.pipe()
    try:
        linux.pwritev2(w, [b"x"], -1)
    except errors.Unsupported:
        skip("environment" if UNDER_QEMU else "kernel", "no preadv2/pwritev2 (ENOSYS)")
    finally:
        os.close(r)
        os.close(w)


def _file(tmp: Path, data: bytes = b"") -> int:
    p = tmp / "f"
    p.write_bytes(data)
    return os.open(p, os.O_RDWR)


@pytest.mark.covers("linux.preadv2", "linux.pwritev2")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.binary(max_size=300), min_size=1, max_size=6),
       offset=st.integers(0, 5000), sizes=st.lists(st.integers(0, 400), min_size=1, max_size=5))
def test_vectored_io_matches_os(tmp_path: Path, parts: list[bytes], offset: int,
                                sizes: list[int]) -> None:
    _need_v2()
    fd = _file(tmp_path)
    try:
        assert linux.pwritev2(fd, parts, offset) == sum(map(len, parts))
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0
        mine = [bytearray(n) for n in sizes]
        theirs = [bytearray(n) for n in sizes]
        assert linux.preadv2(fd, mine, offset) == os.preadv(fd, theirs, offset)
        assert mine == theirs
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0
    finally:
        os.close(fd)


@pytest.mark.covers("linux.preadv2", "linux.pwritev2", "linux.RWF_NOWAIT", "linux.RWF_DSYNC")
def test_vectored_flags_and_errors(tmp_path: Path) -> None:
    _need_v2()
    fd = _file(tmp_path, b"0123456789")
    try:
        buf = bytearray(4)
        assert linux.preadv2(fd, [buf], 2, linux.RWF_NOWAIT) == 4  # cached: no EAGAIN
        assert buf == b"2345"
        assert linux.pwritev2(fd, [b"ab"], 0, linux.RWF_DSYNC) == 2
        os.lseek(fd, 5, os.SEEK_SET)
        assert linux.preadv2(fd, [buf], -1) == 4 and buf == b"5678"  # -1: file position
        assert os.lseek(fd, 0, os.SEEK_CUR) == 9
        with pytest.raises(errors.Unsupported):
            linux.preadv2(fd, [buf], 0, 0x40000000)
        with pytest.raises(TypeError):
            linux.preadv2(fd, [b"readonly"], 0)
        with pytest.raises(TypeError):
            linux.preadv2(fd, bytearray(3), 0)
        with pytest.raises(ValueError):
            linux.pwritev2(fd, [b"x"], -2)
    finally:
        os.close(fd)
    with pytest.raises(errors.BadDescriptor):
        linux.preadv2(fd, [bytearray(1)], 0)


@pytest.mark.covers("linux.ftruncate", "linux.fallocate", "linux.FALLOC_FL_KEEP_SIZE",
                    "linux.FALLOC_FL_PUNCH_HOLE")
def test_ftruncate_and_fallocate(tmp_path: Path) -> None:
    fd = _file(tmp_path, b"x" * 100)
    try:
        linux.ftruncate(fd, 10)
        assert os.fstat(fd).st_size == 10
        linux.ftruncate(fd, 1 << 20)
        assert os.fstat(fd).st_size == 1 << 20 and os.pread(fd, 4, 500) == b"\0" * 4
        linux.fallocate(fd, linux.FALLOC_FL_KEEP_SIZE, 0, 2 << 20)
        assert os.fstat(fd).st_size == 1 << 20
        linux.fallocate(fd, 0, 0, 3 << 20)
        assert os.fstat(fd).st_size == 3 << 20
        os.pwrite(fd, b"y" * 8192, 0)
        linux.fallocate(fd, linux.FALLOC_FL_PUNCH_HOLE | linux.FALLOC_FL_KEEP_SIZE, 0, 4096)
        assert os.pread(fd, 4096, 0) == b"\0" * 4096 and os.pread(fd, 1, 4096) == b"y"
        with pytest.raises(ValueError):
            linux.ftruncate(fd, -1)
        with pytest.raises(errors.InvalidArgument):
            linux.fallocate(fd, 0, 0, 0)
    finally:
        os.close(fd)
    ro = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        with pytest.raises(errors.InvalidArgument):
            linux.ftruncate(ro, 0)
    finally:
        os.close(ro)


@pytest.mark.covers("linux.fsync", "linux.fdatasync", "linux.sync_file_range", "linux.syncfs",
                    "linux.SYNC_FILE_RANGE_WRITE", "linux.SYNC_FILE_RANGE_WAIT_AFTER",
                    "linux.SYNC_FILE_RANGE_WAIT_BEFORE")
def test_syncs(tmp_path: Path) -> None:
    fd = _file(tmp_path, b"data")
    try:
        linux.fsync(fd)
        linux.fdatasync(fd)
        linux.sync_file_range(fd, 0, 0, linux.SYNC_FILE_RANGE_WAIT_BEFORE
                              | linux.SYNC_FILE_RANGE_WRITE | linux.SYNC_FILE_RANGE_WAIT_AFTER)
        linux.syncfs(fd)
        with pytest.raises(ValueError):
            linux.sync_file_range(fd, -1, 0, 0)
    finally:
        os.close(fd)
    r, w = os.pipe()
    try:
        with pytest.raises(errors.InvalidArgument) as ei:
            linux.fsync(r)
        assert ei.value.errno == errno.EINVAL and ei.value.syscall == "fsync"
        with pytest.raises(errors.VllsiError) as ei2:
            linux.sync_file_range(r, 0, 0, linux.SYNC_FILE_RANGE_WRITE)
        assert ei2.value.errno == errno.ESPIPE
    finally:
        os.close(r)
        os.close(w)
    for call in (linux.fsync, linux.fdatasync, linux.syncfs):
        with pytest.raises(errors.BadDescriptor):
            call(fd)


@pytest.mark.covers("linux.renameat2", "linux.RENAME_NOREPLACE", "linux.RENAME_EXCHANGE",
                    "linux.unlinkat", "linux.mkdirat", "linux.AT_FDCWD")
def test_rename_unlink_mkdir(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"A")
    (tmp_path / "b").write_bytes(b"B")
    d = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(errors.AlreadyExists):
            linux.renameat2(d, "a", d, "b", linux.RENAME_NOREPLACE)
        linux.renameat2(d, "a", d, "b", linux.RENAME_EXCHANGE)
        assert (tmp_path / "a").read_bytes() == b"B" and (tmp_path / "b").read_bytes() == b"A"
        linux.renameat2(linux.AT_FDCWD, tmp_path / "a", d, "c")
        assert not (tmp_path / "a").exists() and (tmp_path / "c").read_bytes() == b"B"
        with pytest.raises(errors.NotFound) as ei:
            linux.renameat2(d, "zz", d, "c")
        assert ei.value.filename == "zz" and ei.value.filename2 == "c"
        linux.mkdirat(d, "sub", 0o750)
        assert stat.S_ISDIR(os.stat(tmp_path / "sub").st_mode)
        with pytest.raises(errors.AlreadyExists):
            linux.mkdirat(d, "sub")
        with pytest.raises(errors.VllsiError) as e2:
            linux.unlinkat(d, "sub")
        assert e2.value.errno == errno.EISDIR
        linux.unlinkat(d, "sub", linux.AT_REMOVEDIR)
        linux.unlinkat(d, "c")
        assert sorted(os.listdir(tmp_path)) == ["b"]
        with pytest.raises(errors.NotFound):
            linux.unlinkat(d, "c")
        with pytest.raises(ValueError):
            linux.mkdirat(d, "x", 0o10000)
    finally:
        os.close(d)


@pytest.mark.covers("linux.getdents64", "linux.Dirent")
def test_getdents64_lists_like_scandir(tmp_path: Path) -> None:
    names = {f"n{i:03d}" for i in range(300)}
    for n in names:
        (tmp_path / n).write_bytes(b"")
    (tmp_path / "dir").mkdir()
    d = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    got: dict[bytes, linux.Dirent] = {}
    try:
        while batch := linux.getdents64(d, 1024):
            for e in batch:
                got[e.d_name] = e
    finally:
        os.close(d)
    expect = {e.name.encode(): e for e in os.scandir(tmp_path)}
    assert set(got) - {b".", b".."} == set(expect)
    for name, e in expect.items():
        assert got[name].d_ino == e.inode()
    assert got[b"dir"].d_type == 4 and got[b"n000"].d_type == 8  # DT_DIR, DT_REG
    with pytest.raises(ValueError):
        linux.getdents64(0, 8)
    f = _file(tmp_path / "dir")
    try:
        with pytest.raises(errors.VllsiError) as ei:
            linux.getdents64(f)
        assert ei.value.errno == errno.ENOTDIR
    finally:
        os.close(f)


@pytest.mark.covers("linux.faccessat2", "linux.faccessat", "linux.AT_EACCESS")
def test_faccessat_matches_os_access(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"")
    for m in (0o000, 0o400, 0o600, 0o700, 0o500):
        os.chmod(p, m)
        for mode in range(8):
            expect = os.access(p, mode)
            for call, extra in ((linux.faccessat2, (0,)),
                                (linux.faccessat2, (linux.AT_EACCESS,)),
                                (linux.faccessat, ())):
                try:
                    call(linux.AT_FDCWD, p, mode, *extra)
                    ok = True
                except errors.PermissionDenied:
                    ok = False
                assert ok == expect, (oct(m), mode)
    with pytest.raises(errors.NotFound):
        linux.faccessat2(linux.AT_FDCWD, tmp_path / "none", 0)
    with pytest.raises(ValueError):
        linux.faccessat(linux.AT_FDCWD, p, 8)


@pytest.mark.covers("linux.fcntl", "linux.F_GETFD", "linux.F_SETFD", "linux.F_GETFL",
                    "linux.F_SETFL", "linux.F_DUPFD_CLOEXEC", "linux.FD_CLOEXEC")
def test_fcntl_int_commands_match_os(tmp_path: Path) -> None:
    fd = _file(tmp_path)
    try:
        assert linux.fcntl(fd, linux.F_GETFD) == _fcntl.fcntl(fd, _fcntl.F_GETFD)
        linux.fcntl(fd, linux.F_SETFD, linux.FD_CLOEXEC)
        assert os.get_inheritable(fd) is False
        linux.fcntl(fd, linux.F_SETFD, 0)
        assert os.get_inheritable(fd) is True
        linux.fcntl(fd, linux.F_SETFL, os.O_NONBLOCK)
        assert linux.fcntl(fd, linux.F_GETFL) == _fcntl.fcntl(fd, _fcntl.F_GETFL)
        assert linux.fcntl(fd, linux.F_GETFL) & os.O_NONBLOCK
        new = linux.fcntl(fd, linux.F_DUPFD_CLOEXEC, 100)
        assert new >= 100 and os.get_inheritable(new) is False
        os.close(new)
        with pytest.raises(ValueError):
            linux.fcntl(fd, linux.F_SETLK, 0)
        with pytest.raises(errors.InvalidArgument):
            linux.fcntl(fd, 999999)
    finally:
        os.close(fd)


_HOLD = """
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 1, 7)
print(os.getpid(), flush=True)
sys.stdin.readline()
"""


@pytest.mark.covers("linux.fcntl_lock", "linux.Flock", "linux.F_OFD_SETLK", "linux.F_OFD_GETLK",
                    "linux.F_GETLK", "linux.F_SETLK", "linux.F_RDLCK", "linux.F_WRLCK",
                    "linux.F_UNLCK", "linux.SEEK_SET")
def test_fcntl_lock_ofd_and_classic(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"")
    a, b = os.open(p, os.O_RDWR), os.open(p, os.O_RDWR)
    try:
        lk = linux.Flock(linux.F_WRLCK, linux.SEEK_SET, 0, 10, 0)
        assert linux.fcntl_lock(a, linux.F_OFD_SETLK, lk).l_type == linux.F_WRLCK
        with pytest.raises(errors.WouldBlock) as ei:
            linux.fcntl_lock(b, linux.F_OFD_SETLK, lk)
        assert ei.value.errno == errno.EAGAIN
        got = linux.fcntl_lock(b, linux.F_OFD_GETLK, lk)
        assert (got.l_type, got.l_start, got.l_len, got.l_pid) == (linux.F_WRLCK, 0, 10, -1)
        free = linux.fcntl_lock(b, linux.F_OFD_GETLK, linux.Flock(linux.F_WRLCK, 0, 10, 5, 0))
        assert free.l_type == linux.F_UNLCK
        linux.fcntl_lock(a, linux.F_OFD_SETLK, lk._replace(l_type=linux.F_UNLCK))
        linux.fcntl_lock(b, linux.F_OFD_SETLK, lk)
        with pytest.raises(ValueError):
            linux.fcntl_lock(a, linux.F_GETFD, lk)
        with pytest.raises(TypeError):
            linux.fcntl_lock(a, linux.F_OFD_SETLK, (1, 2))  # type: ignore[arg-type]
    finally:
        os.close(a)
        os.close(b)
    # a classic lock of another process: F_GETLK names its pid
    child = subprocess.Popen(python_argv("-c", _HOLD, str(p)), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        pid = int(child.stdout.readline())
        fd = os.open(p, os.O_RDWR)
        try:
            q = linux.Flock(linux.F_RDLCK, 0, 7, 1, 0)
            got = linux.fcntl_lock(fd, linux.F_GETLK, q)
            assert got.l_type == linux.F_WRLCK and got.l_pid == pid
            assert linux.fcntl_lock(fd, linux.F_OFD_GETLK, q).l_pid == pid
            with pytest.raises(errors.VllsiError) as ei:
                linux.fcntl_lock(fd, linux.F_SETLK, q)
            assert ei.value.errno in (errno.EAGAIN, errno.EACCES)
        finally:
            os.close(fd)
        child.stdin.write("\n")
        child.stdin.flush()
    finally:
        child.wait(timeout=30)


@pytest.mark.covers("linux.flock", "linux.LOCK_SH", "linux.LOCK_EX", "linux.LOCK_NB",
                    "linux.LOCK_UN")
def test_flock_whole_file(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"")
    a, b = os.open(p, os.O_RDWR), os.open(p, os.O_RDWR)
    try:
        linux.flock(a, linux.LOCK_EX | linux.LOCK_NB)
        with pytest.raises(errors.WouldBlock):
            linux.flock(b, linux.LOCK_SH | linux.LOCK_NB)
        with pytest.raises(BlockingIOError):
            _fcntl.flock(b, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        linux.flock(a, linux.LOCK_UN)
        linux.flock(b, linux.LOCK_SH | linux.LOCK_NB)
        linux.flock(a, linux.LOCK_SH | linux.LOCK_NB)
        with pytest.raises(errors.InvalidArgument):
            linux.flock(a, 0)
    finally:
        os.close(a)
        os.close(b)


@pytest.mark.covers("linux.openat2", "linux.RESOLVE_BENEATH", "linux.RESOLVE_NO_SYMLINKS",
                    "linux.RESOLVE_IN_ROOT", "linux.RESOLVE_NO_XDEV", "linux.RESOLVE_NO_MAGICLINKS",
                    "linux.O_TMPFILE")
def test_openat2_resolve(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"in")
    os.symlink("/etc/hostname", tmp_path / "out")
    os.symlink("f", tmp_path / "rel")
    d = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fd = linux.openat2(d, "f", os.O_RDONLY | os.O_CLOEXEC)
        except errors.Unsupported:
            skip("environment" if UNDER_QEMU else "kernel", "no openat2 (ENOSYS)")
        assert os.read(fd, 10) == b"in"
        os.close(fd)
        with pytest.raises(errors.VllsiError) as ei:
            linux.openat2(d, "out", os.O_RDONLY, resolve=linux.RESOLVE_BENEATH)
        assert ei.value.errno == errno.EXDEV
        with pytest.raises(errors.VllsiError) as ei:
            linux.openat2(d, "rel", os.O_RDONLY, resolve=linux.RESOLVE_NO_SYMLINKS)
        assert ei.value.errno == errno.ELOOP
        with pytest.raises(errors.VllsiError) as ei:
            linux.openat2(d, "/proc/self/fd/0", os.O_RDONLY,
                          resolve=linux.RESOLVE_NO_MAGICLINKS)
        assert ei.value.errno == errno.ELOOP
        fd = linux.openat2(d, "/f", os.O_RDONLY, resolve=linux.RESOLVE_IN_ROOT)
        assert os.read(fd, 10) == b"in"
        os.close(fd)
        fd = linux.openat2(d, "f", os.O_RDONLY, resolve=linux.RESOLVE_NO_XDEV)
        os.close(fd)
        with pytest.raises(errors.InvalidArgument):
            linux.openat2(d, "f", os.O_RDONLY, mode=0o600)  # mode without O_CREAT
        try:
            t = linux.openat2(d, ".", linux.O_TMPFILE | os.O_RDWR, mode=0o600)
        except errors.Unsupported:
            skip("kernel", "the file system has no O_TMPFILE")
        assert os.write(t, b"anon") == 4 and "f" in os.listdir(tmp_path)
        os.close(t)
    finally:
        os.close(d)


@pytest.mark.covers("linux.getrandom", "linux.GRND_NONBLOCK", "linux.GRND_INSECURE",
                    "linux.GRND_RANDOM")
def test_getrandom() -> None:
    a, b = bytearray(64), bytearray(64)
    assert linux.getrandom(a) == 64 and linux.getrandom(b, linux.GRND_NONBLOCK) == 64
    assert a != b and a != bytearray(64)
    assert linux.getrandom(bytearray(16), linux.GRND_INSECURE) == 16
    assert linux.getrandom(bytearray(0)) == 0
    with pytest.raises(TypeError):
        linux.getrandom(b"readonly")
    with pytest.raises(errors.InvalidArgument):
        linux.getrandom(bytearray(1), linux.GRND_RANDOM | linux.GRND_INSECURE)


@pytest.mark.covers("linux.fchmod")
def test_fchmod(tmp_path: Path) -> None:
    fd = _file(tmp_path)
    try:
        linux.fchmod(fd, 0o640)
        assert stat.S_IMODE(os.fstat(fd).st_mode) == 0o640
        with pytest.raises(ValueError):
            linux.fchmod(fd, -1)
    finally:
        os.close(fd)
    with pytest.raises(errors.BadDescriptor):
        linux.fchmod(fd, 0o600)
