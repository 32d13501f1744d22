"""The asm tier calls no libc wrapper; the libc tier goes through libc's syscall().

An LD_PRELOAD library built at test time counts calls to libc's read, write,
pread64, pwrite64, open, openat, close, fstat, statx and syscall while a child
process runs vllsi's file calls.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conformance._support import UNDER_QEMU, linux_only
from conformance._support.cc import build_shared, python_argv

pytestmark = linux_only

FUNCS = ["read", "write", "pread64", "pwrite64", "open", "openat", "close", "fstat",
         "statx", "syscall"]

PRELOAD = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <sys/types.h>
#include <sys/stat.h>
static volatile int on;
long vllsi_probe_counts[%(n)d];
void vllsi_probe_start(void) { for (int i = 0; i < %(n)d; i++) vllsi_probe_counts[i] = 0; on = 1; }
void vllsi_probe_stop(void) { on = 0; }
#define REAL(name) static __typeof__(name) *real; if (!real) real = dlsym(RTLD_NEXT, #name)
#define COUNT(i) do { if (on) vllsi_probe_counts[i]++; } while (0)
ssize_t read(int fd, void *b, size_t n) { REAL(read); COUNT(0); return real(fd, b, n); }
ssize_t write(int fd, const void *b, size_t n) { REAL(write); COUNT(1); return real(fd, b, n); }
ssize_t pread64(int fd, void *b, size_t n, off_t o) { REAL(pread64); COUNT(2); return real(fd, b, n, o); }
ssize_t pwrite64(int fd, const void *b, size_t n, off_t o) { REAL(pwrite64); COUNT(3); return real(fd, b, n, o); }
int open(const char *p, int f, ...) { va_list a; va_start(a, f); int m = va_arg(a, int); va_end(a);
    REAL(open); COUNT(4); return real(p, f, m); }
int openat(int d, const char *p, int f, ...) { va_list a; va_start(a, f); int m = va_arg(a, int);
    va_end(a); REAL(openat); COUNT(5); return real(d, p, f, m); }
int close(int fd) { REAL(close); COUNT(6); return real(fd); }
int fstat(int fd, struct stat *s) { REAL(fstat); COUNT(7); return real(fd, s); }
int statx(int d, const char *p, int f, unsigned int m, struct statx *s) {
    REAL(statx); COUNT(8); return real(d, p, f, m, s); }
long syscall(long nr, ...) { va_list a; va_start(a, nr); long x[6];
    for (int i = 0; i < 6; i++) x[i] = va_arg(a, long); va_end(a);
    REAL(syscall); COUNT(9); return real(nr, x[0], x[1], x[2], x[3], x[4], x[5]); }
"""

CHILD = r"""
import ctypes, json, sys
import vllsi.linux as L
path = sys.argv[1]
def ops():
    fd = L.openat(L.AT_FDCWD, path, L.O_RDWR | L.O_CREAT | L.O_CLOEXEC, 0o600)
    L.write(fd, b"abcdef")
    L.pwrite64(fd, b"xy", 2)
    b = bytearray(8)
    L.pread64(fd, b, 0)
    L.read(fd, b)
    L.fstat(fd)
    L.statx(L.AT_FDCWD, path)
    L.newfstatat(L.AT_FDCWD, path)
    L.getpid(); L.gettid(); L.getppid()
    L.close(fd)
ops()  # warm up: imports and cffi set-up happen outside the window
lib = ctypes.CDLL(None)
counts = (ctypes.c_long * %(n)d).in_dll(lib, "vllsi_probe_counts")
lib.vllsi_probe_start()
for _ in range(3):
    ops()
lib.vllsi_probe_stop()
print(json.dumps({"tier": L.TIER, "counts": list(counts)}))
"""


def _run(tier: str, tmp_path: Path) -> dict[str, int]:
    lib = build_shared(PRELOAD % {"n": len(FUNCS)}, str(tmp_path / "libcount.so"))
    env = dict(os.environ, VLLSI_TIER=tier)
    if not UNDER_QEMU:
        env["LD_PRELOAD"] = lib
    root = Path(__file__).resolve().parents[2]
    argv = python_argv("-c", CHILD % {"n": len(FUNCS)}, str(tmp_path / "f"),
                       env_for_guest={"LD_PRELOAD": lib})
    out = subprocess.run(argv, env=env, cwd=root, capture_output=True, text=True,
                         check=True).stdout
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["tier"] == tier
    return dict(zip(FUNCS, doc["counts"], strict=True))


@pytest.mark.covers("linux.openat", "linux.read", "linux.write", "linux.pread64",
                    "linux.pwrite64", "linux.close", "linux.fstat", "linux.statx",
                    "linux.newfstatat", "linux.getpid")
def test_asm_tier_calls_no_libc_wrapper(tmp_path: Path) -> None:
    from vllsi import _platform

    if _platform.TIER != "asm":
        # the asm tier is not built for this interpreter: nothing to prove here, but
        # the libc half below still runs on every tier
        counts = _run("libc", tmp_path)
        assert counts["syscall"] > 0
        return
    counts = _run("asm", tmp_path)
    assert counts == dict.fromkeys(FUNCS, 0), counts


@pytest.mark.covers("linux.openat", "linux.pread64")
def test_libc_tier_goes_through_syscall(tmp_path: Path) -> None:
    counts = _run("libc", tmp_path)
    assert counts["syscall"] >= 3 * 8, counts
    assert {k: v for k, v in counts.items() if k != "syscall"} == dict.fromkeys(FUNCS[:-1], 0)
