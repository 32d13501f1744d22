"""The ELF auxiliary vector: what the kernel told this process at exec.

The kernel puts ``(type, value)`` pairs of native words after ``envp`` on the
initial stack; a library cannot reach that stack, so this module reads the same
pairs from ``/proc/self/auxv`` with raw ``openat``/``read``/``close`` syscalls
(no libc ``getauxval``). The vector is fixed for the life of the process image,
so it is read once and cached (a forked child inherits the same values).

``getauxval(AT_PAGESZ)`` is the real page size; ``getauxval(AT_SYSINFO_EHDR)``
is where the kernel mapped the vDSO (0 when there is none, e.g. under some
emulators); ``AT_HWCAP``/``AT_HWCAP2`` are the CPU feature bits.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = [
    "AT_BASE", "AT_CLKTCK", "AT_EGID", "AT_ENTRY", "AT_EUID", "AT_EXECFN", "AT_FLAGS",
    "AT_GID", "AT_HWCAP", "AT_HWCAP2", "AT_MINSIGSTKSZ", "AT_NULL", "AT_PAGESZ", "AT_PHDR",
    "AT_PHENT", "AT_PHNUM", "AT_PLATFORM", "AT_RANDOM", "AT_SECURE", "AT_SYSINFO_EHDR",
    "AT_UID", "auxv", "getauxval", "vdso_base",
]

# include/uapi/linux/auxvec.h (+ arch/*/include/uapi/asm/auxvec.h)
AT_NULL: Final = 0
AT_PHDR: Final = 3
AT_PHENT: Final = 4
AT_PHNUM: Final = 5
AT_PAGESZ: Final = 6
AT_BASE: Final = 7
AT_FLAGS: Final = 8
AT_ENTRY: Final = 9
AT_UID: Final = 11
AT_EUID: Final = 12
AT_GID: Final = 13
AT_EGID: Final = 14
AT_PLATFORM: Final = 15
AT_HWCAP: Final = 16
AT_CLKTCK: Final = 17
AT_SECURE: Final = 23
AT_RANDOM: Final = 25
AT_HWCAP2: Final = 26
AT_EXECFN: Final = 31
AT_SYSINFO_EHDR: Final = 33
AT_MINSIGSTKSZ: Final = 51

_cache: dict[int, int] | None = None


def _read_proc_auxv() -> bytes:
    from vllsi.linux import fs

    fd = fs.openat(fs.AT_FDCWD, "/proc/self/auxv", fs.O_RDONLY | fs.O_CLOEXEC)
    try:
        chunks = []
        buf = bytearray(4096)
        while True:
            n = fs.read(fd, buf)
            if n == 0:
                break
            chunks.append(bytes(buf[:n]))
        return b"".join(chunks)
    finally:
        fs.close(fd)


def _parse(raw: bytes) -> dict[int, int]:
    word = struct.calcsize("N")
    out: dict[int, int] = {}
    for off in range(0, len(raw) - 2 * word + 1, 2 * word):
        kind, value = struct.unpack_from("NN", raw, off)
        if kind == AT_NULL:
            break
        out.setdefault(kind, value)
    return out


def auxv() -> dict[int, int]:
    """openat/read/close of /proc/self/auxv: the whole vector as ``{AT_*: value}``.

    Returns: a new dict (the cache is not exposed). Raises: NotFound/ENOENT or
    PermissionDenied/EACCES when /proc is not mounted or not readable.
    Availability: Linux.
    """
    global _cache
    if _cache is None:
        _cache = _parse(_read_proc_auxv())
    return dict(_cache)


def getauxval(kind: int) -> int:
    """The value of auxv entry ``kind`` (AT_*), or 0 when the kernel gave none
    (as libc's getauxval, without its errno side channel: use ``kind in auxv()``).

    Raises: TypeError for a non-int, ValueError for a negative type; NotFound or
    PermissionDenied when /proc is unavailable. Availability: Linux.
    """
    if isinstance(kind, bool) or not isinstance(kind, int):
        raise TypeError(f"auxv type must be an int, not {type(kind).__name__}")
    if kind < 0:
        raise ValueError("auxv type must be >= 0")
    table = _cache if _cache is not None else auxv()
    return table.get(kind, 0)


def vdso_base() -> int:
    """AT_SYSINFO_EHDR: the address of the vDSO's ELF header, 0 if none.

    Raises: as :func:`getauxval`. Availability: Linux.
    """
    return getauxval(AT_SYSINFO_EHDR)


