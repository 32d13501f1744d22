"""Echo servers under ping-pong load from C clients on another CPU (anchors P10-P14).

What is measured: the wall time per message of an echo server that is kept busy.
Each server runs in its own process pinned to one CPU; the load comes from C client
processes (``benchmarks/echo_client.c`` through ``_loadgen.EchoClients``) pinned to
the other CPU(s), each holding ``CONNECTIONS`` connections with one message in flight
on each (uvloop's echoclient ping-pong: send SIZE bytes, read SIZE bytes back, repeat;
every byte checked). A round is timed from "go" to the last client's "done"; start-up
and connection set-up are not measured. Servers: vllsi's engine (io_uring and the
epoll driver, written on the public engine API: conformance/_support/echo.py),
asyncio Protocol, uvloop Protocol (bench venv, importorskip) and a bare
``select.epoll`` loop with blocking sendall.

Why this shape (measured on the 2-vCPU reference box; numbers in the echobench report):

- C clients, not Python: a Python client burns 12-15 us of CPU per message, as much
  as the servers it measures, so with Python clients unpinned the rows measured the
  scheduler's placement (per-round walls of 10 and 18 us/msg for one server in one
  run). The C client's CPU is ~98 % kernel time (the loopback TCP work of the
  messages it sends and receives), which no client can avoid.
- Server and clients pinned apart (``_loadgen.cpu_plan``): server on the first
  allowed CPU, clients on the others; one allowed CPU: unpinned, and ``cpus`` says so.
- SCHED_FIFO priority 1 for server and clients (``_loadgen.prioritize``; falls back
  to nice -10, then to nothing, and ``priority`` says which): the box is shared, and
  at nice 0 another tenant's task on the server's CPU made the server wait on the run
  queue as long as it ran (7.7 us/msg of wait at 7.6 us/msg of CPU); nice -10 still
  left up to 6 us/msg of waiting at times, SCHED_FIFO ~0. ``VLLSI_ECHO_PRIORITY=nice``
  or ``none`` to choose otherwise.
- 3 client processes x 4 connections (12 messages in flight). With the anchors'
  3 x 1 shape the clients are the bottleneck of every fast server: their CPU (~98 %
  kernel, the loopback TCP work mirroring the server's) is ~8 us/msg on the one
  client CPU, so io_uring, uvloop and bare epoll all measured ~8.2 us/msg (ratios
  0.96-1.0 whatever the server does) and the rows compared the clients. Four
  connections per client process let each client wake-up serve several messages,
  which lowers the clients' floor below the servers' cost, so the rows measure the
  servers (``server_busy`` ~1.0, ``client_busy`` < 1.0); it is also closer to real
  servers and to uvloop's published runs (10 concurrent clients). Server CPU per
  message depends on the number of messages in flight (batching per wake-up), so
  ``VLLSI_ECHO_CLIENTS=PxC`` (processes x connections each, e.g. ``3x1``) changes
  what is measured and the group names say which shape ran.
  ``VLLSI_ECHO_CLIENT=python`` runs the old Python client (one connection per
  process), for comparison only.

Each run's ``extra_info`` (kept in the results JSON under the record's ``info``)
says whether its row was server-bound: ``server_busy`` (server CPU / wall, median of
rounds; ~1.0 = the server never waited for its clients), ``server_cpu_us_per_msg``,
``server_user_share`` (user / (user + system) ticks of the server over the run),
``server_runq_us_per_msg`` (time the server was runnable but another task had its
CPU: other tenants), ``client_cpu_us_per_msg`` (all client processes) and
``client_busy`` (their share of the client CPUs), ``server_cpu_idle`` (/proc/stat,
10 ms ticks), the CPU plan, the priority, and every round's wall per message
(``wall_us_per_msg``). CPU times come from
``/proc/<pid>/task/*/schedstat`` (ns), read outside the timed region.
``python benchmarks/bench_echo.py RESULTS.json`` prints them per test.

Every run starts its server and clients afresh (then one untimed warm-up round):
a server/client pair kept for the whole session settles into one "mode" (e.g. the
epoll driver ran at 14 us/msg for a whole session and at 17.5 us/msg for the next),
so reusing processes made sessions disagree; fresh processes re-draw it every run and
the median over runs absorbs it. Start-up costs ~0.3 s per vllsi run (imports), ~20 s
per session. ``VLLSI_ECHO_REUSE=1`` keeps them for the session instead (faster).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _loadgen

ROOT = Path(__file__).resolve().parent.parent


def _shape(text: str) -> tuple[int, int]:
    p, _, c = text.lower().partition("x")
    try:
        procs, conns = int(p), int(c or "1")
    except ValueError:
        raise ValueError(f"VLLSI_ECHO_CLIENTS must look like 3x2, not {text!r}") from None
    if procs <= 0 or conns <= 0:
        raise ValueError(f"VLLSI_ECHO_CLIENTS must be positive, not {text!r}")
    return procs, conns


CLIENT = os.environ.get("VLLSI_ECHO_CLIENT", "c")
PROCESSES, CONNECTIONS = _shape(os.environ.get("VLLSI_ECHO_CLIENTS", "3x4"))
PRIORITY = os.environ.get("VLLSI_ECHO_PRIORITY", "fifo")
REUSE = os.environ.get("VLLSI_ECHO_REUSE") == "1"
ROUNDS = 5
# messages per connection per round: ~50 ms rounds for the fastest servers
MSGS = {1000: 2000, 65536: 120, 102400: 60}
QUICK_DIV = 5

_SHAPE = f"{PROCESSES}x{CONNECTIONS} {'C' if CLIENT == 'c' else 'Python'} clients"
G_PEERS = f"echo 1000 B, {_SHAPE} on another CPU: vllsi io_uring vs peers"
G_FALLBACK = f"echo 1000 B, {_SHAPE} on another CPU: epoll driver vs io_uring driver"
G_64K = f"echo 64 KiB, {_SHAPE} on another CPU: vllsi io_uring vs uvloop"
G_100K = f"echo 100 KiB, {_SHAPE} on another CPU: vllsi io_uring vs uvloop"

SERVER_VLLSI = r'''
import sys
sys.path.insert(0, sys.argv[2])
from conformance._support.echo import listener, serve
from vllsi import io_engine as ie
backend = sys.argv[1]
e = ie.create_io_engine(ie.IoEngineConfig(entries=256, backend=backend,
                                          batch_submit=backend == "io_uring"))
lfd, addr = listener()  # TCP_NODELAY, like every peer here
print(addr[1], flush=True)
# 256 KiB per connection: a 100 KiB message arrives in one Recv when the socket has it
serve(e, lfd, 10**9, bufsize=256 * 1024, deadline=1e9, checksums=False)
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

PROGRAMS = {
    "io_uring": (SERVER_VLLSI, "io_uring", str(ROOT)),
    "epoll": (SERVER_VLLSI, "epoll", str(ROOT)),
    "asyncio": (SERVER_ASYNCIO, "asyncio"),
    "uvloop": (SERVER_ASYNCIO, "uvloop"),
    "select.epoll": (SERVER_EPOLL,),
}


class Server:
    """One server program in its own process, pinned to the plan's server CPU."""

    def __init__(self, name: str, plan: _loadgen.CpuPlan) -> None:
        code, *args = PROGRAMS[name]
        self.proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT,
                                     stdout=subprocess.PIPE, text=True)
        _loadgen.pin(self.proc.pid, plan.server)
        self.priority = _loadgen.prioritize(self.proc.pid, PRIORITY)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{name} echo server did not start (exit {self.proc.wait()})")
        self.port = int(line)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class Echo:
    """A server with its clients for one message size; CPU accounting per round."""

    def __init__(self, server: Server, size: int, messages: int,
                 plan: _loadgen.CpuPlan, shape: tuple[int, int] = (0, 0)) -> None:
        self.server, self.size, self.messages, self.plan = server, size, messages, plan
        self.processes, self.connections = shape if shape[0] else (PROCESSES, CONNECTIONS)
        self.clients = _loadgen.EchoClients(server.port, size=size, processes=self.processes,
                                            connections=self.connections, kind=CLIENT,
                                            cpus=plan.clients)
        prios = [_loadgen.prioritize(p, PRIORITY) for p in self.clients.pids]
        self.client_priority = prios[0]
        self.per_round = self.processes * self.connections * messages
        self.cpu = None if plan.server is None else min(plan.server)
        try:
            self.clients.round(messages)  # warm-up: first allocations, TCP windows
        except BaseException:
            self.clients.close()
            raise
        self.samples: list[dict[str, float]] = []
        self._before: tuple[Any, ...] = ()

    def round(self) -> None:
        self._wall = self.clients.round(self.messages)

    def setup(self) -> None:
        """pedantic's setup (untimed): CPU counters before the round."""
        self._before = (_loadgen.cpu_ns([self.server.proc.pid]),
                        _loadgen.cpu_ns(self.clients.pids),
                        None if self.cpu is None else _loadgen.cpu_ticks(self.cpu),
                        _loadgen.user_system_ticks([self.server.proc.pid]))

    def teardown(self) -> None:
        """pedantic's teardown (untimed): CPU counters after, one sample per round."""
        s0, c0, k0, u0 = self._before
        u1 = _loadgen.user_system_ticks([self.server.proc.pid])
        s1 = _loadgen.cpu_ns([self.server.proc.pid])
        c1 = _loadgen.cpu_ns(self.clients.pids)
        k1 = None if self.cpu is None else _loadgen.cpu_ticks(self.cpu)
        n = self.per_round
        self.samples.append({
            "wall": self._wall / n, "server": (s1[0] - s0[0]) / n,
            "runq": (s1[1] - s0[1]) / n, "client": (c1[0] - c0[0]) / n,
            "idle_ticks": 0 if k0 is None or k1 is None else k1[1] - k0[1],
            "ticks": 0 if k0 is None or k1 is None else sum(k1) - sum(k0),
            "user_ticks": u1[0] - u0[0], "system_ticks": u1[1] - u0[1]})

    def info(self) -> dict[str, Any]:
        """extra_info for the run just measured (its samples), then forget them."""
        ss, self.samples = self.samples, []
        if not ss:
            return {}

        def med(key: str) -> float:
            return round(statistics.median(s[key] for s in ss) / 1e3, 2)

        ticks = sum(s["ticks"] for s in ss)
        us = [sum(s[k] for s in ss) for k in ("user_ticks", "system_ticks")]
        ncpu = len(self.plan.clients) if self.plan.clients is not None else 1
        return {
            "messages_per_round": self.per_round, "message_bytes": self.size,
            "clients": f"{self.processes} processes x {self.connections} connections ({CLIENT})",
            "cpus": self.plan.note,
            "priority": f"server {self.server.priority}, clients {self.client_priority}",
            "wall_us_per_msg": [round(s["wall"] / 1e3, 2) for s in ss],
            "server_cpu_us_per_msg": med("server"), "server_runq_us_per_msg": med("runq"),
            "client_cpu_us_per_msg": med("client"),
            # share of the client CPU(s) the clients used: ~1.0 means they were saturated too
            "client_busy": round(statistics.median(s["client"] / s["wall"] for s in ss) / ncpu,
                                 3),
            # user share of the server's CPU time (Python + library work vs kernel work)
            "server_user_share": round(us[0] / sum(us), 2) if sum(us) else None,
            "server_busy": round(statistics.median(s["server"] / s["wall"] for s in ss), 3),
            "server_cpu_idle": (round(sum(s["idle_ticks"] for s in ss) / ticks, 3)
                                if ticks else None),
        }

    def close(self) -> None:
        self.clients.close()


class Pool:
    """Servers and client sets, started on first use (per run, or per session with
    VLLSI_ECHO_REUSE=1)."""

    def __init__(self, quick: bool) -> None:
        self.plan = _loadgen.cpu_plan()
        self.quick = quick
        self.servers: dict[str, Server] = {}
        self.echos: dict[tuple[str, int, tuple[int, int]], Echo] = {}

    def get(self, name: str, size: int, shape: tuple[int, int] = (0, 0)) -> Echo:
        e = self.echos.get((name, size, shape))
        if e is None:
            srv = self.servers.get(name)
            if srv is None:
                srv = self.servers[name] = Server(name, self.plan)
            msgs = max(1, MSGS[size] // (QUICK_DIV if self.quick else 1))
            e = self.echos[(name, size, shape)] = Echo(srv, size, msgs, self.plan, shape)
        return e

    def close(self) -> None:
        for e in self.echos.values():
            e.close()
        for s in self.servers.values():
            s.close()


def _pool_scope(fixture_name: str, config: pytest.Config) -> Literal["session", "function"]:
    return "session" if REUSE else "function"


@pytest.fixture(scope=_pool_scope)
def echo_pool(bench_quick: bool) -> Iterator[Pool]:
    if CLIENT == "c":
        try:
            _loadgen.client_binary()
        except RuntimeError as exc:  # _cc.BuildError
            pytest.skip(f"environment: C echo client: {exc}")
    pool = Pool(bench_quick)
    yield pool
    pool.close()


def _uring_ok() -> None:
    from vllsi.linux.io import IoUringDriver

    ok, why = IoUringDriver.probe()
    if not ok:
        pytest.skip(f"kernel: io_uring unavailable ({why})")


def _bench(benchmark: Any, pool: Pool, server: str, group: str, role: str,
           target: float | None = None, goal: str | None = None, size: int = 1000,
           shape: tuple[int, int] = (0, 0)) -> None:
    benchmark.group = group
    info: dict[str, Any] = {"role": role, "label": f"{server} server"}
    if target is not None:
        info["target"] = target
    if goal is not None:
        info["goal"] = goal
    benchmark.extra_info.update(info)
    if server == "uvloop":
        pytest.importorskip("uvloop")
    elif server == "io_uring":
        _uring_ok()
    echo = pool.get(server, size, shape)
    benchmark.extra_info["ops"] = echo.per_round  # times per message
    benchmark.pedantic(echo.round, setup=echo.setup, teardown=echo.teardown,
                       rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(echo.info())


def test_echo_vllsi_io_uring(benchmark: Any, echo_pool: Pool) -> None:
    _bench(benchmark, echo_pool, "io_uring", G_PEERS, "vllsi")


def test_echo_asyncio_protocol(benchmark: Any, echo_pool: Pool) -> None:
    _bench(benchmark, echo_pool, "asyncio", G_PEERS, "baseline", 1 / 1.3, "P10")


def test_echo_uvloop_protocol(benchmark: Any, echo_pool: Pool) -> None:
    _bench(benchmark, echo_pool, "uvloop", G_PEERS, "baseline", 1 / 0.85, "P11")


def test_echo_bare_select_epoll(benchmark: Any, echo_pool: Pool) -> None:
    _bench(benchmark, echo_pool, "select.epoll", G_PEERS, "baseline", 1 / 1.1, "P12")


def test_echo_vllsi_epoll_driver(benchmark: Any, echo_pool: Pool) -> None:
    _bench(benchmark, echo_pool, "epoll", G_FALLBACK, "vllsi")


def test_echo_vllsi_io_uring_reference(benchmark: Any, echo_pool: Pool) -> None:
    _bench(benchmark, echo_pool, "io_uring", G_FALLBACK, "baseline", 1 / 0.9, "P13")


# P13 in the ping-pong shape the anchors state it for (3 x 1: "they should be close
# for ping-pong", liburing#189). With many connections per client (the groups
# above) io_uring batches the sends of several connections into one
# io_uring_enter while a readiness driver pays a send and a recv syscall per
# message, so there the fallback is expected to trail by more.
PINGPONG = (3, 1)
G_FALLBACK_PP = ("echo 1000 B, 3x1 C clients (ping-pong) on another CPU: "
                 "epoll driver vs io_uring driver")


def test_echo_pingpong_vllsi_epoll_driver(benchmark: Any, echo_pool: Pool) -> None:
    _bench(benchmark, echo_pool, "epoll", G_FALLBACK_PP, "vllsi", shape=PINGPONG)


def test_echo_pingpong_vllsi_io_uring_reference(benchmark: Any, echo_pool: Pool) -> None:
    _bench(benchmark, echo_pool, "io_uring", G_FALLBACK_PP, "baseline", 1 / 0.9, "P13",
           shape=PINGPONG)


def test_echo_64k_vllsi_io_uring(benchmark: Any, echo_pool: Pool) -> None:
    _bench(benchmark, echo_pool, "io_uring", G_64K, "vllsi", size=65536)


def test_echo_64k_uvloop_protocol(benchmark: Any, echo_pool: Pool) -> None:
    _bench(benchmark, echo_pool, "uvloop", G_64K, "baseline", 1 / 0.9, "P14", size=65536)


def test_echo_100k_vllsi_io_uring(benchmark: Any, echo_pool: Pool) -> None:
    _bench(benchmark, echo_pool, "io_uring", G_100K, "vllsi", size=102400)


def test_echo_100k_uvloop_protocol(benchmark: Any, echo_pool: Pool) -> None:
    _bench(benchmark, echo_pool, "uvloop", G_100K, "baseline", 1 / 0.9, "P14", size=102400)


def summary(path: str) -> str:
    """Per test of a results JSON: median over runs of wall, server CPU, busy, runq; then
    per row the paired ratio of server CPU per message beside the wall ratio."""
    import json

    doc = json.loads(Path(path).read_text())
    by: dict[str, list[dict[str, Any]]] = {}
    for r in doc["records"]:
        if r.get("area") == "echo" and r.get("info"):
            by.setdefault(r["nodeid"].split("::")[-1], []).append(r)
    lines = [f"{'test':36} {'runs':>4} {'wall us/msg':>12} {'run spread':>10} "
             f"{'rounds spread':>13} {'srv cpu':>8} {'busy':>5} {'runq':>5} {'cli cpu':>8} "
             f"{'cli busy':>8} {'srv user':>8}"]
    for name, rs in by.items():
        walls = [r["ns"] / 1e3 for r in rs]
        w = statistics.median(walls)
        within = statistics.median(max(r["info"]["wall_us_per_msg"]) /
                                   min(r["info"]["wall_us_per_msg"]) - 1 for r in rs)

        def med(key: str, rs: list[dict[str, Any]] = rs) -> float:
            vals = [r["info"][key] for r in rs if r["info"].get(key) is not None]
            return float(statistics.median(vals)) if vals else float("nan")

        lines.append(f"{name:36} {len(rs):4} {w:12.2f} {(max(walls) - min(walls)) / w:10.1%} "
                     f"{within:13.1%} {med('server_cpu_us_per_msg'):8.2f} "
                     f"{med('server_busy'):5.2f} {med('server_runq_us_per_msg'):5.2f} "
                     f"{med('client_cpu_us_per_msg'):8.2f} {med('client_busy'):8.2f} "
                     f"{med('server_user_share'):8.2f}")
    lines += ["", "server CPU per message, vllsi / baseline, median of paired rounds (lo-hi); "
              "the wall ratio compresses toward 1.0 when both servers sit at the clients' floor"]
    for row in doc["rows"]:
        if row.get("area") != "echo" or row.get("ratio") is None:
            continue
        sides = {}
        for role in ("vllsi", "baseline"):
            sides[role] = {r["round"]: r["info"]["server_cpu_us_per_msg"] for r in doc["records"]
                           if r.get("area") == "echo" and r["group"] == row["group"]
                           and r["label"] == row[role] and r.get("info")}
        ratios = [v / sides["baseline"][k] for k, v in sides["vllsi"].items()
                  if sides["baseline"].get(k)]
        if ratios:
            lines.append(f"  {row['name']}: wall {row['ratio']:.3f}x, server CPU "
                         f"{statistics.median(ratios):.3f}x ({min(ratios):.3f}-{max(ratios):.3f})")
    return "\n".join(lines)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(p)
        print(summary(p))
