"""Bitfields: vllsi.bitfield vs a pure Python expression, cbitstruct, bitstruct,
construct and ctypes bitfields (anchors P23-P25). The field is 5 bits at bit 3 of
a 32-bit word. Peers come from the benchmark venv (importorskip).

Every side runs as the same statement in timeit's compiled loop (N operations
per timed round), so the harness adds the same few ns to each."""

from __future__ import annotations

import ctypes
import enum
import timeit
from typing import Any

import pytest

from vllsi.bitfield import Bits, Reserved, bitfield, extract_bits, insert_bits

WORD = 0b1010_1000 | (0xABCDE << 8)
DATA_BE = WORD.to_bytes(4, "big")  # bitstruct's MSB-first bit numbering
N = 1000  # operations per timed round


class CtypesReg(ctypes.LittleEndianStructure):
    _fields_ = [("lo", ctypes.c_uint32, 3), ("f", ctypes.c_uint32, 5),
                ("hi", ctypes.c_uint32, 24)]


@bitfield(endian="little")
class Reg:
    lo: Bits[3, int]
    f: Bits[5, int]
    hi: Reserved[24]


class Mode(enum.IntEnum):
    IDLE = 0
    RUN = 1
    HALT = 2
    FAULT = 21


@bitfield(endian="little")
class ModeReg:
    lo: Bits[3, int]
    mode: Bits[5, Mode]
    hi: Reserved[24]


@bitfield(endian="little")
class Flags:
    lo: Bits[3, int]
    on: Bits[1, bool]
    rest: Reserved[28]


def _run(benchmark: Any, group: str, role: str, stmt: str, ns: dict[str, Any],
         target: float | None = None) -> None:
    benchmark.group = group
    info: dict[str, Any] = {"role": role, "ops_per_round": N}
    if target is not None:
        info["target"] = target
    benchmark.extra_info.update(info)
    benchmark(timeit.Timer(stmt, globals=ns).timeit, N)


G_EXTRACT = "bitfield extract 5 bits at bit 3 of a 32-bit word"


def test_extract_vllsi(benchmark: Any) -> None:
    ns = {"f": extract_bits, "w": WORD}
    assert extract_bits(WORD, 3, 5) == 0b10101
    _run(benchmark, G_EXTRACT, "vllsi", "f(w, 3, 5)", ns)


def test_extract_pure_python(benchmark: Any) -> None:
    # the unchecked floor (no contract checks, no call): reported, no target
    _run(benchmark, G_EXTRACT, "baseline", "(w >> 3) & 0x1F", {"w": WORD})


def test_extract_cbitstruct(benchmark: Any) -> None:
    cbitstruct = pytest.importorskip("cbitstruct")
    cf = cbitstruct.CompiledFormat("p24u5p3")
    assert cf.unpack(DATA_BE) == (0b10101,)
    _run(benchmark, G_EXTRACT, "baseline", "u(d)", {"u": cf.unpack, "d": DATA_BE}, 1.0)


def test_extract_bitstruct(benchmark: Any) -> None:
    bitstruct = pytest.importorskip("bitstruct")
    cf = bitstruct.compile("p24u5p3")
    assert cf.unpack(DATA_BE) == (0b10101,)
    _run(benchmark, G_EXTRACT, "baseline", "u(d)", {"u": cf.unpack, "d": DATA_BE}, 1 / 15)


def test_extract_construct(benchmark: Any) -> None:
    construct = pytest.importorskip("construct")
    fmt = construct.BitStruct("pad" / construct.BitsInteger(24), "f" / construct.BitsInteger(5),
                              "lo" / construct.BitsInteger(3))
    assert fmt.parse(DATA_BE).f == 0b10101
    _run(benchmark, G_EXTRACT, "baseline", "p(d)", {"p": fmt.parse, "d": DATA_BE}, 1 / 150)


def test_extract_ctypes(benchmark: Any) -> None:
    c = CtypesReg.from_buffer_copy(WORD.to_bytes(4, "little"))
    assert c.f == 0b10101
    _run(benchmark, G_EXTRACT, "baseline", "c.f", {"c": c})


G_GET = "bitfield @bitfield field get (int, 5 bits)"


def test_field_get_vllsi(benchmark: Any) -> None:
    r = Reg.from_int(WORD & 0xFF)
    assert r.f == 0b10101
    _run(benchmark, G_GET, "vllsi", "r.f", {"r": r})


def test_field_get_ctypes(benchmark: Any) -> None:
    c = CtypesReg.from_buffer_copy(WORD.to_bytes(4, "little"))
    _run(benchmark, G_GET, "baseline", "c.f", {"c": c}, 2.0)


G_BOOL = "bitfield @bitfield field get (bool)"


def test_bool_get_vllsi(benchmark: Any) -> None:
    r = Flags(on=True)
    assert r.on is True
    _run(benchmark, G_BOOL, "vllsi", "r.on", {"r": r})


def test_bool_get_ctypes(benchmark: Any) -> None:
    _run(benchmark, G_BOOL, "baseline", "c.lo", {"c": CtypesReg(lo=1)}, 2.0)


G_SET = "bitfield @bitfield field set (checked)"


def test_field_set_vllsi(benchmark: Any) -> None:
    r = Reg.zero()
    _run(benchmark, G_SET, "vllsi", "r.f = 21", {"r": r})
    assert r.f == 21


def test_field_set_ctypes(benchmark: Any) -> None:
    c = CtypesReg()  # ctypes does not check the value (it truncates)
    _run(benchmark, G_SET, "baseline", "c.f = 21", {"c": c}, 2.0)
    assert c.f == 21


G_ENUM = "bitfield @bitfield field get (IntEnum, 5 bits)"


def test_enum_get_vllsi(benchmark: Any) -> None:
    r = ModeReg(mode=Mode.FAULT)
    assert r.mode is Mode.FAULT
    _run(benchmark, G_ENUM, "vllsi", "r.mode", {"r": r})


def test_enum_get_ctypes(benchmark: Any) -> None:
    c = CtypesReg(f=21)
    _run(benchmark, G_ENUM, "baseline", "c.f", {"c": c}, 2.0)


G_ENUM_SET = "bitfield @bitfield field set (IntEnum, checked)"


def test_enum_set_vllsi(benchmark: Any) -> None:
    r = ModeReg.zero()
    _run(benchmark, G_ENUM_SET, "vllsi", "r.mode = m", {"r": r, "m": Mode.FAULT})
    assert r.mode is Mode.FAULT


def test_enum_set_ctypes(benchmark: Any) -> None:
    c = CtypesReg()
    _run(benchmark, G_ENUM_SET, "baseline", "c.f = 21", {"c": c}, 2.0)
    assert c.f == 21


G_INSERT = "bitfield insert 5 bits into a bytearray"


def test_insert_vllsi(benchmark: Any) -> None:
    ba = bytearray(b"\xff" * 4)
    view = Reg.from_buffer(ba)  # a @bitfield view over the caller's bytearray
    _run(benchmark, G_INSERT, "vllsi", "v.f = 3", {"v": view})
    assert ba == bytearray(((0xFF & ~0xF8) | (3 << 3), 0xFF, 0xFF, 0xFF))


def test_insert_cbitstruct(benchmark: Any) -> None:
    cbitstruct = pytest.importorskip("cbitstruct")
    ba = bytearray(b"\xff" * 4)
    cf = cbitstruct.CompiledFormat("p24u5p3")
    _run(benchmark, G_INSERT, "baseline", "p(ba, 0, 3, fill_padding=False)",
         {"p": cf.pack_into, "ba": ba}, 1.0)
    assert ba[3] == (0xFF & ~0xF8) | (3 << 3)


G_INSERT_INT = "bitfield insert_bits into an int"


def test_insert_int_vllsi(benchmark: Any) -> None:
    assert insert_bits(WORD, 3, 3, 5) & 0xF8 == 3 << 3
    _run(benchmark, G_INSERT_INT, "vllsi", "f(w, 3, 3, 5)", {"f": insert_bits, "w": WORD})


def test_insert_int_pure_python(benchmark: Any) -> None:
    _run(benchmark, G_INSERT_INT, "baseline", "(w & ~0xF8) | ((3 & 0x1F) << 3)", {"w": WORD})
