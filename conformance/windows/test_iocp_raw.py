"""The raw completion-port calls for real: overlapped file I/O and a pending socket
receive through a port, PostQueuedCompletionStatus, CancelIoEx, GetOverlappedResult."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from vllsi import errors
from vllsi import windows as w
from vllsi.windows import consts as C
from vllsi.windows._ffi import ffi, kernel32, ws2_32

RW = C.GENERIC_READ | C.GENERIC_WRITE
SHARE = C.FILE_SHARE_READ | C.FILE_SHARE_WRITE | C.FILE_SHARE_DELETE


@pytest.mark.covers("windows.create_io_completion_port", "windows.get_queued_completion_status_ex",
                    "windows.post_queued_completion_status", "windows.INVALID_HANDLE_VALUE",
                    "windows.get_overlapped_result", "windows.nt_query_file_mode")
def test_overlapped_file_io_through_a_port(tmp_path: Path) -> None:
    port = w.create_io_completion_port(w.INVALID_HANDLE_VALUE)
    h = w.create_file(tmp_path / "f", RW, SHARE, C.CREATE_ALWAYS, C.FILE_FLAG_OVERLAPPED)
    sync = w.create_file(tmp_path / "g", RW, SHARE, C.CREATE_ALWAYS)
    try:
        assert w.nt_query_file_mode(h) & 0x30 == 0  # overlapped: no FILE_SYNCHRONOUS_IO_*
        assert w.nt_query_file_mode(sync) & C.FILE_SYNCHRONOUS_IO_NONALERT
        assert w.create_io_completion_port(h, port, 0xABC) == port
        entries = ffi.new("OVERLAPPED_ENTRY[4]")
        assert w.get_queued_completion_status_ex(port, entries, 0) == 0  # WAIT_TIMEOUT
        data = b"through the port"
        ov = ffi.new("OVERLAPPED *")
        ov.Offset, ov.OffsetHigh = 7, 1  # offset 2**32 + 7
        ok = kernel32.WriteFile(ffi.cast("HANDLE", h), data, len(data), ffi.NULL, ov)
        assert ok or ffi.getwinerror()[0] == 997
        n = w.get_queued_completion_status_ex(port, entries, 10_000)
        assert n == 1 and entries[0].lpCompletionKey == 0xABC and entries[0].lpOverlapped == ov
        assert entries[0].dwNumberOfBytesTransferred == len(data) and ov.Internal == 0
        assert w.get_overlapped_result(h, ov, False) == len(data)
        assert w.get_file_size_ex(h) == (1 << 32) + 7 + len(data)
        w.post_queued_completion_status(port, 5, 0xFEED, 0x1234)
        assert w.get_queued_completion_status_ex(port, entries, 10_000) == 1
        e = entries[0]
        assert (e.dwNumberOfBytesTransferred, e.lpCompletionKey) == (5, 0xFEED)
        assert int(ffi.cast("uintptr_t", e.lpOverlapped)) == 0x1234
        with pytest.raises(TypeError):
            w.get_queued_completion_status_ex(port, ffi.new("OVERLAPPED[2]"), 0)
        with pytest.raises(TypeError):
            w.get_overlapped_result(h, bytearray(32), False)
    finally:
        w.close_handle(sync)
        w.close_handle(h)
        w.close_handle(port)
    with pytest.raises(errors.BadDescriptor):
        w.get_queued_completion_status_ex(port, ffi.new("OVERLAPPED_ENTRY[1]"), 0)


@pytest.mark.covers("windows.cancel_io_ex", "windows.set_file_completion_notification_modes",
                    "windows.create_io_completion_port", "windows.get_overlapped_result")
def test_cancel_a_pending_receive() -> None:
    a, b = socket.socketpair()
    port = w.create_io_completion_port(-1)
    try:
        s = a.fileno()
        w.create_io_completion_port(s, port, 1)
        w.set_file_completion_notification_modes(s, C.FILE_SKIP_SET_EVENT_ON_HANDLE)
        buf = ffi.new("char[16]")
        wb = ffi.new("WSABUF *")
        wb.len, wb.buf = 16, buf
        flags = ffi.new("DWORD *", 0)
        ov = ffi.new("OVERLAPPED *")
        r = ws2_32.WSARecv(s, wb, 1, ffi.NULL, flags, ov, ffi.NULL)
        assert r != 0 and ffi.getwinerror()[0] == 997  # pending: nothing was sent
        with pytest.raises(errors.WouldBlock) as ei:
            w.get_overlapped_result(s, ov, False)  # ERROR_IO_INCOMPLETE
        assert ei.value.winerror == 996
        assert w.cancel_io_ex(s, ov) is True
        entries = ffi.new("OVERLAPPED_ENTRY[2]")
        assert w.get_queued_completion_status_ex(port, entries, 10_000) == 1
        assert entries[0].lpOverlapped == ov
        assert ov.Internal == C.STATUS_CANCELLED
        assert w.cancel_io_ex(s, ov) is False  # nothing left to cancel (ERROR_NOT_FOUND)
        other = w.create_io_completion_port(-1)
        try:
            with pytest.raises(errors.InvalidArgument):
                w.create_io_completion_port(s, other, 2)  # already bound to a port
        finally:
            w.close_handle(other)
    finally:
        w.close_handle(port)
        a.close()
        b.close()
