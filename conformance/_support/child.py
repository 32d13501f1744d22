"""Run a child Python interpreter (for process-global state: masks, handlers, init).

Under qemu (``VL_QEMU_PREFIX``) the child is started through the same emulator.
The child imports vllsi from this checkout and inherits ``VLLSI_TIER``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

from conformance._support import UNDER_QEMU

ROOT = str(Path(__file__).resolve().parents[2])


def python_argv(*args: str) -> list[str]:
    """argv that runs this interpreter (through qemu when the suite runs under it)."""
    prefix = shlex.split(os.environ["VL_QEMU_PREFIX"]) if UNDER_QEMU else []
    return [*prefix, sys.executable, *args]


def run_python(code: str, *, timeout: float = 300, input: bytes | None = None
               ) -> subprocess.CompletedProcess[bytes]:
    """Run ``code`` (dedented) in a fresh interpreter; capture stdout and stderr."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONWARNINGS", None)
    env.pop("PYTHONUNBUFFERED", None)  # tests observe buffering
    return subprocess.run(python_argv("-c", textwrap.dedent(code)), capture_output=True,
                          timeout=timeout, env=env, input=input, cwd=ROOT)
