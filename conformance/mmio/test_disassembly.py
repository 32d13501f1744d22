"""The built extensions' MMIO accessors are each one load or store of the right
width (objdump of the loaded _fast and _trampoline), the window methods call
them, and the barriers execute the documented instructions."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest

from conformance._support import linux_only, skip
from vllsi import _platform

pytestmark = linux_only

ARCH = _platform.ARCH

# (mnemonic regex, operand regex) of the one memory access each accessor must be.
EXPECT: dict[str, dict[str, tuple[str, str]]] = {
    "x86_64": {
        "load8": (r"movzbl|movb", r"^\(%rdi\),%(eax|al)$"),
        "load16": (r"movzwl|movw", r"^\(%rdi\),%(eax|ax)$"),
        "load32": (r"movl", r"^\(%rdi\),%eax$"),
        "load64": (r"movq", r"^\(%rdi\),%rax$"),
        "store8": (r"movb", r"^%sil,\(%rdi\)$"),
        "store16": (r"movw", r"^%si,\(%rdi\)$"),
        "store32": (r"movl", r"^%esi,\(%rdi\)$"),
        "store64": (r"movq", r"^%rsi,\(%rdi\)$"),
    },
    "aarch64": {
        "load8": (r"ldrb", r"^w0, \[x0\]$"),
        "load16": (r"ldrh", r"^w0, \[x0\]$"),
        "load32": (r"ldr", r"^w0, \[x0\]$"),
        "load64": (r"ldr", r"^x0, \[x0\]$"),
        "store8": (r"strb", r"^w1, \[x0\]$"),
        "store16": (r"strh", r"^w1, \[x0\]$"),
        "store32": (r"str", r"^w1, \[x0\]$"),
        "store64": (r"str", r"^x1, \[x0\]$"),
    },
}
FENCES = {
    "x86_64": {"dmb": ["mfence"], "dsb": ["mfence", "lfence"], "isb": ["lfence"]},
    "aarch64": {"dmb": ["dmb ish"], "dsb": ["dsb sy"], "isb": ["isb"]},
}
BARRIER = {"x86_64": {"lfence", "sfence", "mfence"}, "aarch64": {"dmb ishld", "dmb ish"}}


def _objdump() -> list[str]:
    if ARCH not in EXPECT:
        skip("platform", f"no accessor table for {ARCH}")
    cands = ["objdump"] if ARCH == "x86_64" else [f"{ARCH}-linux-gnu-objdump", "objdump"]
    for c in cands:
        path = shutil.which(c)
        if path is None:
            continue
        if c == "objdump" and ARCH != "x86_64":
            info = subprocess.run([path, "-i"], capture_output=True, text=True).stdout
            if ARCH not in info:
                continue
        return [path, "-d", "--no-show-raw-insn"] + (["-M", "suffix"] if ARCH == "x86_64" else [])
    skip("environment", f"no objdump for {ARCH} (binutils-{ARCH}-linux-gnu)")
    raise AssertionError


def _functions(path: str) -> dict[str, list[tuple[str, str]]]:
    """name -> [(mnemonic, operands)] up to and including the first return."""
    out = subprocess.run([*_objdump(), path], capture_output=True, text=True, check=True).stdout
    funcs: dict[str, list[tuple[str, str]]] = {}
    cur: list[tuple[str, str]] | None = None
    done = False
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if m:
            cur, done = [], False
            funcs[m.group(1)] = cur
            continue
        m = re.match(r"^\s+[0-9a-f]+:\s+(\S+)\s*(.*?)\s*(//.*|#.*)?$", line)
        if m and cur is not None and not done:
            cur.append((m.group(1), m.group(2)))
            done = m.group(1) in ("ret", "retq")
    return funcs


def _module_file(name: str) -> str:
    import importlib

    mod: Any = importlib.import_module(f"vllsi.linux.{name}")
    return str(mod.__file__)


def _is_memory(op: str) -> bool:
    return "(" in op if ARCH == "x86_64" else "[" in op


@pytest.mark.covers("mmio.volatile_load", "mmio.volatile_store", "mmio.MemoryRegion")
@pytest.mark.parametrize("module", ["_fast", "_trampoline"])
def test_each_accessor_is_one_access_of_its_width(module: str) -> None:
    funcs = _functions(_module_file(module))
    for name, (mnem, operands) in EXPECT.get(ARCH, {}).items():
        body = funcs.get(f"vllsi_mmio_{name}")
        assert body, f"vllsi_mmio_{name} not found in {module}"
        assert body[-1][0] in ("ret", "retq"), body
        accesses = [(i, o) for i, o in body if _is_memory(o)]
        assert len(accesses) == 1, (name, body)
        insn, ops = accesses[0]
        assert re.fullmatch(mnem, insn) and re.match(operands, ops), (name, body)
        others = [i for i, o in body if not _is_memory(o) and i not in ("ret", "retq")]
        # at most an argument zero-extension (aarch64 and/uxtb) before the store
        assert all(re.fullmatch(r"and|uxt[bh]|nop", i) for i in others), (name, body)


@pytest.mark.covers("mmio.MemoryRegion", "mmio.volatile_load", "mmio.volatile_store")
def test_window_methods_call_the_accessors() -> None:
    calls = r"(call|callq|jmp|jmpq|bl|b)"
    # whole functions (bodies continue past the first ret)
    out = subprocess.run([*_objdump(), _module_file("_fast")], capture_output=True, text=True,
                         check=True).stdout
    for w in (8, 16, 32, 64):
        for meth, acc in ((f"win_read{w}", f"load{w}"), (f"win_write{w}", f"store{w}")):
            m = re.search(rf"<{meth}>:\n(.*?)\n\n", out, re.S)
            assert m, meth
            assert re.search(rf"\s{calls}\s+[0-9a-f]+ <vllsi_mmio_{acc}>", m.group(1)), meth


@pytest.mark.covers("mmio.dmb", "mmio.dsb", "mmio.isb", "mmio.barrier")
@pytest.mark.parametrize("module", ["_fast", "_trampoline"])
def test_barriers_are_the_documented_instructions(module: str) -> None:
    if ARCH not in FENCES:
        skip("platform", f"no barrier table for {ARCH}")
    funcs = _functions(_module_file(module))
    for name, want in FENCES[ARCH].items():
        body = funcs[f"vllsi_mmio_{name}"]
        got = [f"{i} {o}".strip() for i, o in body if i not in ("ret", "retq", "nop")]
        assert got == want, (name, body)
    out = subprocess.run([*_objdump(), _module_file(module)], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"<vllsi_mmio_barrier>:\n(.*?)\n\n", out, re.S)
    assert m
    seen = {f"{a} {b}".strip() for a, b in re.findall(
        r"^\s+[0-9a-f]+:\s+(lfence|sfence|mfence|dmb)[ \t]*([a-z]*)[ \t]*$", m.group(1), re.M)}
    assert seen == BARRIER[ARCH]
