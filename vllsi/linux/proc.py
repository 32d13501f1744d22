"""Process identity syscalls: getpid, getppid, gettid.

On the asm tier these are the C fast paths of ``_fast`` themselves (no Python
frame: the benchmark target is <= 1.3x ``os.getpid()``); they cannot fail.
"""

from __future__ import annotations

from collections.abc import Callable

from vllsi.linux import _syscall as _s

__all__ = ["getpid", "getppid", "gettid"]

getpid: Callable[[], int]
getppid: Callable[[], int]
gettid: Callable[[], int]

if _s.TIER == "asm":
    from vllsi.linux import _fast

    getpid = _fast.getpid
    getppid = _fast.getppid
    gettid = _fast.gettid
else:
    _NR_GETPID = _s.NR["getpid"]
    _NR_GETPPID = _s.NR["getppid"]
    _NR_GETTID = _s.NR["gettid"]

    def getpid() -> int:
        return _s.syscall(_NR_GETPID)

    def getppid() -> int:
        return _s.syscall(_NR_GETPPID)

    def gettid() -> int:
        return _s.syscall(_NR_GETTID)

if _s.TIER != "asm":
    getpid.__doc__ = """getpid(): the calling process's id. Never fails. Availability: Linux."""
    getppid.__doc__ = """getppid(): the parent process's id. Never fails. Availability: Linux."""
    gettid.__doc__ = "gettid(): the calling thread's kernel id. Never fails. Availability: Linux."
