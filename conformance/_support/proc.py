"""Start a second Python process that can import vllsi (under qemu too)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from conformance._support import UNDER_QEMU

ROOT = Path(__file__).resolve().parents[2]


def python_argv(*args: str) -> list[str]:
    """argv running this interpreter (through the qemu prefix when emulated)."""
    prefix = shlex.split(os.environ["VL_QEMU_PREFIX"]) if UNDER_QEMU else []
    return [*prefix, sys.executable, *args]


def child_env(**extra: str) -> dict[str, str]:
    """The environment with the worktree first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def spawn(code: str, *args: str, **kw: Any) -> subprocess.Popen[str]:
    """``python -c code args...`` with pipes for stdin/stdout, text mode."""
    return subprocess.Popen(python_argv("-c", code, *args), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=child_env(), **kw)


def run(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code args...`` to completion, capturing output."""
    return subprocess.run(python_argv("-c", code, *args), capture_output=True, text=True,
                          env=child_env(), timeout=timeout)
