"""Win32 -> errno mapping and the factory path (``.winerror`` kept)."""

from __future__ import annotations

import errno

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllsi import errors
from vllsi import windows as w
from vllsi.windows import _winerror
from vllsi.windows._ffi import check_ntstatus, winerror_exc


@pytest.mark.covers("windows.winerror_to_errno")
def test_known_codes() -> None:
    cases = {2: errno.ENOENT, 3: errno.ENOENT, 5: errno.EACCES, 6: errno.EBADF,
             33: errno.EAGAIN, 80: errno.EEXIST, 87: errno.EINVAL, 112: errno.ENOSPC,
             995: errno.ECANCELED, 997: errno.EINPROGRESS, 10035: errno.EWOULDBLOCK,
             10061: errno.ECONNREFUSED, 1225: errno.ECONNREFUSED, 10054: errno.ECONNRESET}
    assert {k: w.winerror_to_errno(k) for k in cases} == cases
    assert w.winerror_to_errno(123456) == errno.EINVAL


@given(st.sampled_from(_winerror.TABLE))
@pytest.mark.covers("windows.winerror_to_errno")
def test_exception_class_follows_the_errno(entry: tuple[str, int, str]) -> None:
    _name, code, ename = entry
    e = winerror_exc(code, "Probe")
    assert e.winerror == code and e.errno == getattr(errno, ename)
    assert type(e) is errors.class_for_errno(e.errno)
    assert e.syscall == "Probe" and str(e)


def test_classes_for_common_codes() -> None:
    assert isinstance(winerror_exc(2, "x"), FileNotFoundError)
    assert isinstance(winerror_exc(5, "x"), PermissionError)
    assert isinstance(winerror_exc(10035, "x"), BlockingIOError)
    assert isinstance(winerror_exc(258, "x"), TimeoutError)
    e = winerror_exc(33, "LockFileEx", cls=errors.LockConflict)
    assert isinstance(e, errors.LockConflict) and e.winerror == 33 and e.errno == errno.EAGAIN


def test_ntstatus_goes_through_rtl() -> None:
    with pytest.raises(errors.NotFound) as ei:
        check_ntstatus(0xC0000034, "NtOpenFile")
    assert ei.value.winerror == 2 and ei.value.ntstatus == 0xC0000034
    assert check_ntstatus(0x103, "NtX") == 0x103  # STATUS_PENDING is not an error
    assert check_ntstatus(0, "NtX") == 0
