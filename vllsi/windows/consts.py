"""Win32/NT/Winsock constants used by vllsi.windows, with their SDK names.

Values are from the Windows SDK headers (winnt.h, winbase.h, fileapi.h,
winerror.h, ntstatus.h, winsock2.h, ws2def.h, mswsock.h, bcrypt.h);
conformance/windows/test_layouts.py compares every one with the mingw-w64
headers through the committed golden table (``_native/gen_windows_golden.py``
regenerates it with ``shared/tools/xheaders.sh``). NTSTATUS values are given
unsigned (the headers' LONG casts make them negative).
"""

from __future__ import annotations

from typing import Final

# fileapi.h / winnt.h: CreateFileW
GENERIC_READ: Final = 0x80000000
GENERIC_WRITE: Final = 0x40000000
FILE_READ_DATA: Final = 0x1
FILE_WRITE_DATA: Final = 0x2
FILE_APPEND_DATA: Final = 0x4
FILE_GENERIC_READ: Final = 0x120089
FILE_GENERIC_WRITE: Final = 0x120116
DELETE: Final = 0x10000
FILE_SHARE_READ: Final = 0x1
FILE_SHARE_WRITE: Final = 0x2
FILE_SHARE_DELETE: Final = 0x4
CREATE_NEW: Final = 1
CREATE_ALWAYS: Final = 2
OPEN_EXISTING: Final = 3
OPEN_ALWAYS: Final = 4
TRUNCATE_EXISTING: Final = 5
FILE_ATTRIBUTE_READONLY: Final = 0x1
FILE_ATTRIBUTE_DIRECTORY: Final = 0x10
FILE_ATTRIBUTE_NORMAL: Final = 0x80
INVALID_FILE_ATTRIBUTES: Final = 0xFFFFFFFF
FILE_FLAG_WRITE_THROUGH: Final = 0x80000000
FILE_FLAG_OVERLAPPED: Final = 0x40000000
FILE_FLAG_NO_BUFFERING: Final = 0x20000000
FILE_FLAG_BACKUP_SEMANTICS: Final = 0x02000000
FILE_FLAG_OPEN_REPARSE_POINT: Final = 0x00200000
FILE_BEGIN: Final = 0
FILE_CURRENT: Final = 1
FILE_END: Final = 2
FILE_TYPE_DISK: Final = 1
FILE_TYPE_CHAR: Final = 2
FILE_TYPE_PIPE: Final = 3
FileEndOfFileInfo: Final = 6  # FILE_INFO_BY_HANDLE_CLASS
MOVEFILE_REPLACE_EXISTING: Final = 0x1
MOVEFILE_WRITE_THROUGH: Final = 0x8
LOCKFILE_FAIL_IMMEDIATELY: Final = 0x1
LOCKFILE_EXCLUSIVE_LOCK: Final = 0x2

# memoryapi.h / winnt.h
MEM_COMMIT: Final = 0x1000
MEM_RESERVE: Final = 0x2000
MEM_DECOMMIT: Final = 0x4000
MEM_RELEASE: Final = 0x8000
MEM_FREE: Final = 0x10000
MEM_LARGE_PAGES: Final = 0x20000000
PAGE_NOACCESS: Final = 0x1
PAGE_READONLY: Final = 0x2
PAGE_READWRITE: Final = 0x4
PAGE_EXECUTE: Final = 0x10
PAGE_EXECUTE_READ: Final = 0x20
PAGE_EXECUTE_READWRITE: Final = 0x40
PAGE_GUARD: Final = 0x100
MEM_RESET: Final = 0x80000
FILE_MAP_WRITE: Final = 0x2
FILE_MAP_READ: Final = 0x4
FILE_MAP_ALL_ACCESS: Final = 0xF001F

# synchapi.h / winbase.h
INFINITE: Final = 0xFFFFFFFF
WAIT_OBJECT_0: Final = 0
WAIT_TIMEOUT: Final = 258
WAIT_FAILED: Final = 0xFFFFFFFF
TLS_OUT_OF_INDEXES: Final = 0xFFFFFFFF
CREATE_WAITABLE_TIMER_MANUAL_RESET: Final = 0x1
CREATE_WAITABLE_TIMER_HIGH_RESOLUTION: Final = 0x2
TIMER_ALL_ACCESS: Final = 0x1F0003
FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: Final = 0x1
FILE_SKIP_SET_EVENT_ON_HANDLE: Final = 0x2

# processthreadsapi.h / winbase.h
CREATE_UNICODE_ENVIRONMENT: Final = 0x400
CREATE_NO_WINDOW: Final = 0x08000000
STARTF_USESTDHANDLES: Final = 0x100
STILL_ACTIVE: Final = 259
CREATE_NEW_PROCESS_GROUP: Final = 0x200
STD_INPUT_HANDLE: Final = 0xFFFFFFF6  # (DWORD)-10
STD_OUTPUT_HANDLE: Final = 0xFFFFFFF5
STD_ERROR_HANDLE: Final = 0xFFFFFFF4
HANDLE_FLAG_INHERIT: Final = 0x1
DUPLICATE_SAME_ACCESS: Final = 0x2
PROCESS_TERMINATE: Final = 0x1
PROCESS_QUERY_LIMITED_INFORMATION: Final = 0x1000
SYNCHRONIZE: Final = 0x100000
ProcessBasicInformation: Final = 0  # PROCESSINFOCLASS
STACK_SIZE_PARAM_IS_A_RESERVATION: Final = 0x10000

# bcrypt.h
BCRYPT_USE_SYSTEM_PREFERRED_RNG: Final = 0x2

# ntstatus.h (unsigned)
STATUS_SUCCESS: Final = 0x0
STATUS_PENDING: Final = 0x103
STATUS_ACCESS_VIOLATION: Final = 0xC0000005
STATUS_INVALID_HANDLE: Final = 0xC0000008
STATUS_INVALID_PARAMETER: Final = 0xC000000D
STATUS_OBJECT_NAME_NOT_FOUND: Final = 0xC0000034
STATUS_CANCELLED: Final = 0xC0000120
ThreadBasicInformation: Final = 0  # THREADINFOCLASS
FileModeInformation: Final = 16  # FILE_INFORMATION_CLASS
FILE_SYNCHRONOUS_IO_ALERT: Final = 0x10
FILE_SYNCHRONOUS_IO_NONALERT: Final = 0x20
STATUS_END_OF_FILE: Final = 0xC0000011

# winsock2.h / ws2def.h / ws2ipdef.h / mswsock.h
AF_UNSPEC: Final = 0
AF_UNIX: Final = 1
AF_INET: Final = 2
AF_INET6: Final = 23
SOCK_STREAM: Final = 1
SOCK_DGRAM: Final = 2
IPPROTO_TCP: Final = 6
IPPROTO_UDP: Final = 17
IPPROTO_IPV6: Final = 41
IPV6_V6ONLY: Final = 27
TCP_NODELAY: Final = 0x1
SOL_SOCKET: Final = 0xFFFF
SO_REUSEADDR: Final = 0x4
SO_KEEPALIVE: Final = 0x8
SO_SNDBUF: Final = 0x1001
SO_RCVBUF: Final = 0x1002
SO_ERROR: Final = 0x1007
SO_TYPE: Final = 0x1008
SO_UPDATE_ACCEPT_CONTEXT: Final = 0x700B
SO_UPDATE_CONNECT_CONTEXT: Final = 0x7010
MSG_OOB: Final = 0x1
MSG_PEEK: Final = 0x2
SD_RECEIVE: Final = 0
SD_SEND: Final = 1
SD_BOTH: Final = 2
SOMAXCONN: Final = 0x7FFFFFFF
SOCKET_ERROR: Final = -1
INVALID_SOCKET: Final = 0xFFFFFFFFFFFFFFFF
FIONBIO: Final = 0x8004667E
SIO_GET_EXTENSION_FUNCTION_POINTER: Final = 0xC8000006
WSA_FLAG_OVERLAPPED: Final = 0x1
WSA_FLAG_NO_HANDLE_INHERIT: Final = 0x80

# GUIDs for WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER), mswsock.h:
# (Data1, Data2, Data3, Data4).
WSAID_ACCEPTEX: Final = (
    0xB5367DF1, 0xCBAC, 0x11CF, (0x95, 0xCA, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92))
WSAID_CONNECTEX: Final = (
    0x25A207B9, 0xDDF3, 0x4660, (0x8E, 0xE9, 0x76, 0xE5, 0x8C, 0x74, 0x06, 0x3E))
WSAID_GETACCEPTEXSOCKADDRS: Final = (
    0xB5367DF2, 0xCBAC, 0x11CF, (0x95, 0xCA, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92))


def integer_constants() -> dict[str, int]:
    """Every integer constant of this module by its SDK name (for the golden check)."""
    return {k: v for k, v in globals().items()
            if not k.startswith("_") and k[:1].isalpha() and type(v) is int}
