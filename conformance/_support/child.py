"""Run a child Python interpreter (for process-global state: masks, handlers, init).

Started with :func:`conformance._support.cc.python_argv` (through qemu when the
suite runs emulated); the child imports vllsi from this checkout and inherits
``VLLSI_TIER``.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from conformance._support.cc import python_argv

ROOT = str(Path(__file__).resolve().parents[2])


def run_python(code: str, *, timeout: float = 300, input: bytes | None = None
               ) -> subprocess.CompletedProcess[bytes]:
    """Run ``code`` (dedented) in a fresh interpreter; capture stdout and stderr."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONWARNINGS", None)
    env.pop("PYTHONUNBUFFERED", None)  # tests observe buffering
    return subprocess.run(python_argv("-c", textwrap.dedent(code)), capture_output=True,
                          timeout=timeout, env=env, input=input, cwd=ROOT)
