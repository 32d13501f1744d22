"""An echo server on the public engine API, clients in another process."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from conformance._support import UNDER_QEMU
from conformance._support.echo import client_argv, listener, serve
from conformance._support.engines import ASYNC_BACKENDS, EngineBackend, require


@pytest.mark.covers("io_engine.Accept", "io_engine.Recv", "io_engine.Send", "io_engine.Close",
                    "io_engine.IOEngine")
@pytest.mark.parametrize("backend", ASYNC_BACKENDS, ids=lambda b: b.name)
def test_echo_200_connections_x_100_messages(backend: EngineBackend) -> None:
    require(backend)
    nconn, nmsg = (200, 100) if not UNDER_QEMU else (20, 10)
    lfd, addr = listener()
    engine = backend.make(256)
    proc = subprocess.Popen(client_argv(addr, nconn, nmsg, 1234, 1, 5000),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stats: dict[str, Any] = serve(engine, lfd, nconn)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        engine.shutdown()
        os.close(lfd)
    assert proc.returncode == 0, err
    total, checksum = (int(x) for x in out.split()[:2])
    assert stats["bytes"] == total and stats["checksum"] == checksum
    assert total > nconn * nmsg  # random sizes 1..5000 bytes, 100 messages each
