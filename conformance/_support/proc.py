"""Start a second Python process that can import vllsi (under qemu too).

Built on :func:`conformance._support.cc.python_argv`; adds the worktree to
PYTHONPATH and pipes for a line-driven child.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from conformance._support.cc import python_argv

__all__ = ["child_env", "python_argv", "run", "spawn"]

ROOT = Path(__file__).resolve().parents[2]


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
