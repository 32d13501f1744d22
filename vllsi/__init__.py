"""vllsi: precise, fast access to the operating system below Python's ``os``.

On Linux every call is a raw ``syscall`` instruction (tier ``asm``) or libc's
``syscall(2)`` (tier ``libc``); on macOS the floor is libSystem, on Windows
kernel32/ntdll. ``vllsi.describe()`` says which backend is active.

The portable surface (SPEC.md §2) is re-exported here lazily: ``vllsi.pread``
imports ``vllsi.file_ops`` on first use. Modules: file_ops, locking, durability,
memory, thread, time_ops, tls, context_ops, io_engine, net_ops, process_ops,
signal, interrupt, init, bitfield, mmio, embedded, no_runtime, status, and the
OS layers vllsi.linux / vllsi.darwin / vllsi.windows.
"""

from __future__ import annotations

import importlib
from typing import Any

from vllsi._platform import describe
from vllsi.errors import *  # noqa: F403
from vllsi.errors import __all__ as _errors_all
from vllsi.types import *  # noqa: F403
from vllsi.types import __all__ as _types_all

__version__ = "0.1.0"

# name -> module that defines it (SPEC.md §2 portable surface).
_LAZY: dict[str, str] = {}
for _mod, _names in {
    "file_ops": "pread pwrite pread_exact pwrite_all preadv pwritev file_size truncate "
                "access random_bytes F_OK R_OK W_OK X_OK",
    "memory": "os_alloc os_alloc_aligned os_alloc_huge os_free os_protect os_advise "
              "Mapping AlignedBuffer",
    "thread": "get_thread_id thread_self thread_yield num_online_cpus thread_spawn "
              "thread_join thread_detach ThreadHandle ThreadPanicked futex_wait futex_wake "
              "Mutex Condvar SpinLock Semaphore",
    "time_ops": "monotonic_ns realtime_ns clock_gettime clock_getres sleep_ns Timespec",
    "durability": "full_fsync data_only_fsync sync_directory atomic_write atomic_write_many",
    "io_engine": "create_io_engine IoEngineConfig",
}.items():
    for _n in _names.split():
        _LAZY[_n] = _mod

_SUBMODULES = frozenset({
    "file_ops", "memory", "thread", "time_ops", "tls", "context_ops", "locking", "durability",
    "io_engine", "net_ops", "process_ops", "signal", "interrupt", "init", "fs_watch",
    "permissions", "bitfield", "mmio", "embedded", "no_runtime", "status", "cabi", "linux",
    "darwin", "windows",
})

__all__ = ["describe", *_errors_all, *_types_all, *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is not None:
        value = getattr(importlib.import_module(f"vllsi.{mod}"), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"vllsi.{name}")
    raise AttributeError(f"module 'vllsi' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
