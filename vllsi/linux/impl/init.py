"""Linux backend of :mod:`vllsi.init`: the main thread's stack bounds.

``[stack]`` in /proc/self/maps gives the top of the main stack (read with raw
openat/read); prlimit64(RLIMIT_STACK) how far it may grow; the guard is the
kernel's default ``stack_guard_gap`` (256 pages, mm/mmap.c) unless the boot
command line (/proc/cmdline) sets ``stack_guard_gap=<pages>``.
"""

from __future__ import annotations

import errno as _errno
from typing import Final

from vllsi import errors
from vllsi.linux import _syscall as _s
from vllsi.linux import fs
from vllsi.linux._ffi import addr, ffi
from vllsi.types import PAGE_SIZE

__all__ = ["main_stack"]

_NR_PRLIMIT64: Final = _s.NR["prlimit64"]
_RLIMIT_STACK: Final = 3
_RLIM_INFINITY: Final = (1 << 64) - 1
_DEFAULT_GAP_PAGES: Final = 256


def _read(path: str) -> bytes:
    fd = fs.openat(fs.AT_FDCWD, path, fs.O_RDONLY | fs.O_CLOEXEC)
    try:
        chunks: list[bytes] = []
        buf = bytearray(65536)
        while True:
            n = fs.read(fd, buf)
            if n == 0:
                return b"".join(chunks)
            chunks.append(bytes(buf[:n]))
    finally:
        fs.close(fd)


def main_stack() -> tuple[int, int, int]:
    """(low, high, guard) of the main thread's stack. PlatformError if not found."""
    high = low_mapped = -1
    for line in _read("/proc/self/maps").splitlines():
        if line.endswith(b"[stack]"):
            lo, hi = line.split(None, 1)[0].split(b"-")
            low_mapped, high = int(lo, 16), int(hi, 16)
            break
    if high < 0:
        raise errors.from_errno(_errno.ENOENT, syscall="init", cls=errors.PlatformError,
                                message="no [stack] mapping in /proc/self/maps")
    lim = ffi.new("uint64_t[2]")
    _s.check(_s.syscall(_NR_PRLIMIT64, 0, _RLIMIT_STACK, 0, addr(lim)), "prlimit64")
    cur = int(lim[0])
    low = low_mapped if cur == _RLIM_INFINITY else min(low_mapped, high - cur)
    gap = _DEFAULT_GAP_PAGES
    try:
        for word in _read("/proc/cmdline").split():
            if word.startswith(b"stack_guard_gap="):
                gap = int(word.split(b"=", 1)[1], 0)
    except (OSError, ValueError):
        pass
    return low, high, gap * PAGE_SIZE
