"""Echo server, 1000-byte messages, clients in separate processes (anchors P10-P13).

Each server runs in its own process; three client processes each hold one
connection and ping-pong ``MSGS`` messages per round (uvloop's echoclient
shape). A round is timed from the "go" written to the clients to their "done",
so process start-up is not measured. Servers: vllsi's engine (io_uring and the
epoll driver, written on the public engine API: conformance/_support/echo.py),
asyncio Protocol, uvloop Protocol (benchmark venv, importorskip) and a bare
``select.epoll`` loop with blocking sendall.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3
MSGS = 2000
SIZE = 1000

G_PEERS = "echo 1000 B, 3 client processes: vllsi io_uring vs peers"
G_FALLBACK = "echo 1000 B, 3 client processes: epoll driver vs io_uring driver"

SERVER_VLLSI = r'''
import sys
sys.path.insert(0, sys.argv[2])
from conformance._support.echo import listener, serve
from vllsi import io_engine as ie
backend = sys.argv[1]
e = ie.create_io_engine(ie.IoEngineConfig(entries=256, backend=backend,
                                          batch_submit=backend == "io_uring"))
lfd, addr = listener()
print(addr[1], flush=True)
serve(e, lfd, 10**9, deadline=1e9, checksums=False)
'''

SERVER_ASYNCIO = r'''
import asyncio, sys
if sys.argv[1] == "uvloop":
    import uvloop
    uvloop.install()
class Echo(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t
    def data_received(self, data):
        self.t.write(data)
async def main():
    srv = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()
asyncio.run(main())
'''

SERVER_EPOLL = r'''
import select, socket
lst = socket.socket(); lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind(("127.0.0.1", 0)); lst.listen(128); lst.setblocking(False)
print(lst.getsockname()[1], flush=True)
ep = select.epoll(); ep.register(lst.fileno(), select.EPOLLIN)
conns = {}
while True:
    for fd, ev in ep.poll():
        if fd == lst.fileno():
            c, _ = lst.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns[c.fileno()] = c; ep.register(c.fileno(), select.EPOLLIN)
            continue
        c = conns[fd]
        data = c.recv(65536)
        if not data:
            ep.unregister(fd); c.close(); del conns[fd]
        else:
            c.sendall(data)
'''

CLIENT = r'''
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg = b"x" * int(sys.argv[2])
for line in sys.stdin:
    n = int(line)
    for _ in range(n):
        s.sendall(msg)
        got = 0
        while got < len(msg):
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("server closed")
            got += len(chunk)
    sys.stdout.write("done\n"); sys.stdout.flush()
'''


class Echo:
    def __init__(self, code: str, *args: str) -> None:
        self.server = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT,
                                       stdout=subprocess.PIPE, text=True)
        assert self.server.stdout is not None
        line = self.server.stdout.readline()
        if not line:
            self.server.wait()
            raise RuntimeError("server did not start")
        port = line.strip()
        self.clients = [subprocess.Popen([sys.executable, "-c", CLIENT, port, str(SIZE)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True) for _ in range(WORKERS)]
        self.round()  # connect and warm up

    def round(self) -> None:
        for c in self.clients:
            assert c.stdin is not None
            c.stdin.write(f"{MSGS}\n")
            c.stdin.flush()
        for c in self.clients:
            assert c.stdout is not None
            if c.stdout.readline().strip() != "done":
                raise RuntimeError("echo client failed")

    def close(self) -> None:
        for c in self.clients:
            assert c.stdin is not None
            c.stdin.close()
            c.wait(30)
        self.server.kill()
        self.server.wait()


def _uring_ok() -> None:
    from vllsi.linux.io import IoUringDriver

    ok, why = IoUringDriver.probe()
    if not ok:
        pytest.skip(f"kernel: io_uring unavailable ({why})")


@pytest.fixture
def echo_factory() -> Iterator[Any]:
    made: list[Echo] = []

    def make(code: str, *args: str) -> Echo:
        e = Echo(code, *args)
        made.append(e)
        return e

    yield make
    for e in made:
        e.close()


def _bench(benchmark: Any, echo: Echo, group: str, role: str,
           target: float | None = None) -> None:
    benchmark.group = group
    info: dict[str, Any] = {"role": role, "messages_per_round": WORKERS * MSGS}
    if target is not None:
        info["target"] = target
    benchmark.extra_info.update(info)
    benchmark.pedantic(echo.round, rounds=5, iterations=1)


def test_echo_vllsi_io_uring(benchmark: Any, echo_factory: Any) -> None:
    _uring_ok()
    _bench(benchmark, echo_factory(SERVER_VLLSI, "io_uring", str(ROOT)), G_PEERS, "vllsi")


def test_echo_asyncio_protocol(benchmark: Any, echo_factory: Any) -> None:
    _bench(benchmark, echo_factory(SERVER_ASYNCIO, "asyncio"), G_PEERS, "baseline", 1 / 1.3)


def test_echo_uvloop_protocol(benchmark: Any, echo_factory: Any) -> None:
    pytest.importorskip("uvloop")
    _bench(benchmark, echo_factory(SERVER_ASYNCIO, "uvloop"), G_PEERS, "baseline", 1 / 0.85)


def test_echo_bare_select_epoll(benchmark: Any, echo_factory: Any) -> None:
    _bench(benchmark, echo_factory(SERVER_EPOLL), G_PEERS, "baseline", 1 / 1.1)


def test_echo_vllsi_epoll_driver(benchmark: Any, echo_factory: Any) -> None:
    _bench(benchmark, echo_factory(SERVER_VLLSI, "epoll", str(ROOT)), G_FALLBACK, "vllsi")


def test_echo_vllsi_io_uring_reference(benchmark: Any, echo_factory: Any) -> None:
    _uring_ok()
    _bench(benchmark, echo_factory(SERVER_VLLSI, "io_uring", str(ROOT)), G_FALLBACK,
           "baseline", 1 / 0.9)
