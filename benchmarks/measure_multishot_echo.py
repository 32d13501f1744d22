"""Multishot recv + provided buffers vs per-message Recv in an io_uring echo server.

A measurement for deciding whether the echo benchmark server should use
``IoUringDriver.submit_recv_multishot``; not a benchmark of the suite (it does not
touch benchmarks/ or conformance/_support/echo.py, it only imports the C load
generator ``benchmarks/_loadgen.py``).

Each server runs in its own process pinned to the first CPU; ``benchmarks/_loadgen``'s
C ping-pong clients (PROCESSES x CONNECTIONS, SIZE-byte messages, every byte checked)
on the others. Rounds alternate the two servers; per round: wall us/msg, and the
server's on-CPU us/msg (schedstat, exact ns). Medians are printed. Hardware counters
(instructions/msg) are not available on this VM (perf: <not supported>), so CPU time
is the cost measure.

    python benchmarks/measure_multishot_echo.py [ROUNDS] [MESSAGES] [PxC] [SIZE]

Servers (both on the public engine API, 64 KiB buffers; ``batch_submit=True`` as
benchmarks/bench_echo.py, so one io_uring_enter per poll both submits and waits;
``ECHO_BATCH=0`` for eager submission, one enter per op):

- ``recv``: per connection one Recv op, resubmitted after each echo (Recv -> Send
  -> Recv), as conformance/_support/echo.py.
- ``multishot``: per connection one multishot recv from a shared ring of 64 provided
  buffers; each chunk is sent from its provided buffer, which is recycled when the
  Send completes (sends queued per connection, so a connection's bytes keep their
  order); -ENOBUFS resubmits after the next recycle.
"""

from __future__ import annotations

import errno
import os
import statistics
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

F_BUFFER = 1


def _listen() -> tuple[int, int]:
    from conformance._support.echo import listener

    fd, addr = listener()
    return fd, addr[1]


def _accept_all(e: Any, lfd: int, n: int) -> list[int]:
    from vllsi import io_engine as ie

    fds: list[int] = []
    while len(fds) < n:
        sid = e.submit(ie.Accept(lfd))
        while True:
            got = [r for r in e.poll(5.0) if r.submission_id == sid]
            if got:
                fds.append(got[0].value())
                break
    return fds


def serve_recv(e: Any, fds: list[int], bufsize: int) -> None:
    from vllsi import io_engine as ie

    submit, poll, Send = e.submit, e.poll, ie.Send
    recv: dict[int, tuple[int, Any]] = {}   # sid -> (fd, op)
    send: dict[int, tuple[int, Any, Any, int]] = {}  # sid -> (fd, op, buf, want)
    for fd in fds:
        op = ie.Recv(fd, bytearray(bufsize))
        recv[submit(op)] = (fd, op)
    live = len(fds)
    while live:
        for r in poll():
            sid, res = r[0], r[1]
            if sid in recv:
                fd, op = recv.pop(sid)
                if res <= 0:
                    submit(ie.Close(fd))
                    live -= 1
                    continue
                send[submit(Send(fd, op.buf, res))] = (fd, op, op.buf, res)
            elif sid in send:
                fd, op, buf, want = send.pop(sid)
                if res == want:
                    recv[submit(op)] = (fd, op)
                else:
                    rest = memoryview(buf)[res:want]
                    send[submit(Send(fd, rest))] = (fd, op, rest, want - res)


def serve_multishot(e: Any, fds: list[int], bufsize: int, nbufs: int = 64) -> None:
    from vllsi import io_engine as ie

    submit, poll, Send = e.submit, e.poll, ie.Send
    ms, recycle = e.submit_recv_multishot, e.recycle
    bufs = [bytearray(bufsize) for _ in range(nbufs)]
    views = [memoryview(b) for b in bufs]  # our own buffers: sliced without provided()
    e.provide_buffers(0, bufs)
    recv: dict[int, int] = {}                          # multishot sid -> fd
    send: dict[int, tuple[int, int, Any]] = {}         # sid -> (fd, bid, view)
    queued: dict[int, deque[tuple[int, Any]]] = {fd: deque() for fd in fds}
    busy: set[int] = set()                             # fds with a Send in flight
    starved: list[int] = []                            # fds whose recv ended on ENOBUFS
    for fd in fds:
        recv[ms(fd, 0)] = fd
    live = len(fds)
    while live:
        for r in poll():
            sid, res, flags, _ = r
            fd = recv.get(sid)
            if fd is not None:
                if flags & F_BUFFER:
                    bid = flags >> 16
                    view = views[bid][:res]
                    if fd in busy:
                        queued[fd].append((bid, view))
                    else:
                        busy.add(fd)
                        send[submit(Send(fd, view))] = (fd, bid, view)
                if not flags & 2:  # IORING_CQE_F_MORE unset: the last completion
                    del recv[sid]
                    if res == -errno.ENOBUFS:
                        starved.append(fd)
                    elif res > 0:  # ended because the CQ ring was full: rearm
                        recv[ms(fd, 0)] = fd
                    else:
                        submit(ie.Close(fd))
                        live -= 1
                continue
            item = send.pop(sid, None)
            if item is None:
                continue  # a Close
            fd, bid, view = item
            if 0 <= res < len(view):  # short send: the rest, same buffer
                rest = view[res:]
                send[submit(Send(fd, rest))] = (fd, bid, rest)
                continue
            recycle(0, bid)
            q = queued[fd]
            if q:
                bid, view = q.popleft()
                send[submit(Send(fd, view))] = (fd, bid, view)
            else:
                busy.discard(fd)
            while starved:
                f = starved.pop()
                recv[ms(f, 0)] = f


def server_main(mode: str, nconn: int) -> None:
    from _loadgen import pin_server

    from vllsi.io_engine import IoEngineConfig
    from vllsi.linux.io import IoUringDriver

    pin_server()
    batch = os.environ.get("ECHO_BATCH", "1") != "0"
    e = IoUringDriver(IoEngineConfig(entries=256, batch_submit=batch))
    lfd, port = _listen()
    print(port, flush=True)
    fds = _accept_all(e, lfd, nconn)
    print("accepted", flush=True)
    (serve_multishot if mode == "multishot" else serve_recv)(e, fds, 65536)
    e.shutdown()
    if os.environ.get("ECHO_STATS"):
        print(mode, e.statistics(), file=sys.stderr)


def main() -> None:
    import _loadgen

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    messages = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    procs, conns = map(int, (sys.argv[3] if len(sys.argv) > 3 else "3x4").split("x"))
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    plan = _loadgen.cpu_plan()
    print(f"{procs}x{conns} clients, {size}-byte messages, {messages} per connection "
          f"per round, {rounds} rounds each; batch_submit="
          f"{os.environ.get('ECHO_BATCH', '1') != '0'}; {plan.note}")
    results: dict[str, dict[str, list[float]]] = {}
    for i in range(2 * rounds):
        mode = ("recv", "multishot")[i % 2]
        argv = [sys.executable, __file__, "--serve", mode, str(procs * conns)]
        if os.environ.get("ECHO_PERF"):  # profile the servers: perf report -i /tmp/...
            argv = ["perf", "record", "-q", "-e", "cpu-clock", "-o",
                    f"/tmp/echo-{mode}.perf", "--", *argv]
        srv = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert srv.stdout is not None
        port = int(srv.stdout.readline())
        with _loadgen.EchoClients(port, size=size, processes=procs, connections=conns,
                                  cpus=plan.clients) as cl:
            assert srv.stdout.readline().strip() == "accepted"
            cl.round(max(1, messages // 10))  # warm-up
            c0 = _loadgen.cpu_ns([srv.pid])[0]
            ns = cl.round(messages)
            c1 = _loadgen.cpu_ns([srv.pid])[0]
        srv.wait(30)
        total = procs * conns * messages
        row = results.setdefault(mode, {"wall": [], "cpu": []})
        row["wall"].append(ns / total / 1000)
        row["cpu"].append((c1 - c0) / total / 1000)
    for mode, row in results.items():
        print(f"{mode:>10}: wall {statistics.median(row['wall']):6.2f} us/msg  "
              f"server CPU {statistics.median(row['cpu']):6.2f} us/msg  "
              f"(rounds: {' '.join(f'{w:.2f}' for w in row['wall'])})")
    med = {k: {q: statistics.median(v) for q, v in row.items()} for k, row in results.items()}
    print(f"multishot / recv: wall {med['multishot']['wall'] / med['recv']['wall']:.3f}  "
          f"CPU {med['multishot']['cpu'] / med['recv']['cpu']:.3f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        server_main(sys.argv[2], int(sys.argv[3]))
    else:
        main()
