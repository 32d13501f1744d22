"""Raw event wrappers (epoll, eventfd, io_uring), differential against select/os and headers."""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import struct
import threading
from pathlib import Path

import pytest

from conformance._support import UNDER_QEMU, linux_only, skip
from conformance._support.cc import run_c
from vllsi import errors, linux
from vllsi.linux import event

pytestmark = linux_only

EPOLL_NAMES = ["EPOLLIN", "EPOLLOUT", "EPOLLPRI", "EPOLLERR", "EPOLLHUP", "EPOLLRDHUP",
               "EPOLLET", "EPOLLONESHOT", "EPOLLEXCLUSIVE"]


@pytest.mark.covers(*(f"linux.{n}" for n in EPOLL_NAMES), "linux.EPOLL_CLOEXEC",
                    "linux.EPOLL_CTL_ADD", "linux.EPOLL_CTL_DEL", "linux.EPOLL_CTL_MOD",
                    "linux.EFD_CLOEXEC", "linux.EFD_NONBLOCK", "linux.EFD_SEMAPHORE")
def test_constants_match_select_and_os() -> None:
    for n in EPOLL_NAMES:
        assert getattr(linux, n) == getattr(select, n) & 0xFFFFFFFF, n
    assert linux.EPOLL_CLOEXEC == select.EPOLL_CLOEXEC
    assert (linux.EPOLL_CTL_ADD, linux.EPOLL_CTL_DEL, linux.EPOLL_CTL_MOD) == (1, 2, 3)
    assert linux.EFD_CLOEXEC == os.EFD_CLOEXEC and linux.EFD_NONBLOCK == os.EFD_NONBLOCK
    assert linux.EFD_SEMAPHORE == os.EFD_SEMAPHORE


@pytest.mark.covers("linux.epoll_create1", "linux.epoll_ctl", "linux.epoll_pwait",
                    "linux.epoll_pwait2")
@pytest.mark.parametrize("wait", ["epoll_pwait", "epoll_pwait2"])
def test_epoll_readiness_and_data(wait: str) -> None:
    fn = getattr(linux, wait)
    ep = linux.epoll_create1()
    a, b = socket.socketpair()
    try:
        assert os.get_inheritable(ep) is False
        linux.epoll_ctl(ep, linux.EPOLL_CTL_ADD, a.fileno(), linux.EPOLLIN, 0xDEADBEEF_00000001)
        try:
            assert fn(ep, 8, 0) == []
        except errors.Unsupported:
            skip("environment" if UNDER_QEMU else "kernel", f"{wait} is not available here")
        b.send(b"x")
        evs = fn(ep, 8, 5)
        assert evs == [(0xDEADBEEF_00000001, linux.EPOLLIN)]
        linux.epoll_ctl(ep, linux.EPOLL_CTL_MOD, a.fileno(), linux.EPOLLOUT, 7)
        assert fn(ep, 8, 5) == [(7, linux.EPOLLOUT)]
        linux.epoll_ctl(ep, linux.EPOLL_CTL_DEL, a.fileno())
        assert fn(ep, 8, 0.01) == []
        with pytest.raises(errors.AlreadyExists):
            linux.epoll_ctl(ep, linux.EPOLL_CTL_ADD, b.fileno(), linux.EPOLLIN)
            linux.epoll_ctl(ep, linux.EPOLL_CTL_ADD, b.fileno(), linux.EPOLLIN)
        with pytest.raises(errors.NotFound):
            linux.epoll_ctl(ep, linux.EPOLL_CTL_MOD, a.fileno(), linux.EPOLLIN)
    finally:
        os.close(ep)
        a.close()
        b.close()


@pytest.mark.covers("linux.epoll_ctl")
def test_epoll_refuses_regular_files_with_eperm(tmp_path: Path) -> None:
    ep = linux.epoll_create1()
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with pytest.raises(errors.PermissionDenied) as ei:
            linux.epoll_ctl(ep, linux.EPOLL_CTL_ADD, fd, linux.EPOLLIN)
        assert ei.value.errno == errno.EPERM and ei.value.syscall == "epoll_ctl"
    finally:
        os.close(fd)
        os.close(ep)


@pytest.mark.covers("linux.epoll_ctl", "linux.epoll_pwait", "linux.epoll_pwait2",
                    "linux.epoll_create1")
@pytest.mark.parametrize("call", [
    lambda: linux.epoll_ctl("3", 1, 0, 1),
    lambda: linux.epoll_ctl(3, 9, 0, 1),
    lambda: linux.epoll_ctl(3, 1, 0, 1, -1),
    lambda: linux.epoll_pwait(3, 0),
    lambda: linux.epoll_pwait2(3, 8, "1"),
    lambda: linux.epoll_pwait(3, 8, float("nan")),
    lambda: linux.epoll_create1(-1),
])
def test_epoll_bad_arguments(call: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        call()  # type: ignore[operator]


@pytest.mark.covers("linux.epoll_pwait2")
def test_epoll_wait_retries_eintr() -> None:
    """A signal whose handler returns does not end the wait early (PEP 475)."""
    ep = linux.epoll_create1()
    r, w = os.pipe()
    hits: list[int] = []
    old = signal.signal(signal.SIGUSR1, lambda *_: hits.append(1))
    try:
        linux.epoll_ctl(ep, linux.EPOLL_CTL_ADD, r, linux.EPOLLIN, 5)
        tid = threading.get_ident()

        def poke() -> None:
            signal.pthread_kill(tid, signal.SIGUSR1)
            threading.Event().wait(0.1)
            os.write(w, b"x")

        t = threading.Thread(target=poke)
        t.start()
        try:
            evs = linux.epoll_pwait2(ep, 4, 30)
        except errors.Unsupported:  # before Linux 5.11 (or under qemu-user)
            evs = linux.epoll_pwait(ep, 4, 30)
        t.join()
        assert evs == [(5, linux.EPOLLIN)]
    finally:
        signal.signal(signal.SIGUSR1, old)
        for fd in (ep, r, w):
            os.close(fd)


@pytest.mark.covers("linux.eventfd2")
def test_eventfd2_counts() -> None:
    fd = linux.eventfd2(3, linux.EFD_CLOEXEC | linux.EFD_NONBLOCK)
    try:
        assert os.get_inheritable(fd) is False
        os.write(fd, struct.pack("=Q", 4))
        assert struct.unpack("=Q", os.read(fd, 8))[0] == 7
        with pytest.raises(BlockingIOError):
            os.read(fd, 8)
    finally:
        os.close(fd)
    fd = linux.eventfd2(2, linux.EFD_SEMAPHORE | linux.EFD_CLOEXEC)
    try:
        assert struct.unpack("=Q", os.read(fd, 8))[0] == 1
    finally:
        os.close(fd)
    with pytest.raises(ValueError):
        linux.eventfd2(-1)
    with pytest.raises(errors.InvalidArgument):
        linux.eventfd2(0, 0x1)  # EFD_SEMAPHORE is 1, so use a truly bad bit below
        linux.eventfd2(0, 0x10000000)


def _uring_or_skip() -> tuple[int, linux.IoUringParams]:
    try:
        return linux.io_uring_setup(8)
    except errors.VllsiError as exc:
        code = "kernel" if exc.errno == errno.ENOSYS and not UNDER_QEMU else "environment"
        skip(code, f"io_uring_setup refused: {exc.strerror}")
        raise


@pytest.mark.covers("linux.io_uring_setup", "linux.IoUringParams", "linux.io_uring_register",
                    "linux.io_uring_enter")
def test_io_uring_setup_register_enter() -> None:
    fd, p = _uring_or_skip()
    try:
        assert isinstance(p, linux.IoUringParams)
        assert p.sq_entries == 8 and p.cq_entries == 16
        assert p.sq_off["array"] > 0 and p.cq_off["cqes"] > 0
        probe = bytearray(16 + 256 * 8)
        linux.io_uring_register(fd, 8, probe, 256)  # IORING_REGISTER_PROBE
        assert probe[1] > 0 and probe[16] == 0  # op 0 (NOP) is listed first
        # Nothing to submit, nothing to wait for: returns 0 at once.
        assert linux.io_uring_enter(fd, 0, 0, 0) == 0
        # EXT_ARG wait with a 10 ms timespec: TimedOut/ETIME.
        ts = struct.pack("=qq", 0, 10_000_000)
        tsbuf = bytearray(ts)
        from vllsi.linux._ffi import ffi
        c = ffi.from_buffer(tsbuf)
        arg = struct.pack("=QIIQ", 0, 0, 0, int(ffi.cast("uintptr_t", c)))
        with pytest.raises(errors.TimedOut) as ei:
            linux.io_uring_enter(fd, 0, 1, 1 | 8, arg)  # GETEVENTS | EXT_ARG
        assert ei.value.errno == errno.ETIME
    finally:
        os.close(fd)
    with pytest.raises(ValueError):
        linux.io_uring_setup(0)
    with pytest.raises(TypeError):
        linux.io_uring_enter("x", 0, 0, 0)
    with pytest.raises(errors.BadDescriptor):
        linux.io_uring_register(fd, 8, bytearray(16), 0)


@pytest.mark.covers("linux.io_uring_setup", "linux.IoUringParams")
def test_io_uring_params_offsets_match_headers() -> None:
    fields = ["sq_entries", "cq_entries", "flags", "sq_thread_cpu", "sq_thread_idle",
              "features", "wq_fd", "resv", "sq_off", "cq_off"]
    src = "#include <stdio.h>\n#include <stddef.h>\n#include <linux/io_uring.h>\n"
    src += "#include <sys/epoll.h>\nint main(void){\n"
    src += 'printf("params %zu\\n", sizeof(struct io_uring_params));\n'
    src += 'printf("epoll %zu\\n", sizeof(struct epoll_event));\n'
    src += 'printf("sqe %zu\\n", sizeof(struct io_uring_sqe));\n'
    src += 'printf("cqe %zu\\n", sizeof(struct io_uring_cqe));\n'
    src += 'printf("getevents %zu\\n", sizeof(struct io_uring_getevents_arg));\n'
    src += "".join(f'printf("{f} %zu\\n", offsetof(struct io_uring_params, {f}));\n'
                   for f in fields)
    for s in ("head", "tail", "ring_mask", "ring_entries", "flags", "array"):
        src += f'printf("sq.{s} %zu\\n", offsetof(struct io_sqring_offsets, {s}));\n'
    for s in ("head", "tail", "ring_mask", "ring_entries", "overflow", "cqes"):
        src += f'printf("cq.{s} %zu\\n", offsetof(struct io_cqring_offsets, {s}));\n'
    for s in ("opcode", "flags", "fd", "off", "addr", "len", "user_data", "buf_index",
              "addr3"):
        src += f'printf("sqe.{s} %zu\\n", offsetof(struct io_uring_sqe, {s}));\n'
    src += "return 0;}\n"
    got = dict(line.split() for line in run_c(src).splitlines())
    f = event.ffi
    assert int(got["params"]) == f.sizeof("struct io_uring_params")
    assert int(got["epoll"]) == f.sizeof("struct epoll_event") == event.EPOLL_EVENT_SIZE
    assert int(got["sqe"]) == 64 and int(got["cqe"]) == 16 and int(got["getevents"]) == 24
    for fld in fields:
        assert int(got[fld]) == f.offsetof("struct io_uring_params", fld), fld
    for s in ("head", "tail", "ring_mask", "ring_entries", "flags", "array"):
        assert int(got[f"sq.{s}"]) == f.offsetof("struct io_sqring_offsets", s)
    for s in ("head", "tail", "ring_mask", "ring_entries", "overflow", "cqes"):
        assert int(got[f"cq.{s}"]) == f.offsetof("struct io_cqring_offsets", s)
    # The SQE layout _native/csrc/uring_ring.h declares (struct vl_sqe).
    assert [int(got[f"sqe.{s}"]) for s in ("opcode", "flags", "fd", "off", "addr", "len",
                                            "user_data", "buf_index", "addr3")] == \
        [0, 1, 4, 8, 16, 24, 32, 40, 48]
