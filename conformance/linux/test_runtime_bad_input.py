"""Bad Python input to the memory/thread/time wrappers is rejected before any syscall
(strace sees none of the wrapped calls between the markers)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance._support import UNDER_QEMU, linux_only, skip
from conformance._support.cc import python_argv

pytestmark = linux_only

CHILD = r"""
import os, vllsi.linux as L
from vllsi import memory, thread, time_ops
bad = [
    lambda: L.mmap(0, 0, 3, 0x22), lambda: L.mmap(-1, 4096, 3, 0x22), lambda: L.mmap(0, "1", 3, 0x22),
    lambda: L.munmap(0x1000, -1), lambda: L.mprotect(None, 4096, 1), lambda: L.madvise(0, 4096, -1),
    lambda: L.mremap(0, 4096, 2**65), lambda: L.mlock("a", 1), lambda: L.memfd_create("a\0b"),
    lambda: L.futex(-1, 0, 0), lambda: L.futex(0x1000, 0, 2**40), lambda: L.futex(0x1000, 0, 0, -1.0),
    lambda: L.sched_getaffinity(-1), lambda: L.clock_gettime("1"), lambda: L.clock_getres(2**40),
    lambda: L.clock_nanosleep(1, 0, -1), lambda: L.clock_nanosleep(1, 0, 0, 10**9),
    lambda: memory.os_alloc(0), lambda: memory.os_alloc_aligned(10, 3), lambda: memory.os_alloc_huge(1, 1000),
    lambda: memory.os_advise(bytearray(1), 0), lambda: memory.os_protect(bytearray(1), 1),
    lambda: thread.thread_spawn(print, None, 1), lambda: thread.futex_wait(b"1234", 0),
    lambda: thread.futex_wake(bytearray(4), 0), lambda: time_ops.sleep_ns(-1),
    lambda: time_ops.clock_gettime(-1),
]
for f in bad:  # warm every code path first (imports, cffi types)
    try: f()
    except (TypeError, ValueError): pass
os.write(2, b"<<BEGIN>>")
for i, f in enumerate(bad):
    try:
        f()
    except (TypeError, ValueError):
        pass
    else:
        raise SystemExit(f"accepted bad input #{i}")
os.write(2, b"<<END>>")
"""

WATCHED = ("mmap", "munmap", "mprotect", "madvise", "mremap", "mlock", "memfd_create", "futex",
           "sched_getaffinity", "clock_gettime", "clock_getres", "clock_nanosleep", "clone",
           "clone3")


@pytest.mark.covers("linux.mmap", "linux.munmap", "linux.mprotect", "linux.madvise", "linux.mremap",
                    "linux.mlock", "linux.memfd_create", "linux.futex", "linux.sched_getaffinity",
                    "linux.clock_gettime", "linux.clock_getres", "linux.clock_nanosleep")
def test_rejected_before_the_syscall(tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        skip("environment", "strace is not installed")
    if UNDER_QEMU:
        skip("environment", "strace would trace qemu's host syscalls, not the guest's")
    log = tmp_path / "trace"
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([strace, "-f", "-qq", "-o", str(log), "-e", "trace=" + ",".join(
        ("write", *WATCHED)), *python_argv("-c", CHILD)], cwd=root, env=dict(os.environ),
        capture_output=True, text=True, timeout=120)
    if r.returncode != 0 and "ptrace" in r.stderr:
        skip("privilege", f"strace cannot attach: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, r.stderr
    text = log.read_text()
    window = text.split("<<BEGIN>>", 1)[1].split("<<END>>", 1)[0]
    lines = [ln for ln in window.splitlines()[1:-1] if ln.strip()]
    assert lines == [], "syscalls made for rejected input:\n" + "\n".join(lines)
