"""Durability: syncs, and atomic replacement observed with strace, SIGKILL and a
full file system."""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from conformance._support import ON_WINDOWS, UNDER_QEMU, linux_only, skip
from conformance._support.proc import child_env, python_argv, spawn
from vllsi import durability, errors

posix_fds = pytest.mark.skipif(
    ON_WINDOWS, reason="platform: uses C runtime descriptors (os.open) or POSIX-only os oracles; on Windows vllsi takes HANDLEs (conformance/windows/test_backend_files.py)")


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


@posix_fds
@pytest.mark.covers("durability.full_fsync", "durability.data_only_fsync")
def test_fsyncs(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        os.write(fd, b"data")
        durability.full_fsync(fd)
        durability.data_only_fsync(fd)
        with open(tmp_path / "f", "rb") as f:
            durability.full_fsync(f)  # anything with fileno()
    finally:
        os.close(fd)
    for call in (durability.full_fsync, durability.data_only_fsync):
        with pytest.raises(errors.BadDescriptor):
            call(fd)
        with pytest.raises(TypeError):
            call("3")
        with pytest.raises(ValueError):
            call(-1)


@linux_only
@pytest.mark.covers("durability.full_fsync", "durability.data_only_fsync")
def test_fsync_of_a_pipe_is_einval() -> None:
    r, w = os.pipe()
    try:
        with pytest.raises(errors.InvalidArgument) as ei:
            durability.full_fsync(r)
        assert ei.value.errno == errno.EINVAL
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.covers("durability.sync_directory")
def test_sync_directory(tmp_path: Path) -> None:
    durability.sync_directory(tmp_path)
    durability.sync_directory(str(tmp_path).encode())
    with pytest.raises(errors.NotFound):
        durability.sync_directory(tmp_path / "missing")
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(OSError) as ei:
        durability.sync_directory(tmp_path / "f")
    assert ei.value.errno == errno.ENOTDIR
    with pytest.raises(ValueError):
        durability.sync_directory("")


@posix_fds
@pytest.mark.covers("durability.atomic_write")
def test_atomic_write_creates_and_replaces_keeping_mode(tmp_path: Path) -> None:
    p = tmp_path / "t"
    durability.atomic_write(p, b"one")
    assert p.read_bytes() == b"one"
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~_umask()
    os.chmod(p, 0o640)
    ino = os.stat(p).st_ino
    durability.atomic_write(str(p), bytearray(b"two"))
    assert p.read_bytes() == b"two" and stat.S_IMODE(os.stat(p).st_mode) == 0o640
    assert os.stat(p).st_ino != ino  # replaced, not rewritten in place
    durability.atomic_write(p, memoryview(b"three"), mode=0o604)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o604
    durability.atomic_write(p, b"", durable=False)
    assert p.read_bytes() == b""
    assert os.listdir(tmp_path) == ["t"]  # no temp file left


@linux_only
@pytest.mark.covers("durability.atomic_write")
def test_atomic_write_replaces_a_symlink_not_its_target(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"real")
    os.symlink("real", tmp_path / "link")
    durability.atomic_write(tmp_path / "link", b"new")
    assert not os.path.islink(tmp_path / "link")
    assert (tmp_path / "real").read_bytes() == b"real"


@pytest.mark.covers("durability.atomic_write", "durability.atomic_write_many")
def test_temp_removed_and_target_kept_on_failure(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_bytes(b"")
    with pytest.raises(OSError):
        durability.atomic_write(tmp_path / "d", b"data")  # rename onto a full directory
    assert sorted(os.listdir(tmp_path)) == ["d"]
    (tmp_path / "a").write_bytes(b"old-a")
    with pytest.raises(errors.NotFound):
        durability.atomic_write_many([(tmp_path / "a", b"new-a"),
                                      (tmp_path / "missing" / "b", b"b")])
    assert (tmp_path / "a").read_bytes() == b"old-a"
    assert sorted(os.listdir(tmp_path)) == ["a", "d"]


@pytest.mark.covers("durability.atomic_write", "durability.atomic_write_many")
def test_bad_input_before_any_call(tmp_path: Path) -> None:
    p = tmp_path / "t"
    for call in (lambda: durability.atomic_write(p, "text"),
                 lambda: durability.atomic_write(p, 5),
                 lambda: durability.atomic_write(5, b""),
                 lambda: durability.atomic_write(p, b"", mode="644"),
                 lambda: durability.atomic_write_many([(p,)]),
                 lambda: durability.atomic_write_many([p])):
        with pytest.raises(TypeError):
            call()
    for call in (lambda: durability.atomic_write(str(tmp_path) + "/", b""),
                 lambda: durability.atomic_write(tmp_path / "..", b""),
                 lambda: durability.atomic_write("", b""),
                 lambda: durability.atomic_write("a\0b", b""),
                 lambda: durability.atomic_write(p, b"", mode=0o10000)):
        with pytest.raises(ValueError):
            call()
    assert os.listdir(tmp_path) == []


@posix_fds
@pytest.mark.covers("durability.atomic_write_many")
@pytest.mark.parametrize("count", [3, 40])
def test_atomic_write_many(tmp_path: Path, count: int) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    items = [(tmp_path / ("a" if i % 2 else "b") / f"f{i}", f"v{i}".encode())
             for i in range(count)]
    (tmp_path / "a" / "f1").write_bytes(b"old")
    os.chmod(tmp_path / "a" / "f1", 0o600)
    durability.atomic_write_many(items)
    for path, data in items:
        assert path.read_bytes() == data
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "f1").st_mode) == 0o600
    assert len(os.listdir(tmp_path / "a")) + len(os.listdir(tmp_path / "b")) == count
    durability.atomic_write_many(iter([]))
    durability.atomic_write_many([(tmp_path / "a" / "f1", b"x")], durable=False)
    assert (tmp_path / "a" / "f1").read_bytes() == b"x"


# --- strace: the exact system-call sequence ---------------------------------------

STRACE_CHILD = textwrap.dedent("""
    import sys
    from vllsi import durability
    target, durable, n = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
    sys.stdout.write("BEGIN\\n"); sys.stdout.flush()
    if n == 1:
        durability.atomic_write(target, b"x" * 5000, durable=durable)
    else:
        durability.atomic_write_many([(f"{target}{i}", b"y") for i in range(n)],
                                     durable=durable)
    sys.stdout.write("END\\n"); sys.stdout.flush()
""")

SYNCS = ("fsync", "fdatasync", "syncfs", "sync_file_range", "sync", "msync")


def _strace(tmp: Path, durable: bool, n: int = 1) -> list[str]:
    if UNDER_QEMU:
        skip("environment", "strace cannot trace through qemu-user")
    exe = shutil.which("strace")
    if exe is None:
        skip("environment", "strace is not installed (CI installs it in .ci/stages/15-apt.sh)")
    assert exe is not None
    log = tmp / "strace.log"
    cmd = [exe, "-f", "-qq", "-s", "200", "-o", str(log),
           "-e", "trace=openat,write,fsync,fdatasync,syncfs,sync_file_range,close,"
                 "rename,renameat,renameat2,unlinkat,fchmod,msync,sync",
           *python_argv("-c", STRACE_CHILD, str(tmp / "target"), "1" if durable else "0",
                        str(n))]
    r = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), timeout=120)
    if r.returncode != 0 and "ptrace" in r.stderr:
        skip("privilege", f"strace cannot ptrace here: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, r.stderr
    lines = [ln.split(None, 1)[1] if ln[:1].isdigit() else ln
             for ln in log.read_text().splitlines()]
    begin = next(i for i, ln in enumerate(lines) if ln.startswith("write(1, \"BEGIN"))
    end = next(i for i, ln in enumerate(lines) if ln.startswith("write(1, \"END"))
    return lines[begin + 1:end]


def _call(line: str) -> str:
    return line.split("(", 1)[0]


@linux_only
@pytest.mark.covers("durability.atomic_write")
def test_strace_shows_the_exact_durable_sequence(tmp_path: Path) -> None:
    calls = [ln for ln in _strace(tmp_path, True) if _call(ln) != "close" or "= 0" in ln]
    names = [_call(ln) for ln in calls]
    # the directory, the temp in it, data, sync of the temp, rename, sync of the directory
    i_dir = next(i for i, ln in enumerate(calls)
                 if ln.startswith("openat(AT_FDCWD, \"" + str(tmp_path) + "\"")
                 and "O_DIRECTORY" in ln)
    dirfd = int(calls[i_dir].rsplit("=", 1)[1])
    tmp_open = next(i for i, ln in enumerate(calls) if ln.startswith(f"openat({dirfd}, \".target."))
    m = re.match(rf'openat\({dirfd}, "(\.target\.[0-9a-f]+\.tmp)", ([^,]+)', calls[tmp_open])
    assert m, calls[tmp_open]
    temp, flags = m.group(1), m.group(2)
    assert "O_CREAT" in flags and "O_EXCL" in flags and "O_WRONLY" in flags
    tfd = int(calls[tmp_open].rsplit("=", 1)[1])
    rest = calls[tmp_open + 1:]
    writes = [ln for ln in rest if ln.startswith(f"write({tfd},")]
    assert sum(int(ln.rsplit("=", 1)[1]) for ln in writes) == 5000
    wanted = (*SYNCS, "renameat2", "rename", "renameat", "close")
    seq = [(_call(ln), ln) for ln in rest if _call(ln) in wanted]
    order = [c for c, ln in seq if c != "close" or ln.startswith(f"close({tfd})")]
    assert order[:4] == ["fsync", "close", "renameat2", "fsync"], seq
    assert seq[0][1].startswith(f"fsync({tfd})")
    rename = next(ln for c, ln in seq if c == "renameat2")
    assert rename.startswith(f'renameat2({dirfd}, "{temp}", {dirfd}, "target", 0)')
    last_sync = [ln for c, ln in seq if c == "fsync"][-1]
    assert last_sync.startswith(f"fsync({dirfd})")
    assert sum(1 for n in names if n in SYNCS) == 2  # as atomicwrites: file + directory
    assert os.listdir(tmp_path) == ["strace.log", "target"] or sorted(os.listdir(tmp_path)) == [
        "strace.log", "target"]


@linux_only
@pytest.mark.covers("durability.atomic_write", "durability.atomic_write_many")
def test_strace_no_sync_when_not_durable(tmp_path: Path) -> None:
    for n in (1, 20):
        names = [_call(ln) for ln in _strace(tmp_path, False, n)]
        assert not [c for c in names if c in SYNCS], names
        assert names.count("renameat2") == n


@linux_only
@pytest.mark.covers("durability.atomic_write_many")
@pytest.mark.parametrize("n", [3, 20])
def test_strace_batch_syncs_then_renames_then_syncs_directory_once(tmp_path: Path,
                                                                   n: int) -> None:
    names = [_call(ln) for ln in _strace(tmp_path, True, n) if _call(ln) != "close"]
    first_rename = names.index("renameat2")
    before = [c for c in names[:first_rename] if c in SYNCS]
    after = [c for c in names[first_rename:] if c in SYNCS]
    assert names[first_rename:].count("renameat2") == n
    assert before == (["fsync"] * n if n < 16 else ["syncfs"])
    assert after == ["fsync"]  # one directory
    assert all(c == "renameat2" for c in names[first_rename:] if c not in SYNCS)


# --- SIGKILL at random moments -------------------------------------------------------

KILL_CHILD = textwrap.dedent("""
    import sys
    from vllsi import durability
    target = sys.argv[1]
    blobs = [bytes([65 + i]) * (256 * 1024 + i) for i in range(2)]
    print("go", flush=True)
    i = 0
    while True:
        durability.atomic_write(target, blobs[i % 2])
        i += 1
""")


@pytest.mark.covers("durability.atomic_write")
def test_sigkill_never_leaves_a_torn_target(tmp_path: Path) -> None:
    if not hasattr(signal, "SIGKILL"):
        skip("platform", "no SIGKILL")
    target = tmp_path / "target"
    old = b"O" * 1000
    target.write_bytes(old)
    valid = {old, *(bytes([65 + i]) * (256 * 1024 + i) for i in range(2))}
    rng = random.Random(1234)
    for _trial in range(24):
        child = spawn(KILL_CHILD, str(target))
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "go"
        time.sleep(rng.uniform(0, 0.03))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        assert child.returncode == -signal.SIGKILL
        assert target.read_bytes() in valid
    leftovers = [n for n in os.listdir(tmp_path) if n != "target"]
    assert all(n.startswith(".target.") and n.endswith(".tmp") for n in leftovers)


# --- a full file system -------------------------------------------------------------

@linux_only
@pytest.mark.covers("durability.atomic_write", "durability.atomic_write_many")
def test_enospc_raises_and_keeps_the_target(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        skip("privilege", f"cannot mount a small tmpfs: {r.stderr.strip()[:200]}")
    try:
        target = mnt / "t"
        durability.atomic_write(target, b"intact")
        with pytest.raises(errors.ResourceExhausted) as ei:
            durability.atomic_write(target, os.urandom(1 << 20))
        assert ei.value.errno == errno.ENOSPC
        assert target.read_bytes() == b"intact"
        assert os.listdir(mnt) == ["t"]
        with pytest.raises(errors.ResourceExhausted):
            durability.atomic_write_many([(mnt / "u", b"u"), (target, os.urandom(1 << 20))])
        assert target.read_bytes() == b"intact" and sorted(os.listdir(mnt)) == ["t"]
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
