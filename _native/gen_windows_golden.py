"""Regenerate conformance/windows/golden.json from the mingw-w64 headers.

    python _native/gen_windows_golden.py [--check]

Runs ``shared/tools/xheaders.sh`` (zig's mingw-w64 headers, targets
x86_64-windows-gnu and aarch64-windows-gnu) over every struct of
``vllsi/windows/_cdefs/types.h`` (sizeof, and offsetof of each field) and every
constant of ``vllsi.windows.consts`` and ``vllsi.windows._winerror``. The
committed table is what conformance/windows/test_layouts.py compares with the
Windows cffi under Wine (or on Windows). ``--check`` regenerates in memory and
exits 1 if the committed file differs (CI runs it beside the Wine stage).

It also checks the cdef *prototypes*: the function headers of ``_cdefs/`` are
compiled after the real ``#include``s with clang ``-fsyntax-only`` for both
targets, so a wrong parameter or return type is a "conflicting types" error.
The only accepted conflicts are listed in ``ABI_EQUIVALENT`` with the reason.

Runs on Linux: vllsi.windows itself is not importable here, so its data modules
are loaded by path and types.h is parsed with stand-in scalar typedefs (only the
struct and field *names* are taken from it; every value comes from the headers).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import cffi

ROOT = Path(__file__).resolve().parent.parent
WIN = ROOT / "vllsi" / "windows"
OUT = ROOT / "conformance" / "windows" / "golden.json"
XHEADERS = Path(os.environ.get("SHARED", ROOT.parent / "shared")) / "tools" / "xheaders.sh"
TARGETS = ("x86_64-windows-gnu", "aarch64-windows-gnu")
HEADERS = ("winsock2.h", "ws2tcpip.h", "mswsock.h", "afunix.h", "windows.h", "winternl.h",
           "ntstatus.h", "bcrypt.h")
# Not in the mingw-w64 headers (ntdll internals): checked at run time instead
# (conformance/windows/test_ntdll.py reads the TEB through it).
NOT_IN_MINGW = ("THREAD_BASIC_INFORMATION",)
FUNCTION_HEADERS = ("kernel32.h", "kernelbase.h", "ntdll.h", "ws2_32.h", "bcrypt.h")
ABI_EQUIVALENT = {
    "SetFilePointerEx": "liDistanceToMove is a LARGE_INTEGER (an 8-byte union) by value, "
                        "declared LONGLONG: libffi cannot pass unions and both travel in "
                        "the same integer register on x64 and arm64",
}
# Parse-only stand-ins so Linux cffi can read the field names of types.h.
_STANDINS = """
typedef unsigned int DWORD, ULONG, UINT; typedef int LONG, BOOL; typedef long long LONGLONG;
typedef unsigned long long ULONG_PTR, DWORD_PTR, UINT_PTR, SIZE_T;
typedef void *PVOID, *HANDLE, *LPVOID; typedef unsigned short WORD, USHORT;
typedef wchar_t WCHAR, *LPWSTR; typedef unsigned char BYTE, *LPBYTE, UCHAR; typedef char CHAR;
"""


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_golden_{name}", WIN / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def items() -> list[str]:
    ffi = cffi.FFI()
    ffi.cdef(_STANDINS)
    text = (WIN / "_cdefs" / "types.h").read_text()
    ffi.cdef(text)
    names = re.findall(r"}\s*(\w+)\s*;", text) + [
        f"struct {t}" for t in re.findall(r"^struct (\w+) \{", text, re.M)]
    out: list[str] = []
    for n in names:
        if n in NOT_IN_MINGW:
            continue
        out.append(f"sizeof({n})")
        out += [f"offsetof({n}, {f})" for f, _ in ffi.typeof(n).fields]
    consts = _load("consts").integer_constants()
    for k in sorted(consts):
        out.append(f"(unsigned int){k}" if k.startswith("STATUS_") else k)
    out += sorted({name for name, _, _ in _load("_winerror").TABLE})
    return out


def generate() -> dict[str, Any]:
    spec = ["flag -D_WIN32_WINNT=0x0A00", "flag -Wno-macro-redefined"]
    spec += [f"include <{h}>" for h in HEADERS] + items()
    with tempfile.NamedTemporaryFile("w", suffix=".spec", delete=False) as f:
        f.write("\n".join(spec) + "\n")
    try:
        r = subprocess.run(["bash", str(XHEADERS), "-t", ",".join(TARGETS), "-f", f.name,
                            "--format", "json"], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if r.returncode != 0:
        raise SystemExit(f"xheaders.sh failed ({r.returncode}):\n{r.stderr}")
    doc = json.loads(r.stdout)
    errs = {t: e for t, e in doc.get("errors", {}).items() if e}
    if errs:
        raise SystemExit("items missing from the mingw headers:\n" + json.dumps(errs, indent=1))
    tables = {t: {re.sub(r"^\(unsigned int\)", "", k): v for k, v in tab.items()}
              for t, tab in doc["targets"].items()}
    return {"generator": "_native/gen_windows_golden.py (shared/tools/xheaders.sh, mingw-w64)",
            "targets": tables}


def _zig() -> list[str]:
    if os.environ.get("ZIG"):
        return os.environ["ZIG"].split()
    import shutil

    if shutil.which("zig"):
        return ["zig"]
    cache = Path(os.environ.get("VLLSI_XCACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vllsi-cross")
    venv = cache / "zig" / "venv" / "bin" / "python"
    if venv.exists():
        return [str(venv), "-m", "ziglang"]
    return [sys.executable, "-m", "ziglang"]


def check_prototypes() -> list[str]:
    """Compile the cdef prototypes after the SDK headers; the unexpected conflicts."""
    src = "".join(f"#include <{h}>\n" for h in HEADERS if h != "ntstatus.h")
    src += "".join((WIN / "_cdefs" / h).read_text() for h in FUNCTION_HEADERS)
    bad: list[str] = []
    with tempfile.TemporaryDirectory() as d:
        c = Path(d) / "proto.c"
        c.write_text(src)
        for target in TARGETS:
            r = subprocess.run([*_zig(), "cc", "-target", target, "-fsyntax-only",
                                "-Wno-everything", str(c)], capture_output=True, text=True)
            for line in r.stderr.splitlines():
                if "error:" not in line:
                    continue
                m = re.search(r"conflicting types for '(\w+)'", line)
                if m and m.group(1) in ABI_EQUIVALENT:
                    continue
                bad.append(f"{target}: {line.split('error:', 1)[1].strip()}")
    return bad


def main() -> int:
    doc = generate()  # first: xheaders.sh installs zig if needed
    bad = check_prototypes()
    if bad:
        print("cdef prototypes disagree with the SDK headers:\n  " + "\n  ".join(bad),
              file=sys.stderr)
        return 1
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run python _native/gen_windows_golden.py", file=sys.stderr)
            return 1
        print(f"{OUT} is up to date")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    n = len(next(iter(doc["targets"].values())))
    print(f"wrote {OUT} ({n} items x {len(doc['targets'])} targets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
