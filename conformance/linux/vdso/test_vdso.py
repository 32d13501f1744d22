"""vllsi.linux.vdso: the real vDSO (oracle: nm on its dumped image) and synthetic ELFs."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conformance._support import linux_only, skip
from vllsi._platform import ARCH
from vllsi.linux import auxv, vdso

pytestmark = linux_only

CGT = {"x86_64": ("__vdso_clock_gettime", "LINUX_2.6"),
       "aarch64": ("__kernel_clock_gettime", "LINUX_2.6.39")}[ARCH]


def _need_vdso() -> int:
    base = auxv.vdso_base()
    if base == 0:
        skip("environment", "no vDSO in this process (AT_SYSINFO_EHDR is 0)")
    return base


def _vdso_range() -> tuple[int, int]:
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith("[vdso]"):
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                return lo, hi
    raise AssertionError("no [vdso] line")


def _nm(path: Path) -> dict[tuple[str, str | None], int]:
    nm = shutil.which("nm")
    if nm is None:
        skip("environment", "no nm (binutils) for the oracle")
    assert nm is not None
    out = subprocess.run([nm, "-D", "--defined-only", "--with-symbol-versions", str(path)],
                         capture_output=True, text=True, check=True).stdout
    syms: dict[tuple[str, str | None], int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 3 or parts[1] not in "TtWwDdRrBbVv":
            continue
        name = parts[2]
        version = None
        if "@" in name:
            name, _, version = name.partition("@")
            version = version.lstrip("@")
        syms[(name, version)] = int(parts[0], 16)
    return syms


@pytest.mark.covers("linux.vdso.symbols", "linux.vdso.lookup", "linux.vdso.resolve")
def test_real_vdso_clock_gettime() -> None:
    base = _need_vdso()
    lo, hi = _vdso_range()
    name, version = CGT
    a = vdso.lookup(name, version)
    assert a is not None and lo <= a < hi
    assert vdso.lookup(name) == a
    assert vdso.resolve("clock_gettime") == a
    assert vdso.symbols()[name] == a
    assert vdso.lookup(name, "LINUX_0.0") is None
    assert vdso.lookup("__vdso_no_such_thing") is None
    with pytest.raises(ValueError):
        vdso.resolve("fork")
    with pytest.raises(TypeError):
        vdso.lookup(b"x")  # type: ignore[arg-type]
    assert base == lo


@pytest.mark.covers("linux.vdso.symbols", "linux.vdso.parse", "linux.vdso.ElfImage", "linux.vdso.Symbol")
def test_real_vdso_symbols_match_nm(tmp_path: Path) -> None:
    _need_vdso()
    lo, hi = _vdso_range()
    with open("/proc/self/mem", "rb") as f:
        f.seek(lo)
        image = f.read(hi - lo)
    path = tmp_path / "vdso.so"
    path.write_bytes(image)
    oracle = _nm(path)
    img = vdso.parse(image)
    table = img.symbol_table()
    assert all(isinstance(s, vdso.Symbol) for s in table)
    got = {(s.name, s.version): s.address for s in table}
    assert got == oracle
    live = vdso.symbols()
    for s in table:
        if not s.hidden:
            assert live[s.name] == lo + s.address


LIB = r"""
int vdso_thing(void) { return 1; }
int __vdso_clock_gettime(int clk, void *ts) { return clk; }
int __vdso_getcpu(void) { return 2; }
int old_impl(void) { return 3; }
int new_impl(void) { return 4; }
__asm__(".symver old_impl, dual@LINUX_2.4");
__asm__(".symver new_impl, dual@@LINUX_2.6");
"""
VERSIONS = """
LINUX_2.4 { global: vdso_thing; dual; local: *; };
LINUX_2.6 { global: __vdso_clock_gettime; __vdso_getcpu; dual; } LINUX_2.4;
"""


def _build(tmp_path: Path, style: str) -> Path:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        skip("environment", "no C compiler to build a synthetic ELF")
    assert cc is not None
    (tmp_path / "v.c").write_text(LIB)
    (tmp_path / "v.map").write_text(VERSIONS)
    out = tmp_path / f"lib_{style}.so"
    subprocess.run([cc, "-shared", "-fPIC", "-nostdlib", "-O1", f"-Wl,--hash-style={style}",
                    f"-Wl,--version-script={tmp_path / 'v.map'}", "-o", str(out),
                    str(tmp_path / "v.c")], check=True, capture_output=True)
    return out


@pytest.mark.covers("linux.vdso.parse", "linux.vdso.ElfImage", "linux.vdso.Symbol")
@pytest.mark.parametrize("style", ["gnu", "sysv"])
def test_synthetic_image_each_hash_style(tmp_path: Path, style: str) -> None:
    path = _build(tmp_path, style)
    img = vdso.parse(path.read_bytes())
    assert img.hash_style == style
    oracle = _nm(path)
    assert img.lookup("__vdso_clock_gettime") == oracle[("__vdso_clock_gettime", "LINUX_2.6")]
    assert img.lookup("__vdso_clock_gettime", "LINUX_2.6") == oracle[("__vdso_clock_gettime", "LINUX_2.6")]
    assert img.lookup("__vdso_clock_gettime", "LINUX_2.4") is None
    assert img.lookup("vdso_thing", "LINUX_2.4") == oracle[("vdso_thing", "LINUX_2.4")]
    # two versions of one name: the default (@@) unless the old one is asked for
    assert img.lookup("dual") == oracle[("dual", "LINUX_2.6")]
    assert img.lookup("dual", "LINUX_2.4") == oracle[("dual", "LINUX_2.4")]
    assert img.lookup("old_impl") is None  # local: not exported
    assert img.lookup("missing") is None
    syms = img.symbols()
    assert syms["dual"] == oracle[("dual", "LINUX_2.6")]
    assert {s.name for s in img.symbol_table()} == {"vdso_thing", "__vdso_clock_gettime", "__vdso_getcpu", "dual"}
    hidden = [s for s in img.symbol_table() if s.hidden]
    assert [(s.name, s.version) for s in hidden] == [("dual", "LINUX_2.4")]


@pytest.mark.covers("linux.vdso.parse")
def test_parse_rejects_garbage_without_crashing() -> None:
    with pytest.raises(TypeError):
        vdso.parse("x")  # type: ignore[arg-type]
    for bad in (b"", b"\x7fELF", b"\x7fELF\x01" + bytes(60), b"\x7fELF\x02\x01" + bytes(58),
                b"\x7fELF\x02\x01\x01" + bytes(57) + b"\xff" * 200):
        with pytest.raises(ValueError):
            vdso.parse(bad)


@pytest.mark.covers("linux.vdso.parse")
def test_parse_truncated_real_images_never_crash(tmp_path: Path) -> None:
    path = _build(tmp_path, "gnu")
    data = path.read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 97)):
        try:
            img = vdso.parse(data[:cut])
            img.symbols()
            img.lookup("dual")
        except ValueError:
            pass


@pytest.mark.covers("linux.vdso.resolve")
def test_vdso_call_agrees_with_time_module() -> None:
    _need_vdso()
    from vllsi.linux import _ffi

    addr = vdso.resolve("clock_gettime")
    assert addr is not None
    fn = _ffi.ffi.cast("int(*)(int, struct timespec *)", addr)
    ts = _ffi.ffi.new("struct timespec *")
    a = time.monotonic_ns()
    assert fn(time.CLOCK_MONOTONIC, ts) == 0
    b = time.monotonic_ns()
    assert a <= ts.tv_sec * 10**9 + ts.tv_nsec <= b


@pytest.mark.covers("linux.vdso.symbols", "linux.vdso.lookup", "linux.vdso.resolve")
def test_live_api_agrees_with_auxv_with_or_without_a_vdso() -> None:
    name, version = CGT
    if auxv.vdso_base() == 0:  # no vDSO: nothing to find, and nothing crashes
        assert vdso.symbols() == {}
        assert vdso.lookup(name) is None and vdso.lookup(name, version) is None
        assert vdso.resolve("clock_gettime") is None
        return
    syms = vdso.symbols()
    assert name in syms and vdso.resolve("clock_gettime") == syms[name]
    lo, hi = _vdso_range()
    assert all(lo <= a < hi for a in syms.values())
