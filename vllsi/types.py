"""Common types: descriptors, I/O vectors, memory protection and mapping flags,
memory advice and ordering, and the real page size.

Flag values are the host's own (Linux uapi, Darwin sys/mman.h, Win32 winnt.h);
``PAGE_SIZE`` comes from the OS (auxv AT_PAGESZ on Linux through
``os.sysconf``'s source, 16384 on Apple silicon), never a constant 4096.
"""

from __future__ import annotations

import enum
import mmap as _mmap
from typing import Any, Final

import cffi

from vllsi._platform import OS

__all__ = [
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "FileDesc",
    "IOVec",
    "MapFlags",
    "MemAdvice",
    "MemProt",
    "MemoryOrdering",
    "is_page_aligned",
    "page_align_down",
    "page_align_up",
]

__laws__ = ("page_align_laws",)

PAGE_SIZE: Final[int] = _mmap.PAGESIZE
PAGE_SHIFT: Final[int] = PAGE_SIZE.bit_length() - 1


class FileDesc(int):
    """A file descriptor (on Windows, a HANDLE value). ``FileDesc.INVALID`` is -1."""

    INVALID: FileDesc
    STDIN: FileDesc
    STDOUT: FileDesc
    STDERR: FileDesc

    def __new__(cls, value: Any) -> FileDesc:
        if isinstance(value, bool) or not isinstance(value, int):
            if hasattr(value, "fileno"):
                value = value.fileno()
            else:
                raise TypeError(f"FileDesc needs an int or fileno(), not {type(value).__name__}")
        return super().__new__(cls, value)

    def is_valid(self) -> bool:
        """True for a non-negative value (it does not ask the OS whether it is open)."""
        return self >= 0

    def fileno(self) -> int:
        return int(self)

    @classmethod
    def from_crt(cls, fd: int) -> FileDesc:
        """The OS handle behind a C runtime descriptor (Windows); identity elsewhere."""
        if OS == "windows":
            import importlib

            msvcrt = importlib.import_module("msvcrt")
            return cls(msvcrt.get_osfhandle(fd))
        return cls(fd)

    def __repr__(self) -> str:
        return f"FileDesc({int(self)})"


FileDesc.INVALID = FileDesc(-1)
FileDesc.STDIN = FileDesc(0)
FileDesc.STDOUT = FileDesc(1)
FileDesc.STDERR = FileDesc(2)


class IOVec:
    """A pinned (base, len) view of a buffer-protocol object (``struct iovec``).

    Holding the IOVec keeps the buffer's memory exported (a bytearray cannot be
    resized while an IOVec of it lives). ``writable`` says whether reads may
    land in it. ``release()`` (or leaving the ``with``) lets the buffer go.
    """

    __slots__ = ("_view", "base", "len", "writable")

    def __init__(self, buffer: Any) -> None:
        try:
            view = memoryview(buffer)
        except TypeError:
            raise TypeError(f"IOVec needs a buffer, not {type(buffer).__name__}") from None
        if not view.contiguous:
            view.release()
            raise ValueError("IOVec needs a contiguous buffer")
        self._view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        self.len: int = self._view.nbytes
        self.writable: bool = not self._view.readonly
        self.base: int = _address(self._view)

    @property
    def view(self) -> memoryview:
        return self._view

    def release(self) -> None:
        self._view.release()

    def __enter__(self) -> IOVec:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"IOVec(base={self.base:#x}, len={self.len}, writable={self.writable})"


_ffi = cffi.FFI()


def _address(view: memoryview) -> int:
    if view.nbytes == 0:
        return 0
    return int(_ffi.cast("uintptr_t", _ffi.from_buffer(view)))


class MemProt(enum.IntFlag):
    """Page protection (PROT_* on POSIX; translated to PAGE_* on Windows)."""

    NONE = 0
    READ = 1
    WRITE = 2
    EXEC = 4


def _map_flags() -> dict[str, int]:
    if OS == "darwin":  # sys/mman.h
        return {"SHARED": 0x1, "PRIVATE": 0x2, "FIXED": 0x10, "ANON": 0x1000,
                "STACK": 0, "HUGETLB": 0}
    if OS == "windows":  # no mmap flags; kept as vllsi-defined bits
        return {"SHARED": 0x1, "PRIVATE": 0x2, "FIXED": 0x10, "ANON": 0x20,
                "STACK": 0, "HUGETLB": 0}
    # Linux uapi asm-generic/mman-common.h + mman.h (same on x86_64 and aarch64)
    return {"SHARED": 0x1, "PRIVATE": 0x2, "FIXED": 0x10, "ANON": 0x20,
            "STACK": 0x20000, "HUGETLB": 0x40000}


MapFlags = enum.IntFlag("MapFlags", _map_flags())  # type: ignore[misc]
MapFlags.__doc__ = "mmap flags with the host's real values (0 where the OS has no such flag)."


class MemAdvice(enum.IntEnum):
    """madvise advice; values are Linux's (asm-generic/mman-common.h).

    Other OSes translate in their backend (Darwin: posix_madvise values).
    """

    Normal = 0
    Random = 1
    Sequential = 2
    WillNeed = 3
    DontNeed = 4
    Free = 8
    Remove = 9
    DontFork = 10
    HugePage = 14
    NoHugePage = 15


class MemoryOrdering(enum.IntEnum):
    """C11 memory orderings (the values of __ATOMIC_*)."""

    Relaxed = 0
    Acquire = 2
    Release = 3
    AcqRel = 4
    SeqCst = 5


def page_align_up(x: int) -> int:
    """Round ``x`` up to a multiple of the real page size (ValueError if negative)."""
    if x < 0:
        raise ValueError("page_align_up of a negative size")
    return (x + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


def page_align_down(x: int) -> int:
    """Round ``x`` down to a multiple of the real page size (ValueError if negative)."""
    if x < 0:
        raise ValueError("page_align_down of a negative size")
    return x & ~(PAGE_SIZE - 1)


def is_page_aligned(x: int) -> bool:
    """True when ``x`` is a multiple of the real page size."""
    return x & (PAGE_SIZE - 1) == 0

