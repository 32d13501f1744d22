"""Typed wrappers of kernel32 (and kernelbase) calls, named after them.

Handles are ints (the HANDLE's value, signed like ``intptr_t``). Each call is one
Win32 call; failures raise through the error factory with ``.winerror`` kept.
Blocking calls release the GIL (every cffi call does). Windows has no EINTR:
PEP 475 retries do not apply, and no wait here is alertable, so an APC can never
cut one short.

The memory calls taking raw addresses (virtual_free, virtual_protect,
virtual_alloc at a given address, unmap_view_of_file) are the floor and are
*unsafe* exactly as in C: freeing or protecting memory the interpreter uses
crashes the process. Safe, bounds-checked memory is :mod:`vllsi.memory`.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Final, NamedTuple

from vllsi import errors
from vllsi.windows import consts as C
from vllsi.windows._args import handle_arg, int_arg
from vllsi.windows._ffi import (
    buffer,
    check_bool,
    ffi,
    kernel32,
    kernelbase,
    last_error,
    raise_winerror,
    wide,
    winerror_exc,
)

__all__ = [
    "INVALID_HANDLE_VALUE",
    "MemoryInfo",
    "ProcessInfo",
    "SystemInfo",
    "cancel_io_ex",
    "close_handle",
    "create_directory",
    "create_event",
    "create_file",
    "create_file_mapping",
    "create_io_completion_port",
    "create_pipe",
    "create_process",
    "create_waitable_timer_ex",
    "delete_file",
    "duplicate_handle",
    "flush_file_buffers",
    "get_active_processor_count",
    "get_current_process_id",
    "get_current_thread",
    "get_current_thread_id",
    "get_exit_code_process",
    "get_file_attributes",
    "get_file_size_ex",
    "get_file_type",
    "get_overlapped_result",
    "get_process_handle_count",
    "get_queued_completion_status_ex",
    "get_std_handle",
    "get_system_info",
    "get_system_time_precise_as_file_time",
    "lock_file_ex",
    "map_view_of_file",
    "move_file_ex",
    "open_process",
    "post_queued_completion_status",
    "query_performance_counter",
    "query_performance_frequency",
    "read_file",
    "remove_directory",
    "set_end_of_file",
    "set_event",
    "set_file_attributes",
    "set_file_completion_notification_modes",
    "set_file_end_of_file_info",
    "set_file_pointer_ex",
    "set_handle_information",
    "set_waitable_timer",
    "switch_to_thread",
    "terminate_process",
    "tls_alloc",
    "tls_free",
    "tls_get_value",
    "tls_set_value",
    "unlock_file_ex",
    "unmap_view_of_file",
    "virtual_alloc",
    "virtual_free",
    "virtual_protect",
    "virtual_query",
    "wait_for_single_object",
    "wait_on_address",
    "wake_by_address_all",
    "wake_by_address_single",
    "write_file",
]

INVALID_HANDLE_VALUE: Final = -1
_U64: Final = (1 << 64) - 1
_ERROR_IO_PENDING: Final = 997
_ERROR_HANDLE_EOF: Final = 38
_ERROR_LOCK_VIOLATION: Final = 33


def _h(v: int) -> Any:
    return ffi.cast("HANDLE", v)


def _hval(cdata: Any) -> int:
    return int(ffi.cast("intptr_t", cdata))


def _ptr(addr: int) -> Any:
    return ffi.cast("void *", addr)


# ---------------------------------------------------------------------------- files

def create_file(path: Any, access: int, share: int, disposition: int,
                flags: int = C.FILE_ATTRIBUTE_NORMAL, *, inheritable: bool = False) -> int:
    """CreateFileW(path, access, share, NULL, disposition, flags, NULL): a new handle.

    Args:
        path: str, bytes or os.PathLike.
        access: GENERIC_READ | GENERIC_WRITE ...; share: FILE_SHARE_*;
        disposition: CREATE_NEW, CREATE_ALWAYS, OPEN_EXISTING, OPEN_ALWAYS,
            TRUNCATE_EXISTING; flags: FILE_ATTRIBUTE_* | FILE_FLAG_*.
    Returns: the handle (an int); inherited by child processes only when
        ``inheritable`` (SECURITY_ATTRIBUTES.bInheritHandle).
    Raises: NotFound/ENOENT (ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND),
        PermissionDenied/EACCES (ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION),
        AlreadyExists/EEXIST (ERROR_FILE_EXISTS with CREATE_NEW); TypeError/ValueError
        for bad arguments before the call.
    Availability: Windows.
    """
    wpath = wide(path)
    for n, v in (("access", access), ("share", share), ("disposition", disposition),
                 ("flags", flags)):
        int_arg(v, n, 0, 0xFFFFFFFF)
    sa = ffi.NULL
    if inheritable:
        sa = ffi.new("SECURITY_ATTRIBUTES *")
        sa.nLength = ffi.sizeof("SECURITY_ATTRIBUTES")
        sa.bInheritHandle = True
    h = kernel32.CreateFileW(wpath, access, share, sa, disposition, flags, ffi.NULL)
    hv = _hval(h)
    if hv == INVALID_HANDLE_VALUE:
        raise_winerror("CreateFileW", filename=path)
    return hv


def close_handle(handle: int) -> None:
    """CloseHandle(handle).

    Raises: BadDescriptor/EBADF (ERROR_INVALID_HANDLE). Availability: Windows.
    """
    check_bool(kernel32.CloseHandle(_h(handle_arg(handle))), "CloseHandle")


class _Event:
    """A thread's private manual-reset event, closed when the thread's locals go."""

    __slots__ = ("handle",)

    def __init__(self) -> None:
        r = kernel32.CreateEventW(ffi.NULL, True, False, ffi.NULL)
        if r == ffi.NULL:
            raise_winerror("CreateEventW")
        self.handle = _hval(r)

    def __del__(self, _close: Any = kernel32.CloseHandle, _cast: Any = ffi.cast) -> None:
        _close(_cast("HANDLE", self.handle))  # bound early: may run at interpreter exit


_tls = threading.local()


def _private_overlapped(offset: int = 0) -> Any:
    """A fresh OVERLAPPED whose completion is never posted to a completion port.

    Its hEvent is this thread's event with the low bit set, which tells the
    kernel not to queue a packet even when the handle is bound to an IOCP (an
    IocpDriver using the same handle would otherwise receive a packet naming
    this OVERLAPPED after it was freed). GetOverlappedResult waits on the event
    (the low tag bit does not change which object a handle names).
    """
    ev = getattr(_tls, "event", None)
    if ev is None:
        ev = _tls.event = _Event()
    ov = ffi.new("OVERLAPPED *")
    ov.Offset = offset & 0xFFFFFFFF
    ov.OffsetHigh = offset >> 32
    ov.hEvent = ffi.cast("HANDLE", ev.handle | 1)
    return ov


def _overlapped(offset: int | None) -> Any:
    if offset is None:
        return ffi.NULL
    int_arg(offset, "offset", 0, (1 << 63) - 1)
    return _private_overlapped(offset)


def _finish_io(name: str, h: int, ok: Any, ov: Any, done: Any) -> int:
    if ok:
        return int(done[0])
    code = last_error()
    if code == _ERROR_IO_PENDING and ov != ffi.NULL:
        # An overlapped handle: wait for this very operation (not alertable).
        if kernel32.GetOverlappedResult(_h(h), ov, done, True):
            return int(done[0])
        code = last_error()
    if code == _ERROR_HANDLE_EOF:
        return 0
    raise winerror_exc(code, name)


def read_file(handle: int, buf: Any, offset: int | None = None) -> int:
    """ReadFile(handle, buf, len(buf), &n, OVERLAPPED{offset}): bytes read into ``buf``.

    With ``offset`` the read is positional (OVERLAPPED.Offset/OffsetHigh). On a
    handle opened without FILE_FLAG_OVERLAPPED Windows still moves the file
    pointer to the end of the read (the OS forces it); on an overlapped handle a
    pending read is waited for with GetOverlappedResult, and no packet is
    queued to a completion port the handle may be bound to (the OVERLAPPED's
    hEvent has its low bit set), so an IocpDriver can share the handle. Reading at or past EOF
    returns 0 (ERROR_HANDLE_EOF). At most 2**32-1 bytes per call (short counts
    are returned, never hidden).
    Raises: BadDescriptor/EBADF, PermissionDenied/EACCES (not opened for reading),
        WouldBlock/EAGAIN (ERROR_LOCK_VIOLATION: a mandatory lock covers the range);
        TypeError for a read-only buffer. Availability: Windows.
    """
    h = handle_arg(handle)
    cbuf = buffer(buf, writable=True)
    n = min(len(cbuf), 0xFFFFFFFF)
    ov = _overlapped(offset)
    done = ffi.new("DWORD *")
    ok = kernel32.ReadFile(_h(h), cbuf, n, done, ov)
    return _finish_io("ReadFile", h, ok, ov, done)


def write_file(handle: int, data: Any, offset: int | None = None) -> int:
    """WriteFile(handle, data, len(data), &n, OVERLAPPED{offset}): bytes written.

    Positional with ``offset`` (see :func:`read_file` for the file pointer).
    Raises: BadDescriptor/EBADF, PermissionDenied/EACCES, ResourceExhausted/ENOSPC,
        WouldBlock/EAGAIN (ERROR_LOCK_VIOLATION). Availability: Windows.
    """
    h = handle_arg(handle)
    cbuf = buffer(data, writable=False)
    n = min(len(cbuf), 0xFFFFFFFF)
    ov = _overlapped(offset)
    done = ffi.new("DWORD *")
    ok = kernel32.WriteFile(_h(h), cbuf, n, done, ov)
    return _finish_io("WriteFile", h, ok, ov, done)


def get_overlapped_result(handle: int, overlapped: Any, wait: bool) -> int:
    """GetOverlappedResult(handle, overlapped, &n, wait): bytes transferred.

    ``overlapped`` is an ``OVERLAPPED *`` cdata (from this package's ffi) the
    caller keeps alive. Raises: WouldBlock/EINPROGRESS (ERROR_IO_INCOMPLETE) when
    ``wait`` is False and the operation is pending; the operation's own error
    otherwise. Availability: Windows.
    """
    h = handle_arg(handle)
    if ffi.typeof(overlapped) is not ffi.typeof("OVERLAPPED *"):
        raise TypeError("overlapped must be an OVERLAPPED * cdata")
    done = ffi.new("DWORD *")
    check_bool(kernel32.GetOverlappedResult(_h(h), overlapped, done, bool(wait)),
               "GetOverlappedResult")
    return int(done[0])


def get_file_size_ex(handle: int) -> int:
    """GetFileSizeEx(handle): the file size in bytes.

    Raises: BadDescriptor/EBADF. Availability: Windows.
    """
    out = ffi.new("LARGE_INTEGER *")
    check_bool(kernel32.GetFileSizeEx(_h(handle_arg(handle)), out), "GetFileSizeEx")
    return int(out.QuadPart)


def set_file_pointer_ex(handle: int, distance: int, method: int = C.FILE_BEGIN) -> int:
    """SetFilePointerEx(handle, distance, &new, method): the new file pointer.

    Raises: InvalidArgument/EINVAL (ERROR_NEGATIVE_SEEK...), BadDescriptor/EBADF.
    Availability: Windows.
    """
    h = handle_arg(handle)
    int_arg(distance, "distance", -(1 << 63), (1 << 63) - 1)
    int_arg(method, "method", 0, 2)
    out = ffi.new("LARGE_INTEGER *")
    check_bool(kernel32.SetFilePointerEx(_h(h), distance, out, method), "SetFilePointerEx")
    return int(out.QuadPart)


def set_end_of_file(handle: int) -> None:
    """SetEndOfFile(handle): truncate or extend the file to its file pointer.

    Raises: PermissionDenied/EACCES (not opened for writing), BadDescriptor/EBADF.
    Availability: Windows.
    """
    check_bool(kernel32.SetEndOfFile(_h(handle_arg(handle))), "SetEndOfFile")


def set_file_end_of_file_info(handle: int, length: int) -> None:
    """SetFileInformationByHandle(handle, FileEndOfFileInfo, {length}): set the size.

    Unlike SetEndOfFile it leaves the file pointer alone.
    Raises: ValueError for a negative length (before the call);
        PermissionDenied/EACCES, ResourceExhausted/ENOSPC. Availability: Windows.
    """
    h = handle_arg(handle)
    int_arg(length, "length", 0, (1 << 63) - 1)
    info = ffi.new("FILE_END_OF_FILE_INFO *")
    info.EndOfFile.QuadPart = length
    check_bool(kernel32.SetFileInformationByHandle(_h(h), C.FileEndOfFileInfo, info,
                                                   ffi.sizeof("FILE_END_OF_FILE_INFO")),
               "SetFileInformationByHandle")


def get_file_attributes(path: Any) -> int:
    """GetFileAttributesW(path): the FILE_ATTRIBUTE_* bits.

    Raises: NotFound/ENOENT, PermissionDenied/EACCES. Availability: Windows.
    """
    wpath = wide(path)
    r = int(kernel32.GetFileAttributesW(wpath))
    if r == C.INVALID_FILE_ATTRIBUTES:
        raise_winerror("GetFileAttributesW", filename=path)
    return r


def set_file_attributes(path: Any, attributes: int) -> None:
    """SetFileAttributesW(path, attributes) (FILE_ATTRIBUTE_READONLY, _NORMAL...).

    Raises: NotFound/ENOENT, PermissionDenied/EACCES. Availability: Windows.
    """
    wpath = wide(path)
    int_arg(attributes, "attributes", 0, 0xFFFFFFFF)
    check_bool(kernel32.SetFileAttributesW(wpath, attributes), "SetFileAttributesW",
               filename=path)


def get_file_type(handle: int) -> int:
    """GetFileType(handle): FILE_TYPE_DISK, FILE_TYPE_CHAR, FILE_TYPE_PIPE (or 0).

    Raises: BadDescriptor/EBADF when the type is unknown because of an error.
    Availability: Windows.
    """
    r = int(kernel32.GetFileType(_h(handle_arg(handle))))
    if r == 0 and last_error() != 0:
        raise_winerror("GetFileType")
    return r


def flush_file_buffers(handle: int) -> None:
    """FlushFileBuffers(handle): write the file's data and metadata to the device.

    Raises: PermissionDenied/EACCES (handle not opened for writing),
        BadDescriptor/EBADF. Availability: Windows.
    """
    check_bool(kernel32.FlushFileBuffers(_h(handle_arg(handle))), "FlushFileBuffers")


def move_file_ex(src: Any, dst: Any, flags: int) -> None:
    """MoveFileExW(src, dst, flags) (MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH).

    Raises: NotFound/ENOENT, AlreadyExists/EEXIST (no REPLACE_EXISTING),
        PermissionDenied/EACCES. Availability: Windows.
    """
    ws, wd = wide(src, name="src"), wide(dst, name="dst")
    int_arg(flags, "flags", 0, 0xFFFFFFFF)
    if not kernel32.MoveFileExW(ws, wd, flags):
        err = winerror_exc(last_error(), "MoveFileExW", filename=src)
        err.filename2 = dst  # both paths, as os.rename names them
        raise err


def delete_file(path: Any) -> None:
    """DeleteFileW(path).

    Raises: NotFound/ENOENT, PermissionDenied/EACCES. Availability: Windows.
    """
    check_bool(kernel32.DeleteFileW(wide(path)), "DeleteFileW", filename=path)


def create_directory(path: Any) -> None:
    """CreateDirectoryW(path, NULL) (default security; no POSIX mode on Windows).

    Raises: AlreadyExists/EEXIST (ERROR_ALREADY_EXISTS), NotFound/ENOENT (missing
        parent, ERROR_PATH_NOT_FOUND), PermissionDenied/EACCES. Availability: Windows.
    """
    check_bool(kernel32.CreateDirectoryW(wide(path), ffi.NULL), "CreateDirectoryW",
               filename=path)


def remove_directory(path: Any) -> None:
    """RemoveDirectoryW(path): remove an empty directory.

    Raises: VllsiError/ENOTEMPTY (ERROR_DIR_NOT_EMPTY), NotFound/ENOENT,
        VllsiError/ENOTDIR (ERROR_DIRECTORY: not a directory). Availability: Windows.
    """
    check_bool(kernel32.RemoveDirectoryW(wide(path)), "RemoveDirectoryW", filename=path)


def lock_file_ex(handle: int, offset: int, length: int, flags: int) -> None:
    """LockFileEx(handle, flags, 0, length, OVERLAPPED{offset}): lock a byte range.

    ``flags``: LOCKFILE_EXCLUSIVE_LOCK and/or LOCKFILE_FAIL_IMMEDIATELY. Offsets
    and lengths are full 64-bit values (the range may lie above 4 GiB or past
    EOF). Without FAIL_IMMEDIATELY the call waits; on an overlapped handle the
    pending lock is waited for with GetOverlappedResult. Locks are mandatory on
    Windows and not re-entrant (the same handle conflicts with itself).
    Raises: LockConflict/EAGAIN (ERROR_LOCK_VIOLATION) with FAIL_IMMEDIATELY;
        ValueError for a negative offset or a length outside 1..2**64-1.
    Availability: Windows.
    """
    h = handle_arg(handle)
    int_arg(offset, "offset", 0, _U64)
    int_arg(length, "length", 1, _U64)
    int_arg(flags, "flags", 0, 3)
    ov = _private_overlapped(offset)
    ok = kernel32.LockFileEx(_h(h), flags, 0, length & 0xFFFFFFFF, length >> 32, ov)
    if ok:
        return
    code = last_error()
    if code == _ERROR_IO_PENDING:
        done = ffi.new("DWORD *")
        if kernel32.GetOverlappedResult(_h(h), ov, done, True):
            return
        code = last_error()
    cls = errors.LockConflict if code == _ERROR_LOCK_VIOLATION else None
    raise winerror_exc(code, "LockFileEx", cls=cls)


def unlock_file_ex(handle: int, offset: int, length: int) -> None:
    """UnlockFileEx(handle, 0, length, OVERLAPPED{offset}): release exactly that range.

    Raises: ERROR_NOT_LOCKED (158, mapped to ENOLCK) when no lock of this handle
        matches the range exactly. Availability: Windows.
    """
    h = handle_arg(handle)
    int_arg(offset, "offset", 0, _U64)
    int_arg(length, "length", 1, _U64)
    ov = _private_overlapped(offset)
    check_bool(kernel32.UnlockFileEx(_h(h), 0, length & 0xFFFFFFFF, length >> 32, ov),
               "UnlockFileEx")


# ---------------------------------------------------------------------- process/thread

def get_current_process_id() -> int:
    """GetCurrentProcessId(). Availability: Windows."""
    return int(kernel32.GetCurrentProcessId())


def get_current_thread_id() -> int:
    """GetCurrentThreadId(). Availability: Windows."""
    return int(kernel32.GetCurrentThreadId())


def get_process_handle_count() -> int:
    """GetProcessHandleCount(GetCurrentProcess(), &n): handles open in this process.

    Returns: the count (kernel objects only; Winsock SOCKETs are handles too).
    Raises: VllsiError with ``.winerror`` on failure. Availability: Windows.
    """
    n = ffi.new("DWORD *")
    check_bool(kernel32.GetProcessHandleCount(kernel32.GetCurrentProcess(), n),
               "GetProcessHandleCount")
    return int(n[0])


def get_current_thread() -> int:
    """GetCurrentThread(): the pseudo-handle (-2) of the calling thread. Availability: Windows."""
    return _hval(kernel32.GetCurrentThread())


def switch_to_thread() -> bool:
    """SwitchToThread(): True if another thread was scheduled. Availability: Windows."""
    return bool(kernel32.SwitchToThread())


def get_active_processor_count(group: int = 0xFFFF) -> int:
    """GetActiveProcessorCount(group) (ALL_PROCESSOR_GROUPS = 0xFFFF by default).

    Raises: InvalidArgument/EINVAL for an unknown group (returns 0). Availability: Windows.
    """
    int_arg(group, "group", 0, 0xFFFF)
    n = int(kernel32.GetActiveProcessorCount(group))
    if n == 0:
        raise_winerror("GetActiveProcessorCount")
    return n


class SystemInfo(NamedTuple):
    """The fields of SYSTEM_INFO vllsi uses."""

    processor_architecture: int
    page_size: int
    minimum_address: int
    maximum_address: int
    number_of_processors: int
    allocation_granularity: int


def get_system_info() -> SystemInfo:
    """GetSystemInfo(&info). Availability: Windows."""
    si = ffi.new("SYSTEM_INFO *")
    kernel32.GetSystemInfo(si)
    return SystemInfo(int(si.wProcessorArchitecture), int(si.dwPageSize),
                      int(ffi.cast("uintptr_t", si.lpMinimumApplicationAddress)),
                      int(ffi.cast("uintptr_t", si.lpMaximumApplicationAddress)),
                      int(si.dwNumberOfProcessors), int(si.dwAllocationGranularity))


# ---------------------------------------------------------------------------- memory

def virtual_alloc(address: int, size: int, alloc_type: int, protect: int) -> int:
    """VirtualAlloc(address or NULL, size, MEM_*, PAGE_*): the base address.

    Raises: ResourceExhausted/ENOMEM (ERROR_NOT_ENOUGH_MEMORY, ERROR_COMMITMENT_LIMIT),
        InvalidArgument/EINVAL, PermissionDenied/EPERM (MEM_LARGE_PAGES without
        SeLockMemoryPrivilege); ValueError for size <= 0. Availability: Windows.
    """
    int_arg(address, "address", 0, _U64)
    int_arg(size, "size", 1, (1 << 63) - 1)
    int_arg(alloc_type, "alloc_type", 0, 0xFFFFFFFF)
    int_arg(protect, "protect", 0, 0xFFFFFFFF)
    p = kernel32.VirtualAlloc(_ptr(address), size, alloc_type, protect)
    if p == ffi.NULL:
        raise_winerror("VirtualAlloc")
    return int(ffi.cast("uintptr_t", p))


def virtual_free(address: int, size: int, free_type: int) -> None:
    """VirtualFree(address, size, MEM_RELEASE (size 0) or MEM_DECOMMIT).

    Unsafe: the caller must own the region (freeing memory the interpreter uses
    crashes the process).
    Raises: InvalidArgument/EINVAL (ERROR_INVALID_ADDRESS, ERROR_INVALID_PARAMETER).
    Availability: Windows.
    """
    int_arg(address, "address", 1, _U64)
    int_arg(size, "size", 0, (1 << 63) - 1)
    int_arg(free_type, "free_type", 0, 0xFFFFFFFF)
    check_bool(kernel32.VirtualFree(_ptr(address), size, free_type), "VirtualFree")


def virtual_protect(address: int, size: int, protect: int) -> int:
    """VirtualProtect(address, size, PAGE_*, &old): the previous protection.

    Raises: InvalidArgument/EINVAL (ERROR_INVALID_ADDRESS), EACCES for a protection
        the region cannot take. Availability: Windows. Unsafe on memory you do not own.
    """
    int_arg(address, "address", 1, _U64)
    int_arg(size, "size", 1, (1 << 63) - 1)
    int_arg(protect, "protect", 0, 0xFFFFFFFF)
    old = ffi.new("DWORD *")
    check_bool(kernel32.VirtualProtect(_ptr(address), size, protect, old), "VirtualProtect")
    return int(old[0])


def create_file_mapping(size: int, protect: int = C.PAGE_READWRITE) -> int:
    """CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, protect, size, NULL): an
    unnamed pagefile-backed section of ``size`` bytes (zeroed). Returns its handle.

    Raises: ResourceExhausted/ENOMEM (ERROR_COMMITMENT_LIMIT...); ValueError for
        size <= 0. Availability: Windows.
    """
    int_arg(size, "size", 1, (1 << 63) - 1)
    int_arg(protect, "protect", 0, 0xFFFFFFFF)
    r = kernel32.CreateFileMappingW(_h(INVALID_HANDLE_VALUE), ffi.NULL, protect, size >> 32,
                                    size & 0xFFFFFFFF, ffi.NULL)
    if r == ffi.NULL:
        raise_winerror("CreateFileMappingW")
    return _hval(r)


def map_view_of_file(section: int, access: int, offset: int, size: int) -> int:
    """MapViewOfFile(section, FILE_MAP_*, offset, size): the view's address.

    Raises: PermissionDenied/EACCES (access beyond the section's protection),
        ResourceExhausted/ENOMEM. Availability: Windows.
    """
    h = handle_arg(section, name="section")
    int_arg(access, "access", 0, 0xFFFFFFFF)
    int_arg(offset, "offset", 0, _U64)
    int_arg(size, "size", 0, (1 << 63) - 1)
    p = kernel32.MapViewOfFile(_h(h), access, offset >> 32, offset & 0xFFFFFFFF, size)
    if p == ffi.NULL:
        raise_winerror("MapViewOfFile")
    return int(ffi.cast("uintptr_t", p))


def unmap_view_of_file(address: int) -> None:
    """UnmapViewOfFile(address). Unsafe: the caller must own the view.

    Raises: InvalidArgument/EINVAL (ERROR_INVALID_ADDRESS). Availability: Windows.
    """
    int_arg(address, "address", 1, _U64)
    check_bool(kernel32.UnmapViewOfFile(_ptr(address)), "UnmapViewOfFile")


class MemoryInfo(NamedTuple):
    """MEMORY_BASIC_INFORMATION."""

    base_address: int
    allocation_base: int
    allocation_protect: int
    region_size: int
    state: int
    protect: int
    type: int


def virtual_query(address: int) -> MemoryInfo:
    """VirtualQuery(address, &info, sizeof info): the region containing ``address``.

    Raises: InvalidArgument/EINVAL for an address outside user space. Availability: Windows.
    """
    int_arg(address, "address", 0, _U64)
    mbi = ffi.new("MEMORY_BASIC_INFORMATION *")
    if kernel32.VirtualQuery(_ptr(address), mbi, ffi.sizeof(mbi[0])) == 0:
        raise_winerror("VirtualQuery")
    return MemoryInfo(int(ffi.cast("uintptr_t", mbi.BaseAddress)),
                      int(ffi.cast("uintptr_t", mbi.AllocationBase)),
                      int(mbi.AllocationProtect), int(mbi.RegionSize), int(mbi.State),
                      int(mbi.Protect), int(mbi.Type))


# ------------------------------------------------------------------------------ time

def query_performance_counter() -> int:
    """QueryPerformanceCounter(&count): ticks of the monotonic performance counter.

    Availability: Windows (never fails on XP and later).
    """
    out = ffi.new("LARGE_INTEGER *")
    check_bool(kernel32.QueryPerformanceCounter(out), "QueryPerformanceCounter")
    return int(out.QuadPart)


def query_performance_frequency() -> int:
    """QueryPerformanceFrequency(&freq): counter ticks per second. Availability: Windows."""
    out = ffi.new("LARGE_INTEGER *")
    check_bool(kernel32.QueryPerformanceFrequency(out), "QueryPerformanceFrequency")
    return int(out.QuadPart)


def get_system_time_precise_as_file_time() -> int:
    """GetSystemTimePreciseAsFileTime(&ft): 100-ns intervals since 1601-01-01 UTC.

    Availability: Windows 8 and later.
    """
    ft = ffi.new("FILETIME *")
    kernel32.GetSystemTimePreciseAsFileTime(ft)
    return (int(ft.dwHighDateTime) << 32) | int(ft.dwLowDateTime)


# ------------------------------------------------------------------------------- TLS

def tls_alloc() -> int:
    """TlsAlloc(): a new TLS index. Raises: ResourceExhausted when none is left.

    Availability: Windows.
    """
    i = int(kernel32.TlsAlloc())
    if i == C.TLS_OUT_OF_INDEXES:
        raise_winerror("TlsAlloc")
    return i


def tls_free(index: int) -> None:
    """TlsFree(index). Raises: InvalidArgument/EINVAL for an index not allocated.

    Availability: Windows.
    """
    check_bool(kernel32.TlsFree(int_arg(index, "index", 0, 0xFFFFFFFE)), "TlsFree")


def tls_get_value(index: int) -> int:
    """TlsGetValue(index): this thread's value (0 if never set).

    Raises: InvalidArgument/EINVAL for a bad index. Availability: Windows.
    """
    int_arg(index, "index", 0, 0xFFFFFFFE)
    v = int(ffi.cast("uintptr_t", kernel32.TlsGetValue(index)))
    if v == 0 and last_error() != 0:
        raise_winerror("TlsGetValue")
    return v


def tls_set_value(index: int, value: int) -> None:
    """TlsSetValue(index, value) for the calling thread (a pointer-sized integer).

    Availability: Windows.
    """
    int_arg(index, "index", 0, 0xFFFFFFFE)
    int_arg(value, "value", 0, _U64)
    check_bool(kernel32.TlsSetValue(index, _ptr(value)), "TlsSetValue")


# ------------------------------------------------------------------------------ IOCP

def create_io_completion_port(handle: int, port: int = 0, key: int = 0,
                              threads: int = 0) -> int:
    """CreateIoCompletionPort(handle, port, key, threads).

    ``handle`` INVALID_HANDLE_VALUE (-1) with ``port`` 0 creates a new port;
    otherwise associates ``handle`` (opened with FILE_FLAG_OVERLAPPED or an
    overlapped socket) with ``port`` under ``key``. Returns the port.
    Raises: InvalidArgument/EINVAL (ERROR_INVALID_PARAMETER: not an overlapped
        handle, or already associated). Availability: Windows.
    """
    h = handle if handle == INVALID_HANDLE_VALUE else handle_arg(handle)
    p = 0 if port == 0 else handle_arg(port, name="port")
    int_arg(key, "key", 0, _U64)
    int_arg(threads, "threads", 0, 0xFFFFFFFF)
    r = kernel32.CreateIoCompletionPort(_h(h), _h(p), key, threads)
    if r == ffi.NULL:
        raise_winerror("CreateIoCompletionPort")
    return _hval(r)


def get_queued_completion_status_ex(port: int, entries: Any, timeout_ms: int) -> int:
    """GetQueuedCompletionStatusEx(port, entries, len(entries), &n, timeout_ms, FALSE).

    ``entries`` is an ``OVERLAPPED_ENTRY[]`` cdata filled with up to its length
    of completions. Returns the count (0 when ``timeout_ms`` expired: WAIT_TIMEOUT).
    Not alertable. Raises: BadDescriptor/EBADF for a bad port. Availability: Windows.
    """
    p = handle_arg(port, name="port")
    if ffi.typeof(entries).kind != "array" or ffi.typeof(entries).item is not ffi.typeof(
            "OVERLAPPED_ENTRY"):
        raise TypeError("entries must be an OVERLAPPED_ENTRY[] cdata")
    int_arg(timeout_ms, "timeout_ms", 0, 0xFFFFFFFF)
    n = ffi.new("ULONG *")
    if kernel32.GetQueuedCompletionStatusEx(_h(p), entries, len(entries), n, timeout_ms,
                                            False):
        return int(n[0])
    code = last_error()
    if code == C.WAIT_TIMEOUT:
        return 0
    raise winerror_exc(code, "GetQueuedCompletionStatusEx")


def post_queued_completion_status(port: int, nbytes: int = 0, key: int = 0,
                                  overlapped: int = 0) -> None:
    """PostQueuedCompletionStatus(port, nbytes, key, overlapped): queue a packet.

    ``overlapped`` is an address (0 for none); GetQueuedCompletionStatusEx returns
    it as given. Availability: Windows.
    """
    p = handle_arg(port, name="port")
    int_arg(nbytes, "nbytes", 0, 0xFFFFFFFF)
    int_arg(key, "key", 0, _U64)
    int_arg(overlapped, "overlapped", 0, _U64)
    check_bool(kernel32.PostQueuedCompletionStatus(_h(p), nbytes, key,
                                                   ffi.cast("OVERLAPPED *", overlapped)),
               "PostQueuedCompletionStatus")


def cancel_io_ex(handle: int, overlapped: Any = None) -> bool:
    """CancelIoEx(handle, overlapped or NULL): request cancellation of pending I/O.

    ``overlapped`` is an ``OVERLAPPED *`` cdata or None (all of the handle's I/O
    from every thread). The cancelled operations still complete (with
    ERROR_OPERATION_ABORTED). Returns False when nothing was pending
    (ERROR_NOT_FOUND). Raises: BadDescriptor/EBADF. Availability: Windows.
    """
    h = handle_arg(handle)
    ov = ffi.NULL if overlapped is None else overlapped
    if kernel32.CancelIoEx(_h(h), ov):
        return True
    code = last_error()
    if code == 1168:  # ERROR_NOT_FOUND
        return False
    raise winerror_exc(code, "CancelIoEx")


def set_file_completion_notification_modes(handle: int, flags: int) -> None:
    """SetFileCompletionNotificationModes(handle, FILE_SKIP_*). Availability: Windows."""
    int_arg(flags, "flags", 0, 0xFF)
    check_bool(kernel32.SetFileCompletionNotificationModes(_h(handle_arg(handle)), flags),
               "SetFileCompletionNotificationModes")


# ------------------------------------------------------------------------ sync objects

def create_event(manual_reset: bool = True, initial: bool = False) -> int:
    """CreateEventW(NULL, manual_reset, initial, NULL): an unnamed event handle.

    Availability: Windows.
    """
    r = kernel32.CreateEventW(ffi.NULL, bool(manual_reset), bool(initial), ffi.NULL)
    if r == ffi.NULL:
        raise_winerror("CreateEventW")
    return _hval(r)


def create_waitable_timer_ex(high_resolution: bool = True) -> int:
    """CreateWaitableTimerExW(NULL, NULL, flags, TIMER_ALL_ACCESS): an unnamed
    manual-reset timer; ``high_resolution`` adds CREATE_WAITABLE_TIMER_HIGH_RESOLUTION
    (Windows 10 1803+).

    Raises: InvalidArgument/EINVAL where the flag is unknown. Availability: Windows.
    """
    flags = C.CREATE_WAITABLE_TIMER_HIGH_RESOLUTION if high_resolution else 0
    flags |= C.CREATE_WAITABLE_TIMER_MANUAL_RESET
    r = kernel32.CreateWaitableTimerExW(ffi.NULL, ffi.NULL, flags, C.TIMER_ALL_ACCESS)
    if r == ffi.NULL:
        raise_winerror("CreateWaitableTimerExW")
    return _hval(r)


def set_waitable_timer(handle: int, due_100ns: int) -> None:
    """SetWaitableTimer(handle, &due, 0, NULL, NULL, FALSE): one-shot.

    ``due_100ns`` < 0 is relative (in 100-ns units), > 0 an absolute FILETIME.
    Availability: Windows.
    """
    h = handle_arg(handle)
    int_arg(due_100ns, "due_100ns", -(1 << 63), (1 << 63) - 1)
    due = ffi.new("LARGE_INTEGER *")
    due.QuadPart = due_100ns
    check_bool(kernel32.SetWaitableTimer(_h(h), due, 0, ffi.NULL, ffi.NULL, False),
               "SetWaitableTimer")


def set_event(handle: int) -> None:
    """SetEvent(handle). Availability: Windows."""
    check_bool(kernel32.SetEvent(_h(handle_arg(handle))), "SetEvent")


def wait_for_single_object(handle: int, timeout_ms: int) -> int:
    """WaitForSingleObject(handle, timeout_ms): WAIT_OBJECT_0 or WAIT_TIMEOUT (not alertable).

    Raises: on WAIT_FAILED, the last error (BadDescriptor/EBADF...). Availability: Windows.
    """
    h = handle_arg(handle)
    int_arg(timeout_ms, "timeout_ms", 0, 0xFFFFFFFF)
    r = int(kernel32.WaitForSingleObject(_h(h), timeout_ms))
    if r == C.WAIT_FAILED:
        raise_winerror("WaitForSingleObject")
    return r


def _word(buf: Any, offset: int) -> Any:
    cbuf = buffer(buf, writable=True)
    int_arg(offset, "offset", 0, len(cbuf) - 4)
    p = ffi.cast("char *", cbuf) + offset
    if int(ffi.cast("uintptr_t", p)) % 4:
        raise ValueError("the 32-bit word must be 4-byte aligned")
    return cbuf, p


def wait_on_address(buf: Any, offset: int, expected: int, timeout_ms: int) -> bool:
    """WaitOnAddress(&word, &expected, 4, timeout_ms) on the 32-bit word at ``buf[offset]``.

    Returns True when woken (or the word already differed, or a spurious wake),
    False on timeout (ERROR_TIMEOUT). The word must be 4-byte aligned inside a
    writable buffer (ValueError otherwise). Not alertable. Availability: Windows 8+
    (kernelbase.dll).
    """
    _cbuf, p = _word(buf, offset)
    int_arg(expected, "expected", -(1 << 31), (1 << 32) - 1)
    int_arg(timeout_ms, "timeout_ms", 0, 0xFFFFFFFF)
    cmp = ffi.new("uint32_t *", expected & 0xFFFFFFFF)
    if kernelbase.WaitOnAddress(p, cmp, 4, timeout_ms):
        return True
    code = last_error()
    if code == 1460:  # ERROR_TIMEOUT
        return False
    raise winerror_exc(code, "WaitOnAddress")


def wake_by_address_single(buf: Any, offset: int) -> None:
    """WakeByAddressSingle(&word): wake one waiter of the word at ``buf[offset]``.

    Availability: Windows 8+.
    """
    _cbuf, p = _word(buf, offset)
    kernelbase.WakeByAddressSingle(p)


def wake_by_address_all(buf: Any, offset: int) -> None:
    """WakeByAddressAll(&word): wake every waiter of the word at ``buf[offset]``.

    Availability: Windows 8+.
    """
    _cbuf, p = _word(buf, offset)
    kernelbase.WakeByAddressAll(p)


# --------------------------------------------------------------------------- processes

def get_std_handle(which: int) -> int:
    """GetStdHandle(STD_INPUT_HANDLE | STD_OUTPUT_HANDLE | STD_ERROR_HANDLE): the
    handle, or 0 when the process has none for that stream. Availability: Windows."""
    int_arg(which, "which", 0, 0xFFFFFFFF)
    r = _hval(kernel32.GetStdHandle(which))
    if r == INVALID_HANDLE_VALUE:
        raise_winerror("GetStdHandle")
    return r


def create_pipe(inheritable: bool = False, size: int = 0) -> tuple[int, int]:
    """CreatePipe(&r, &w, SECURITY_ATTRIBUTES{inherit}, size): (read end, write end).

    Raises: ResourceExhausted/EMFILE-class errors. Availability: Windows.
    """
    int_arg(size, "size", 0, 0xFFFFFFFF)
    r, w = ffi.new("HANDLE *"), ffi.new("HANDLE *")
    sa = ffi.new("SECURITY_ATTRIBUTES *")
    sa.nLength = ffi.sizeof("SECURITY_ATTRIBUTES")
    sa.bInheritHandle = bool(inheritable)
    check_bool(kernel32.CreatePipe(r, w, sa, size), "CreatePipe")
    return _hval(r[0]), _hval(w[0])


def set_handle_information(handle: int, mask: int, flags: int) -> None:
    """SetHandleInformation(handle, mask, flags) (HANDLE_FLAG_INHERIT...).

    Availability: Windows."""
    h = handle_arg(handle)
    int_arg(mask, "mask", 0, 0xFFFFFFFF)
    int_arg(flags, "flags", 0, 0xFFFFFFFF)
    check_bool(kernel32.SetHandleInformation(_h(h), mask, flags), "SetHandleInformation")


def duplicate_handle(handle: int, inheritable: bool) -> int:
    """DuplicateHandle(self, handle, self, &new, 0, inheritable, DUPLICATE_SAME_ACCESS).

    Raises: BadDescriptor/EBADF. Availability: Windows."""
    h = handle_arg(handle)
    out = ffi.new("HANDLE *")
    me = kernel32.GetCurrentProcess()
    check_bool(kernel32.DuplicateHandle(me, _h(h), me, out, 0, bool(inheritable),
                                        C.DUPLICATE_SAME_ACCESS), "DuplicateHandle")
    return _hval(out[0])


def _quote_arg(arg: str) -> str:
    """One argument quoted for CommandLineToArgvW / the MS C runtime's parser."""
    if arg and not any(c in arg for c in ' \t\n\v"'):
        return arg
    out, slashes = ['"'], 0
    for c in arg:
        if c == "\\":
            slashes += 1
            continue
        if c == '"':
            out.append("\\" * (2 * slashes + 1) + '"')
        else:
            out.append("\\" * slashes + c)
        slashes = 0
    out.append("\\" * (2 * slashes) + '"')
    return "".join(out)


class ProcessInfo(NamedTuple):
    """PROCESS_INFORMATION: the new process's and thread's handles and ids."""

    process: int
    thread: int
    pid: int
    tid: int


def create_process(application: Any, argv: list[Any], *, env: dict[str, str] | None = None,
                   cwd: Any = None, stdio: tuple[int, int, int] | None = None,
                   flags: int = 0) -> ProcessInfo:
    """CreateProcessW(application, command line, NULL, NULL, inherit, flags |
    CREATE_UNICODE_ENVIRONMENT, env block, cwd, STARTUPINFOW, &pi).

    ``argv`` is quoted into one command line with the C runtime's rules (so the
    child's ``sys.argv`` equals ``argv``). ``stdio`` (three inheritable handles)
    sets STARTF_USESTDHANDLES and handle inheritance; ``env`` None inherits the
    caller's environment.
    Raises: NotFound/ENOENT (ERROR_FILE_NOT_FOUND), PermissionDenied/EACCES,
        VllsiError/ENOEXEC (ERROR_BAD_EXE_FORMAT...); TypeError/ValueError for bad
        arguments before the call. Availability: Windows.
    """
    app = wide(application, name="application")
    if isinstance(argv, (str, bytes)) or not argv:
        raise TypeError("argv must be a non-empty list")
    args = [os.fsdecode(a) for a in argv]
    if any("\0" in a for a in args):
        raise ValueError("argv item contains a NUL character")
    cmdline = ffi.new("wchar_t[]", " ".join(_quote_arg(a) for a in args))
    block: Any = ffi.NULL
    if env is not None:
        items = []
        for k, v in env.items():
            if not k or "=" in k[1:] or "\0" in k + v:
                raise ValueError(f"illegal environment variable {k!r}")
            items.append(f"{k}={v}")
        block = ffi.new("wchar_t[]", "\0".join(items) + "\0\0")
    wcwd = ffi.NULL if cwd is None else wide(cwd, name="cwd")
    int_arg(flags, "flags", 0, 0xFFFFFFFF)
    si = ffi.new("STARTUPINFOW *")
    si.cb = ffi.sizeof("STARTUPINFOW")
    inherit = False
    if stdio is not None:
        si.dwFlags = C.STARTF_USESTDHANDLES
        si.hStdInput, si.hStdOutput, si.hStdError = (_h(x) for x in stdio)
        inherit = True
    pi = ffi.new("PROCESS_INFORMATION *")
    ok = kernel32.CreateProcessW(app, cmdline, ffi.NULL, ffi.NULL, inherit,
                                 flags | C.CREATE_UNICODE_ENVIRONMENT, block, wcwd, si, pi)
    check_bool(ok, "CreateProcessW", filename=application)
    return ProcessInfo(_hval(pi.hProcess), _hval(pi.hThread), int(pi.dwProcessId),
                       int(pi.dwThreadId))


def open_process(pid: int, access: int) -> int:
    """OpenProcess(access, FALSE, pid): a process handle.

    Raises: InvalidArgument/EINVAL (no such process: ERROR_INVALID_PARAMETER),
        PermissionDenied/EACCES. Availability: Windows."""
    int_arg(pid, "pid", 0, 0xFFFFFFFF)
    int_arg(access, "access", 0, 0xFFFFFFFF)
    r = kernel32.OpenProcess(access, False, pid)
    if r == ffi.NULL:
        raise_winerror("OpenProcess")
    return _hval(r)


def terminate_process(handle: int, exit_code: int) -> None:
    """TerminateProcess(handle, exit_code): end the process at once.

    Raises: PermissionDenied/EACCES (no PROCESS_TERMINATE access, or it already
        exited). Availability: Windows."""
    h = handle if handle == INVALID_HANDLE_VALUE else handle_arg(handle)
    int_arg(exit_code, "exit_code", 0, 0xFFFFFFFF)
    check_bool(kernel32.TerminateProcess(_h(h), exit_code), "TerminateProcess")


def get_exit_code_process(handle: int) -> int:
    """GetExitCodeProcess(handle, &code): the exit code, or STILL_ACTIVE (259).

    Availability: Windows."""
    out = ffi.new("DWORD *")
    check_bool(kernel32.GetExitCodeProcess(_h(handle_arg(handle)), out), "GetExitCodeProcess")
    return int(out[0])
