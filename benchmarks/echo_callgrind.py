"""User-space instructions per echoed message of an echo server, under callgrind.

A wall-time-free metric for the echo servers of ``bench_echo.py`` (the machine is
shared; instruction counts are reproducible to ~1 %): the server runs under
``valgrind --tool=callgrind --instr-atstart=no``; three Python ping-pong clients
(one connection each, 1000-byte messages) run one warm-up round, then
instrumentation is switched on (``callgrind_control -i on``) for a round of N
messages per client, and the count is divided by 3 x N. Kernel work is not counted.

Usage (from the repository root, benchmark venv)::

    benchmarks/.venv/bin/python benchmarks/echo_callgrind.py epoll [N]

Servers: ``epoll``, ``io_uring`` (vllsi's engine on conformance/_support/echo.py),
``uvloop``, ``asyncio``, ``bare`` (select.epoll).
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CLIENT = r'''
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg = b"x" * int(sys.argv[2])
for line in sys.stdin:
    for _ in range(int(line)):
        s.sendall(msg)
        got = 0
        while got < len(msg):
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("server closed")
            got += len(chunk)
    sys.stdout.write("done\n"); sys.stdout.flush()
'''


def measure(kind: str, n: int = 2000) -> float:
    """Instructions per message of server ``kind`` over 3 x n messages."""
    sys.path.insert(0, str(HERE))
    import bench_echo as be

    args = {"epoll": [be.SERVER_VLLSI, "epoll", str(ROOT)],
            "io_uring": [be.SERVER_VLLSI, "io_uring", str(ROOT)],
            "uvloop": [be.SERVER_ASYNCIO, "uvloop"], "asyncio": [be.SERVER_ASYNCIO, "asyncio"],
            "bare": [be.SERVER_EPOLL]}[kind]
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        srv = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                f"--callgrind-out-file={out}", sys.executable, "-c", *args],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
        assert srv.stdout is not None
        port = srv.stdout.readline().strip()
        clients = [subprocess.Popen([sys.executable, "-c", CLIENT, port, "1000"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                   for _ in range(3)]

        def round_(m: int) -> None:
            for c in clients:
                assert c.stdin is not None
                c.stdin.write(f"{m}\n")
                c.stdin.flush()
            for c in clients:
                assert c.stdout is not None
                if c.stdout.readline().strip() != "done":
                    raise RuntimeError("echo client failed")

        def control(*flags: str) -> None:
            subprocess.run(["callgrind_control", *flags, str(srv.pid)], check=True,
                           stdout=subprocess.DEVNULL)

        try:
            round_(200)
            control("-i", "on")
            round_(n)
            control("-i", "off")
            control("-d")
            for _ in range(100):  # the dump is written by the server process
                if glob.glob(out + "*"):
                    break
                time.sleep(0.1)
        finally:
            for c in clients:
                assert c.stdin is not None
                c.stdin.close()
                c.wait()
            srv.kill()
            srv.wait()
        total = 0
        for f in glob.glob(out + "*"):
            with open(f) as fh:
                for line in fh:
                    if line.startswith(("summary:", "totals:")):
                        total = max(total, int(line.split()[1]))
    return total / (3 * n)


if __name__ == "__main__":
    server = sys.argv[1] if len(sys.argv) > 1 else "epoll"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    print(f"{server}: {measure(server, count):.0f} instructions per message")
