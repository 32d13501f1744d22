"""Kernel-visible C layouts shared by the Linux layers (cffi ABI mode, no compiler).

Structures are declared exactly as the uapi headers give them for each
architecture; conformance/linux/test_layouts.py compares sizes and offsets with
the C compiler's. Layers that need more types create their own FFI and
``ffi.include(vllsi.linux._ffi.ffi)``.

Pointers cross into syscalls as integer addresses (:func:`addr`); the cdata that
owns the memory must stay referenced until the kernel is done with it.
"""

from __future__ import annotations

from typing import Any

import cffi

from vllsi._platform import ARCH

ffi = cffi.FFI()

_COMMON = """
struct timespec { int64_t tv_sec; int64_t tv_nsec; };
struct iovec { void *iov_base; size_t iov_len; };
struct statx_timestamp { int64_t tv_sec; uint32_t tv_nsec; int32_t __reserved; };
struct statx {
    uint32_t stx_mask; uint32_t stx_blksize; uint64_t stx_attributes;
    uint32_t stx_nlink; uint32_t stx_uid; uint32_t stx_gid; uint16_t stx_mode;
    uint16_t __spare0[1];
    uint64_t stx_ino; uint64_t stx_size; uint64_t stx_blocks; uint64_t stx_attributes_mask;
    struct statx_timestamp stx_atime; struct statx_timestamp stx_btime;
    struct statx_timestamp stx_ctime; struct statx_timestamp stx_mtime;
    uint32_t stx_rdev_major; uint32_t stx_rdev_minor;
    uint32_t stx_dev_major; uint32_t stx_dev_minor;
    uint64_t stx_mnt_id; uint32_t stx_dio_mem_align; uint32_t stx_dio_offset_align;
    uint64_t __spare3[12];
};
"""

_STAT = {
    # arch/x86/include/uapi/asm/stat.h (the 64-bit struct stat)
    "x86_64": """
struct stat {
    uint64_t st_dev; uint64_t st_ino; uint64_t st_nlink;
    uint32_t st_mode; uint32_t st_uid; uint32_t st_gid; int32_t __pad0;
    uint64_t st_rdev; int64_t st_size; int64_t st_blksize; int64_t st_blocks;
    uint64_t st_atime; uint64_t st_atime_nsec; uint64_t st_mtime; uint64_t st_mtime_nsec;
    uint64_t st_ctime; uint64_t st_ctime_nsec; int64_t __unused[3];
};
""",
    # include/uapi/asm-generic/stat.h (arm64)
    "aarch64": """
struct stat {
    uint64_t st_dev; uint64_t st_ino; uint32_t st_mode; uint32_t st_nlink;
    uint32_t st_uid; uint32_t st_gid; uint64_t st_rdev; uint64_t __pad1;
    int64_t st_size; int32_t st_blksize; int32_t __pad2; int64_t st_blocks;
    int64_t st_atime; uint64_t st_atime_nsec; int64_t st_mtime; uint64_t st_mtime_nsec;
    int64_t st_ctime; uint64_t st_ctime_nsec; uint32_t __unused4; uint32_t __unused5;
};
""",
}

ffi.cdef(_COMMON + _STAT.get(ARCH, ""))


def addr(cdata: Any) -> int:
    """The address of a cdata pointer or array, as an int for a syscall argument."""
    return int(ffi.cast("uintptr_t", cdata))


def buffer(obj: Any, *, writable: bool) -> Any:
    """Pin a buffer-protocol object; returns the cdata (keep it alive during the call).

    Raises TypeError for non-buffers, and for read-only buffers when ``writable``.
    """
    try:
        return ffi.from_buffer(obj, require_writable=writable)
    except (TypeError, BufferError) as exc:
        what = "a writable buffer (bytearray, memoryview, mmap...)" if writable else "a buffer"
        raise TypeError(f"expected {what}, got {type(obj).__name__}") from exc
