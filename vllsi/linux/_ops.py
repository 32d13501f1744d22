"""Engine ops performed synchronously with raw syscalls (not public).

Shared by :class:`vllsi.linux.io.EpollDriver` (regular files at submit, streams
when ready) and the Linux side of :class:`vllsi.embedded.SyncEngine`. Every
function returns the raw kernel result (-errno on failure) and never raises for
an OS error; EINTR is retried (PEP 475). Preparation (:func:`prepare`) validates
and pins Python input and raises TypeError/ValueError before any syscall.
"""

from __future__ import annotations

import errno as _errno
import struct
from typing import Any, Final

from vllsi import io_engine as _ie
from vllsi.linux import _sockaddr
from vllsi.linux import _syscall as _s
from vllsi.linux._ffi import ffi

_NR: Final = _s.NR
NR_READ: Final = _NR["read"]
NR_WRITE: Final = _NR["write"]
NR_PREAD: Final = _NR["pread64"]
NR_PWRITE: Final = _NR["pwrite64"]
NR_RECVFROM: Final = _NR["recvfrom"]
NR_SENDTO: Final = _NR["sendto"]
NR_ACCEPT4: Final = _NR["accept4"]
NR_CONNECT: Final = _NR["connect"]
NR_CLOSE: Final = _NR["close"]
NR_FSYNC: Final = _NR["fsync"]
NR_FDATASYNC: Final = _NR["fdatasync"]
NR_GETSOCKOPT: Final = _NR["getsockopt"]
NR_FCNTL: Final = _NR["fcntl"]

SOL_SOCKET: Final = 1
SO_TYPE: Final = 3
SO_ERROR: Final = 4
SO_DOMAIN: Final = 39
SOCK_STREAM: Final = 1
SOCK_NONBLOCK: Final = 0o4000
SOCK_CLOEXEC: Final = 0o2000000
MSG_NOSIGNAL: Final = 0x4000
MSG_DONTWAIT: Final = 0x40
EAGAIN: Final = _errno.EAGAIN
EINTR: Final = _errno.EINTR
ENOTSOCK: Final = _errno.ENOTSOCK
EINPROGRESS: Final = _errno.EINPROGRESS
F_GETFL: Final = 3
F_SETFL: Final = 4
O_NONBLOCK: Final = 0o4000

_cast = ffi.cast
_from_buffer = ffi.from_buffer
_blocking = _s.syscall_blocking
_sys = _s.syscall


class Pin:
    """A pinned buffer: the cffi cdata holds the export until it is released."""

    __slots__ = ("addr", "cdata", "n")

    def __init__(self, buf: Any, writable: bool, length: int | None) -> None:
        try:
            c = _from_buffer(buf, require_writable=writable)
        except (TypeError, BufferError):
            what = "a writable buffer" if writable else "a buffer"
            raise TypeError(f"expected {what}, got {type(buf).__name__}") from None
        size = len(c)
        if length is None:
            length = size
        elif length > size:
            ffi.release(c)
            raise ValueError(f"len {length} exceeds the buffer's {size} bytes")
        self.cdata = c
        self.addr = int(_cast("uintptr_t", c)) if size else 0
        self.n = length

    def release(self) -> None:
        ffi.release(self.cdata)


class SockBuf:
    """A ``struct sockaddr_storage`` plus its ``socklen_t``, kernel-visible."""

    __slots__ = ("addr", "cdata", "len_addr")

    def __init__(self, raw: bytes = b"") -> None:
        self.cdata = ffi.new("char[]", _sockaddr.SOCKADDR_MAX + 8)
        ffi.memmove(self.cdata, raw, len(raw))
        self.addr = int(_cast("uintptr_t", self.cdata))
        self.len_addr = self.addr + _sockaddr.SOCKADDR_MAX
        struct.pack_into("=I", ffi.buffer(self.cdata), _sockaddr.SOCKADDR_MAX,
                         len(raw) or _sockaddr.SOCKADDR_MAX)

    @property
    def length(self) -> int:
        n: int = struct.unpack_from("=I", ffi.buffer(self.cdata), _sockaddr.SOCKADDR_MAX)[0]
        return n

    def decode(self) -> Any:
        n = min(self.length, _sockaddr.SOCKADDR_MAX)
        return _sockaddr.decode(ffi.buffer(self.cdata, n)[:])


class FastPin:
    """A buffer held exported by a memoryview, for the C fast path (tier asm)."""

    __slots__ = ("mv", "n")

    def __init__(self, buf: Any, writable: bool, length: int | None) -> None:
        try:
            m = memoryview(buf)
        except TypeError:
            what = "a writable buffer" if writable else "a buffer"
            raise TypeError(f"expected {what}, got {type(buf).__name__}") from None
        if (writable and m.readonly) or not m.c_contiguous:
            m.release()
            raise TypeError("expected a writable contiguous buffer" if writable
                            else "expected a contiguous buffer")
        size = m.nbytes
        if length is None:
            length = size
        elif length > size:
            m.release()
            raise ValueError(f"len {length} exceeds the buffer's {size} bytes")
        self.mv = m
        self.n = length

    def release(self) -> None:
        self.mv.release()


try:
    from vllsi.linux import _fast as _fastmod

    FAST = _s.TIER == "asm" and hasattr(_fastmod, "engine_rw")
except ImportError:  # pragma: no cover - no native extension
    FAST = False

BufPin = FastPin if FAST else Pin


def retry(nr: int, *args: int) -> int:
    while True:
        r = _blocking(nr, *args)
        if r != -EINTR:
            return r


def socket_domain(fd: int) -> int | None:
    """SO_DOMAIN of ``fd``, or None if it is not a socket."""
    v = ffi.new("int[2]")
    v[1] = 4
    a = int(_cast("uintptr_t", v))
    r = _sys(NR_GETSOCKOPT, fd, SOL_SOCKET, SO_DOMAIN, a, a + 4)
    return None if r < 0 else int(v[0])


def socket_type(fd: int) -> int | None:
    v = ffi.new("int[2]")
    v[1] = 4
    a = int(_cast("uintptr_t", v))
    r = _sys(NR_GETSOCKOPT, fd, SOL_SOCKET, SO_TYPE, a, a + 4)
    return None if r < 0 else int(v[0]) & 0xF


def so_error(fd: int) -> int:
    """-SO_ERROR (0 if none), or the getsockopt failure."""
    v = ffi.new("int[2]")
    v[1] = 4
    a = int(_cast("uintptr_t", v))
    r = _sys(NR_GETSOCKOPT, fd, SOL_SOCKET, SO_ERROR, a, a + 4)
    return r if r < 0 else -int(v[0])


def ensure_nonblocking(fd: int) -> None:
    fl = _sys(NR_FCNTL, fd, F_GETFL)
    if fl >= 0 and not fl & O_NONBLOCK:
        _sys(NR_FCNTL, fd, F_SETFL, fl | O_NONBLOCK)


def connect_sockaddr(fd: int, address: Any) -> bytes:
    """Encode a Connect address for ``fd``'s own family (TypeError/ValueError if malformed)."""
    fam = socket_domain(fd)
    if fam not in (_sockaddr.AF_INET, _sockaddr.AF_INET6, _sockaddr.AF_UNIX):
        fam = _sockaddr.family_of(address)
    return _sockaddr.encode(fam, address)


def prepare(op: Any) -> Any:
    """Validate and pin an op for the Python drivers; TypeError/ValueError."""
    t = type(op)
    if t is _ie.Read or t is _ie.Recv:
        return BufPin(op.buf, True, op.len)
    if t is _ie.Write or t is _ie.Send:
        return BufPin(op.buf, False, op.len)
    if t is _ie.Connect:
        return SockBuf(connect_sockaddr(op.fd, op.address))
    if t is _ie.Accept:
        return SockBuf()
    if t in _ie.OP_TYPES:
        return None
    raise TypeError(f"not an engine op: {t.__name__}")


if FAST:
    _rw = _fastmod.engine_rw

    def read(fd: int, p: Any, offset: int) -> int:
        if offset < 0:
            return _rw(NR_READ, fd, p.mv, p.n, 0, True)
        return _rw(NR_PREAD, fd, p.mv, p.n, offset, True)

    def write(fd: int, p: Any, offset: int) -> int:
        if offset < 0:
            return _rw(NR_WRITE, fd, p.mv, p.n, 0, False)
        return _rw(NR_PWRITE, fd, p.mv, p.n, offset, False)

    def recv(fd: int, p: Any, flags: int) -> int:
        return _rw(NR_RECVFROM, fd, p.mv, p.n, flags, True)

    def send(fd: int, p: Any, flags: int) -> int:
        return _rw(NR_SENDTO, fd, p.mv, p.n, flags | MSG_NOSIGNAL, False)

else:

    def read(fd: int, p: Any, offset: int) -> int:
        if offset < 0:
            return retry(NR_READ, fd, p.addr, p.n)
        return retry(NR_PREAD, fd, p.addr, p.n, offset)

    def write(fd: int, p: Any, offset: int) -> int:
        if offset < 0:
            return retry(NR_WRITE, fd, p.addr, p.n)
        return retry(NR_PWRITE, fd, p.addr, p.n, offset)

    def recv(fd: int, p: Any, flags: int) -> int:
        return retry(NR_RECVFROM, fd, p.addr, p.n, flags, 0, 0)

    def send(fd: int, p: Any, flags: int) -> int:
        return retry(NR_SENDTO, fd, p.addr, p.n, flags | MSG_NOSIGNAL, 0, 0)


def accept(fd: int, sb: SockBuf) -> int:
    return accept_flags(fd, sb, SOCK_CLOEXEC | SOCK_NONBLOCK)


def accept_flags(fd: int, sb: SockBuf, flags: int) -> int:
    struct.pack_into("=I", ffi.buffer(sb.cdata), _sockaddr.SOCKADDR_MAX, _sockaddr.SOCKADDR_MAX)
    return retry(NR_ACCEPT4, fd, sb.addr, sb.len_addr, flags)


def connect(fd: int, sb: SockBuf) -> int:
    n = sb.length
    r = _blocking(NR_CONNECT, fd, sb.addr, n)
    if r == -EINTR:
        return -EINPROGRESS  # the connection continues asynchronously (connect(2))
    return r


def fsync(fd: int, datasync: bool) -> int:
    return retry(NR_FDATASYNC if datasync else NR_FSYNC, fd)


def close(fd: int) -> int:
    r = _sys(NR_CLOSE, fd)
    return 0 if r == -EINTR else r
