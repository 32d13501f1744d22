"""gcc builds of the benchmarks' C helpers (floor loops, the echo client), cached by content.

Outputs go to ``benchmarks/.build`` (not committed), named after a hash of the source
and flags plus the machine, so an edit rebuilds and concurrent sessions never see a
half-written file (write to a temporary name, then rename). No pytest here: the
``cbuild`` fixture of ``conftest.py`` turns :class:`BuildError` into a skip, and
``_loadgen`` lets it propagate.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

BUILD = Path(__file__).resolve().parent / ".build"


class BuildError(RuntimeError):
    """No C compiler, or the compiler rejected the source (message: its stderr's tail)."""


def build(source: str, *, shared: bool, flags: Sequence[str] = ("-O2",),
          name: str = "floor") -> Path:
    """Compile ``source`` (C text) into a shared library (``shared=True``) or an executable;
    returns its path, building only when no cached output exists."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise BuildError("no C compiler (gcc or cc) on PATH")
    key = hashlib.sha256((source + "\0" + " ".join(flags)).encode()).hexdigest()[:16]
    BUILD.mkdir(exist_ok=True)
    out = BUILD / f"{name}-{key}-{platform.machine()}{'.so' if shared else ''}"
    if out.exists():
        return out
    src = BUILD / f"{name}-{key}.c"
    src.write_text(source)
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    cmd = [cc, *flags, *(["-shared", "-fPIC"] if shared else []), "-o", str(tmp), str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"{name} build failed: {r.stderr[-300:]}")
    os.replace(tmp, out)
    return out
