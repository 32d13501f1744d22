"""C type widths of the host ABI, taken from cffi (so from the compiler's view).

Windows is LLP64 (``long`` is 32 bits); Darwin's ``mode_t`` is 16 bits;
conformance/cabi checks these against the host headers.
"""

from __future__ import annotations

from typing import Final

import cffi

from vllsi._platform import OS

__all__ = [
    "CHAR_BIT",
    "CLOCKID_T",
    "C_INT",
    "C_LONG",
    "C_LONGLONG",
    "C_SHORT",
    "GID_T",
    "MODE_T",
    "OFF_T",
    "PID_T",
    "POINTER",
    "SIZE_T",
    "SOCKLEN_T",
    "SSIZE_T",
    "UID_T",
    "sizeof",
    "widths",
]

_ffi = cffi.FFI()
# Typedefs cffi does not know natively, per OS (from the system headers).
_TYPEDEFS = {
    "linux": "typedef unsigned int mode_t; typedef int pid_t; typedef unsigned int uid_t;"
    " typedef unsigned int gid_t; typedef int clockid_t; typedef unsigned int socklen_t;"
    " typedef long off_t;",
    "darwin": "typedef uint16_t mode_t; typedef int pid_t; typedef uint32_t uid_t;"
    " typedef uint32_t gid_t; typedef int clockid_t; typedef uint32_t socklen_t;"
    " typedef int64_t off_t;",
    "windows": "typedef unsigned short mode_t; typedef int pid_t; typedef int uid_t;"
    " typedef int gid_t; typedef int clockid_t; typedef int socklen_t;"
    " typedef long off_t;",
}
_ffi.cdef(_TYPEDEFS.get(OS, _TYPEDEFS["linux"]))

CHAR_BIT: Final = 8


def sizeof(ctype: str) -> int:
    """Size in bytes of a C type name of the host ABI (e.g. ``"long"``, ``"mode_t"``)."""
    return int(_ffi.sizeof(ctype))


def _bits(ctype: str) -> int:
    return sizeof(ctype) * CHAR_BIT


C_SHORT: Final = _bits("short")
C_INT: Final = _bits("int")
C_LONG: Final = _bits("long")
C_LONGLONG: Final = _bits("long long")
POINTER: Final = _bits("void *")
SIZE_T: Final = _bits("size_t")
SSIZE_T: Final = _bits("ssize_t")
OFF_T: Final = _bits("off_t")
MODE_T: Final = _bits("mode_t")
PID_T: Final = _bits("pid_t")
UID_T: Final = _bits("uid_t")
GID_T: Final = _bits("gid_t")
CLOCKID_T: Final = _bits("clockid_t")
SOCKLEN_T: Final = _bits("socklen_t")


def widths() -> dict[str, int]:
    """``{C type name: width in bits}`` for every type above."""
    names = ("short", "int", "long", "long long", "void *", "size_t", "ssize_t", "off_t",
             "mode_t", "pid_t", "uid_t", "gid_t", "clockid_t", "socklen_t")
    return {n: _bits(n) for n in names}
