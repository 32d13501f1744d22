"""Typed wrappers of ntdll calls, named after them.

NTSTATUS failures are decoded with RtlNtStatusToDosError (the full table, not
the low-16-bit shortcut) and raised through the factory with ``.winerror`` and
``.ntstatus`` kept.
"""

from __future__ import annotations

from typing import NamedTuple

from vllsi.windows import consts as C
from vllsi.windows._args import handle_arg, int_arg
from vllsi.windows._ffi import check_ntstatus, ffi, kernel32, ntdll

__all__ = [
    "OsVersion",
    "nt_current_teb",
    "nt_query_file_mode",
    "nt_query_process_basic",
    "nt_query_system_time",
    "rtl_get_version",
    "rtl_nt_status_to_dos_error",
    "wine_get_version",
]


def nt_query_system_time() -> int:
    """NtQuerySystemTime(&t): 100-ns intervals since 1601-01-01 UTC.

    Raises: through RtlNtStatusToDosError on a failing NTSTATUS. Availability: Windows.
    """
    out = ffi.new("LARGE_INTEGER *")
    check_ntstatus(ntdll.NtQuerySystemTime(out), "NtQuerySystemTime")
    return int(out.QuadPart)


class OsVersion(NamedTuple):
    """RTL_OSVERSIONINFOW's numbers."""

    major: int
    minor: int
    build: int
    platform_id: int


def rtl_get_version() -> OsVersion:
    """RtlGetVersion(&info): the true OS version (no manifest shims). Availability: Windows."""
    info = ffi.new("RTL_OSVERSIONINFOW *")
    info.dwOSVersionInfoSize = ffi.sizeof("RTL_OSVERSIONINFOW")
    check_ntstatus(ntdll.RtlGetVersion(info), "RtlGetVersion")
    return OsVersion(int(info.dwMajorVersion), int(info.dwMinorVersion),
                     int(info.dwBuildNumber), int(info.dwPlatformId))


def rtl_nt_status_to_dos_error(status: int) -> int:
    """RtlNtStatusToDosError(status): the Win32 error for an NTSTATUS.

    ``status`` is taken as a 32-bit value (signed or unsigned form).
    Availability: Windows.
    """
    int_arg(status, "status", -(1 << 31), (1 << 32) - 1)
    return int(ntdll.RtlNtStatusToDosError(ffi.cast("NTSTATUS", status & 0xFFFFFFFF)))


def nt_current_teb() -> int:
    """The calling thread's TEB address: NtQueryInformationThread(GetCurrentThread(),
    ThreadBasicInformation).TebBaseAddress (what NtCurrentTeb() reads from gs:[0x30]).

    Read only. Availability: Windows.
    """
    tbi = ffi.new("THREAD_BASIC_INFORMATION *")
    check_ntstatus(
        ntdll.NtQueryInformationThread(kernel32.GetCurrentThread(), C.ThreadBasicInformation,
                                       tbi, ffi.sizeof("THREAD_BASIC_INFORMATION"), ffi.NULL),
        "NtQueryInformationThread")
    return int(ffi.cast("uintptr_t", tbi.TebBaseAddress))


def nt_query_file_mode(handle: int) -> int:
    """NtQueryInformationFile(handle, FileModeInformation).Mode: FILE_SYNCHRONOUS_IO_*
    bits set for a handle opened *without* FILE_FLAG_OVERLAPPED.

    Raises: BadDescriptor/EBADF (STATUS_INVALID_HANDLE). Availability: Windows.
    """
    h = handle_arg(handle)
    iosb = ffi.new("IO_STATUS_BLOCK *")
    mode = ffi.new("ULONG *")
    check_ntstatus(ntdll.NtQueryInformationFile(ffi.cast("HANDLE", h), iosb, mode, 4,
                                                C.FileModeInformation),
                   "NtQueryInformationFile")
    return int(mode[0])


def nt_query_process_basic(handle: int = -1) -> tuple[int, int, int]:
    """NtQueryInformationProcess(handle, ProcessBasicInformation): (pid, parent pid,
    PEB address). ``handle`` -1 is the current process. Availability: Windows."""
    h = handle if handle == -1 else handle_arg(handle)
    pbi = ffi.new("PROCESS_BASIC_INFORMATION *")
    check_ntstatus(ntdll.NtQueryInformationProcess(ffi.cast("HANDLE", h),
                                                   C.ProcessBasicInformation, pbi,
                                                   ffi.sizeof("PROCESS_BASIC_INFORMATION"),
                                                   ffi.NULL),
                   "NtQueryInformationProcess")
    return (int(pbi.UniqueProcessId), int(pbi.InheritedFromUniqueProcessId),
            int(ffi.cast("uintptr_t", pbi.PebBaseAddress)))


def wine_get_version() -> str | None:
    """ntdll's wine_get_version() (a Wine-only export), or None on real Windows."""
    try:
        fn = ntdll.wine_get_version
    except AttributeError:
        return None
    return str(ffi.string(fn()).decode("ascii", "replace"))
