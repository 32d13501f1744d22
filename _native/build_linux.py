"""Build vllsi's Linux native layer.

Two extensions, both from the same inline-asm trampolines (csrc/arch/):

- ``vllsi.linux._trampoline``: cffi out-of-line API mode. Its cdef is every
  ``cdef/*.h`` (in name order), its source is ``csrc/arch/syscall.h`` followed by
  every ``csrc/ffi/*.c``. Calls release the GIL.
- ``vllsi.linux._fast``: a plain CPython extension (``csrc/fast.c``) with the
  METH_FASTCALL fast paths that benchmarks showed pay (see fast.c).

Used by setup.py (``cffi_modules`` + ``ext_modules``), or run directly to build
in place: ``python _native/build_linux.py`` (also under qemu-python.sh --cc).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import cffi

try:
    from setuptools import Distribution, Extension
except ImportError:  # Debian's arm64 python under qemu has distutils only (3.11)
    from distutils.core import Distribution, Extension  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
CSRC = HERE / "csrc"
CFLAGS = ["-O2", "-fno-strict-aliasing", "-Wall", "-Wno-unused-function"]


def _read_sorted(folder: Path, pattern: str) -> str:
    return "\n".join(p.read_text() for p in sorted(folder.glob(pattern)))


def _rel(p: Path) -> str:
    # setuptools wants source paths relative to the project root.
    try:
        return os.path.relpath(p, Path.cwd())
    except ValueError:
        return str(p)


ffibuilder = cffi.FFI()
ffibuilder.cdef(_read_sorted(HERE / "cdef", "*.h"))
ffibuilder.set_source(
    "vllsi.linux._trampoline",
    '#include "arch/syscall.h"\n' + _read_sorted(CSRC / "ffi", "*.c"),
    include_dirs=[str(CSRC), str(CSRC / "arch")],
    extra_compile_args=CFLAGS,
)


def fast_extension() -> Any:
    return Extension(
        "vllsi.linux._fast",
        sources=[_rel(CSRC / "fast.c")],
        include_dirs=[_rel(CSRC), _rel(CSRC / "arch")],
        extra_compile_args=CFLAGS,
    )


def build_inplace() -> list[str]:
    """Build both extensions into vllsi/linux/ for the running interpreter."""
    root = HERE.parent
    tmp = root / "build" / f"native-{sys.implementation.cache_tag}-{os.uname().machine}"
    tmp.mkdir(parents=True, exist_ok=True)
    built = Path(ffibuilder.compile(tmpdir=str(tmp), verbose=False))
    dest = root / "vllsi" / "linux" / built.name
    shutil.copyfile(built, dest)
    out = [str(dest)]
    cwd = os.getcwd()
    os.chdir(root)
    try:
        dist = Distribution({"ext_modules": [fast_extension()], "script_args": []})
        cmd = dist.get_command_obj("build_ext")
        cmd.inplace = True  # type: ignore[attr-defined]
        cmd.build_temp = str(tmp)  # type: ignore[attr-defined]
        cmd.ensure_finalized()
        cmd.run()
        out.extend(cmd.get_outputs())
    finally:
        os.chdir(cwd)
    return out


if __name__ == "__main__":
    for path in build_inplace():
        print(path)
