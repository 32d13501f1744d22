"""Byte-range locking, one process, uncontended lock+unlock pair.

Row "OFD lock+unlock": vllsi.locking.try_lock + unlock against
``fcntl.fcntl(F_OFD_SETLK)`` with a struct-packed flock (<= 1.0x) and against
filelock, portalocker, fasteners (vllsi >= 10x faster). Peers are imported with
importorskip from the benchmark venv; they are never vllsi dependencies.
"""

from __future__ import annotations

import fcntl
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vllsi import locking

OFF = 0x40000001  # SQLite's RESERVED byte


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "lockfile"
    p.write_bytes(b"")
    return p


@pytest.fixture
def fd(path: Path) -> Iterator[int]:
    f = os.open(path, os.O_RDWR)
    yield f
    os.close(f)


def _role(benchmark: Any, role: str, target: float | None = None) -> None:
    benchmark.group = "OFD lock+unlock"
    info: dict[str, Any] = {"role": role}
    if target is not None:
        info["target"] = target
    benchmark.extra_info.update(info)


def test_lock_vllsi(benchmark: Any, fd: int) -> None:
    _role(benchmark, "vllsi")
    region, kind, try_lock = locking.LockRegion(OFF, 1), locking.LockKind.Exclusive, locking.try_lock

    def run() -> None:
        try_lock(fd, region, kind).unlock()

    benchmark(run)


def test_lock_fcntl_ofd(benchmark: Any, fd: int) -> None:
    _role(benchmark, "baseline", 1.0)
    setlk = getattr(fcntl, "F_OFD_SETLK", 37)

    def run() -> None:
        fcntl.fcntl(fd, setlk, struct.pack("hhqqi", fcntl.F_WRLCK, 0, OFF, 1, 0))
        fcntl.fcntl(fd, setlk, struct.pack("hhqqi", fcntl.F_UNLCK, 0, OFF, 1, 0))

    benchmark(run)


def test_lock_filelock(benchmark: Any, path: Path) -> None:
    filelock = pytest.importorskip("filelock")
    _role(benchmark, "baseline", 1 / 10)
    lk = filelock.FileLock(str(path) + ".lock")

    def run() -> None:
        lk.acquire()
        lk.release()

    benchmark(run)


def test_lock_portalocker(benchmark: Any, path: Path) -> None:
    portalocker = pytest.importorskip("portalocker")
    _role(benchmark, "baseline", 1 / 10)
    with open(path, "r+b") as fh:
        def run() -> None:
            portalocker.lock(fh, portalocker.LOCK_EX | portalocker.LOCK_NB)
            portalocker.unlock(fh)

        benchmark(run)


def test_lock_fasteners(benchmark: Any, path: Path) -> None:
    fasteners = pytest.importorskip("fasteners")
    _role(benchmark, "baseline", 1 / 10)
    lk = fasteners.InterProcessLock(str(path) + ".fl")

    def run() -> None:
        lk.acquire()
        lk.release()

    benchmark(run)
