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
    fd = net_ops.socket(net_ops.AF_INET, net_ops.SOCK_STREAM)
    net_ops.setsockopt(fd, net_ops.SOL_SOCKET, net_ops.SO_REUSEADDR, 1)
    net_ops.bind(fd, ("127.0.0.1", 0))
    net_ops.listen(fd, backlog)
    return fd, net_ops.getsockname(fd)


def serve(engine: Any, lfd: int, connections: int, *, bufsize: int = 65536,
          deadline: float = 300.0, checksums: bool = True) -> dict[str, int]:
    """Echo until ``connections`` clients have connected and hung up.

    Returns counters: bytes echoed, messages (recv completions with data), and an
    additive checksum of every byte echoed.
    """
    pending: dict[int, tuple[int, int, Any, int]] = {}  # sid -> (kind, fd, buf, sent)
    accepted = closed = 0
    total = msgs = checksum = 0
    end = time.monotonic() + deadline

    recv_ops: dict[int, Any] = {}

    def recv(fd: int, buf: bytearray) -> None:
        op = recv_ops.get(fd)
        if op is None or op.buf is not buf:
            op = recv_ops[fd] = ie.Recv(fd, buf)  # ops are immutable: reuse them
        pending[engine.submit(op)] = (RECV, fd, buf, 0)

    pending[engine.submit(ie.Accept(lfd))] = (ACCEPT, lfd, None, 0)
    while closed < connections:
        if time.monotonic() > end:
            raise TimeoutError(f"echo: {closed}/{connections} connections done in time")
        for r in engine.poll(1.0):
            kind, fd, buf, sent = pending.pop(r.submission_id)
            res = r.result
            if kind == CLOSE:
                continue
            if kind == ACCEPT:
                if res >= 0:
                    accepted += 1
                    recv(res, bytearray(bufsize))
                if accepted < connections:
                    pending[engine.submit(ie.Accept(lfd))] = (ACCEPT, lfd, None, 0)
            elif kind == RECV:
                if res <= 0:
                    recv_ops.pop(fd, None)
                    pending[engine.submit(ie.Close(fd))] = (CLOSE, fd, None, 0)
                    closed += 1
                    continue
                msgs += 1
                total += res
                if checksums:
                    checksum += sum(memoryview(buf)[:res])
                pending[engine.submit(ie.Send(fd, buf, res))] = (SEND, fd, buf, res)
            else:  # SEND: sent = bytes to send in total
                if res < 0:
                    pending[engine.submit(ie.Close(fd))] = (CLOSE, fd, None, 0)
                    closed += 1
                    continue
                if res < sent:
                    rest = bytearray(memoryview(buf)[res:sent])
                    nbuf = bytearray(len(buf))
                    nbuf[:len(rest)] = rest
                    pending[engine.submit(ie.Send(fd, nbuf, len(rest)))] = (SEND, fd, nbuf,
                                                                           len(rest))
                    continue
                recv(fd, buf)
    while any(k == CLOSE for k, *_ in pending.values()):  # reap the Closes
        for r in engine.poll(1.0):
            pending.pop(r.submission_id, None)
        if time.monotonic() > end:
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
