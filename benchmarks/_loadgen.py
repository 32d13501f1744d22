"""Echo load generator for server benchmarks: clients in separate processes.

The clients must not starve the server they measure, so each one is its own
process (no GIL shared with the server), pinned to a CPU the server does not use
where the machine has more than one (``auto``: the server gets the first allowed
CPU through :func:`pin_server`, the clients share the others; on a 2-CPU box that
is server on CPU 0, clients on CPU 1). Each client connects once, sets
TCP_NODELAY, optionally SO_SNDBUF/SO_RCVBUF, then plays ping-pong: send one
message of ``size`` bytes, read until the same number of bytes came back, repeat
``messages`` times (uvloop's ``examples/bench`` client does the same). All
clients connect first and start together; the wall time runs from the start
signal to the last client's finish. The result states message size, client
count, CPUs and the socket buffer sizes the kernel actually granted, so a row
can say exactly what it measured.

Use from a bench file through the ``echo_load`` fixture of ``conftest.py``::

    pin_server()                                  # in the server process
    r = echo_load(("127.0.0.1", port), size=1000, clients=3, messages=20000)
    # r["seconds"], r["req_per_s"], r["ns_per_msg"], r["sndbuf"], r["client_cpus"] ...

Loopback only: the generator refuses any address outside 127.0.0.0/8 and ::1.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any


def allowed_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def pin_server(pid: int = 0) -> int | None:
    """Pin a process (default: this one) to the first allowed CPU when there are several;
    returns the CPU or None when pinning is not possible or not useful."""
    cpus = allowed_cpus()
    if len(cpus) < 2 or not hasattr(os, "sched_setaffinity"):
        return None
    os.sched_setaffinity(pid, {cpus[0]})
    return cpus[0]


def _client_cpus(spec: Any, clients: int) -> list[int | None]:
    if spec is None:
        return [None] * clients
    if spec == "auto":
        cpus = allowed_cpus()
        pool = cpus[1:] if len(cpus) > 1 else []
        if not pool:
            return [None] * clients
        return [pool[i % len(pool)] for i in range(clients)]
    return [int(spec[i % len(spec)]) for i in range(clients)]


def _check_loopback(host: str) -> None:
    try:
        ip = ipaddress.ip_address(socket.getaddrinfo(host, None)[0][4][0])
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot resolve {host!r}: {exc}") from None
    if not ip.is_loopback:
        raise ValueError(f"echo load only targets loopback addresses, not {ip}")


def echo_load(addr: tuple[str, int], *, size: int = 1000, clients: int = 3,
              messages: int = 10000, client_cpus: Any = "auto", sndbuf: int | None = None,
              rcvbuf: int | None = None, timeout: float = 300.0) -> dict[str, Any]:
    """Run ``clients`` ping-pong client processes against an echo server at ``addr``.

    Returns messages, seconds, req_per_s, ns_per_msg, size, clients, client_cpus,
    sndbuf and rcvbuf (as granted by the kernel, per client). Raises RuntimeError
    when a client fails or the run exceeds ``timeout`` seconds.
    """
    host, port = addr
    _check_loopback(host)
    if size <= 0 or clients <= 0 or messages <= 0:
        raise ValueError("size, clients and messages must be positive")
    cpus = _client_cpus(client_cpus, clients)
    procs = []
    try:
        for cpu in cpus:
            args = [sys.executable, os.path.abspath(__file__), "--client", host, str(port),
                    str(size), str(messages), str(-1 if cpu is None else cpu),
                    str(sndbuf or 0), str(rcvbuf or 0)]
            procs.append(subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          text=True))
        ready = []
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if not line:
                raise RuntimeError(f"echo client failed to connect (exit {p.wait()})")
            ready.append(json.loads(line))
        t0 = time.perf_counter_ns()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        done = []
        deadline = time.monotonic() + timeout
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if not line or p.wait(timeout=max(0.1, deadline - time.monotonic())) != 0:
                raise RuntimeError("echo client failed during the run")
            done.append(json.loads(line))
        t1 = time.perf_counter_ns()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    total = clients * messages
    secs = (t1 - t0) / 1e9
    return {
        "messages": total, "seconds": secs, "req_per_s": total / secs,
        "ns_per_msg": (t1 - t0) / total, "size": size, "clients": clients,
        "client_cpus": cpus, "sndbuf": [r["sndbuf"] for r in ready],
        "rcvbuf": [r["rcvbuf"] for r in ready],
        "client_seconds": [d["ns"] / 1e9 for d in done],
    }


def _client(host: str, port: int, size: int, messages: int, cpu: int, sndbuf: int,
            rcvbuf: int) -> int:
    if cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    info = {"sndbuf": s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
            "rcvbuf": s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)}
    print(json.dumps(info), flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    msg = b"x" * size
    buf = bytearray(size)
    view = memoryview(buf)
    recv_into, sendall = s.recv_into, s.sendall
    t0 = time.perf_counter_ns()
    for _ in range(messages):
        sendall(msg)
        got = 0
        while got < size:
            n = recv_into(view[got:])
            if n == 0:
                return 2
            got += n
    ns = time.perf_counter_ns() - t0
    s.close()
    print(json.dumps({"ns": ns}), flush=True)
    return 0


if __name__ == "__main__" and len(sys.argv) == 9 and sys.argv[1] == "--client":
    a = sys.argv[2:]
    sys.exit(_client(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]), int(a[5]), int(a[6])))
