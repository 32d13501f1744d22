"""Bad Python input to the memory/thread/time wrappers is rejected before any syscall."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance._support import linux_only
from conformance._support.strace import bad_input_script, traced_window

pytestmark = linux_only

CALLS = [
    'L.mmap(0, 0, 3, 0x22)',
    'L.mmap(-1, 4096, 3, 0x22)',
    'L.mmap(0, "1", 3, 0x22)',
    'L.munmap(0x1000, -1)',
    'L.mprotect(None, 4096, 1)',
    'L.madvise(0, 4096, -1)',
    'L.mremap(0, 4096, 2**65)',
    'L.mlock("a", 1)',
    'L.memfd_create("a\\0b")',
    'L.futex(-1, 0, 0)',
    'L.futex(0x1000, 0, 2**40)',
    'L.futex(0x1000, 0, 0, -1.0)',
    'L.sched_getaffinity(-1)',
    'L.clock_gettime("1")',
    'L.clock_getres(2**40)',
    'L.clock_nanosleep(1, 0, -1)',
    'L.clock_nanosleep(1, 0, 0, 10**9)',
    'memory.os_alloc(0)',
    'memory.os_alloc_aligned(10, 3)',
    'memory.os_alloc_huge(1, 1000)',
    'memory.os_advise(bytearray(1), 0)',
    'memory.os_protect(bytearray(1), 1)',
    'thread.thread_spawn(print, None, 1)',
    'thread.futex_wait(b"1234", 0)',
    'thread.futex_wake(bytearray(4), 0)',
    'time_ops.sleep_ns(-1)',
    'time_ops.clock_gettime(-1)',
]

WATCHED = ("mmap", "munmap", "mprotect", "madvise", "mremap", "mlock", "memfd_create", "futex",
           "sched_getaffinity", "clock_gettime", "clock_getres", "clock_nanosleep", "clone",
           "clone3")


@pytest.mark.covers("linux.mmap", "linux.munmap", "linux.mprotect", "linux.madvise", "linux.mremap",
                    "linux.mlock", "linux.memfd_create", "linux.futex", "linux.sched_getaffinity",
                    "linux.clock_gettime", "linux.clock_getres", "linux.clock_nanosleep")
def test_rejected_before_the_syscall(tmp_path: Path) -> None:
    lines = traced_window(bad_input_script('import vllsi.linux as L\nfrom vllsi import memory, thread, time_ops\n', CALLS), WATCHED, tmp_path)
    assert lines == [], "syscalls made for rejected input:\n" + "\n".join(lines)
