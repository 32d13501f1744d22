"""ntdll calls for real: the TEB, NTSTATUS decoding, version, system time, Wine detection."""

from __future__ import annotations

import ctypes
import os
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance._support import UNDER_WINE
from vllsi import windows as w
from vllsi.windows import consts as C
from vllsi.windows._ffi import ffi


def _read_ptr(addr: int) -> int:
    return int(ffi.cast("uintptr_t *", addr)[0])


@pytest.mark.covers("windows.nt_current_teb")
def test_teb_is_the_threads_own_block() -> None:
    teb = w.nt_current_teb()
    assert (teb and teb % 4096 == 0) or teb % 8 == 0
    # x64 TEB: NT_TIB.Self at 0x30, ClientId {UniqueProcess, UniqueThread} at 0x40.
    assert _read_ptr(teb + 0x30) == teb
    assert _read_ptr(teb + 0x40) == os.getpid()
    assert _read_ptr(teb + 0x48) == threading.get_native_id()
    other: list[int] = []
    t = threading.Thread(target=lambda: other.append(w.nt_current_teb()))
    t.start()
    t.join()
    assert other[0] != teb


@pytest.mark.covers("windows.rtl_nt_status_to_dos_error")
def test_ntstatus_to_dos_error() -> None:
    assert w.rtl_nt_status_to_dos_error(C.STATUS_SUCCESS) == 0
    assert w.rtl_nt_status_to_dos_error(C.STATUS_CANCELLED) == 995
    assert w.rtl_nt_status_to_dos_error(C.STATUS_OBJECT_NAME_NOT_FOUND) == 2
    assert w.rtl_nt_status_to_dos_error(C.STATUS_ACCESS_VIOLATION) == 998
    assert w.rtl_nt_status_to_dos_error(C.STATUS_INVALID_HANDLE) == 6
    # signed form is the same status; not the low-16-bit shortcut
    assert w.rtl_nt_status_to_dos_error(C.STATUS_CANCELLED - (1 << 32)) == 995
    assert C.STATUS_CANCELLED & 0xFFFF != 995
    with pytest.raises(ValueError):
        w.rtl_nt_status_to_dos_error(1 << 32)


@given(st.integers(0, (1 << 32) - 1))
@pytest.mark.covers("windows.rtl_nt_status_to_dos_error")
def test_ntstatus_signed_and_unsigned_agree(status: int) -> None:
    signed = status - (1 << 32) if status >= 1 << 31 else status
    assert w.rtl_nt_status_to_dos_error(status) == w.rtl_nt_status_to_dos_error(signed)


@pytest.mark.covers("windows.rtl_get_version", "windows.OsVersion")
def test_version() -> None:
    import sys

    v = w.rtl_get_version()
    assert isinstance(v, w.OsVersion)
    assert v.platform_id == 2  # VER_PLATFORM_WIN32_NT
    assert (v.major, v.minor, v.build) == tuple(sys.getwindowsversion().platform_version) or \
        v.major >= 6


@pytest.mark.covers("windows.nt_query_system_time")
def test_system_time() -> None:
    t = w.nt_query_system_time()
    unix_ns = (t - 116444736000000000) * 100
    assert abs(unix_ns - time.time_ns()) < 5 * 10**9


@pytest.mark.covers("windows.wine_get_version", "windows.wine_version", "windows.under_wine")
def test_wine_detection_agrees_with_ctypes() -> None:
    by_ctypes = hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")
    assert w.under_wine() is by_ctypes is UNDER_WINE
    v = w.wine_get_version()
    assert v == w.wine_version()
    if by_ctypes:
        assert isinstance(v, str) and v[:1].isdigit()
    else:
        assert v is None
