"""Spawn /bin/true and wait for it: vllsi.process_ops.spawn vs subprocess.run and
os.posix_spawn + waitpid (the stdlib's thinnest path).

Target (issue 9): >= 1.5x faster than subprocess.run. Most of the time is the
child's own execve + dynamic loading + exit, which no parent-side code can
shorten; the ratio measures what remains of the parent's overhead.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from vllsi import _platform

pytestmark = pytest.mark.skipif(_platform.OS != "linux", reason="platform: Linux spawn")

TRUE = "/bin/true"
GROUP = "spawn /bin/true to exit"


def test_vllsi_spawn(benchmark: Any) -> None:
    from vllsi.process_ops import spawn

    benchmark.group = GROUP
    benchmark.extra_info.update(role="vllsi")

    def run() -> int:
        return spawn([TRUE], pidfd=False).wait()

    assert benchmark(run) == 0


def test_subprocess_run(benchmark: Any) -> None:
    benchmark.group = GROUP
    benchmark.extra_info.update(role="baseline", target=1 / 1.5)

    def run() -> int:
        return subprocess.run([TRUE]).returncode

    assert benchmark(run) == 0


def test_posix_spawn(benchmark: Any) -> None:
    benchmark.group = GROUP
    benchmark.extra_info.update(role="baseline", target=1.0)

    def run() -> int:
        pid = os.posix_spawn(TRUE, [TRUE], os.environ)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    assert benchmark(run) == 0


FAIL_GROUP = "spawn of a missing program (ENOENT round trip: parent overhead only)"
MISSING = "/nonexistent/vllsi-bench"


def test_vllsi_spawn_enoent(benchmark: Any) -> None:
    from vllsi.process_ops import spawn

    benchmark.group = FAIL_GROUP
    benchmark.extra_info.update(role="vllsi")

    def run() -> int:
        try:
            spawn([MISSING], pidfd=False)
        except FileNotFoundError as exc:
            return exc.errno
        return 0

    assert benchmark(run) == 2


def test_subprocess_run_enoent(benchmark: Any) -> None:
    benchmark.group = FAIL_GROUP
    benchmark.extra_info.update(role="baseline", target=1.0)

    def run() -> int:
        try:
            subprocess.run([MISSING])
        except FileNotFoundError as exc:
            return exc.errno
        return 0

    assert benchmark(run) == 2
