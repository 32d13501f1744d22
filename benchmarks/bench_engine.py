"""The I/O engine on storage (anchors P6, P8): side by side in one run.

(a) 64 x 4 KiB cached reads per submit (one call submits, one call reaps) vs an
    ``os.pread`` loop (target: >= 1.25x faster) and vs the PyPI ``liburing``
    package at the same depth (target: <= 1.0x time). Two vllsi rows: the batch
    form (``submit_reads``) and 64 ``Read`` op objects (``submit_many``).
(b) O_DIRECT random 4 KiB reads at QD32 vs ``os.preadv`` at QD1 (>= 4x IOPS), and
    vs ``fio --ioengine=io_uring --iodepth=32`` on the same file (>= 0.8x IOPS) in a
    second group with 16384 reads per round: fio's row times a whole fio run, its
    start-up included, so its ``extra_info`` also records the IOPS fio itself
    reports (compare that with the vllsi row's reads / time).

Every round of a group performs the same number of reads. Peers come from the
benchmark venv (importorskip); fio from the system (skipped when absent).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from vllsi import io_engine as ie

BLOCK = 4096
DEPTH = 64
CACHED_SIZE = 64 << 20
DIRECT_SIZE = 256 << 20
QD = 32
DIRECT_READS = 1024

G_CACHED = "engine: 64 x 4 KiB cached reads per submit (batch form)"
G_CACHED_OPS = "engine: 64 x 4 KiB cached reads per submit (Read op objects)"
G_DIRECT = "engine: O_DIRECT random 4 KiB, QD32 engine vs QD1 os.preadv"
G_FIO = "engine: O_DIRECT random 4 KiB QD32, 16384 reads: engine vs fio (start-up included)"
FIO_READS = 16384


def _info(benchmark: Any, group: str, role: str, target: float | None = None) -> None:
    benchmark.group = group
    info: dict[str, Any] = {"role": role}
    if target is not None:
        info["target"] = target
    benchmark.extra_info.update(info)


@pytest.fixture(scope="module")
def cached_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    p = tmp_path_factory.mktemp("engine") / "cached"
    rng = random.Random(1)
    with open(p, "wb") as f:
        for _ in range(CACHED_SIZE >> 20):
            f.write(rng.randbytes(1 << 20))
    fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
    while os.read(fd, 1 << 20):  # warm the page cache
        pass
    yield fd
    os.close(fd)


class _Offsets:
    """Walks the file in 64-block strides (same sequence for every side)."""

    def __init__(self) -> None:
        self.pos = 0
        self.blocks = CACHED_SIZE // BLOCK

    def next(self) -> list[int]:
        base = self.pos
        self.pos = (self.pos + DEPTH) % self.blocks
        return [((base + i) % self.blocks) * BLOCK for i in range(DEPTH)]


def _engine() -> Any:
    from vllsi.linux.io import IoUringDriver

    ok, why = IoUringDriver.probe()
    if not ok:
        pytest.skip(f"kernel: io_uring unavailable ({why})")
    return IoUringDriver(ie.IoEngineConfig(entries=DEPTH))


def test_cached_reads_vllsi_batch(benchmark: Any, cached_file: int) -> None:
    _info(benchmark, G_CACHED, "vllsi")
    e = _engine()
    bufs = [bytearray(BLOCK) for _ in range(DEPTH)]
    offs = _Offsets()
    fd = cached_file

    def run() -> None:
        e.submit_reads(fd, bufs, offs.next())
        n = 0
        while n < DEPTH:
            for r in e.poll():
                assert r.result == BLOCK
                n += 1

    with e:
        benchmark(run)


def test_cached_reads_vllsi_ops(benchmark: Any, cached_file: int) -> None:
    _info(benchmark, G_CACHED_OPS, "vllsi")
    e = _engine()
    bufs = [bytearray(BLOCK) for _ in range(DEPTH)]
    offs = _Offsets()
    fd = cached_file
    Read = ie.Read

    def run() -> None:
        e.submit_many([Read(fd, b, None, o) for b, o in zip(bufs, offs.next(), strict=True)])
        n = 0
        while n < DEPTH:
            for r in e.poll():
                assert r.result == BLOCK
                n += 1

    with e:
        benchmark(run)


def _pread_loop(benchmark: Any, fd: int) -> None:
    offs = _Offsets()
    pread = os.pread

    def run() -> None:
        for o in offs.next():
            pread(fd, BLOCK, o)

    benchmark(run)


def test_cached_reads_os_pread(benchmark: Any, cached_file: int) -> None:
    _info(benchmark, G_CACHED, "baseline", 1 / 1.25)
    _pread_loop(benchmark, cached_file)


def test_cached_reads_os_pread_ops_group(benchmark: Any, cached_file: int) -> None:
    _info(benchmark, G_CACHED_OPS, "baseline", 1 / 1.25)
    _pread_loop(benchmark, cached_file)


def test_cached_reads_liburing(benchmark: Any, cached_file: int) -> None:
    L: Any = pytest.importorskip("liburing")
    _info(benchmark, G_CACHED, "baseline", 1.0)
    ring = L.Ring()
    L.io_uring_queue_init(DEPTH, ring)
    cqe = L.Cqe()
    bufs = [bytearray(BLOCK) for _ in range(DEPTH)]
    offs = _Offsets()
    fd = cached_file
    get_sqe, prep, submit = L.io_uring_get_sqe, L.io_uring_prep_read, L.io_uring_submit
    wait, advance = L.io_uring_wait_cqe, L.io_uring_cq_advance

    def run() -> None:
        for b, o in zip(bufs, offs.next(), strict=True):
            prep(get_sqe(ring), fd, b, o)
        submit(ring)
        for _ in range(DEPTH):
            wait(ring, cqe)
            assert cqe[0].res == BLOCK
            advance(ring, 1)

    try:
        benchmark(run)
    finally:
        L.io_uring_queue_exit(ring)


@pytest.fixture(scope="module")
def direct_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    p = tmp_path_factory.mktemp("direct") / "direct"
    chunk = random.Random(2).randbytes(1 << 20)
    with open(p, "wb") as f:
        for _ in range(DIRECT_SIZE >> 20):
            f.write(chunk)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_DIRECT | os.O_CLOEXEC)
    except OSError:
        pytest.skip("environment: the filesystem refuses O_DIRECT")
    yield str(p), fd
    os.close(fd)


def _random_blocks(seed: int, n: int = DIRECT_READS) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(DIRECT_SIZE // BLOCK) * BLOCK for _ in range(n)]


def test_direct_qd32_vllsi(benchmark: Any, direct_file: tuple[str, int]) -> None:
    _direct_qd32(benchmark, direct_file, G_DIRECT, DIRECT_READS)


def test_direct_qd32_vllsi_fio_group(benchmark: Any, direct_file: tuple[str, int]) -> None:
    _direct_qd32(benchmark, direct_file, G_FIO, FIO_READS)


def _direct_qd32(benchmark: Any, direct_file: tuple[str, int], group: str, total: int) -> None:
    _info(benchmark, group, "vllsi")
    _, fd = direct_file
    e = _engine()
    from vllsi.memory import AlignedBuffer

    bufs = [AlignedBuffer(BLOCK, BLOCK) for _ in range(QD)]
    offs = _random_blocks(3, total)

    def run() -> None:
        it = iter(offs)
        free = list(range(QD))
        owner: dict[int, int] = {}
        issued = done = 0
        while done < total:
            if free and issued < total:
                k = min(len(free), total - issued)
                idx = [free.pop() for _ in range(k)]
                ids = e.submit_reads(fd, [bufs[i] for i in idx], [next(it) for _ in idx])
                owner.update(zip(ids, idx, strict=True))
                issued += k
            for r in e.poll():
                assert r.result == BLOCK
                free.append(owner.pop(r.submission_id))
                done += 1

    with e:
        benchmark.pedantic(run, rounds=5, iterations=1)
    for b in bufs:
        b.close()


def test_direct_qd1_os_preadv(benchmark: Any, direct_file: tuple[str, int]) -> None:
    _info(benchmark, G_DIRECT, "baseline", 1 / 4)
    _, fd = direct_file
    from vllsi.memory import AlignedBuffer

    buf = AlignedBuffer(BLOCK, BLOCK)
    offs = _random_blocks(3)

    def run() -> None:
        for o in offs:
            os.preadv(fd, [buf], o)

    benchmark.pedantic(run, rounds=5, iterations=1)
    buf.close()


def test_direct_qd32_fio(benchmark: Any, direct_file: tuple[str, int]) -> None:
    fio = shutil.which("fio")
    if fio is None:
        pytest.skip("environment: fio is not installed")
    _info(benchmark, G_FIO, "baseline", 1 / 0.8)
    path, _ = direct_file
    argv = [fio, "--name=qd32", f"--filename={path}", "--ioengine=io_uring",
            f"--iodepth={QD}", "--rw=randread", f"--bs={BLOCK}", "--direct=1",
            f"--size={DIRECT_SIZE}", f"--io_size={FIO_READS * BLOCK}",
            "--norandommap", "--randrepeat=1", "--output-format=json"]
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"environment: fio failed: {r.stderr.strip()[:200]}")
    benchmark.extra_info["fio_reported_iops"] = json.loads(r.stdout)["jobs"][0]["read"]["iops"]

    def run() -> None:
        subprocess.run(argv, check=True, capture_output=True)

    benchmark.pedantic(run, rounds=5, iterations=1)
