"""Sequentially consistent 32-bit atomics on raw addresses without a compiler.

Windows exports no 32-bit compare-and-swap from kernel32 on x64 (the Interlocked
family are compiler intrinsics), and cffi ABI mode cannot emit ``lock``-prefixed
instructions. So these five functions are tiny machine-code thunks (x86-64,
Microsoft calling convention: address in RCX, operands in EDX/R8D, result in
EAX), copied into one page that is then made execute-only-read
(VirtualProtect PAGE_EXECUTE_READ; FlushInstructionCache) and called through
cffi function pointers. The ``lock`` prefix (implicit for ``xchg``) makes each a
full barrier; plain aligned loads are acquire on x86-64. Other architectures
(Windows on arm64) raise Unsupported until their thunks exist.

Callers must pass addresses of live, 4-byte-aligned, writable 32-bit words
(vllsi.thread checks them against the buffer that holds them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vllsi import _platform, errors
from vllsi.windows import consts as C
from vllsi.windows import kernel32
from vllsi.windows._ffi import ffi
from vllsi.windows._ffi import kernel32 as _k32

__all__ = ["add32", "cas32", "load32", "store32", "xchg32"]

# name -> (C type, x86-64 bytes)
_X64: dict[str, tuple[str, bytes]] = {
    # mov eax, edx ; lock cmpxchg [rcx], r8d ; ret
    "cas32": ("uint32_t(*)(uintptr_t, uint32_t, uint32_t)",
              bytes.fromhex("89d0 f0440fb101 c3")),
    # mov eax, edx ; xchg [rcx], eax ; ret
    "xchg32": ("uint32_t(*)(uintptr_t, uint32_t)", bytes.fromhex("89d0 8701 c3")),
    # mov eax, edx ; lock xadd [rcx], eax ; ret
    "add32": ("uint32_t(*)(uintptr_t, uint32_t)", bytes.fromhex("89d0 f00fc101 c3")),
    # mov eax, [rcx] ; ret
    "load32": ("uint32_t(*)(uintptr_t)", bytes.fromhex("8b01 c3")),
    # xchg [rcx], edx ; ret   (a seq_cst store)
    "store32": ("void(*)(uintptr_t, uint32_t)", bytes.fromhex("8711 c3")),
}


def _build() -> dict[str, Any]:
    if _platform.ARCH != "amd64":
        return {}
    code = bytearray()
    offsets = {}
    for name, (_ctype, body) in _X64.items():
        offsets[name] = len(code)
        code += body + b"\xcc" * (-(len(code) + len(body)) % 16)  # int3 padding
    page = kernel32.virtual_alloc(0, 4096, C.MEM_RESERVE | C.MEM_COMMIT, C.PAGE_READWRITE)
    ffi.memmove(ffi.cast("void *", page), bytes(code), len(code))
    kernel32.virtual_protect(page, 4096, C.PAGE_EXECUTE_READ)
    _k32.FlushInstructionCache(_k32.GetCurrentProcess(), ffi.cast("void *", page), 4096)
    return {name: ffi.cast(ctype, page + offsets[name]) for name, (ctype, _b) in _X64.items()}


_FN = _build()  # the page lives for the process's lifetime


def _missing(*_a: Any) -> Any:
    raise errors.unsupported(f"32-bit atomics on Windows {_platform.ARCH}")


def _u32(v: int) -> int:
    if not -0x80000000 <= v <= 0xFFFFFFFF:
        raise ValueError("value does not fit 32 bits")
    return v & 0xFFFFFFFF


def _bind() -> tuple[Callable[..., Any], ...]:
    if not _FN:
        return (_missing,) * 5
    f_cas, f_xchg, f_add, f_load, f_store = (_FN[n] for n in _X64)

    def cas32(addr: int, expected: int, desired: int) -> int:
        """lock cmpxchg: the old value (== expected when the swap happened)."""
        return int(f_cas(addr, _u32(expected), _u32(desired)))

    def xchg32(addr: int, value: int) -> int:
        """xchg: store ``value``, return the old value."""
        return int(f_xchg(addr, _u32(value)))

    def add32(addr: int, delta: int) -> int:
        """lock xadd: add ``delta`` (wrapping), return the old value."""
        return int(f_add(addr, _u32(delta)))

    def load32(addr: int) -> int:
        """An aligned 32-bit load (acquire on x86-64)."""
        return int(f_load(addr))

    def store32(addr: int, value: int) -> None:
        """xchg-based store (sequentially consistent)."""
        f_store(addr, _u32(value))

    return cas32, xchg32, add32, load32, store32


cas32, xchg32, add32, load32, store32 = _bind()
