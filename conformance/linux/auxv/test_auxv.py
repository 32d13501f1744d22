"""vllsi.linux.auxv against libc's getauxval, mmap.PAGESIZE and /proc/self/maps."""

from __future__ import annotations

import ctypes
import mmap
import os
import sys

import pytest

from conformance._support import UNDER_QEMU, linux_only
from vllsi._platform import ARCH
from vllsi.linux import auxv

pytestmark = linux_only

AT = [n for n in auxv.__all__ if n.startswith("AT_")]


def _libc_getauxval(kind: int) -> int:
    f = ctypes.CDLL(None).getauxval
    f.restype = ctypes.c_ulong
    f.argtypes = [ctypes.c_ulong]
    return int(f(kind))


@pytest.mark.covers("linux.auxv.getauxval", "linux.auxv.auxv")
def test_every_entry_matches_libc_getauxval() -> None:
    table = auxv.auxv()
    assert table, "empty auxv"
    with open("/proc/self/auxv", "rb") as f:
        raw = f.read()
    import struct

    pairs = dict(struct.iter_unpack("NN", raw[: len(raw) // 16 * 16]))
    pairs.pop(0, None)
    assert table == pairs
    for n in AT:
        kind = getattr(auxv, n)
        if kind == auxv.AT_NULL:
            continue
        if n in ("AT_HWCAP", "AT_HWCAP2"):
            continue  # glibc rewrites these on x86_64 (dl_hwcap): compared with the file below
        assert auxv.getauxval(kind) == _libc_getauxval(kind), n
        assert (kind in table) or auxv.getauxval(kind) == 0


@pytest.mark.covers(*(f"linux.auxv.{n}" for n in AT))
def test_constants_match_headers() -> None:
    from conformance._support.cc import run_c

    src = "#include <stdio.h>\n#include <elf.h>\n#include <sys/auxv.h>\nint main(void){"
    src += "".join(f'printf("{n} %d\\n", (int){n});' for n in AT if n != "AT_MINSIGSTKSZ")
    src += "return 0;}"
    got = dict(line.split() for line in run_c(src).splitlines())
    for n, v in got.items():
        assert int(v) == getattr(auxv, n), n
    assert auxv.AT_MINSIGSTKSZ == 51


def _exe_ranges() -> list[tuple[int, int, str]]:
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            out.append((lo, hi, parts[5] if len(parts) > 5 else ""))
    return out


def _owner(addr: int) -> str | None:
    for lo, hi, name in _exe_ranges():
        if lo <= addr < hi:
            return name
    return None


@pytest.mark.covers(*(f"linux.auxv.{n}" for n in AT))
def test_each_constant_means_what_the_kernel_says() -> None:
    # every AT_* value, checked by what its entry must contain (no C compiler needed)
    g = auxv.getauxval
    assert auxv.AT_NULL == 0 and 0 not in auxv.auxv()
    assert g(auxv.AT_PAGESZ) == mmap.PAGESIZE
    assert (g(auxv.AT_UID), g(auxv.AT_EUID), g(auxv.AT_GID), g(auxv.AT_EGID)) == (
        os.getuid(), os.geteuid(), os.getgid(), os.getegid())
    assert g(auxv.AT_CLKTCK) == os.sysconf("SC_CLK_TCK")
    assert g(auxv.AT_SECURE) == 0 and g(auxv.AT_FLAGS) == 0
    assert g(auxv.AT_PHENT) == 56 and g(auxv.AT_PHNUM) > 0  # Elf64_Phdr entries
    exe = os.path.realpath(sys.executable)
    if not UNDER_QEMU:
        assert _owner(g(auxv.AT_PHDR)) == exe and _owner(g(auxv.AT_ENTRY)) == exe
        assert "ld-linux" in (_owner(g(auxv.AT_BASE)) or "")
    assert ctypes.string_at(g(auxv.AT_PLATFORM)).decode() in (ARCH, "aarch64", "x86_64")
    assert os.path.basename(ctypes.string_at(g(auxv.AT_EXECFN)).decode()).startswith(("python", "qemu"))
    assert len(ctypes.string_at(g(auxv.AT_RANDOM), 16)) == 16
    assert g(auxv.AT_SYSINFO_EHDR) == auxv.vdso_base()
    if ARCH == "x86_64":
        # AT_HWCAP is CPUID.1:EDX on x86_64: bit 0 (FPU) and bit 25 (SSE) are always set
        assert g(auxv.AT_HWCAP) & 1 and g(auxv.AT_HWCAP) >> 25 & 1
    else:
        assert g(auxv.AT_HWCAP) & 0b11 == 0b11  # HWCAP_FP | HWCAP_ASIMD
    assert auxv.AT_HWCAP2 in auxv.auxv() or g(auxv.AT_HWCAP2) == 0
    if auxv.AT_MINSIGSTKSZ in auxv.auxv():
        assert 0 < g(auxv.AT_MINSIGSTKSZ) <= 65536


@pytest.mark.covers("linux.auxv.getauxval", "linux.auxv.AT_PAGESZ", "linux.auxv.AT_UID", "linux.auxv.AT_EGID")
def test_pagesz_and_ids() -> None:
    assert auxv.getauxval(auxv.AT_PAGESZ) == mmap.PAGESIZE
    assert auxv.getauxval(auxv.AT_UID) == os.getuid()
    assert auxv.getauxval(auxv.AT_EGID) == os.getegid()
    assert auxv.getauxval(9999) == 0
    with pytest.raises(TypeError):
        auxv.getauxval("AT_PAGESZ")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        auxv.getauxval(-1)


@pytest.mark.covers("linux.auxv.vdso_base", "linux.auxv.AT_SYSINFO_EHDR")
def test_sysinfo_ehdr_is_the_vdso_mapping() -> None:
    base = auxv.vdso_base()
    starts = []
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith("[vdso]"):
                starts.append(int(line.split("-")[0], 16))
    # no vDSO (AT_SYSINFO_EHDR 0, as under some emulators) <=> no [vdso] line
    assert starts == ([base] if base else [])
