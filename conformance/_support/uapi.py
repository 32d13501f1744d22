"""Read syscall numbers out of the kernel uapi headers with the C preprocessor.

x86_64: ``<asm/unistd_64.h>``; aarch64: ``<asm-generic/unistd.h>`` with the
macros arm64's own ``asm/unistd.h`` defines (64-bit longs, renameat, new stat,
rlimit, time32 names, clone3, memfd_secret). Debian's linux-libc-dev ships both.
"""

from __future__ import annotations

import re
import shutil
import subprocess

AARCH64_DEFINES = (
    "-D__BITS_PER_LONG=64",
    "-D__ARCH_WANT_RENAMEAT",
    "-D__ARCH_WANT_NEW_STAT",
    "-D__ARCH_WANT_SET_GET_RLIMIT",
    "-D__ARCH_WANT_TIME32_SYSCALLS",
    "-D__ARCH_WANT_SYS_CLONE3",
    "-D__ARCH_WANT_MEMFD_SECRET",
)


def have_compiler() -> bool:
    return shutil.which("gcc") is not None or shutil.which("cc") is not None


def uapi_numbers(arch: str, names: list[str]) -> dict[str, int | None]:
    """``{name: number or None}`` for each syscall name, per the headers."""
    if arch == "x86_64":
        header, extra = "<asm/unistd_64.h>", ()
    elif arch == "aarch64":
        header, extra = "<asm-generic/unistd.h>", AARCH64_DEFINES
    else:
        raise ValueError(arch)
    src = f"#include {header}\n" + "".join(f"VLLSI_NR {n} __NR_{n}\n" for n in names)
    cc = shutil.which("gcc") or shutil.which("cc") or "cc"
    out = subprocess.run(
        [cc, "-E", "-P", *extra, "-x", "c", "-"],
        input=src, capture_output=True, text=True, check=True,
    ).stdout
    result: dict[str, int | None] = {}
    for line in out.splitlines():
        m = re.match(r"VLLSI_NR (\w+) (.*)$", line.strip())
        if not m:
            continue
        name, expr = m.group(1), m.group(2).strip()
        if expr.startswith("__NR"):
            result[name] = None
        else:
            # expressions like (__NR_SYSCALL_BASE + 5) do not occur on these arches
            result[name] = int(eval(expr, {"__builtins__": {}}))
    return result
