"""The engine backends the contract suite (conformance/io_engine/) runs over.

To plug in a new driver (KqueueDriver, IocpDriver...), append an ``EngineBackend``
to ``BACKENDS``: ``make(entries)`` builds it, ``available()`` returns None or a
``(reason_code, why)`` skip, and ``asynchronous`` says whether ops on a
descriptor that is not ready wait (True) or run at submit (SyncEngine).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from conformance._support import skip
from vllsi import _platform
from vllsi.io_engine import IoEngineConfig


@dataclass(frozen=True)
class EngineBackend:
    name: str
    make: Callable[[int], Any]
    available: Callable[[], tuple[str, str] | None]
    asynchronous: bool = True


def _linux_only() -> tuple[str, str] | None:
    return None if _platform.OS == "linux" else ("platform", "Linux driver")


def _uring_available() -> tuple[str, str] | None:
    if _platform.OS != "linux":
        return ("platform", "io_uring is Linux-only")
    from vllsi.linux.io import IoUringDriver

    ok, why = IoUringDriver.probe()
    if ok:
        return None
    from conformance._support import UNDER_QEMU

    code = "environment" if UNDER_QEMU or "EPERM" in why or "not built" in why else "kernel"
    return (code, why)


def _make_uring(entries: int) -> Any:
    from vllsi.linux.io import IoUringDriver

    return IoUringDriver(IoEngineConfig(entries=entries))


def _make_epoll(entries: int) -> Any:
    from vllsi.linux.io import EpollDriver

    return EpollDriver(IoEngineConfig(entries=entries))


def _make_sync(entries: int) -> Any:
    from vllsi.embedded import SyncEngine

    return SyncEngine(IoEngineConfig(entries=entries))


def _sync_available() -> tuple[str, str] | None:
    return None if _platform.OS == "linux" else ("platform", "SyncEngine ops need an OS backend")


BACKENDS: list[EngineBackend] = [
    EngineBackend("io_uring", _make_uring, _uring_available),
    EngineBackend("epoll", _make_epoll, _linux_only),
    EngineBackend("sync", _make_sync, _sync_available, asynchronous=False),
]
ASYNC_BACKENDS = [b for b in BACKENDS if b.asynchronous]


def require(backend: EngineBackend) -> None:
    why = backend.available()
    if why is not None:
        skip(*why)


def open_fds() -> set[int]:
    """The descriptors open in this process (/proc/self/fd, minus the listing's own)."""
    fds = set()
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            os.fstat(fd)
        except OSError:
            continue
        fds.add(fd)
    return fds


def drain(engine: Any, n: int, timeout: float = 10.0) -> dict[int, Any]:
    """Poll until ``n`` completions arrived (by id); fails after ``timeout`` seconds
    without progress (a hang guard, not a timing assertion)."""
    got: dict[int, Any] = {}
    misses = 0
    while len(got) < n:
        batch = engine.poll(0.5)
        if not batch:
            misses += 1
            if misses * 0.5 > timeout:
                pytest.fail(f"only {len(got)} of {n} completions arrived")
        for r in batch:
            assert r.submission_id not in got, "a completion was reported twice"
            got[r.submission_id] = r
    return got
