"""The exception tree and its single factory."""

from __future__ import annotations

import errno
import os
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllsi import errors

MAPPING = [
    ("ENOENT", errors.NotFound, FileNotFoundError),
    ("EACCES", errors.PermissionDenied, PermissionError),
    ("EPERM", errors.PermissionDenied, PermissionError),
    ("EAGAIN", errors.WouldBlock, BlockingIOError),
    ("EINPROGRESS", errors.WouldBlock, BlockingIOError),
    ("ETIMEDOUT", errors.TimedOut, TimeoutError),
    ("EINTR", errors.Interrupted, InterruptedError),
    ("EEXIST", errors.AlreadyExists, FileExistsError),
    ("EBUSY", errors.Busy, OSError),
    ("ENOMEM", errors.ResourceExhausted, OSError),
    ("ENOSPC", errors.ResourceExhausted, OSError),
    ("EMFILE", errors.ResourceExhausted, OSError),
    ("EINVAL", errors.InvalidArgument, OSError),
    ("EBADF", errors.BadDescriptor, OSError),
    ("ENOSYS", errors.Unsupported, NotImplementedError),
    ("EOPNOTSUPP", errors.Unsupported, NotImplementedError),
    ("ECONNREFUSED", errors.ConnectionRefused, ConnectionRefusedError),
    ("ECONNRESET", errors.ConnectionReset, ConnectionResetError),
    ("ECONNABORTED", errors.ConnectionAborted, ConnectionAbortedError),
    ("EPIPE", errors.BrokenPipe, BrokenPipeError),
]


@pytest.mark.covers(
    "errors.from_errno", "errors.class_for_errno", "errors.VllsiError", "errors.NotFound",
    "errors.PermissionDenied", "errors.WouldBlock", "errors.TimedOut", "errors.Interrupted",
    "errors.AlreadyExists", "errors.Busy", "errors.ResourceExhausted",
    "errors.InvalidArgument", "errors.BadDescriptor", "errors.Unsupported",
    "errors.ConnectionRefused", "errors.ConnectionReset", "errors.ConnectionAborted",
    "errors.BrokenPipe",
)
@pytest.mark.parametrize(("name", "cls", "builtin"), MAPPING)
def test_errno_maps_to_class_and_builtin(name: str, cls: type, builtin: type) -> None:
    code = getattr(errno, name)
    e = errors.from_errno(code, syscall="x", filename="/p")
    assert type(e) is cls and errors.class_for_errno(code) is cls
    assert isinstance(e, builtin) and isinstance(e, errors.VllsiError)
    assert e.errno == code and e.strerror == os.strerror(code)
    assert e.syscall == "x" and e.filename == "/p"
    assert "x: " in str(e)


@pytest.mark.covers("errors.from_errno")
def test_invalid_argument_is_not_valueerror() -> None:
    # ValueError is reserved for Python-side mistakes caught before the call
    assert not isinstance(errors.from_errno(errno.EINVAL, syscall="x"), ValueError)


@pytest.mark.covers("errors.from_errno", "errors.VllsiError")
@given(st.integers(min_value=1, max_value=4095))
def test_every_code_is_representable(code: int) -> None:
    e = errors.from_errno(code, syscall="s")
    assert isinstance(e, errors.VllsiError) and e.errno == code
    assert errors.from_errno(-code, syscall="s").errno == code
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is type(e) and back.errno == code and back.syscall == "s"


@pytest.mark.covers("errors.from_errno", "errors.LockConflict")
def test_domain_class_override() -> None:
    e = errors.from_errno(errno.EAGAIN, syscall="fcntl", cls=errors.LockConflict)
    assert isinstance(e, errors.LockConflict) and isinstance(e, BlockingIOError)
    assert e.owner_pid == -1
    e2 = errors.from_errno(errno.ENOENT, syscall="renameat2", filename="a", filename2="b")
    assert e2.filename == "a" and e2.filename2 == "b"


@pytest.mark.covers("errors.from_winerror")
def test_from_winerror_keeps_code() -> None:
    e = errors.from_winerror(33, syscall="LockFileEx", errno=errno.EAGAIN,
                             message="lock violation", cls=errors.LockConflict)
    assert isinstance(e, errors.LockConflict)
    assert e.winerror == 33 and e.errno == errno.EAGAIN  # type: ignore[attr-defined]


@pytest.mark.covers("errors.unsupported")
def test_unsupported_helper() -> None:
    e = errors.unsupported("kqueue", syscall="kqueue")
    assert isinstance(e, NotImplementedError) and e.errno == errno.ENOSYS
    assert "kqueue" in str(e)


@pytest.mark.covers(
    "errors.ContextError", "errors.StackOverflow", "errors.StackUnderflow",
    "errors.SlotOccupied", "errors.SlotEmpty", "errors.InvalidSlot", "errors.InitError",
    "errors.AlreadyInitialized", "errors.InvalidConfig", "errors.PlatformError",
)
def test_domain_tree() -> None:
    for c in (errors.StackOverflow, errors.StackUnderflow, errors.SlotOccupied,
              errors.SlotEmpty, errors.InvalidSlot):
        assert issubclass(c, errors.ContextError)
    for c in (errors.AlreadyInitialized, errors.InvalidConfig, errors.PlatformError):
        assert issubclass(c, errors.InitError)
    e = errors.from_errno(errno.EINVAL, syscall="ctx_pop_frame", cls=errors.StackUnderflow,
                          message="pop at the root frame")
    assert isinstance(e, OSError) and e.strerror == "pop at the root frame"
