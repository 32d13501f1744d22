"""An echo server written on the public engine API, and a client to run in another process.

Used by conformance/io_engine/test_echo.py (correctness) and benchmarks/bench_echo.py.
"""

from __future__ import annotations

import time
from typing import Any

from vllsi import io_engine as ie
from vllsi import net_ops

ACCEPT, RECV, SEND, CLOSE = 0, 1, 2, 3


def listener(backlog: int = 1024) -> tuple[int, tuple[str, int]]:
    """A listening TCP socket on 127.0.0.1 with TCP_NODELAY, which the accepted
    sockets inherit on Linux (as asyncio and uvloop set it on theirs): without it
    Nagle holds the sub-MSS tail of a large echo until the peer's delayed ACK."""
    fd = net_ops.socket(net_ops.AF_INET, net_ops.SOCK_STREAM)
    net_ops.setsockopt(fd, net_ops.SOL_SOCKET, net_ops.SO_REUSEADDR, 1)
    net_ops.setsockopt(fd, net_ops.IPPROTO_TCP, net_ops.TCP_NODELAY, 1)
    net_ops.bind(fd, ("127.0.0.1", 0))
    net_ops.listen(fd, backlog)
    return fd, net_ops.getsockname(fd)


def serve(engine: Any, lfd: int, connections: int, *, bufsize: int = 65536,
          deadline: float = 300.0, checksums: bool = True) -> dict[str, int]:
    """Echo until ``connections`` clients have connected and hung up.

    Each connection has one buffer and one op in flight at a time: a Recv, then a
    Send of what it received (again for the rest after a short send), then the
    Recv again. The Recv op of a connection is built once and resubmitted (ops are
    immutable). Returns counters: bytes echoed, messages (recv completions with
    data), and an additive checksum of every byte echoed.
    """
    pending: dict[int, tuple[int, int, Any, int]] = {}  # sid -> (kind, fd, buf, to send)
    accepted = closed = 0
    total = msgs = checksum = 0
    monotonic = time.monotonic
    end = monotonic() + deadline
    submit, poll, pop = engine.submit, engine.poll, pending.pop
    Send = ie.Send
    recv_ops: dict[int, Any] = {}  # fd -> its Recv op (into the connection's buffer)

    pending[submit(ie.Accept(lfd))] = (ACCEPT, lfd, None, 0)
    while closed < connections:
        if monotonic() > end:
            raise TimeoutError(f"echo: {closed}/{connections} connections done in time")
        for r in poll(1.0):
            kind, fd, buf, want = pop(r.submission_id)
            res = r.result
            if kind == RECV:
                if res > 0:
                    msgs += 1
                    total += res
                    if checksums:
                        checksum += sum(memoryview(buf)[:res])
                    pending[submit(Send(fd, buf, res))] = (SEND, fd, buf, res)
                    continue
                del recv_ops[fd]
                pending[submit(ie.Close(fd))] = (CLOSE, fd, None, 0)
                closed += 1
            elif kind == SEND:
                if res == want:
                    pending[submit(recv_ops[fd])] = (RECV, fd, buf, 0)
                elif res >= 0:  # a short send: send the rest from the front of a buffer
                    rest = want - res
                    buf[:rest] = buf[res:want]
                    pending[submit(Send(fd, buf, rest))] = (SEND, fd, buf, rest)
                else:
                    del recv_ops[fd]
                    pending[submit(ie.Close(fd))] = (CLOSE, fd, None, 0)
                    closed += 1
            elif kind == ACCEPT:
                if res >= 0:
                    accepted += 1
                    op = recv_ops[res] = ie.Recv(res, bytearray(bufsize))
                    pending[submit(op)] = (RECV, res, op.buf, 0)
                if accepted < connections:
                    pending[submit(ie.Accept(lfd))] = (ACCEPT, lfd, None, 0)
    while any(k == CLOSE for k, *_ in pending.values()):  # reap the Closes
        for r in poll(1.0):
            pending.pop(r.submission_id, None)
        if monotonic() > end:
            break
    return {"bytes": total, "messages": msgs, "checksum": checksum}


CLIENT = r'''
import random, selectors, socket, sys, time
host, port, nconn, nmsg, seed, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
rng = random.Random(seed)
sel = selectors.DefaultSelector()
state = {}
checksum = total = 0
for i in range(nconn):
    s = socket.create_connection((host, port))
    s.setblocking(False)
    state[s] = [0, b"", 0, bytearray()]  # msgs done, current msg, sent, received
    sel.register(s, selectors.EVENT_WRITE)
def new_msg(st):
    n = rng.randint(lo, hi)
    st[1] = rng.randbytes(n); st[2] = 0; st[3] = bytearray()
for s, st in state.items():
    new_msg(st)
live = len(state)
t0 = time.perf_counter()
while live:
    for key, ev in sel.select(30):
        s = key.fileobj; st = state[s]
        if ev & selectors.EVENT_WRITE and st[2] < len(st[1]):
            st[2] += s.send(st[1][st[2]:])
            if st[2] == len(st[1]):
                sel.modify(s, selectors.EVENT_READ)
        elif ev & selectors.EVENT_READ:
            data = s.recv(65536)
            if not data:
                raise SystemExit("server closed early")
            st[3] += data
            if len(st[3]) >= len(st[1]):
                if bytes(st[3]) != st[1]:
                    raise SystemExit("echo mismatch")
                checksum += sum(st[1]); total += len(st[1])
                st[0] += 1
                if st[0] == nmsg:
                    sel.unregister(s); s.close(); live -= 1
                else:
                    new_msg(st); sel.modify(s, selectors.EVENT_WRITE)
print(total, checksum, time.perf_counter() - t0)
'''


def client_argv(address: tuple[str, int], nconn: int, nmsg: int, seed: int, lo: int,
                hi: int) -> list[str]:
    from conformance._support.cc import python_argv

    return python_argv("-c", CLIENT, address[0], str(address[1]), str(nconn), str(nmsg),
                       str(seed), str(lo), str(hi))
