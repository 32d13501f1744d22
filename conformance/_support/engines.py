"""The engine backends the contract suite (conformance/io_engine/) runs over.

To plug in a new driver (KqueueDriver, IocpDriver...), append an ``EngineBackend``
to ``BACKENDS``: ``make(entries)`` builds it, ``available()`` returns None or a
``(reason_code, why)`` skip, ``asynchronous`` says whether ops on a
descriptor that is not ready wait (True) or run at submit (SyncEngine), and
``factory`` whether ``create_io_engine(backend=name)`` makes it ("epoll-py", the
EpollDriver's Python reference without its C core, is not a factory backend).

The per-OS layer below lets the contract suite run unchanged on Linux (CRT-less
fds from ``os``) and Windows (HANDLEs and SOCKETs from vllsi's Windows layer):
``open_file``/``close_file``/``pread``/``tell``/``seek``/``is_open``,
``closed_handle``, ``socket_pair``/``close_socket``/``inheritable``, and the
leak check ``handles()`` + ``assert_no_leak(before)`` (/proc/self/fd on Linux,
GetProcessHandleCount on Windows).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from conformance._support import ON_WINDOWS, skip
from vllsi import _platform
from vllsi.io_engine import IoEngineConfig


@dataclass(frozen=True)
class EngineBackend:
    name: str
    make: Callable[[int], Any]
    available: Callable[[], tuple[str, str] | None]
    asynchronous: bool = True
    factory: bool = True  # create_io_engine(backend=name) makes it


def _linux_only() -> tuple[str, str] | None:
    return None if _platform.OS == "linux" else ("platform", "Linux driver")


def _uring_available() -> tuple[str, str] | None:
    if _platform.OS != "linux":
        return ("platform", "io_uring is Linux-only")
    from vllsi.linux.io import IoUringDriver

    ok, why = IoUringDriver.probe()
    if ok:
        return None
    from conformance._support import UNDER_QEMU

    code = "environment" if UNDER_QEMU or "EPERM" in why or "not built" in why else "kernel"
    return (code, why)


def _make_uring(entries: int) -> Any:
    from vllsi.linux.io import IoUringDriver

    return IoUringDriver(IoEngineConfig(entries=entries))


def _make_epoll(entries: int) -> Any:
    from vllsi.linux.io import EpollDriver

    return EpollDriver(IoEngineConfig(entries=entries))


def _make_epoll_reference(entries: int) -> Any:
    """The EpollDriver with its Python methods doing the work (no C core): the
    reference the C core is checked against, and what runs without the extension."""
    from vllsi.linux._epoll import EpollDriver

    class ReferenceEpollDriver(EpollDriver):
        _native_core = False

    return ReferenceEpollDriver(IoEngineConfig(entries=entries))


def _make_sync(entries: int) -> Any:
    from vllsi.embedded import SyncEngine

    return SyncEngine(IoEngineConfig(entries=entries))


def _sync_available() -> tuple[str, str] | None:
    if _platform.OS in ("linux", "windows"):
        return None
    return ("platform", "SyncEngine ops need an OS backend")


def _iocp_available() -> tuple[str, str] | None:
    return None if ON_WINDOWS else ("platform", "IOCP is Windows-only")


def _make_iocp(entries: int) -> Any:
    from vllsi.windows.io import IocpDriver

    return IocpDriver(IoEngineConfig(entries=entries))


BACKENDS: list[EngineBackend] = [
    EngineBackend("io_uring", _make_uring, _uring_available),
    EngineBackend("epoll", _make_epoll, _linux_only),
    EngineBackend("epoll-py", _make_epoll_reference, _linux_only, factory=False),
    EngineBackend("iocp", _make_iocp, _iocp_available),
    EngineBackend("sync", _make_sync, _sync_available, asynchronous=False),
]
ASYNC_BACKENDS = [b for b in BACKENDS if b.asynchronous]


def require(backend: EngineBackend) -> None:
    why = backend.available()
    if why is not None:
        skip(*why)


def open_fds() -> set[int]:
    """The descriptors open in this process (/proc/self/fd, minus the listing's own)."""
    fds = set()
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            os.fstat(fd)
        except OSError:
            continue
        fds.add(fd)
    return fds


# -- the per-OS layer: files, sockets, leak checks ---------------------------------------
if ON_WINDOWS:
    from vllsi.windows import consts as _C
    from vllsi.windows import kernel32 as _k32
    from vllsi.windows import ws2_32 as _ws2


def open_file(path: Any, *, create: bool = False, overlapped: bool = True) -> int:
    """A read/write handle on ``path``: an fd (O_CLOEXEC) on POSIX; on Windows a
    non-inheritable HANDLE, opened FILE_FLAG_OVERLAPPED unless ``overlapped`` is
    False (a synchronous handle, which has a file pointer)."""
    if not ON_WINDOWS:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0), 0o600)
    rw = _C.GENERIC_READ | _C.GENERIC_WRITE
    share = _C.FILE_SHARE_READ | _C.FILE_SHARE_WRITE | _C.FILE_SHARE_DELETE
    how = _C.OPEN_ALWAYS if create else _C.OPEN_EXISTING
    flags = _C.FILE_FLAG_OVERLAPPED if overlapped else _C.FILE_ATTRIBUTE_NORMAL
    return int(_k32.create_file(os.fspath(path), rw, share, how, flags))


def open_direct(path: Any) -> int:
    """A read-only handle bypassing the page cache: O_DIRECT on Linux; on Windows
    FILE_FLAG_NO_BUFFERING | FILE_FLAG_OVERLAPPED. OSError(EINVAL) when refused."""
    if not ON_WINDOWS:
        return os.open(path, os.O_RDONLY | os.O_DIRECT | os.O_CLOEXEC)
    share = _C.FILE_SHARE_READ | _C.FILE_SHARE_WRITE | _C.FILE_SHARE_DELETE
    flags = _C.FILE_FLAG_NO_BUFFERING | _C.FILE_FLAG_OVERLAPPED
    return int(_k32.create_file(os.fspath(path), _C.GENERIC_READ, share, _C.OPEN_EXISTING,
                                flags))


def close_file(h: int) -> None:
    if ON_WINDOWS:
        _k32.close_handle(h)
    else:
        os.close(h)


def pread(h: int, n: int, offset: int) -> bytes:
    """``n`` bytes at ``offset`` (fewer at EOF), through vllsi.file_ops on every OS."""
    from vllsi import file_ops

    buf = bytearray(n)
    got = file_ops.pread(h, buf, offset)
    return bytes(buf[:got])


def tell(h: int) -> int:
    """The file position (lseek / SetFilePointerEx FILE_CURRENT)."""
    if ON_WINDOWS:
        return int(_k32.set_file_pointer_ex(h, 0, _C.FILE_CURRENT))
    return os.lseek(h, 0, os.SEEK_CUR)


def seek(h: int, pos: int) -> None:
    if ON_WINDOWS:
        _k32.set_file_pointer_ex(h, pos, _C.FILE_BEGIN)
    else:
        os.lseek(h, pos, os.SEEK_SET)


def is_open(h: int) -> bool:
    """Whether ``h`` names an open descriptor/handle (fstat / GetFileType)."""
    try:
        if ON_WINDOWS:
            _k32.get_file_type(h)
        else:
            os.fstat(h)
    except (OSError, ValueError):
        return False
    return True


def closed_handle() -> int:
    """A descriptor/handle value that was just closed (a pipe end)."""
    if ON_WINDOWS:
        r, w = _k32.create_pipe()
        _k32.close_handle(w)
    else:
        r, w = os.pipe()
        os.close(w)
    close_file(r)
    return int(r)


def socket_pair(*, nonblocking: bool = True) -> tuple[int, int]:
    """Two connected stream sockets from vllsi.net_ops.socketpair (AF_UNIX on POSIX;
    on Windows a loopback TCP pair made through a listener)."""
    from vllsi import net_ops

    return net_ops.socketpair(nonblocking=nonblocking)


def stream_socket(family: int, *, nonblocking: bool = True) -> int:
    from vllsi import net_ops

    return net_ops.socket(family, net_ops.SOCK_STREAM, nonblocking=nonblocking)


def close_socket(s: int) -> None:
    if ON_WINDOWS:
        _ws2.closesocket(s)
    else:
        os.close(s)


def inheritable(h: int) -> bool:
    if ON_WINDOWS:
        return bool(os.get_handle_inheritable(h))  # type: ignore[attr-defined, unused-ignore]
    return os.get_inheritable(h)


def _open_handle_values(limit: int = 1 << 16) -> set[int]:
    """The handle values below ``limit`` that name an open handle (GetHandleInformation
    through os.get_handle_inheritable; handle values are multiples of 4)."""
    found = set()
    for v in range(4, limit, 4):
        try:
            os.get_handle_inheritable(v)  # type: ignore[attr-defined, unused-ignore]
        except OSError:
            continue
        found.add(v)
    return found


def handles() -> Any:
    """A snapshot for :func:`assert_no_leak`: the open fds (/proc/self/fd) on Linux;
    on Windows the process handle count (GetProcessHandleCount), or, where that
    reports 0 (Wine 8 does not count handles), the set of open handle values;
    None where none of these can be asked."""
    if ON_WINDOWS:
        # Winsock keeps handles from its first use on (Wine: one more per thread, for
        # its synchronous calls): create them before counting.
        s = _ws2.wsa_socket(_C.AF_INET, _C.SOCK_STREAM)
        try:
            _ws2.ioctlsocket(s, _C.FIONBIO, 1)
        finally:
            _ws2.closesocket(s)
        fn = getattr(_k32, "get_process_handle_count", None)
        n = fn() if fn is not None else 0
        return n if n > 0 else _open_handle_values()
    if os.path.isdir("/proc/self/fd"):
        return open_fds()
    return None


def assert_no_leak(before: Any) -> None:
    """Fail if descriptors/handles leaked since ``before``; skip (``platform``) only
    this check when the OS cannot be asked. Call it last in a test."""
    if before is None:
        skip("platform", "no way to count this process's descriptors here")
    after = handles()
    if isinstance(before, int):
        assert after <= before, f"{after - before} handles leaked"
    else:
        assert after == before


def drain(engine: Any, n: int, timeout: float = 10.0) -> dict[int, Any]:
    """Poll until ``n`` completions arrived (by id); fails after ``timeout`` seconds
    without progress (a hang guard, not a timing assertion)."""
    got: dict[int, Any] = {}
    misses = 0
    while len(got) < n:
        batch = engine.poll(0.5)
        if not batch:
            misses += 1
            if misses * 0.5 > timeout:
                pytest.fail(f"only {len(got)} of {n} completions arrived")
        for r in batch:
            assert r.submission_id not in got, "a completion was reported twice"
            got[r.submission_id] = r
    return got
