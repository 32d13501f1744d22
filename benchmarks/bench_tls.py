"""TLS slots: vllsi.tls.tls_slot_get vs a threading.local attribute read (P29: <= 2x),
and context_ops.ctx_get vs ContextVar.get (reference)."""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import pytest

tls = pytest.importorskip("vllsi.tls")
context_ops = pytest.importorskip("vllsi.context_ops")

N = 1000


def test_slot_get_vllsi(benchmark: Any) -> None:
    benchmark.group = "tls slot get"
    benchmark.extra_info.update(role="vllsi", label="vllsi.tls.tls_slot_get", ops=N)
    tls.tls_slot_set(5, 12345)
    get = tls.tls_slot_get
    r = range(N)

    def run() -> None:
        for _ in r:
            get(5)

    benchmark(run)


def test_slot_get_threading_local(benchmark: Any) -> None:
    benchmark.group = "tls slot get"
    benchmark.extra_info.update(role="baseline", target=2.0, label="threading.local attribute",
                                ops=N)
    local = threading.local()
    local.x = 12345
    r = range(N)

    def run() -> None:
        for _ in r:
            local.x  # noqa: B018

    benchmark(run)


def test_ctx_get_vllsi(benchmark: Any) -> None:
    benchmark.group = "context slot get"
    benchmark.extra_info.update(role="vllsi", label="vllsi.context_ops.ctx_get", ops=N)
    context_ops.ctx_set(5, 1)
    get = context_ops.ctx_get
    r = range(N)

    def run() -> None:
        for _ in r:
            get(5)

    benchmark(run)


def test_ctx_get_contextvar(benchmark: Any) -> None:
    benchmark.group = "context slot get"
    benchmark.extra_info.update(role="baseline", label="ContextVar.get", ops=N)
    var: contextvars.ContextVar[int] = contextvars.ContextVar("x")
    var.set(1)
    get = var.get
    r = range(N)

    def run() -> None:
        for _ in r:
            get()

    benchmark(run)
