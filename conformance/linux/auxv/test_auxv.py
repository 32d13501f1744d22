"""vllsi.linux.auxv against libc's getauxval, mmap.PAGESIZE and /proc/self/maps."""

from __future__ import annotations

import ctypes
import mmap
import os

import pytest

from conformance._support import linux_only
from vllsi.linux import auxv

pytestmark = linux_only

AT = [n for n in auxv.__all__ if n.startswith("AT_")]


def _libc_getauxval(kind: int) -> int:
    f = ctypes.CDLL(None).getauxval
    f.restype = ctypes.c_ulong
    f.argtypes = [ctypes.c_ulong]
    return int(f(kind))


@pytest.mark.covers(*(f"linux.auxv.{n}" for n in AT), "linux.auxv.getauxval", "linux.auxv.auxv")
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
    from conformance._support.cc import run_c

    src = "#include <stdio.h>\n#include <elf.h>\n#include <sys/auxv.h>\nint main(void){"
    src += "".join(f'printf("{n} %d\\n", (int){n});' for n in AT if n != "AT_MINSIGSTKSZ")
    src += "return 0;}"
    got = dict(line.split() for line in run_c(src).splitlines())
    for n, v in got.items():
        assert int(v) == getattr(auxv, n), n
    assert auxv.AT_MINSIGSTKSZ == 51


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
    if base == 0:
        assert starts == []
        pytest.skip("environment: no vDSO in this process (AT_SYSINFO_EHDR is 0)")
    assert starts == [base]
