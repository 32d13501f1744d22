"""Syscall path: getpid, getppid and a 4 KiB pread through vllsi vs the usual ways.

Goals (../shared/reference/anchors.md §17.2): P1 ``vllsi.linux.getpid`` <= 1.3x
``os.getpid()``; P2 >= 1.6x faster than ctypes ``syscall(SYS_getpid)``; P3 >= 1.3x
faster than cffi ABI ``getpid()``. The same targets are applied to getppid, and
to ``syscall_raw`` against the other generic entries (ctypes and cffi ``syscall``);
``vllsi.linux.pread64`` into a caller's buffer is held to <= 1.05x ``os.preadv``
(P5's shape). Each C floor is a loop of raw inline-asm syscalls built with gcc
here, run ``N`` times per Python call: the kernel's own cost, no Python at all.

Every benchmarked callable runs a loop of ``N`` calls (``ops=N``), as the anchors
were measured: the figure per operation includes the Python ``for`` loop (about
12 ns here) but not pytest-benchmark's call of the callable.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

linux = pytest.importorskip("vllsi.linux", reason="platform: vllsi.linux needs Linux")

N = 1000  # calls per benchmarked Python call
BLOCK = 4096
FILE_BLOCKS = 4096  # 16 MiB file, walked in order N blocks per call (page cache warm)

NR_GETPID = linux.NR["getpid"]
NR_GETPPID = linux.NR["getppid"]
NR_PREAD64 = linux.NR["pread64"]

FLOOR_C = r"""
#include <stddef.h>
static inline long raw0(long n) {
#if defined(__x86_64__)
    long r;
    __asm__ volatile ("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory");
    return r;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0");
    __asm__ volatile ("svc #0" : "=r"(x0) : "r"(x8) : "memory");
    return x0;
#else
#error "floor: x86_64 or aarch64 only"
#endif
}
static inline long raw4(long n, long a, long b, long c, long d) {
#if defined(__x86_64__)
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                      : "rcx", "r11", "memory");
    return r;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile ("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#endif
}
long floor0(long nr, long n) {
    long acc = 0;
    for (long i = 0; i < n; i++) acc += raw0(nr);
    return acc;
}
long floor_pread(long nr, long fd, void *buf, long len, long first, long n, long nblocks) {
    long total = 0;
    for (long i = 0; i < n; i++) {
        long r = raw4(nr, fd, (long)buf, len, ((first + i) % nblocks) * len);
        if (r < 0) return r;
        total += r;
    }
    return total;
}
"""


def _loop0(fn: Callable[[], Any]) -> Callable[[], None]:
    r = range(N)

    def run() -> None:
        for _ in r:
            fn()

    return run


def _loop1(fn: Callable[[int], Any], arg: int) -> Callable[[], None]:
    r = range(N)

    def run() -> None:
        for _ in r:
            fn(arg)

    return run


@pytest.fixture(scope="module")
def floor(cbuild: Callable[..., Any]) -> Any:
    lib = cbuild(FLOOR_C)
    lib.floor0.argtypes = [ctypes.c_long, ctypes.c_long]
    lib.floor0.restype = ctypes.c_long
    lib.floor_pread.argtypes = [ctypes.c_long] * 2 + [ctypes.c_void_p] + [ctypes.c_long] * 4
    lib.floor_pread.restype = ctypes.c_long
    return lib


@pytest.fixture(scope="module")
def libc_ctypes() -> Any:
    return ctypes.CDLL(None, use_errno=True)


@pytest.fixture(scope="module")
def libc_cffi() -> Any:
    cffi = pytest.importorskip("cffi", reason="environment: cffi missing")
    ffi = cffi.FFI()
    ffi.cdef("int getpid(void); int getppid(void); long syscall(long number, ...);"
             "long pread(int fd, void *buf, size_t n, long off);")
    return ffi, ffi.dlopen(None)


# ---------------------------------------------------------------- getpid / getppid

IDENTITY = [
    # (group, vllsi callable name, os function, syscall number name, cffi function)
    ("getpid", "getpid", os.getpid, "getpid"),
    ("getppid", "getppid", os.getppid, "getppid"),
]
P1, P2, P3 = 1.3, 1 / 1.6, 1 / 1.3


def _goal(group: str, goal: str) -> dict[str, str]:
    """The anchors' goals P1-P3 are stated for getpid; getppid rows reuse the targets."""
    return {"goal": goal} if group == "getpid" else {}


@pytest.mark.parametrize("group,vname,osfn,sysname", IDENTITY, ids=[g[0] for g in IDENTITY])
def test_identity_vllsi(benchmark: Any, group: str, vname: str, osfn: Any, sysname: str) -> None:
    benchmark.group = group
    benchmark.extra_info.update(role="vllsi", label=f"vllsi.linux.{vname}", ops=N)
    fn = getattr(linux, vname)
    assert fn() == osfn()
    benchmark(_loop0(fn))


@pytest.mark.parametrize("group,vname,osfn,sysname", IDENTITY, ids=[g[0] for g in IDENTITY])
def test_identity_os(benchmark: Any, group: str, vname: str, osfn: Any, sysname: str) -> None:
    benchmark.group = group
    benchmark.extra_info.update(role="baseline", target=P1, label=f"os.{vname}", ops=N,
                                **_goal(group, "P1"))
    benchmark(_loop0(osfn))


@pytest.mark.parametrize("group,vname,osfn,sysname", IDENTITY, ids=[g[0] for g in IDENTITY])
def test_identity_ctypes_syscall(benchmark: Any, libc_ctypes: Any, group: str, vname: str,
                                 osfn: Any, sysname: str) -> None:
    benchmark.group = group
    benchmark.extra_info.update(role="baseline", target=P2, label="ctypes syscall", ops=N,
                                **_goal(group, "P2"))
    nr = linux.NR[sysname]
    assert libc_ctypes.syscall(nr) == osfn()
    benchmark(_loop1(libc_ctypes.syscall, nr))


@pytest.mark.parametrize("group,vname,osfn,sysname", IDENTITY, ids=[g[0] for g in IDENTITY])
def test_identity_cffi_abi(benchmark: Any, libc_cffi: Any, group: str, vname: str, osfn: Any,
                           sysname: str) -> None:
    benchmark.group = group
    benchmark.extra_info.update(role="baseline", target=P3, label=f"cffi ABI {vname}()", ops=N,
                                **_goal(group, "P3"))
    fn = getattr(libc_cffi[1], vname)
    assert fn() == osfn()
    benchmark(_loop0(fn))


@pytest.mark.parametrize("group,vname,osfn,sysname", IDENTITY, ids=[g[0] for g in IDENTITY])
def test_identity_floor(benchmark: Any, floor: Any, group: str, vname: str, osfn: Any,
                        sysname: str) -> None:
    benchmark.group = group
    benchmark.extra_info.update(role="baseline", label="C floor (inline syscall loop)", ops=N)
    benchmark(floor.floor0, linux.NR[sysname], N)


# ---------------------------------------------------------------- syscall_raw(getpid)

def test_raw_vllsi(benchmark: Any) -> None:
    benchmark.group = "syscall_raw(getpid)"
    benchmark.extra_info.update(role="vllsi", label="vllsi.linux.syscall_raw", ops=N)
    assert linux.syscall_raw(NR_GETPID) == os.getpid()
    benchmark(_loop1(linux.syscall_raw, NR_GETPID))


def test_raw_os(benchmark: Any) -> None:
    benchmark.group = "syscall_raw(getpid)"
    benchmark.extra_info.update(role="baseline", label="os.getpid", ops=N)
    benchmark(_loop0(os.getpid))


def test_raw_ctypes(benchmark: Any, libc_ctypes: Any) -> None:
    benchmark.group = "syscall_raw(getpid)"
    benchmark.extra_info.update(role="baseline", target=P2, label="ctypes syscall", ops=N)
    benchmark(_loop1(libc_ctypes.syscall, NR_GETPID))


def test_raw_cffi(benchmark: Any, libc_cffi: Any) -> None:
    benchmark.group = "syscall_raw(getpid)"
    benchmark.extra_info.update(role="baseline", target=P3, label="cffi ABI syscall", ops=N)
    fn = libc_cffi[1].syscall
    assert fn(NR_GETPID) == os.getpid()
    benchmark(_loop1(fn, NR_GETPID))


def test_raw_floor(benchmark: Any, floor: Any) -> None:
    benchmark.group = "syscall_raw(getpid)"
    benchmark.extra_info.update(role="baseline", label="C floor (inline syscall loop)", ops=N)
    benchmark(floor.floor0, NR_GETPID, N)


# ---------------------------------------------------------------- pread 4 KiB

@pytest.fixture(scope="module")
def datafile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    base = Path(os.environ.get("VLLSI_BENCH_DIR", Path(__file__).resolve().parent / ".work"))
    base.mkdir(parents=True, exist_ok=True)
    path = base / f"pread-{os.getpid()}.dat"
    with open(path, "wb") as f:
        chunk = os.urandom(BLOCK) * 256
        for _ in range(FILE_BLOCKS // 256):
            f.write(chunk)
    fd = os.open(path, os.O_RDONLY)
    path.unlink()
    buf = bytearray(BLOCK)
    for i in range(FILE_BLOCKS):  # warm the page cache
        os.preadv(fd, [buf], i * BLOCK)
    try:
        yield fd
    finally:
        os.close(fd)


def _windows() -> Callable[[], range]:
    """Successive windows of N block offsets, continuing where the last call stopped."""
    ws = [range(i * BLOCK, (i + N) * BLOCK, BLOCK) for i in range(0, FILE_BLOCKS - N + 1, N)]
    state = [0]

    def nxt() -> range:
        state[0] += 1
        return ws[state[0] % len(ws)]

    return nxt


def test_pread_vllsi(benchmark: Any, datafile: int) -> None:
    benchmark.group = "pread 4 KiB"
    benchmark.extra_info.update(role="vllsi", label="vllsi.linux.pread64 (into buffer)", ops=N)
    buf = bytearray(BLOCK)
    fd, pread64, nxt = datafile, linux.pread64, _windows()
    assert pread64(fd, buf, 0) == BLOCK and bytes(buf) == os.pread(fd, BLOCK, 0)

    def run() -> None:
        for off in nxt():
            pread64(fd, buf, off)

    benchmark(run)


def test_pread_os_preadv(benchmark: Any, datafile: int) -> None:
    benchmark.group = "pread 4 KiB"
    benchmark.extra_info.update(role="baseline", target=1.05, label="os.preadv (into buffer)",
                                ops=N)
    bufs = [bytearray(BLOCK)]
    fd, preadv, nxt = datafile, os.preadv, _windows()

    def run() -> None:
        for off in nxt():
            preadv(fd, bufs, off)

    benchmark(run)


def test_pread_os_pread(benchmark: Any, datafile: int) -> None:
    benchmark.group = "pread 4 KiB"
    benchmark.extra_info.update(role="baseline", label="os.pread (allocates)", ops=N)
    fd, pread, nxt = datafile, os.pread, _windows()

    def run() -> None:
        for off in nxt():
            pread(fd, BLOCK, off)

    benchmark(run)


def test_pread_ctypes(benchmark: Any, datafile: int, libc_ctypes: Any) -> None:
    benchmark.group = "pread 4 KiB"
    benchmark.extra_info.update(role="baseline", label="ctypes pread", ops=N)
    buf = ctypes.create_string_buffer(BLOCK)
    fn = libc_ctypes.pread
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long]
    fn.restype = ctypes.c_long
    fd, nxt = datafile, _windows()
    assert fn(fd, buf, BLOCK, 0) == BLOCK

    def run() -> None:
        for off in nxt():
            fn(fd, buf, BLOCK, off)

    benchmark(run)


def test_pread_cffi(benchmark: Any, datafile: int, libc_cffi: Any) -> None:
    benchmark.group = "pread 4 KiB"
    benchmark.extra_info.update(role="baseline", label="cffi ABI pread", ops=N)
    ffi, lib = libc_cffi
    buf = ffi.new("char[]", BLOCK)
    fn, fd, nxt = lib.pread, datafile, _windows()
    assert fn(fd, buf, BLOCK, 0) == BLOCK

    def run() -> None:
        for off in nxt():
            fn(fd, buf, BLOCK, off)

    benchmark(run)


def test_pread_floor(benchmark: Any, datafile: int, floor: Any) -> None:
    benchmark.group = "pread 4 KiB"
    # noisy: a loop of 4 KiB kernel copies is bound by memory bandwidth, which other
    # tenants of a shared machine take (363 vs 490 ns per op seen run to run)
    benchmark.extra_info.update(role="baseline", label="C floor (raw pread64 loop)", ops=N,
                                noisy=True)
    buf = ctypes.create_string_buffer(BLOCK)
    state = [0]

    def run() -> None:
        r = floor.floor_pread(NR_PREAD64, datafile, buf, BLOCK, state[0], N, FILE_BLOCKS)
        state[0] += N
        assert r == N * BLOCK, r

    benchmark(run)


def test_pread_raw_vllsi(benchmark: Any, datafile: int) -> None:
    benchmark.group = "syscall_raw(pread64) 4 KiB"
    benchmark.extra_info.update(role="vllsi", label="vllsi.linux.syscall_raw", ops=N)
    buf = ctypes.create_string_buffer(BLOCK)
    addr, fd, raw, nxt = ctypes.addressof(buf), datafile, linux.syscall_raw, _windows()
    assert raw(NR_PREAD64, fd, addr, BLOCK, 0) == BLOCK

    def run() -> None:
        for off in nxt():
            raw(NR_PREAD64, fd, addr, BLOCK, off)

    benchmark(run)


def test_pread_raw_ctypes(benchmark: Any, datafile: int, libc_ctypes: Any) -> None:
    benchmark.group = "syscall_raw(pread64) 4 KiB"
    benchmark.extra_info.update(role="baseline", label="ctypes syscall", ops=N)
    buf = ctypes.create_string_buffer(BLOCK)
    # a separate CDLL handle: argtypes on the shared one would change the getpid rows
    fn = ctypes.CDLL(None, use_errno=True).syscall
    fn.argtypes = [ctypes.c_long] * 5
    fn.restype = ctypes.c_long
    addr, fd, nxt = ctypes.addressof(buf), datafile, _windows()
    assert fn(NR_PREAD64, fd, addr, BLOCK, 0) == BLOCK

    def run() -> None:
        for off in nxt():
            fn(NR_PREAD64, fd, addr, BLOCK, off)

    benchmark(run)


def test_pread_raw_os(benchmark: Any, datafile: int) -> None:
    benchmark.group = "syscall_raw(pread64) 4 KiB"
    benchmark.extra_info.update(role="baseline", label="os.preadv (into buffer)", ops=N)
    bufs = [bytearray(BLOCK)]
    fd, preadv, nxt = datafile, os.preadv, _windows()

    def run() -> None:
        for off in nxt():
            preadv(fd, bufs, off)

    benchmark(run)


def test_pread_raw_floor(benchmark: Any, datafile: int, floor: Any) -> None:
    benchmark.group = "syscall_raw(pread64) 4 KiB"
    benchmark.extra_info.update(role="baseline", label="C floor (raw pread64 loop)", ops=N,
                                noisy=True)
    buf = ctypes.create_string_buffer(BLOCK)
    state = [0]

    def run() -> None:
        floor.floor_pread(NR_PREAD64, datafile, buf, BLOCK, state[0], N, FILE_BLOCKS)
        state[0] += N

    benchmark(run)

