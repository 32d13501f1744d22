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
G_CACHED_FIXED = "engine: 64 x 4 KiB cached reads per submit (registered buffers and file)"
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


def _reap_blocks(poll: Any) -> None:
    """Reap the DEPTH reads of one round, each a whole block."""
    n = 0
    while n < DEPTH:
        for r in poll():
            assert r.result == BLOCK
            n += 1


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
    fd, poll = cached_file, e.poll

    def run() -> None:
        e.submit_reads(fd, bufs, offs.next())
        _reap_blocks(poll)

    with e:
        benchmark(run)


def test_cached_reads_vllsi_ops(benchmark: Any, cached_file: int) -> None:
    _info(benchmark, G_CACHED_OPS, "vllsi")
    e = _engine()
    bufs = [bytearray(BLOCK) for _ in range(DEPTH)]
    offs = _Offsets()
    fd, poll = cached_file, e.poll
    Read = ie.Read

    def run() -> None:
        e.submit_many([Read(fd, b, None, o) for b, o in zip(bufs, offs.next(), strict=True)])
        _reap_blocks(poll)

    with e:
        benchmark(run)


def test_cached_reads_vllsi_fixed(benchmark: Any, cached_file: int) -> None:
    _info(benchmark, G_CACHED_FIXED, "vllsi")
    e = _engine()
    bufs = [bytearray(BLOCK) for _ in range(DEPTH)]
    e.register_buffers(bufs)
    e.register_files([cached_file])
    idx = list(range(DEPTH))
    offs = _Offsets()
    submit, poll = e.submit_fixed_reads, e.poll

    def run() -> None:
        submit(0, idx, offs.next(), fixed_file=True)
        _reap_blocks(poll)

    with e:
        benchmark(run)


# The kernel's share, without Python: one io_uring_enter submitting 64 reads into
# 64 distinct 4 KiB buffers and waiting for them, then the CQ ring read, in C.
URING_FLOOR_C = r"""
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
struct ring { int fd, file, fixed, n; unsigned *sqtail, *sqarr, mask, *cqhead, *cqtail, cmask;
              struct io_uring_sqe *sqes; struct io_uring_cqe *cqes; char **bufs; unsigned tail; };
void *uring_floor_init(int file, char **bufs, int n, int fixed) {
    struct io_uring_params p; memset(&p, 0, sizeof p);
    struct ring *r = calloc(1, sizeof *r);
    r->fd = (int)syscall(__NR_io_uring_setup, n, &p);
    if (r->fd < 0) return NULL;
    size_t sz = p.sq_off.array + p.sq_entries * 4;
    size_t csz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (csz > sz) sz = csz;
    char *sq = mmap(0, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
    r->sqes = mmap(0, p.sq_entries * 64, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                   IORING_OFF_SQES);
    r->sqtail = (unsigned *)(sq + p.sq_off.tail); r->sqarr = (unsigned *)(sq + p.sq_off.array);
    r->mask = *(unsigned *)(sq + p.sq_off.ring_mask);
    r->cqhead = (unsigned *)(sq + p.cq_off.head); r->cqtail = (unsigned *)(sq + p.cq_off.tail);
    r->cmask = *(unsigned *)(sq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(sq + p.cq_off.cqes);
    r->file = file; r->fixed = fixed; r->n = n; r->bufs = bufs; r->tail = *r->sqtail;
    if (fixed) {
        struct iovec *iov = calloc(n, sizeof *iov);
        for (int i = 0; i < n; i++) { iov[i].iov_base = bufs[i]; iov[i].iov_len = 4096; }
        if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_BUFFERS, iov, n) < 0) return NULL;
        if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_FILES, &file, 1) < 0) return NULL;
    }
    return r;
}
long uring_floor_run(struct ring *r, long first, long nblocks) {
    for (int i = 0; i < r->n; i++) {
        unsigned idx = r->tail & r->mask;
        struct io_uring_sqe *e = &r->sqes[idx];
        memset(e, 0, sizeof *e);
        e->opcode = r->fixed ? IORING_OP_READ_FIXED : IORING_OP_READ;
        e->fd = r->fixed ? 0 : r->file;
        e->flags = r->fixed ? IOSQE_FIXED_FILE : 0;
        e->addr = (uint64_t)(uintptr_t)r->bufs[i]; e->len = 4096; e->buf_index = i;
        e->off = (uint64_t)(((first + i) % nblocks) * 4096); e->user_data = i;
        r->sqarr[idx] = idx; r->tail++;
    }
    __atomic_store_n(r->sqtail, r->tail, __ATOMIC_RELEASE);
    if (syscall(__NR_io_uring_enter, r->fd, r->n, r->n, IORING_ENTER_GETEVENTS, 0, 0) != r->n)
        return -1;
    long total = 0;
    unsigned h = *r->cqhead, t = __atomic_load_n(r->cqtail, __ATOMIC_ACQUIRE);
    for (; h != t; h++) total += r->cqes[h & r->cmask].res;
    __atomic_store_n(r->cqhead, h, __ATOMIC_RELEASE);
    return total;
}
"""


def _uring_floor(benchmark: Any, cbuild: Any, fd: int, group: str, fixed: bool) -> None:
    import ctypes

    _engine().shutdown()  # skips where io_uring is unavailable
    lib = cbuild(URING_FLOOR_C)
    lib.uring_floor_init.restype = ctypes.c_void_p
    lib.uring_floor_init.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.uring_floor_run.restype = ctypes.c_long
    lib.uring_floor_run.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_long]
    bufs = [ctypes.create_string_buffer(BLOCK) for _ in range(DEPTH)]
    ptrs = (ctypes.c_char_p * DEPTH)(*[ctypes.addressof(b) for b in bufs])
    ring = lib.uring_floor_init(fd, ptrs, DEPTH, int(fixed))
    if not ring:
        pytest.skip("environment: io_uring setup failed for the C floor")
    benchmark.group = group
    benchmark.extra_info.update(role="baseline", label="C floor (io_uring, no Python)",
                                noisy=True)
    offs = _Offsets()

    def run() -> None:
        first = offs.pos
        offs.next()
        assert lib.uring_floor_run(ring, first, offs.blocks) == DEPTH * BLOCK

    benchmark(run)


def test_cached_reads_uring_floor(benchmark: Any, cached_file: int, cbuild: Any) -> None:
    _uring_floor(benchmark, cbuild, cached_file, G_CACHED, False)


def test_cached_reads_uring_floor_fixed(benchmark: Any, cached_file: int, cbuild: Any) -> None:
    _uring_floor(benchmark, cbuild, cached_file, G_CACHED_FIXED, True)


def test_cached_reads_os_pread_fixed_group(benchmark: Any, cached_file: int) -> None:
    _info(benchmark, G_CACHED_FIXED, "baseline", 1 / 1.25)
    _pread_loop(benchmark, cached_file)


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
    # The storage-engine setup: buffers and file registered once; each completion's
    # buffer is refilled at once with its own submit (one SQE per io_uring_enter).
    # Refilling a whole poll's worth in one enter lets the block layer plug the
    # batch, and this virtio disk then completes in waves: ~70K IOPS instead of
    # ~87K (fio's level) for the same queue depth, in C as in Python.
    e = _engine()
    from vllsi.memory import AlignedBuffer

    bufs = [AlignedBuffer(BLOCK, BLOCK) for _ in range(QD)]
    e.register_buffers(bufs)
    e.register_files([fd])
    offs = _random_blocks(3, total)
    submit, poll = e.submit_fixed_reads, e.poll

    def run() -> None:
        it = iter(offs)
        first = min(QD, total)
        ids = submit(0, list(range(first)), [next(it) for _ in range(first)], fixed_file=True)
        owner = dict(zip(ids, range(first), strict=True))
        issued, done = first, 0
        while done < total:
            for r in poll():
                assert r.result == BLOCK
                b = owner.pop(r.submission_id)
                done += 1
                if issued < total:
                    (sid,) = submit(0, [b], [next(it)], fixed_file=True)
                    owner[sid] = b
                    issued += 1

    with e:
        benchmark.pedantic(run, rounds=5, iterations=1)
    for b in bufs:  # exported until shutdown released the registration
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
