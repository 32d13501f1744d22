"""Echo load for server benchmarks: ping-pong clients in separate, pinned processes.

What a server benchmark needs from its clients is that they are never the bottleneck
and never share a CPU with the server, so the wall time per message is the server's
time. Hence:

- The client is C (``benchmarks/echo_client.c``, built with gcc into
  ``benchmarks/.build`` on first use): a Python client burns as much CPU per message
  as the server it measures (~12-15 us against ~11 us on the 2-vCPU reference box),
  so with Python clients a row measures the scheduler as much as the server.
  ``kind="python"`` keeps a Python client (blocking ``sendall`` / ``recv_into``, one
  connection per process) for comparisons with uvloop's own echoclient.
- Each client process holds ``connections`` connections (one message in flight on
  each, polled with epoll) and plays uvloop's echoclient ping-pong: send one message
  of ``size`` bytes, read until the same number of bytes came back, repeat; every
  echoed byte is checked.
- :func:`cpu_plan` pins the server to the first allowed CPU and the clients to the
  others; with a single allowed CPU nothing is pinned and the plan says so.
- A round starts when every client is connected and told how many messages to play
  and ends when all report done: process start-up and connection set-up are not
  measured. :func:`cpu_ns` reads the on-CPU and run-queue-wait nanoseconds of a
  process (``/proc/<pid>/task/*/schedstat``), :func:`cpu_ticks` one CPU's busy/idle
  ticks (``/proc/stat``), so a benchmark can say whether a row was server-bound.
- :func:`prioritize` raises the priority of the server and the clients (SCHED_FIFO
  where permitted) so other tenants of a shared machine do not delay them.

Persistent clients (several rounds)::

    plan = cpu_plan()
    pin(server.pid, plan.server)
    with EchoClients(port, size=1000, processes=3, cpus=plan.clients) as cl:
        ns = cl.round(2000)       # wall ns for 3 x 2000 messages

One-shot (the ``echo_load`` fixture of ``conftest.py``)::

    r = echo_load(("127.0.0.1", port), size=1000, clients=3, messages=20000)
    # r["seconds"], r["req_per_s"], r["ns_per_msg"], r["client_cpu_ns"], r["sndbuf"] ...

Loopback only: clients refuse any address outside 127.0.0.0/8.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
CLIENT_C = HERE / "echo_client.c"


# ---------------------------------------------------------------- CPUs

def allowed_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


class CpuPlan(NamedTuple):
    server: frozenset[int] | None   # None: not pinned
    clients: frozenset[int] | None
    note: str                       # for extra_info: what was pinned where, or why not


def cpu_plan(cpus: Sequence[int] | None = None) -> CpuPlan:
    """Server on the first allowed CPU, clients on the others; unpinned on one CPU."""
    cpus = sorted(cpus if cpus is not None else allowed_cpus())
    if len(cpus) < 2 or not hasattr(os, "sched_setaffinity"):
        why = f"{len(cpus)} CPU" if len(cpus) < 2 else "no sched_setaffinity"
        return CpuPlan(None, None, f"unpinned ({why}): server and clients share CPUs")
    rest = ",".join(map(str, cpus[1:]))
    return CpuPlan(frozenset(cpus[:1]), frozenset(cpus[1:]),
                   f"server on CPU {cpus[0]}, clients on CPU {rest}")


def pin(pid: int, cpus: Iterable[int] | None) -> None:
    """Pin ``pid`` (0: this process) to ``cpus``; no-op for None. Threads created later
    inherit it, so pin a server right after starting it."""
    if cpus is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, set(cpus))


def pin_server(pid: int = 0) -> int | None:
    """Pin a process (default: this one) to the server CPU of :func:`cpu_plan`; returns
    that CPU, or None when there is a single CPU."""
    plan = cpu_plan()
    pin(pid, plan.server)
    return None if plan.server is None else min(plan.server)


def prioritize(pid: int, how: str) -> str:
    """Raise ``pid``'s scheduling priority so other tenants of a shared box do not queue
    ahead of it: ``"fifo"`` SCHED_FIFO priority 1 (falls back to ``"nice"`` when refused),
    ``"nice"`` nice -10, ``"none"`` unchanged. Returns what was applied, for extra_info.

    SCHED_FIFO is bounded by the kernel's RT throttling (sched_rt_runtime_us, 95 % by
    default) and the processes sleep between rounds; nice -10 alone still left the
    server waiting on the run queue for up to ~6 us per message on the reference box."""
    if how not in ("fifo", "nice", "none"):
        raise ValueError(f"priority must be 'fifo', 'nice' or 'none', not {how!r}")
    note = ""
    if how == "fifo":
        try:
            os.sched_setscheduler(pid, os.SCHED_FIFO, os.sched_param(1))
            return "SCHED_FIFO 1"
        except (OSError, AttributeError) as exc:
            note = f" (SCHED_FIFO refused: {getattr(exc, 'strerror', None) or exc})"
            how = "nice"
    if how == "nice":
        try:
            os.setpriority(os.PRIO_PROCESS, pid, -10)
            return "nice -10" + note
        except OSError as exc:
            return f"default (nice -10 refused: {exc.strerror}){note}"
    return "default"


def cpu_ns(pids: Iterable[int]) -> tuple[int, int]:
    """(on-CPU ns, run-queue wait ns) of every thread of ``pids`` from schedstat; exact to
    the nanosecond, unlike utime+stime (10 ms ticks). Threads that exited are not counted."""
    run = wait = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                    fields = f.read().split()
            except OSError:
                continue
            run += int(fields[0])
            wait += int(fields[1])
    return run, wait


def user_system_ticks(pids: Iterable[int]) -> tuple[int, int]:
    """(user, system) clock ticks (USER_HZ) of ``pids`` from /proc/<pid>/stat: coarse,
    but it tells Python work from kernel work."""
    user = system = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11])
        system += int(fields[12])
    return user, system


def cpu_ticks(cpu: int) -> tuple[int, int, int]:
    """(busy, idle, steal) clock ticks of one CPU since boot, from /proc/stat (USER_HZ);
    idle includes iowait, busy is everything else but steal."""
    with open("/proc/stat", "rb") as f:
        for line in f:
            if line.startswith(b"cpu%d " % cpu):
                v = [int(x) for x in line.split()[1:]]
                idle = v[3] + v[4]
                steal = v[7] if len(v) > 7 else 0
                return sum(v[:8]) - idle - steal, idle, steal
    raise ValueError(f"cpu{cpu} not in /proc/stat")


# ---------------------------------------------------------------- clients

def client_binary() -> Path:
    """Build (once, cached by content) and return the C echo client; raises
    ``_cc.BuildError`` when there is no compiler or the build fails."""
    import _cc

    return _cc.build(CLIENT_C.read_text(), shared=False, flags=("-O2", "-Wall"),
                     name="echo_client")


def check_loopback(host: str) -> str:
    """The IPv4 loopback address ``host`` resolves to; ValueError for anything else."""
    try:
        ip = ipaddress.ip_address(socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0])
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot resolve {host!r} to IPv4: {exc}") from None
    if not ip.is_loopback:
        raise ValueError(f"echo load only targets loopback addresses, not {ip}")
    return str(ip)


class EchoClients:
    """``processes`` client processes against ``host:port``, ``connections`` each, kept
    connected across rounds (see the module docstring). Raises RuntimeError, with the
    failing client's stderr, when a client cannot connect or fails during a round."""

    def __init__(self, port: int, *, size: int = 1000, processes: int = 3,
                 connections: int = 1, kind: str = "c", cpus: Iterable[int] | None = None,
                 host: str = "127.0.0.1", sndbuf: int | None = None,
                 rcvbuf: int | None = None) -> None:
        if size <= 0 or processes <= 0 or connections <= 0:
            raise ValueError("size, processes and connections must be positive")
        if kind not in ("c", "python"):
            raise ValueError(f"kind must be 'c' or 'python', not {kind!r}")
        if kind == "python" and connections != 1:
            raise ValueError("the Python client holds one connection per process")
        addr = check_loopback(host)
        bufs = [str(sndbuf or 0), str(rcvbuf or 0)] if sndbuf or rcvbuf else []
        if kind == "c":
            argv = [str(client_binary()), addr, str(port), str(size), str(connections), *bufs]
        else:
            argv = [sys.executable, str(Path(__file__).resolve()), "--client", addr, str(port),
                    str(size), str(sndbuf or 0), str(rcvbuf or 0)]
        self.size, self.kind = size, kind
        self.processes, self.connections = processes, connections
        self.cpus = None if cpus is None else frozenset(cpus)
        self.procs: list[subprocess.Popen[str]] = []
        self.sndbuf: list[int] = []
        self.rcvbuf: list[int] = []
        try:
            for _ in range(processes):
                p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
                self.procs.append(p)
                pin(p.pid, self.cpus)
            for i in range(len(self.procs)):
                words = self._line(i, "connect").split()
                if len(words) != 3 or words[0] != "ready":
                    raise RuntimeError(f"echo client {i}: unexpected {' '.join(words)!r}")
                self.sndbuf.append(int(words[1]))
                self.rcvbuf.append(int(words[2]))
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def _line(self, i: int, what: str) -> str:
        p = self.procs[i]
        assert p.stdout is not None
        line = p.stdout.readline()
        if line:
            return line
        rc = p.wait(30)
        err = p.stderr.read().strip() if p.stderr is not None else ""
        raise RuntimeError(f"echo client {i} failed to {what} (exit {rc}): "
                           f"{err[-800:] or 'no message'}")

    def round(self, messages: int) -> int:
        """Every connection plays ``messages`` ping-pongs; returns the wall ns from the
        first "go" to the last "done"."""
        if messages <= 0:
            raise ValueError("messages must be positive")
        cmd = f"{messages}\n"
        t0 = time.perf_counter_ns()
        for p in self.procs:
            assert p.stdin is not None
            p.stdin.write(cmd)
            p.stdin.flush()
        for i in range(len(self.procs)):
            if self._line(i, "finish its round").strip() != "done":
                raise RuntimeError(f"echo client {i}: no 'done'")
        return time.perf_counter_ns() - t0

    def close(self) -> None:
        """EOF to every client (a clean exit), then kill what is left."""
        for p in self.procs:
            try:
                if p.stdin is not None:
                    p.stdin.close()
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            for f in (p.stdout, p.stderr):
                if f is not None:
                    f.close()
        self.procs = []

    def __enter__(self) -> EchoClients:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def echo_load(addr: tuple[str, int], *, size: int = 1000, clients: int = 3,
              messages: int = 10000, connections: int = 1, client_cpus: Any = "auto",
              kind: str = "c", sndbuf: int | None = None, rcvbuf: int | None = None
              ) -> dict[str, Any]:
    """One round of ``clients`` processes x ``connections`` x ``messages`` ping-pongs
    against the echo server at ``addr`` (clients on the non-server CPUs of
    :func:`cpu_plan` with ``client_cpus="auto"``, unpinned with None, else on the
    given CPUs).

    Returns messages, seconds, req_per_s, ns_per_msg, size, clients, connections,
    client_cpus, client_cpu_ns, sndbuf and rcvbuf (as granted by the kernel).
    """
    host, port = addr
    cpus = cpu_plan().clients if client_cpus == "auto" else client_cpus
    with EchoClients(port, size=size, processes=clients, connections=connections, kind=kind,
                     cpus=cpus, host=host, sndbuf=sndbuf, rcvbuf=rcvbuf) as cl:
        c0 = cpu_ns(cl.pids)[0]
        ns = cl.round(messages)
        c1 = cpu_ns(cl.pids)[0]
        total = clients * connections * messages
        return {
            "messages": total, "seconds": ns / 1e9, "req_per_s": total / (ns / 1e9),
            "ns_per_msg": ns / total, "size": size, "clients": clients,
            "connections": connections, "client_cpus": None if cpus is None else sorted(cpus),
            "client_cpu_ns": c1 - c0, "sndbuf": cl.sndbuf, "rcvbuf": cl.rcvbuf,
        }


def _python_client(host: str, port: int, size: int, sndbuf: int, rcvbuf: int) -> int:
    """The Python client: same protocol as echo_client.c, one blocking connection."""
    s = socket.socket()
    if sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(60)
    s.connect((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print("ready", s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
          s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF), flush=True)
    pattern = bytes(range(256)) * (size // 256 + 2)
    view = memoryview(bytearray(size))
    recv_into, sendall = s.recv_into, s.sendall
    seq = 0
    for line in sys.stdin:
        for _ in range(int(line)):
            msg = pattern[seq & 255:(seq & 255) + size]
            sendall(msg)
            got = 0
            while got < size:
                n = recv_into(view[got:])
                if n == 0:
                    sys.exit(f"echo_client.py: the server closed the connection "
                             f"({got} of {size} bytes of message {seq} echoed)")
                got += n
            if view != msg:
                sys.exit(f"echo_client.py: wrong bytes echoed in message {seq}")
            seq += 1
        print("done", flush=True)
    s.close()
    return 0


if __name__ == "__main__" and len(sys.argv) == 7 and sys.argv[1] == "--client":
    a = sys.argv[2:]
    sys.exit(_python_client(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4])))
