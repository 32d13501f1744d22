"""With io_uring refused (a seccomp filter in a child), create_io_engine falls back to
epoll and warns exactly once."""

from __future__ import annotations

import subprocess

import pytest

from conformance._support import linux_only, skip
from conformance._support.cc import python_argv

CHILD = r'''
import struct, sys, warnings
from vllsi import linux
from vllsi.linux._ffi import ffi
# Classic BPF: load seccomp_data.nr; io_uring_setup -> ERRNO(EPERM); else ALLOW.
NR = linux.NR["io_uring_setup"]
prog = b"".join([
    struct.pack("=HBBI", 0x20, 0, 0, 0),                  # ld  [0]  (nr)
    struct.pack("=HBBI", 0x15, 0, 1, NR),                 # jeq #NR, 0, 1
    struct.pack("=HBBI", 0x06, 0, 0, 0x00050000 | 1),     # ret ERRNO(EPERM)
    struct.pack("=HBBI", 0x06, 0, 0, 0x7FFF0000),         # ret ALLOW
])
filt = ffi.new("char[]", prog)
fprog = ffi.new("char[16]")
struct.pack_into("=HxxxxxxQ", ffi.buffer(fprog), 0, 4, int(ffi.cast("uintptr_t", filt)))
assert linux.syscall_raw(linux.NR["prctl"], 38, 1, 0, 0, 0) == 0   # PR_SET_NO_NEW_PRIVS
r = linux.syscall_raw(linux.NR["seccomp"], 1, 0, int(ffi.cast("uintptr_t", fprog)))
if r != 0:
    print("SECCOMP-REFUSED", r); sys.exit(0)
from vllsi import io_engine as ie
from vllsi.linux.io import IoUringDriver
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    e1 = ie.create_io_engine()
    e2 = ie.create_io_engine()
    kinds = [type(x.message).__name__ for x in w]
print(e1.backend, e2.backend, IoUringDriver.probe()[1], kinds)
sid = e1.submit(ie.Nop())
assert [r.submission_id for r in e1.poll(5)] == [sid]
try:
    ie.create_io_engine(ie.IoEngineConfig(backend="io_uring"))
except NotImplementedError as exc:
    print("forced:", type(exc).__name__)
e1.shutdown(); e2.shutdown()
'''


@linux_only
@pytest.mark.covers("io_engine.create_io_engine", "io_engine.EngineFallbackWarning",
                    "io_engine.IoEngineConfig")
def test_fallback_to_epoll_warns_once() -> None:
    argv = python_argv("-c", CHILD)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    if p.stdout.startswith("SECCOMP-REFUSED"):
        skip("environment", f"seccomp filters refused here ({p.stdout.strip()})")
    lines = p.stdout.splitlines()
    backends = lines[0].split()[:2]
    assert backends == ["epoll", "epoll"], p.stdout
    assert "EPERM" in lines[0]
    assert lines[0].endswith("['EngineFallbackWarning']"), p.stdout  # exactly one warning
    assert lines[1] == "forced: Unsupported"
