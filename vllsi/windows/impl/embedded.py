"""Windows backend of :mod:`vllsi.embedded`: SyncEngine's ops as blocking Win32 calls.

Interface (mirrored per OS): ``prepare(op) -> prepared`` (validate and pin;
TypeError/ValueError) and ``perform(op, prepared) -> (result, address)`` (one
blocking execution; -errno as data). Read/Write use ReadFile/WriteFile (with the
OVERLAPPED offset, or the file pointer for offset -1); Send/Recv/Accept/Connect
use Winsock's blocking calls (a non-blocking socket reports -EWOULDBLOCK).
"""

from __future__ import annotations

import errno as _errno
from typing import Any

from vllsi import io_engine as _ie  # type: ignore[attr-defined, unused-ignore]
from vllsi.windows import consts as C
from vllsi.windows import kernel32, ws2_32

__all__ = ["perform", "prepare"]


def prepare(op: Any) -> Any:
    t = type(op)
    if t in (_ie.Read, _ie.Write, _ie.Send, _ie.Recv):
        view = memoryview(op.buf).cast("B")
        if t in (_ie.Read, _ie.Recv) and view.readonly:
            raise TypeError(f"{t.__name__} needs a writable buffer")
        n = view.nbytes if op.len is None else op.len
        if n > view.nbytes:
            raise ValueError("len is larger than the buffer")
        return view[:n]
    if t is _ie.Connect:
        from vllsi.windows.io import _family_of

        return ws2_32.make_sockaddr(_family_of(op.address), op.address)
    return None


def _is_socket(fd: int) -> bool:
    from vllsi.windows.io import _is_socket as check

    return check(fd)


def perform(op: Any, p: Any) -> tuple[int, Any]:
    """Execute ``op`` now; ``(result or -errno, peer address or None)``."""
    t = type(op)
    try:
        if t is _ie.Read:
            return kernel32.read_file(op.fd, p, None if op.offset < 0 else op.offset), None
        if t is _ie.Write:
            return kernel32.write_file(op.fd, p, None if op.offset < 0 else op.offset), None
        if t is _ie.Recv:
            return ws2_32.recv(op.fd, p, op.flags), None
        if t is _ie.Send:
            return ws2_32.send(op.fd, p, op.flags), None
        if t is _ie.Accept:
            s, raw = ws2_32.accept(op.fd)
            ws2_32.ioctlsocket(s, C.FIONBIO, 1)  # accepted sockets are non-blocking
            return s, ws2_32.parse_sockaddr(raw)
        if t is _ie.Connect:
            ws2_32.connect(op.fd, p)
            return 0, None
        if t is _ie.Close:
            if _is_socket(op.fd):
                ws2_32.closesocket(op.fd)
            else:
                kernel32.close_handle(op.fd)
            return 0, None
        if t is _ie.Fsync:
            kernel32.flush_file_buffers(op.fd)
            return 0, None
    except OSError as exc:
        return -int(exc.errno or _errno.EIO), None
    except ValueError:  # 0 or -1: never a valid handle or socket
        return -_errno.EBADF, None
    raise TypeError(f"not an op SyncEngine performs: {t.__name__}")
