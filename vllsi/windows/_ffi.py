"""The cffi ABI-mode binding of kernel32, kernelbase, ntdll, ws2_32 and bcrypt.

One ``FFI`` holds every declaration; the declarations live as parseable C in
``_cdefs/*.h`` (Windows scalar types such as DWORD and HANDLE are cffi
built-ins on Windows). No compiler is needed. cffi saves the thread's last
Win32 error right after each call; :func:`last_error` reads it through
``ffi.getwinerror()`` and builds the exception through the single factory
(``vllsi.errors.from_winerror``), keeping ``.winerror``. NTSTATUS results go
through ntdll's RtlNtStatusToDosError (never the low-16-bit shortcut).

Every cffi call releases the GIL. Memory handed to the OS (OVERLAPPED,
buffers) must stay referenced until the OS is done with it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

import cffi

from vllsi import errors
from vllsi.windows._winerror import winerror_to_errno

__all__ = [
    "bcrypt",
    "buffer",
    "check_bool",
    "check_ntstatus",
    "ffi",
    "kernel32",
    "kernelbase",
    "last_error",
    "ntdll",
    "raise_winerror",
    "wide",
    "winerror_exc",
    "ws2_32",
]

_CDEFS = Path(__file__).resolve().parent / "_cdefs"
CDEF_FILES = ("types.h", "kernel32.h", "kernelbase.h", "ntdll.h", "ws2_32.h", "bcrypt.h")

ffi = cffi.FFI()
for _name in CDEF_FILES:
    ffi.cdef((_CDEFS / _name).read_text(), override=False)

kernel32: Any = ffi.dlopen("kernel32.dll")
kernelbase: Any = ffi.dlopen("kernelbase.dll")
ntdll: Any = ffi.dlopen("ntdll.dll")
ws2_32: Any = ffi.dlopen("ws2_32.dll")
bcrypt: Any = ffi.dlopen("bcrypt.dll")


def winerror_exc(code: int, syscall: str, *, filename: Any = None,
                 cls: type[errors.VllsiError] | None = None,
                 message: str | None = None) -> errors.VllsiError:
    """The exception for Win32 error ``code`` (``.winerror`` kept, ``.errno`` mapped)."""
    if message is None:
        message = _format_message(code)
    return errors.from_winerror(code, syscall=syscall, errno=winerror_to_errno(code),
                                message=message, filename=filename, cls=cls)


def _format_message(code: int) -> str:
    try:
        text = ffi.getwinerror(code)[1]
    except Exception:  # an unknown code has no system message
        text = ""
    return str(text).strip() or f"Windows error {code}"


def last_error() -> int:
    """The Win32 error code cffi saved after the last call on this thread."""
    return int(ffi.getwinerror()[0])


def raise_winerror(syscall: str, *, filename: Any = None,
                   cls: type[errors.VllsiError] | None = None,
                   code: int | None = None) -> NoReturn:
    """Raise the exception for the last Win32 error (or ``code``)."""
    if code is None:
        code, msg = ffi.getwinerror()
        raise winerror_exc(int(code), syscall, filename=filename, cls=cls, message=str(msg))
    raise winerror_exc(code, syscall, filename=filename, cls=cls)


def check_bool(ok: Any, syscall: str, *, filename: Any = None,
               cls: type[errors.VllsiError] | None = None) -> None:
    """Raise the last Win32 error when a BOOL-returning call returned FALSE."""
    if not ok:
        raise_winerror(syscall, filename=filename, cls=cls)


def check_ntstatus(status: int, syscall: str, *, filename: Any = None) -> int:
    """Return ``status`` (unsigned) if it is not an error; else raise.

    NT_ERROR (severity 3) and NT_WARNING are failures; the Win32 code comes from
    RtlNtStatusToDosError and is kept as ``.winerror`` (``.ntstatus`` too).
    """
    u = int(status) & 0xFFFFFFFF
    if u < 0x80000000:
        return u
    code = int(ntdll.RtlNtStatusToDosError(ffi.cast("NTSTATUS", u)))
    err = winerror_exc(code, syscall, filename=filename,
                       message=f"{_format_message(code)} (NTSTATUS {u:#010x})")
    setattr(err, "ntstatus", u)  # noqa: B010
    raise err


def wide(path: Any, *, name: str = "path") -> Any:
    """``str``/``bytes``/``os.PathLike`` -> a NUL-terminated ``wchar_t[]``.

    TypeError for other types, ValueError for an embedded NUL.
    """
    try:
        p = os.fsdecode(path)
    except TypeError:
        raise TypeError(
            f"{name} must be str, bytes or os.PathLike, not {type(path).__name__}"
        ) from None
    if "\0" in p:
        raise ValueError(f"{name} contains a NUL character")
    return ffi.new("wchar_t[]", p)


def buffer(obj: Any, *, writable: bool) -> Any:
    """A cdata view of a buffer-protocol object (TypeError/ValueError if unsuitable)."""
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(f"a buffer is required, not {type(obj).__name__}") from None
    if writable and view.readonly:
        raise TypeError("a writable buffer is required")
    if not view.contiguous:
        raise ValueError("a contiguous buffer is required")
    return ffi.from_buffer(view, require_writable=writable)
