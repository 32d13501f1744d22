"""IocpDriver: the :mod:`vllsi.io_engine` contract over an I/O completion port.

How an op runs. Every asynchronous op gets its own heap ``OVERLAPPED`` (plus its
pinned buffer, ``WSABUF`` and address buffers), registered under the
OVERLAPPED's address; all of it stays referenced until the port returns that
OVERLAPPED, so the kernel never writes into freed memory. The op's handle is
associated with the port at each submit (an already associated handle answers
ERROR_INVALID_PARAMETER, which is taken as "bound"; nothing is cached per handle
value, since values are reused after a close). Then:

- Read/Write: ReadFile/WriteFile with the offset in the OVERLAPPED (offset -1 on
  a pipe or socket: no position; on an overlapped *disk file* -1 has no meaning
  and completes with -EINVAL, there is no file pointer to use);
- Send/Recv: WSASend/WSARecv with one WSABUF;
- Accept: AcceptEx with a fresh overlapped, non-inheritable socket of the
  listener's family; at completion SO_UPDATE_ACCEPT_CONTEXT and
  GetAcceptExSockaddrs give the new socket its state and ``.address`` its peer,
  and FIONBIO makes it non-blocking (overlapped I/O on it still pends);
- Connect: ConnectEx (binding the socket to the wildcard address first if it is
  not bound, as ConnectEx requires), then SO_UPDATE_CONNECT_CONTEXT;
- Timeout: a deadline in the driver; GetQueuedCompletionStatusEx waits until the
  first one; Close, Fsync (FlushFileBuffers), Nop complete at submit;
- cancel / Cancel: CancelIoEx(handle, that OVERLAPPED); the op then completes
  with -ECANCELED (STATUS_CANCELLED);
- wake(): PostQueuedCompletionStatus with the driver's wake key.

Results: the OVERLAPPED's NTSTATUS goes through RtlNtStatusToDosError and the
Win32 -> errno table of vllsi.windows, so results are -errno like on Linux
(a Read at end of file or of a broken pipe gives 0). An op whose Win32 call
fails at once (not ERROR_IO_PENDING) completes at once, since no packet will come.

A handle opened without FILE_FLAG_OVERLAPPED (NtQueryInformationFile reports
FILE_SYNCHRONOUS_IO_*) cannot be driven by a port: its op is served
synchronously at submit (ReadFile/WriteFile with the OVERLAPPED offset, or the
file pointer for offset -1), as the epoll driver does for regular files.
A handle already bound to *another* port cannot be used (its packets would go
there); this is not detectable and not supported.

shutdown() cancels everything in flight and waits for each cancelled op's
packet before freeing its OVERLAPPED. Sockets created by Accepts nobody reaped
are closed. Windows has no EINTR; no wait here is alertable.
"""

from __future__ import annotations

import errno as _errno
import heapq
import importlib.util
import ipaddress
import time
from typing import Any

if importlib.util.find_spec("vllsi._engine") is None:  # the engine core is not installed
    raise ModuleNotFoundError("vllsi.windows.io needs vllsi.io_engine and vllsi._engine",
                              name=__name__)

from vllsi import _engine  # type: ignore[attr-defined, unused-ignore]
from vllsi import io_engine as _ie  # type: ignore[attr-defined, unused-ignore]
from vllsi.windows import consts as C
from vllsi.windows import kernel32, ntdll, ws2_32
from vllsi.windows._ffi import ffi
from vllsi.windows._ffi import kernel32 as _k32
from vllsi.windows._ffi import ws2_32 as _ws2
from vllsi.windows._winerror import winerror_to_errno

__all__ = ["IocpDriver"]

_WAKE_KEY = 0x5741_4B45  # "WAKE"
_OP_KEY = 1
_BATCH = 64
_ERROR_IO_PENDING = 997
_ERROR_HANDLE_EOF = 38
_ERROR_BROKEN_PIPE = 109
_ERROR_NOT_FOUND = 1168
_ADDRLEN = ffi.sizeof("struct sockaddr_storage") + 16
_graveyard: list[Any] = []  # OVERLAPPEDs never returned by the kernel: never freed


class _Op:
    __slots__ = ("accept_sock", "buf", "extra", "handle", "kind", "listen_sock", "ov")

    def __init__(self, kind: type, handle: int) -> None:
        self.kind = kind
        self.handle = handle
        self.ov: Any = None
        self.buf: Any = None
        self.extra: Any = None
        self.accept_sock = 0
        self.listen_sock = 0


def _is_socket(h: int) -> bool:
    try:
        ws2_32.getsockopt(h, C.SOL_SOCKET, C.SO_TYPE)
    except (OSError, ValueError):
        return False
    return True


def _family_of(address: Any) -> int:
    if isinstance(address, (str, bytes)):
        return C.AF_UNIX
    host = address[0] if address else ""
    try:
        ipaddress.IPv4Address(host or "0.0.0.0")
    except ValueError:
        return C.AF_INET6
    return C.AF_INET if len(address) == 2 else C.AF_INET6


def _neg_errno(winerror: int) -> int:
    return -winerror_to_errno(winerror)


class IocpDriver(_engine.PyEngine):  # type: ignore[misc, unused-ignore]
    """The IOEngine contract over an I/O completion port (see the module docstring).

    Availability: Windows.
    """

    backend = "iocp"

    def __init__(self, config: _ie.IoEngineConfig | None = None) -> None:
        """CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1): a new engine."""
        super().__init__(config)
        self._port = kernel32.create_io_completion_port(-1, 0, 0, 1)
        self._entries = ffi.new("OVERLAPPED_ENTRY[]", _BATCH)
        self._inflight: dict[int, tuple[int, _Op]] = {}  # ov address -> (sid, op)
        self._by_sid: dict[int, int] = {}  # sid -> ov address
        self._timers: list[tuple[int, int]] = []
        self._timer_ids: set[int] = set()
        self._ext: dict[str, Any] = {}

    # -- preparation (validation and pinning; nothing reaches the OS) -----------------
    def _prepare(self, op: Any) -> Any:
        t = type(op)
        if t not in _ie.OP_TYPES:
            raise TypeError(f"not an engine op: {t.__name__}")
        if t in (_ie.Read, _ie.Write, _ie.Send, _ie.Recv):
            writable = t in (_ie.Read, _ie.Recv)
            view = memoryview(op.buf).cast("B")
            if writable and view.readonly:
                raise TypeError(f"{t.__name__} needs a writable buffer")
            n = view.nbytes if op.len is None else op.len
            if n > view.nbytes:
                raise ValueError("len is larger than the buffer")
            if n > 0xFFFFFFFF:
                raise ValueError("at most 2**32-1 bytes per op on Windows")
            cbuf = ffi.from_buffer(view, require_writable=writable) if n else ffi.NULL
            return (view, cbuf, n)
        if t is _ie.Connect:
            fam = _family_of(op.address)
            return ws2_32.make_sockaddr(fam, op.address)
        return None

    # -- starting ops ------------------------------------------------------------------
    def _start(self, sid: int, op: Any, prepared: Any) -> None:
        t = type(op)
        if t is _ie.Nop:
            self._complete(sid, 0)
        elif t is _ie.Timeout:
            heapq.heappush(self._timers, (_engine.deadline_after(op.duration), sid))
            self._timer_ids.add(sid)
        elif t is _ie.Cancel:
            self._complete(sid, self._cancel_one(op.target, from_op=True))
        elif t is _ie.Close:
            self._complete(sid, self._close_fd(op.fd))
        elif t is _ie.Fsync:
            self._complete(sid, self._call(lambda: kernel32.flush_file_buffers(op.fd)))
        elif t in (_ie.Read, _ie.Write):
            self._start_file(sid, op, prepared)
        elif t in (_ie.Send, _ie.Recv):
            self._start_wsa(sid, op, prepared)
        elif t is _ie.Accept:
            self._start_accept(sid, op)
        else:
            self._start_connect(sid, op, prepared)

    @staticmethod
    def _call(fn: Any) -> int:
        try:
            fn()
        except OSError as exc:
            return -int(exc.errno or _errno.EIO)
        except ValueError:  # 0 or -1: never a valid handle
            return -_errno.EBADF
        return 0

    @staticmethod
    def _synchronous(h: int) -> bool:
        # Asked per op, never cached: a handle value can be closed and reused.
        try:
            mode = ntdll.nt_query_file_mode(h)
        except OSError:
            return False
        return bool(mode & (C.FILE_SYNCHRONOUS_IO_ALERT | C.FILE_SYNCHRONOUS_IO_NONALERT))

    def _bind(self, h: int) -> int:
        """Associate ``h`` with the port (per op: handle values are reused); 0 or -errno."""
        r = _k32.CreateIoCompletionPort(ffi.cast("HANDLE", h), ffi.cast("HANDLE", self._port),
                                        _OP_KEY, 0)
        if r == ffi.NULL:
            code = int(ffi.getwinerror()[0])
            if code != 87:  # ERROR_INVALID_PARAMETER: already bound (to this port)
                return _neg_errno(code)
        return 0

    def _new_op(self, sid: int, kind: type, h: int, offset: int = 0) -> _Op:
        o = _Op(kind, h)
        o.ov = ffi.new("OVERLAPPED *")
        o.ov.Offset = offset & 0xFFFFFFFF
        o.ov.OffsetHigh = (offset >> 32) & 0xFFFFFFFF
        return o

    def _launched(self, sid: int, o: _Op, ok: Any, eof_is_zero: bool = False) -> None:
        """After the Win32 call: register a pending op, or complete a failed one now."""
        if not ok:
            code = int(ffi.getwinerror()[0])
            if code != _ERROR_IO_PENDING:
                if eof_is_zero and code in (_ERROR_HANDLE_EOF, _ERROR_BROKEN_PIPE):
                    self._finish(sid, o, 0)
                else:
                    self._finish(sid, o, _neg_errno(code))
                return
        addr = int(ffi.cast("uintptr_t", o.ov))
        self._inflight[addr] = (sid, o)
        self._by_sid[sid] = addr

    def _start_file(self, sid: int, op: Any, prepared: Any) -> None:
        _view, cbuf, n = prepared
        h = op.fd
        read = type(op) is _ie.Read
        if self._synchronous(h):
            off = None if op.offset < 0 else op.offset
            fn = kernel32.read_file if read else kernel32.write_file
            try:
                res = fn(h, ffi.buffer(cbuf, n) if n else bytearray(), off)
            except OSError as exc:
                res = -int(exc.errno or _errno.EIO)
            self._complete(sid, res)
            return
        if op.offset < 0:
            try:
                disk = kernel32.get_file_type(h) == C.FILE_TYPE_DISK
            except OSError as exc:
                self._complete(sid, -int(exc.errno or _errno.EBADF))
                return
            if disk:
                self._complete(sid, -_errno.EINVAL)
                return
        err = self._bind(h)
        if err:
            self._complete(sid, err)
            return
        o = self._new_op(sid, type(op), h, max(op.offset, 0))
        o.buf = prepared
        fn_raw = _k32.ReadFile if read else _k32.WriteFile
        ok = fn_raw(ffi.cast("HANDLE", h), cbuf, n, ffi.NULL, o.ov)
        self._launched(sid, o, ok, eof_is_zero=read)

    def _start_wsa(self, sid: int, op: Any, prepared: Any) -> None:
        _view, cbuf, n = prepared
        s = op.fd
        err = self._bind(s)
        if err:
            self._complete(sid, err)
            return
        o = self._new_op(sid, type(op), s)
        wb = ffi.new("WSABUF *")
        wb.len = n
        wb.buf = ffi.cast("CHAR *", cbuf)
        flags = ffi.new("DWORD *", op.flags)
        o.buf = prepared
        o.extra = (wb, flags)
        if type(op) is _ie.Recv:
            r = _ws2.WSARecv(s, wb, 1, ffi.NULL, flags, o.ov, ffi.NULL)
        else:
            r = _ws2.WSASend(s, wb, 1, ffi.NULL, op.flags, o.ov, ffi.NULL)
        self._launched(sid, o, r == 0)

    def _extension(self, s: int, name: str) -> Any:
        fn = self._ext.get(name)
        if fn is None:
            guid, ctype = {"accept": (C.WSAID_ACCEPTEX, "LPFN_ACCEPTEX"),
                           "connect": (C.WSAID_CONNECTEX, "LPFN_CONNECTEX"),
                           "sockaddrs": (C.WSAID_GETACCEPTEXSOCKADDRS,
                                         "LPFN_GETACCEPTEXSOCKADDRS")}[name]
            fn = ffi.cast(ctype, ws2_32.wsa_get_extension_function(s, guid))
            self._ext[name] = fn
        return fn

    def _start_accept(self, sid: int, op: Any) -> None:
        ls = op.fd
        try:
            fam = int.from_bytes(ws2_32.getsockname(ls)[:2], "little")
            accept_ex = self._extension(ls, "accept")
            self._extension(ls, "sockaddrs")
            new = ws2_32.wsa_socket(fam, C.SOCK_STREAM, 0)
        except OSError as exc:
            self._complete(sid, -int(exc.errno or _errno.EIO))
            return
        err = self._bind(ls)
        if err:
            ws2_32.closesocket(new)
            self._complete(sid, err)
            return
        o = self._new_op(sid, _ie.Accept, ls)
        o.listen_sock, o.accept_sock = ls, new
        o.buf = ffi.new("char[]", 2 * _ADDRLEN)
        got = ffi.new("DWORD *")
        o.extra = got
        ok = accept_ex(ls, new, o.buf, 0, _ADDRLEN, _ADDRLEN, got, o.ov)
        self._launched(sid, o, ok)

    def _start_connect(self, sid: int, op: Any, raw: bytes) -> None:
        s = op.fd
        try:
            try:
                ws2_32.getsockname(s)
            except OSError:  # ConnectEx needs a bound socket
                fam = int.from_bytes(raw[:2], "little")
                any_addr = ("0.0.0.0", 0) if fam == C.AF_INET else ("::", 0)
                ws2_32.bind(s, ws2_32.make_sockaddr(fam, any_addr) if fam != C.AF_UNIX
                            else raw[:2])
            connect_ex = self._extension(s, "connect")
        except OSError as exc:
            self._complete(sid, -int(exc.errno or _errno.EIO))
            return
        err = self._bind(s)
        if err:
            self._complete(sid, err)
            return
        o = self._new_op(sid, _ie.Connect, s)
        sa = ffi.new("char[]", raw)
        o.buf = sa
        ok = connect_ex(s, ffi.cast("struct sockaddr *", sa), len(raw), ffi.NULL, 0, ffi.NULL,
                        o.ov)
        self._launched(sid, o, ok)

    def _close_fd(self, fd: int) -> int:
        for _sid, o in list(self._inflight.values()):
            if o.handle == fd:
                _k32.CancelIoEx(ffi.cast("HANDLE", fd), o.ov)
        if _is_socket(fd):
            return self._call(lambda: ws2_32.closesocket(fd))
        return self._call(lambda: kernel32.close_handle(fd))

    # -- completion ------------------------------------------------------------------
    def _finish(self, sid: int, o: _Op, res: int) -> None:
        """Complete op ``sid`` with ``res``, doing the Accept/Connect follow-ups."""
        address = None
        if o.kind is _ie.Accept:
            if res >= 0:
                address, res = self._accepted(o)
            elif o.accept_sock:
                _ws2.closesocket(o.accept_sock)
        elif o.kind is _ie.Connect and res >= 0:
            _ws2.setsockopt(o.handle, C.SOL_SOCKET, C.SO_UPDATE_CONNECT_CONTEXT, ffi.NULL, 0)
            res = 0
        o.buf = o.extra = o.ov = None
        self._complete(sid, res, address)

    def _accepted(self, o: _Op) -> tuple[Any, int]:
        ls = ffi.new("SOCKET *", o.listen_sock)
        if _ws2.setsockopt(o.accept_sock, C.SOL_SOCKET, C.SO_UPDATE_ACCEPT_CONTEXT,
                           ffi.cast("char *", ls), ffi.sizeof("SOCKET")) != 0:
            code = int(ffi.getwinerror()[0])
            _ws2.closesocket(o.accept_sock)
            return None, _neg_errno(code)
        nb = ffi.new("ULONG *", 1)  # the contract: accepted sockets are non-blocking
        _ws2.ioctlsocket(o.accept_sock, ffi.cast("long", C.FIONBIO), nb)
        local = ffi.new("struct sockaddr **")
        remote = ffi.new("struct sockaddr **")
        ln, rn = ffi.new("int *"), ffi.new("int *")
        self._ext["sockaddrs"](o.buf, 0, _ADDRLEN, _ADDRLEN, local, ln, remote, rn)
        try:
            address = ws2_32.parse_sockaddr(bytes(ffi.buffer(remote[0], rn[0])))
        except ValueError:
            address = None
        return address, o.accept_sock

    def _reap(self, n: int) -> bool:
        """Handle ``n`` dequeued entries; True if a wake packet was among them."""
        woke = False
        for i in range(n):
            e = self._entries[i]
            if e.lpCompletionKey == _WAKE_KEY and e.lpOverlapped == ffi.NULL:
                woke = True
                continue
            addr = int(ffi.cast("uintptr_t", e.lpOverlapped))
            found = self._inflight.pop(addr, None)
            if found is None:
                continue
            sid, o = found
            self._by_sid.pop(sid, None)
            status = int(o.ov.Internal) & 0xFFFFFFFF
            if status == 0:
                res = int(e.dwNumberOfBytesTransferred)
            else:
                code = ntdll.rtl_nt_status_to_dos_error(status)
                if o.kind is _ie.Read and code in (_ERROR_HANDLE_EOF, _ERROR_BROKEN_PIPE):
                    res = 0
                else:
                    res = _neg_errno(code)
            self._finish(sid, o, res)
        return woke

    def _expire(self) -> None:
        now = time.monotonic_ns()
        while self._timers and self._timers[0][0] <= now:
            _, sid = heapq.heappop(self._timers)
            if sid in self._timer_ids:
                self._timer_ids.discard(sid)
                self._complete(sid, 0)
        while self._timers and self._timers[0][1] not in self._timer_ids:
            heapq.heappop(self._timers)

    def _dequeue(self, ms: int) -> bool:
        n = kernel32.get_queued_completion_status_ex(self._port, self._entries, ms)
        return self._reap(n)

    def _wait(self, timeout: float | None) -> None:
        self._expire()
        if self._ready or timeout == 0.0:
            self._dequeue(0)
            self._expire()
            return
        end = None if timeout is None else time.monotonic_ns() + int(timeout * 1e9)
        while True:
            now = time.monotonic_ns()
            limit = end
            if self._timers:
                first = self._timers[0][0]
                limit = first if limit is None else min(limit, first)
            ms = C.INFINITE if limit is None else max(0, -(-(limit - now) // 1_000_000))
            woke = self._dequeue(min(ms, C.INFINITE))
            self._expire()
            if self._ready or woke or (end is not None and time.monotonic_ns() >= end):
                return

    # -- cancellation and teardown ------------------------------------------------------
    def _cancel_one(self, sid: int, from_op: bool = False) -> int:
        if sid in self._timer_ids:
            self._timer_ids.discard(sid)
            self._complete(sid, -_errno.ECANCELED)
            return 0
        addr = self._by_sid.get(sid)
        if addr is None:
            return -_errno.ENOENT
        _sid, o = self._inflight[addr]
        if _k32.CancelIoEx(ffi.cast("HANDLE", o.handle), o.ov):
            return 0
        if int(ffi.getwinerror()[0]) == _ERROR_NOT_FOUND:
            return -_errno.EALREADY  # finished; its packet is queued
        return -_errno.EALREADY

    def _wake(self) -> None:
        kernel32.post_queued_completion_status(self._port, 0, _WAKE_KEY, 0)

    def _pending_count(self) -> int:
        return len(self._inflight) + len(self._timer_ids)

    def _shutdown_pending(self) -> None:
        self._timers.clear()
        self._timer_ids.clear()
        for _sid, o in list(self._inflight.values()):
            _k32.CancelIoEx(ffi.cast("HANDLE", o.handle), o.ov)
        deadline = time.monotonic() + 10.0
        while self._inflight and time.monotonic() < deadline:
            self._dequeue(100)
        for _sid, o in self._inflight.values():  # never completed: keep their memory
            _graveyard.append(o)
        self._inflight.clear()
        self._by_sid.clear()
        for r in self._ready:  # sockets of Accepts nobody reaped
            if r.address is not None and r.result > 0:
                _ws2.closesocket(r.result)

    def _close(self) -> None:
        kernel32.close_handle(self._port)
