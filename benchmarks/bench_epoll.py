"""The epoll driver's per-op path, in process (no second process, no TCP).

A 1000-byte message over an AF_UNIX socketpair: ``submit(Send)`` (performed at
submit: the socket is writable) + ``submit(Recv)`` + ``poll(0)`` (the Recv is queued,
since the previous short read drained the socket, and ``poll(0)`` performs it on the
new edge), and a queued ``Recv`` completed by ``poll(0)`` after a plain ``os.write``
from outside the engine (the poll path alone: epoll_pwait2, event decoding, the
queued op run, the result built). Rows: EpollDriver with its C
core (``_native/csrc/fast/epoll.c``) against its Python reference (the same class
with ``_native_core = False``, what ran before the core), and the same syscalls
made by Python's ``socket`` module (a reference row: no engine bookkeeping at all).
Times are per message (``ops`` messages per call). Noisy (sockets): medians.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from vllsi import io_engine as ie
from vllsi.io_engine import IoEngineConfig

N = 256
MSG = b"x" * 1000
G_READY = "epoll driver: submit Send + submit Recv + poll(0), 1000 B socketpair"
G_QUEUED = "epoll driver: queued Recv, peer writes, poll(0) completes it, 1000 B"


def _driver(core: bool) -> Any:
    from vllsi.linux import _epoll

    if core and not _epoll._HAVE_CORE:
        pytest.skip("environment: the native extension (EpollCore) is not built")

    class Reference(_epoll.EpollDriver):
        _native_core = False

    return (_epoll.EpollDriver if core else Reference)(IoEngineConfig(entries=256))


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def _info(benchmark: Any, group: str, role: str, label: str,
          target: float | None = None) -> None:
    benchmark.group = group
    info: dict[str, Any] = {"role": role, "label": label, "ops": N, "noisy": True}
    if target is not None:
        info["target"] = target
    benchmark.extra_info.update(info)


def _ready(e: Any, a: socket.socket, b: socket.socket) -> Any:
    af, bf = a.fileno(), b.fileno()
    buf = bytearray(65536)
    recv = ie.Recv(bf, buf)
    sub, poll = e.submit, e.poll

    def run() -> None:
        for _ in range(N):
            sub(ie.Send(af, MSG))
            sub(recv)
            poll(0)
    return run


def _queued(e: Any, a: socket.socket, b: socket.socket) -> Any:
    af, bf = a.fileno(), b.fileno()
    recv = ie.Recv(bf, bytearray(65536))
    sub, poll, write = e.submit, e.poll, os.write

    def run() -> None:
        for _ in range(N):
            sub(recv)
            write(af, MSG)
            poll(0)
    return run


@pytest.mark.parametrize("core", [True, False], ids=["c_core", "python_reference"])
def test_ready_path(benchmark: Any, pair: Any, core: bool) -> None:
    if core:
        _info(benchmark, G_READY, "vllsi", "EpollDriver (C core)")
    else:  # the core must stay at least 1.5x faster than the Python it replaced
        _info(benchmark, G_READY, "baseline", "EpollDriver Python reference", 1 / 1.5)
    e = _driver(core)
    try:
        benchmark(_ready(e, *pair))
    finally:
        e.shutdown()


def test_ready_path_socket_module(benchmark: Any, pair: Any) -> None:
    _info(benchmark, G_READY, "baseline", "socket.send + socket.recv_into")
    a, b = pair
    buf = bytearray(65536)

    def run() -> None:
        send, recv_into = a.send, b.recv_into
        for _ in range(N):
            send(MSG)
            recv_into(buf)
    benchmark(run)


@pytest.mark.parametrize("core", [True, False], ids=["c_core", "python_reference"])
def test_queued_path(benchmark: Any, pair: Any, core: bool) -> None:
    if core:
        _info(benchmark, G_QUEUED, "vllsi", "EpollDriver (C core)")
    else:
        _info(benchmark, G_QUEUED, "baseline", "EpollDriver Python reference", 1 / 1.5)
    e = _driver(core)
    try:
        benchmark(_queued(e, *pair))
    finally:
        e.shutdown()
