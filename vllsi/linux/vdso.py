"""The vDSO: kernel code mapped into every process, found and parsed by vllsi.

The kernel maps a small ELF shared object (``[vdso]`` in /proc/self/maps) and
passes its address as auxv ``AT_SYSINFO_EHDR``. Its functions read the clocks
from a data page the kernel keeps updated, so ``clock_gettime`` costs ~20 ns
instead of a kernel crossing (~80 ns bare; about 300 ns through the syscall
trampoline on the CI machine, whose kernel has retpoline mitigations). vllsi
parses that ELF itself -- no ``dlopen``/``dlvsym``, no libc -- and hands the
function address to C (``vllsi.linux._fast``), so a call costs one C call.

How the lookup works, and where the kernel surprises:

- The image is not relocated. Dynamic-section pointers (``DT_SYMTAB``,
  ``DT_STRTAB``...) are link-time addresses; the load bias is
  ``AT_SYSINFO_EHDR - (PT_LOAD.p_vaddr - PT_LOAD.p_offset)``. Old kernels linked
  the vDSO at 0xffffffffff700000, new ones at 0: only the difference matters.
- Symbols are found through the hash table, as the dynamic linker does: GNU
  hash (``DT_GNU_HASH``: Bloom filter, buckets, chains whose low bit ends a
  chain) when present, else SysV hash (``DT_HASH``: ``nbucket``/``nchain``,
  ``nchain`` being the symbol count). Both are implemented; :func:`parse` of a
  synthetic image with either style is tested.
- Symbols are versioned, and the version is part of the contract. Every
  exported function carries a version definition (``DT_VERSYM`` indexes into
  ``DT_VERDEF``): ``LINUX_2.6`` on x86_64, ``LINUX_2.6.39`` on aarch64. The
  kernel may one day export a different function under the same name with a
  new version; a caller that ignores versions would then call the wrong ABI,
  so :func:`resolve` always asks for the version it was written for. Index 1
  (``VER_NDX_GLOBAL``) means unversioned; bit 0x8000 marks a hidden (non-default)
  version, which an unversioned lookup must skip.
- Names differ per architecture: x86_64 exports ``__vdso_clock_gettime``,
  aarch64 ``__kernel_clock_gettime``. :func:`resolve` knows both; :func:`lookup`
  is literal.
- The vDSO functions follow the raw syscall convention (they return ``-errno``,
  falling back to the real syscall for clocks they cannot serve).
- There may be no vDSO at all (``AT_SYSINFO_EHDR`` is 0: ``vdso=0`` on the
  kernel command line, some emulators such as older qemu-user): then
  :func:`symbols` is empty and vllsi.time_ops uses the raw syscall.
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from vllsi._platform import ARCH

__all__ = ["ElfImage", "Symbol", "lookup", "parse", "resolve", "symbols"]

PT_LOAD: Final = 1
PT_DYNAMIC: Final = 2
DT_NULL, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT = 0, 4, 5, 6, 10, 11
DT_GNU_HASH: Final = 0x6FFFFEF5
DT_VERSYM: Final = 0x6FFFFFF0
DT_VERDEF: Final = 0x6FFFFFFC
DT_VERDEFNUM: Final = 0x6FFFFFFD
SHN_UNDEF, SHN_ABS = 0, 0xFFF1
STT_OBJECT, STT_FUNC = 1, 2
STB_GLOBAL, STB_WEAK = 1, 2
VER_FLG_BASE: Final = 1


class Symbol(NamedTuple):
    """A defined dynamic symbol: ``address`` relative to the load base (or
    absolute for the live vDSO), ``version`` (None when unversioned), ``hidden``."""

    name: str
    address: int
    size: int
    version: str | None
    hidden: bool


def _sysv_hash(name: bytes) -> int:
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h


def _gnu_hash(name: bytes) -> int:
    h = 5381
    for c in name:
        h = (h * 33 + c) & 0xFFFFFFFF
    return h


class ElfImage:
    """A parsed ELF64 shared object image (file bytes, or the vDSO as mapped).

    ``bias`` is added to every symbol address (0 for :func:`parse`, so addresses
    are relative to where the image is loaded). ``hash_style`` is "gnu" or
    "sysv" (the table lookups use). Raises ValueError on anything that is not a
    well-formed ELF64 image with a dynamic symbol table; never reads outside
    the bytes given.
    """

    def __init__(self, image: bytes, bias: int = 0) -> None:
        self._b = memoryview(bytes(image))
        self.bias = bias
        b = self._b
        if len(b) < 64 or bytes(b[:4]) != b"\x7fELF":
            raise ValueError("not an ELF image")
        if b[4] != 2:
            raise ValueError("only ELF64 images are supported")
        if b[5] not in (1, 2):
            raise ValueError("bad ELF data encoding")
        self._e = "<" if b[5] == 1 else ">"
        (_, _, _, _, _, phoff, _, _, _, phentsize, phnum, _, _, _) = self._u(
            "16sHHIQQQIHHHHHH", 0)
        if phentsize < 56 or phnum == 0:
            raise ValueError("ELF image without program headers")
        loads: list[tuple[int, int, int]] = []
        dyn_off = None
        for i in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = self._u(
                "IIQQQQQQ", phoff + i * phentsize)
            if p_type == PT_LOAD:
                loads.append((p_vaddr, p_offset, p_filesz))
            elif p_type == PT_DYNAMIC:
                dyn_off = p_offset
        if not loads or dyn_off is None:
            raise ValueError("ELF image without PT_LOAD or PT_DYNAMIC")
        self._loads = loads
        self._base_vaddr = min(v - o for v, o, _ in loads)
        dyn: dict[int, int] = {}
        off = dyn_off
        while True:
            tag, val = self._u("qQ", off)
            if tag == DT_NULL:
                break
            dyn.setdefault(tag, val)
            off += 16
        if DT_SYMTAB not in dyn or DT_STRTAB not in dyn:
            raise ValueError("ELF image without a dynamic symbol table")
        self._symtab = self._off(dyn[DT_SYMTAB])
        self._strtab = self._off(dyn[DT_STRTAB])
        self._strsz = dyn.get(DT_STRSZ, len(b) - self._strtab)
        self._syment = dyn.get(DT_SYMENT, 24)
        self._versym = self._off(dyn[DT_VERSYM]) if DT_VERSYM in dyn else None
        self._verdefs = self._read_verdefs(dyn)
        if DT_GNU_HASH in dyn:
            self.hash_style = "gnu"
            self._gnu = self._off(dyn[DT_GNU_HASH])
            self.nsyms = self._gnu_count()
        elif DT_HASH in dyn:
            self.hash_style = "sysv"
            self._sysv = self._off(dyn[DT_HASH])
            self.nsyms = self._u("II", self._sysv)[1]
        else:
            raise ValueError("ELF image without DT_HASH or DT_GNU_HASH")

    # -- raw access, bounds-checked ----------------------------------------
    def _u(self, fmt: str, off: int) -> tuple[int, ...]:
        fmt = self._e + fmt
        if off < 0 or off + struct.calcsize(fmt) > len(self._b):
            raise ValueError(f"ELF image truncated (offset {off:#x})")
        return struct.unpack_from(fmt, self._b, off)

    def _off(self, vaddr: int) -> int:
        for v, o, n in self._loads:
            if v <= vaddr < v + max(n, 1):
                return vaddr - v + o
        raise ValueError(f"address {vaddr:#x} is in no PT_LOAD segment")

    def _str(self, idx: int) -> bytes:
        if idx >= self._strsz:
            raise ValueError("string index outside DT_STRTAB")
        start = self._strtab + idx
        end = bytes(self._b[start:self._strtab + self._strsz]).find(b"\0")
        if end < 0:
            raise ValueError("unterminated string in DT_STRTAB")
        return bytes(self._b[start:start + end])

    def _read_verdefs(self, dyn: dict[int, int]) -> dict[int, str]:
        out: dict[int, str] = {}
        if DT_VERDEF not in dyn:
            return out
        off = self._off(dyn[DT_VERDEF])
        for _ in range(dyn.get(DT_VERDEFNUM, 0x10000)):
            _ver, flags, ndx, cnt, _h, aux, nxt = self._u("HHHHIII", off)
            if cnt:
                name_idx = self._u("II", off + aux)[0]
                if not flags & VER_FLG_BASE:
                    out[ndx] = self._str(name_idx).decode("ascii", "replace")
            if nxt == 0:
                break
            off += nxt
        return out

    def _gnu_count(self) -> int:
        nbuckets, symoffset, bloom_size, _ = self._u("IIII", self._gnu)
        buckets = self._gnu + 16 + bloom_size * 8
        last = 0
        for i in range(nbuckets):
            last = max(last, self._u("I", buckets + 4 * i)[0])
        if last < symoffset:
            return symoffset
        chains = buckets + 4 * nbuckets
        while not self._u("I", chains + 4 * (last - symoffset))[0] & 1:
            last += 1
        return last + 1

    def _sym(self, i: int) -> tuple[bytes, int, int, int, int, int]:
        off = self._symtab + i * self._syment
        st_name, st_info, _other, shndx, value, size = self._u("IBBHQQ", off)
        return self._str(st_name), st_info, shndx, value, size, i

    def _version(self, i: int) -> tuple[str | None, bool]:
        if self._versym is None:
            return None, False
        v = self._u("H", self._versym + 2 * i)[0]
        return self._verdefs.get(v & 0x7FFF), bool(v & 0x8000)

    def _make(self, i: int) -> Symbol | None:
        name, info, shndx, value, size, _ = self._sym(i)
        if not name or shndx in (SHN_UNDEF, SHN_ABS):
            return None
        if info >> 4 not in (STB_GLOBAL, STB_WEAK) or info & 0xF not in (STT_FUNC, STT_OBJECT):
            return None
        version, hidden = self._version(i)
        return Symbol(name.decode("ascii", "replace"), value - self._base_vaddr + self.bias,
                      size, version, hidden)

    # -- public ------------------------------------------------------------
    def symbols(self) -> dict[str, int]:
        """``{name: address}`` of every defined function and object (default
        versions; hidden versions are left out)."""
        out: dict[str, int] = {}
        for s in self.symbol_table():
            if not s.hidden:
                out[s.name] = s.address
        return out

    def symbol_table(self) -> list[Symbol]:
        """Every defined function and object symbol, with its version."""
        out = []
        for i in range(1, self.nsyms):
            s = self._make(i)
            if s is not None:
                out.append(s)
        return out

    def lookup(self, name: str, version: str | None = None) -> int | None:
        """The address of ``name`` through the hash table, or None.

        With ``version``, only a symbol of exactly that version matches; without,
        the default (non-hidden) definition.
        """
        raw = name.encode("ascii")
        for i in self._candidates(raw):
            s = self._make(i)
            if s is None or s.name.encode("ascii") != raw:
                continue
            if version is None and not s.hidden:
                return s.address
            if version is not None and s.version == version:
                return s.address
        return None

    def _candidates(self, name: bytes) -> list[int]:
        if self.hash_style == "sysv":
            nbucket, nchain = self._u("II", self._sysv)
            if nbucket == 0:
                return []
            h = _sysv_hash(name)
            i = self._u("I", self._sysv + 8 + 4 * (h % nbucket))[0]
            out, seen = [], 0
            while i and i < nchain and seen <= nchain:
                out.append(i)
                i = self._u("I", self._sysv + 8 + 4 * nbucket + 4 * i)[0]
                seen += 1
            return out
        nbuckets, symoffset, bloom_size, shift = self._u("IIII", self._gnu)
        if nbuckets == 0 or bloom_size == 0:
            return []
        h = _gnu_hash(name)
        word = self._u("Q", self._gnu + 16 + 8 * ((h // 64) % bloom_size))[0]
        if not (word >> (h % 64)) & (word >> ((h >> shift) % 64)) & 1:
            return []  # the Bloom filter says: certainly absent
        buckets = self._gnu + 16 + bloom_size * 8
        i = self._u("I", buckets + 4 * (h % nbuckets))[0]
        if i < symoffset:
            return []
        chains = buckets + 4 * nbuckets
        out = []
        while i < self.nsyms:
            ch = self._u("I", chains + 4 * (i - symoffset))[0]
            if (ch | 1) == (h | 1):
                out.append(i)
            if ch & 1:
                break
            i += 1
        return out


def parse(image: bytes) -> ElfImage:
    """Parse any ELF64 shared-object image (e.g. a .so file's bytes).

    Returns: an :class:`ElfImage` whose addresses are relative to the image's
    load base. Raises: TypeError for a non-buffer, ValueError for a malformed
    image (never reads outside it). Availability: everywhere (pure Python).
    """
    if isinstance(image, str) or not isinstance(image, (bytes, bytearray, memoryview)):
        raise TypeError(f"parse needs bytes, not {type(image).__name__}")
    return ElfImage(bytes(image))


_live: list[ElfImage | None] = []


def _vdso() -> ElfImage | None:
    if _live:
        return _live[0]
    from vllsi.linux import auxv
    from vllsi.linux._ffi import ffi

    base = auxv.getauxval(auxv.AT_SYSINFO_EHDR)
    img: ElfImage | None = None
    if base:
        head = bytes(ffi.buffer(ffi.cast("char *", base), 64))
        e = "<" if head[5] == 1 else ">"
        phoff, phentsize, phnum = (struct.unpack_from(e + "Q", head, 32)[0],
                                   *struct.unpack_from(e + "HH", head, 54))
        phdrs = bytes(ffi.buffer(ffi.cast("char *", base + phoff), phentsize * phnum))
        size = 0
        lowest = None
        for i in range(phnum):
            p_type, _, p_offset, _, _, p_filesz, _, _ = struct.unpack_from(
                e + "IIQQQQQQ", phdrs, i * phentsize)
            if p_type == PT_LOAD:
                size = max(size, p_offset + p_filesz)
                lowest = p_offset if lowest is None else min(lowest, p_offset)
        if size and lowest == 0:  # the vDSO is one PT_LOAD starting at its header
            img = ElfImage(bytes(ffi.buffer(ffi.cast("char *", base), size)), bias=base)
    _live.append(img)
    return img


def symbols() -> dict[str, int]:
    """The live vDSO's exported symbols as ``{name: absolute address}``.

    Empty when the process has no vDSO (AT_SYSINFO_EHDR is 0).
    Raises: NotFound/PermissionDenied when /proc/self/auxv cannot be read.
    Availability: Linux.
    """
    img = _vdso()
    return img.symbols() if img is not None else {}


def lookup(name: str, version: str | None = None) -> int | None:
    """The absolute address of ``name`` (of exactly ``version`` if given) in the
    live vDSO, through its hash table; None if absent or there is no vDSO.

    Raises: TypeError for a non-str name. Availability: Linux.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be str, not {type(name).__name__}")
    img = _vdso()
    return img.lookup(name, version) if img is not None else None


# function -> (symbol name, version) per architecture (Documentation/ABI/stable/vdso,
# arch/*/kernel/vdso/vdso.lds.S)
_NAMES: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "x86_64": {f: (f"__vdso_{f}", "LINUX_2.6") for f in (
        "clock_gettime", "clock_getres", "gettimeofday", "time", "getcpu", "getrandom")},
    "aarch64": {f: (f"__kernel_{f}", "LINUX_2.6.39") for f in (
        "clock_gettime", "clock_getres", "gettimeofday", "getrandom")},
}


def resolve(function: str) -> int | None:
    """The live vDSO's implementation of ``function`` ("clock_gettime",
    "clock_getres", "gettimeofday", "time", "getcpu", "getrandom") under this
    architecture's name and the version vllsi calls it with; None if absent.

    Raises: ValueError for a function vllsi does not know. Availability: Linux.
    """
    table = _NAMES.get(ARCH, {})
    known = set().union(*(t.keys() for t in _NAMES.values()))
    if function not in known:
        raise ValueError(f"unknown vDSO function {function!r}")
    if function not in table:
        return None
    name, version = table[function]
    return lookup(name, version)
