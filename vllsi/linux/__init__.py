"""vllsi.linux: the raw Linux layer, one typed function per syscall.

Every call is a raw ``syscall`` (x86_64) or ``svc #0`` (aarch64) instruction
through the trampolines of ``_native/`` (tier ``asm``), or libc's ``syscall(2)``
(tier ``libc``, ``VLLSI_TIER=libc``). Results are decoded by the single error
factory. Raw layers (re-exported here): ``fs``, ``proc``, ``mem``, ``thread``,
``time``, ``signal``, ``net``, ``event``, ``process``; ``arch`` holds the
numbers. ``vllsi.linux.impl.<mod>`` implements portable module ``vllsi.<mod>``
on Linux; ``io`` (engine drivers), ``auxv``, ``vdso``, ``bpf`` stand apart.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from vllsi._platform import OS

if OS != "linux":
    # Not an error of vllsi: this OS has no Linux layer (the status matrix reads a
    # ModuleNotFoundError naming this package as "does not exist here").
    raise ModuleNotFoundError(f"vllsi.linux is the Linux layer; this is {OS}", name=__name__)

from vllsi.linux._syscall import NR, TIER, syscall, syscall_blocking

__all__ = ["NR", "TIER", "syscall6", "syscall_raw"]

# Layers re-exported here (each defines __all__); a layer not yet written is skipped.
_LAYERS = ("fs", "proc", "mem", "thread", "time", "signal", "net", "event", "process")


def syscall_raw(nr: int, *args: int) -> int:
    """syscall(nr, *args): the raw kernel return value, -4095..-1 being -errno.

    Releases the GIL (the call may block). Arguments are ints (pointers as
    addresses); at most 6. No decoding, no EINTR retry: this is the floor.
    Raises: TypeError for non-int arguments or more than 6. Availability: Linux.
    """
    return syscall_blocking(nr, *args)


if TIER == "asm":
    # The C builtin itself (same contract, same docstring): no Python frame on the
    # floor, which is what bench_syscall's "syscall_raw vs ctypes" row measures.
    from vllsi.linux._fast import syscall_blocking as syscall_raw


def syscall6(nr: int, a0: int = 0, a1: int = 0, a2: int = 0, a3: int = 0, a4: int = 0,
             a5: int = 0) -> int:
    """syscall(nr, a0..a5) with all six argument registers set; raw return value.

    Keeps the GIL: use only for calls that do not block (use ``syscall_raw``
    otherwise). Raises: TypeError for non-int arguments. Availability: Linux.
    """
    return syscall(nr, a0, a1, a2, a3, a4, a5)


def _export() -> None:
    g = globals()
    for layer in _LAYERS:
        name = f"{__name__}.{layer}"
        if importlib.util.find_spec(name) is None:
            continue
        mod: Any = importlib.import_module(name)
        for sym in mod.__all__:
            g[sym] = getattr(mod, sym)
            __all__.append(sym)


_export()
