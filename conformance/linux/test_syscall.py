"""The raw entry points: values, errors as -errno, argument checking."""

from __future__ import annotations

import errno
import os
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance._support import linux_only
from vllsi import linux

pytestmark = linux_only


@pytest.mark.covers("linux.syscall_raw", "linux.syscall6", "linux.TIER")
def test_raw_getpid_matches_os() -> None:
    assert linux.syscall_raw(linux.NR["getpid"]) == os.getpid()
    assert linux.syscall6(linux.NR["getppid"]) == os.getppid()
    assert linux.TIER in ("asm", "libc")


@pytest.mark.covers("linux.getpid", "linux.getppid", "linux.gettid")
def test_identity_calls() -> None:
    assert linux.getpid() == os.getpid()
    assert linux.getppid() == os.getppid()
    assert linux.gettid() == threading.get_native_id()
    seen: list[int] = []
    t = threading.Thread(target=lambda: seen.append(linux.gettid() - threading.get_native_id()))
    t.start()
    t.join()
    assert seen == [0]


@pytest.mark.covers("linux.syscall_raw")
def test_unknown_number_is_enosys() -> None:
    assert linux.syscall_raw(100_000) == -errno.ENOSYS


@pytest.mark.covers("linux.syscall_raw")
def test_errors_are_negative_errno() -> None:
    assert linux.syscall_raw(linux.NR["close"], 0x7FFFFFF0) == -errno.EBADF


@pytest.mark.covers("linux.syscall_raw", "linux.syscall6")
@pytest.mark.parametrize("bad", ["1", 1.0, None, b"x", [1]])
def test_non_int_arguments_raise_typeerror(bad: object) -> None:
    with pytest.raises(TypeError):
        linux.syscall_raw(linux.NR["getpid"], bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        linux.syscall6(linux.NR["getpid"], bad)  # type: ignore[arg-type]


@pytest.mark.covers("linux.syscall_raw")
def test_too_many_arguments() -> None:
    with pytest.raises(TypeError):
        linux.syscall_raw(linux.NR["getpid"], 1, 2, 3, 4, 5, 6, 7)


@pytest.mark.covers("linux.syscall_raw")
@given(st.integers(min_value=-(2**63), max_value=2**64 - 1))
def test_any_64bit_argument_is_accepted(v: int) -> None:
    # getpid ignores its registers: any 64-bit pattern must pass through unharmed
    assert linux.syscall_raw(linux.NR["getpid"], v, v, v, v, v, v) == os.getpid()


@pytest.mark.covers("linux.syscall_raw")
@pytest.mark.parametrize("v", [2**64, -(2**63) - 1])
def test_out_of_range_argument_is_rejected(v: int) -> None:
    with pytest.raises((ValueError, OverflowError)):
        linux.syscall_raw(linux.NR["getpid"], v)
