"""@bitfield types: layouts vs hand-packed bytes in both endians, Reserved gaps,
IntEnum fields, rejections at class creation, bytes round trip, write-through views."""

from __future__ import annotations

import ctypes
import enum
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllsi.bitfield import (
    Bitfield,
    BitfieldElement,
    Bits,
    Reserved,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    bitfield,
    verify_byte_alignment,
    verify_enum_fits,
    verify_field_width,
)


@bitfield(endian="big")
class TcpFlags:
    """The TCP data-offset/flags word (RFC 793/3168), declared in wire order."""

    data_offset: Bits[4, UInt8]
    reserved: Reserved[3]
    ns: Bits[1, bool]
    cwr: Bits[1, bool]
    ece: Bits[1, bool]
    urg: Bits[1, bool]
    ack: Bits[1, bool]
    psh: Bits[1, bool]
    rst: Bits[1, bool]
    syn: Bits[1, bool]
    fin: Bits[1, bool]


class GpioMode(enum.IntEnum):
    Input = 0
    OutputPushPull = 1
    OutputOpenDrain = 2
    AlternateFunction = 3
    Analog = 4


class GpioSpeed(enum.IntEnum):
    Low = 0
    Medium = 1
    High = 2
    VeryHigh = 3


@bitfield(endian="little")
class GpioConfig:
    mode: Bits[4, GpioMode]
    speed: Bits[2, GpioSpeed]
    pull_up: Bits[1, bool]
    pull_down: Bits[1, bool]
    alternate_function: Bits[4, UInt8]
    reserved: Reserved[4]


BASE = "bitfield."
DECO = [BASE + n for n in ("bitfield", "Bits", "Reserved")]


@pytest.mark.covers(*DECO, "bitfield.UInt8")
def test_tcpflags_example() -> None:
    f = TcpFlags.zero()
    assert TcpFlags.SIZE_BITS == 16 and TcpFlags.SIZE_BYTES == 2
    f.fin = True
    assert f.to_bytes() == b"\x00\x01"  # fin is 0x01 on the wire
    f.syn = True
    f.data_offset = 5
    assert f.to_bytes() == struct.pack(">H", (5 << 12) | 0x02 | 0x01)
    f.cwr = True
    f.ns = True
    assert f.to_bytes() == struct.pack(">H", (5 << 12) | 0x100 | 0x80 | 0x03)
    assert f.fin is True and f.ack is False and f.data_offset == 5
    # parse a real SYN-ACK word: offset 8 (32-byte header), SYN|ACK
    g = TcpFlags.from_bytes(bytes([0x80, 0x12]))
    assert (g.data_offset, g.syn, g.ack, g.fin, g.rst) == (8, True, True, False, False)
    assert g == TcpFlags(data_offset=8, syn=True, ack=True)
    assert "syn=True" in repr(g)


@pytest.mark.covers(*DECO, "bitfield.UInt8")
def test_gpio_config_layout_little_endian() -> None:
    c = GpioConfig(mode=GpioMode.Analog, speed=GpioSpeed.High, pull_up=True,
                   alternate_function=0xA)
    assert GpioConfig.SIZE_BYTES == 2
    want = 4 | (2 << 4) | (1 << 6) | (0 << 7) | (0xA << 8)
    assert c.to_bytes() == struct.pack("<H", want)
    assert c.mode is GpioMode.Analog and c.speed is GpioSpeed.High
    assert c.to_int() == want and GpioConfig.from_int(want) == c


def _hand_pack(fields: list[tuple[int, int]], endian: str, total: int) -> bytes:
    """Pack (width, value) pairs by the SPEC rule, one bit at a time."""
    bits: list[int] = []  # declaration order, MSB first within each field
    for width, value in fields:
        bits += [(value >> (width - 1 - i)) & 1 for i in range(width)]
    n = 0
    if endian == "big":  # first declared field at the most significant end
        for b in bits:
            n = (n << 1) | b
    else:  # first declared field at the least significant end
        pos = 0
        for width, value in fields:
            n |= value << pos
            pos += width
    return n.to_bytes(total // 8, endian)  # type: ignore[arg-type]


WIDTHS = [
    [3, 5],                      # 1 byte
    [1, 4, 11],                  # 2 bytes
    [7, 9, 13, 3],               # 4 bytes
    [1, 20, 30, 13],             # 8 bytes
    [5, 13, 6],                  # 3 bytes (wide path)
    [64, 33, 7, 24],             # 16 bytes (wide path)
    [1, 1, 1, 1, 1, 1, 1, 1, 8],  # 2 bytes of flags
]


def _make(widths: list[int], endian: str) -> Any:
    ns: dict[str, Any] = {"__annotations__": {f"f{i}": Bits[w, int] for i, w in enumerate(widths)}}
    return bitfield(type("Gen", (), ns), endian=endian)


@pytest.mark.covers(*DECO)
@pytest.mark.parametrize("endian", ["little", "big"])
@pytest.mark.parametrize("widths", WIDTHS, ids=lambda w: "-".join(map(str, w)))
def test_layout_matches_hand_packed(widths: list[int], endian: str) -> None:
    cls = _make(widths, endian)
    total = sum(widths)
    assert total == cls.SIZE_BITS and total // 8 == cls.SIZE_BYTES and endian == cls.ENDIAN

    @given(st.tuples(*[st.integers(0, (1 << w) - 1) for w in widths]))
    def check(values: tuple[int, ...]) -> None:
        obj = cls.zero()
        for i, v in enumerate(values):
            setattr(obj, f"f{i}", v)
        want = _hand_pack(list(zip(widths, values, strict=True)), endian, total)
        assert obj.to_bytes() == want
        back = cls.from_bytes(want)
        assert tuple(getattr(back, f"f{i}") for i in range(len(widths))) == values

    check()


@pytest.mark.covers(*DECO)
def test_native_endian_is_host_order() -> None:
    import sys

    cls = _make([4, 12], "native")
    assert sys.byteorder == cls.ENDIAN
    obj = cls(f0=0xA, f1=0x123)
    want = 0xA | (0x123 << 4) if sys.byteorder == "little" else (0xA << 12) | 0x123
    assert obj.to_bytes() == struct.pack("=H", want)


@pytest.mark.covers(*DECO)
@pytest.mark.parametrize("endian", ["little", "big"])
def test_reserved_gaps_stay_zero(endian: str) -> None:
    @bitfield(endian=endian)
    class R:
        a: Bits[3, int]
        gap: Reserved[5]
        b: Bits[8, int]
        gap2: Reserved[8]

    r = R.zero()
    r.a, r.b = 7, 0xFF
    n = int.from_bytes(r.to_bytes(), endian)  # type: ignore[arg-type]
    if endian == "little":
        assert n == 7 | (0xFF << 8)
    else:
        assert n == (7 << 21) | (0xFF << 8)
    assert not hasattr(R, "gap") and not hasattr(r, "gap2")
    assert [f[0] for f in R.FIELDS] == ["a", "b"]
    with pytest.raises(TypeError):
        R(gap=1)
    # reserved bits that arrive in bytes are kept (round trip), and setters leave them alone
    raw = b"\xff\xff\xff"
    q = R.from_bytes(raw)
    q.a = 0
    q.b = 0
    assert int.from_bytes(q.to_bytes(), endian) == (  # type: ignore[arg-type]
        0xFFFFFF & ~(0b111 | 0xFF00) if endian == "little" else 0xFFFFFF & ~((0b111 << 21) | 0xFF00))


class Color(enum.IntEnum):
    Red = 1
    Green = 2
    Blue = 5


class Perm(enum.IntFlag):
    R = 4
    W = 2
    X = 1


@pytest.mark.covers(*DECO)
@pytest.mark.parametrize("endian", ["little", "big"])
def test_enum_and_flag_fields(endian: str) -> None:
    @bitfield(endian=endian)
    class E:
        color: Bits[3, Color]
        perm: Bits[3, Perm]
        on: Bits[1, bool]
        pad: Reserved[9]

    e = E(color=Color.Blue, perm=Perm.R | Perm.X, on=True)
    assert e.color is Color.Blue and e.perm == Perm.R | Perm.X and isinstance(e.perm, Perm)
    assert e.on is True
    with pytest.raises(TypeError):
        e.color = 5  # a plain int is not a Color
    with pytest.raises(TypeError):
        e.perm = Color.Red
    # bits that name no member raise on read
    bad = E.zero()
    bad.as_bytes_mut()[:] = E(color=Color.Blue).to_bytes()
    view = bad.as_bytes_mut()
    n = int.from_bytes(view, endian)  # type: ignore[arg-type]
    off = dict((f[0], f[1]) for f in E.FIELDS)["color"]
    view[:] = ((n & ~(7 << off)) | (3 << off)).to_bytes(2, endian)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no member"):
        _ = bad.color


@pytest.mark.covers(*DECO, "bitfield.UInt8", "bitfield.UInt16", "bitfield.UInt32",
                    "bitfield.UInt64")
def test_field_setters_check_values() -> None:
    @bitfield
    class S:
        a: Bits[5, UInt8]
        b: Bits[16, UInt16]
        c: Bits[32, UInt32]
        d: Bits[1, bool]
        e: Bits[10, int]

    @bitfield
    class S64:
        q: Bits[64, UInt64]

    s = S.zero()
    for name, top in (("a", 31), ("b", 0xFFFF), ("c", 0xFFFF_FFFF), ("e", 1023)):
        setattr(s, name, top)
        assert getattr(s, name) == top
        for bad in (top + 1, -1):
            with pytest.raises(ValueError, match="does not fit"):
                setattr(s, name, bad)
        with pytest.raises(TypeError):
            setattr(s, name, 1.0)
        assert getattr(s, name) == top  # a rejected write changed nothing
    s.d = 1
    assert s.d is True
    with pytest.raises(ValueError):
        s.d = 2
    with pytest.raises(TypeError):
        s.d = "yes"
    t = S64(q=(1 << 64) - 1)
    assert t.q == (1 << 64) - 1 and t.to_bytes() == b"\xff" * 8
    with pytest.raises(ValueError):
        t.q = 1 << 64
    assert UInt8(255) == 255 and UInt8.from_bits(3).to_bits() == 3
    with pytest.raises(ValueError):
        UInt8(256)
    with pytest.raises(ValueError):
        UInt16(-1)


class Nibble:
    """A user type following the BitfieldElement protocol."""

    BIT_WIDTH = 4

    def __init__(self, v: int) -> None:
        self.v = v

    @classmethod
    def from_bits(cls, bits: int) -> Nibble:
        return cls(bits)

    def to_bits(self) -> int:
        return self.v


@pytest.mark.covers(*DECO, "bitfield.BitfieldElement", "bitfield.Bitfield")
def test_protocols_and_custom_element() -> None:
    assert isinstance(Nibble(1), BitfieldElement)
    assert isinstance(UInt8(1), BitfieldElement)

    @bitfield
    class N:
        lo: Bits[4, Nibble]
        hi: Bits[4, Nibble]

    n = N(lo=Nibble(3), hi=Nibble(0xC))
    assert n.to_bytes() == b"\xc3" and n.hi.v == 0xC
    with pytest.raises(ValueError):
        n.lo = Nibble(16)
    assert isinstance(n, Bitfield) and isinstance(TcpFlags.zero(), Bitfield)
    with pytest.raises(ValueError):  # wider than the element's BIT_WIDTH
        @bitfield
        class Bad:
            x: Bits[5, Nibble]
            y: Bits[3, int]


@pytest.mark.covers(*DECO, "bitfield.verify_byte_alignment", "bitfield.verify_field_width",
                    "bitfield.verify_enum_fits", "bitfield.UInt8")
def test_rejections_at_class_creation() -> None:
    with pytest.raises(ValueError, match="overflows"):
        @bitfield
        class Wide:
            x: Bits[9, UInt8]
            y: Bits[7, int]
    with pytest.raises(ValueError, match="overflows"):
        @bitfield
        class Flag2:
            x: Bits[2, bool]
            y: Bits[6, int]
    with pytest.raises(ValueError, match="does not fit"):
        @bitfield
        class SmallEnum:
            c: Bits[2, Color]  # Blue = 5 needs 3 bits
            y: Bits[6, int]
    with pytest.raises(ValueError, match="whole number of bytes"):
        @bitfield
        class Ragged:
            x: Bits[3, int]
            y: Bits[4, int]
    with pytest.raises(ValueError):
        @bitfield(endian="middle")
        class Endian:
            x: Bits[8, int]
    with pytest.raises(TypeError):
        @bitfield
        class NotBits:
            x: int
    with pytest.raises(TypeError):
        @bitfield
        class BadType:
            x: Bits[8, str]
    with pytest.raises(TypeError):
        @bitfield
        class Defaulted:
            x: Bits[8, int] = 3

    class Neg(enum.IntEnum):
        A = -1
        B = 1

    with pytest.raises(ValueError, match="negative"):
        @bitfield
        class NegEnum:
            x: Bits[8, Neg]
    with pytest.raises(ValueError):
        Bits[0, int]
    with pytest.raises(TypeError):
        Bits[8]
    # the verifiers themselves
    verify_byte_alignment(8)
    verify_field_width(8, 8)
    verify_field_width(100, None)
    verify_enum_fits(7, 3)
    for call in (lambda: verify_byte_alignment(12), lambda: verify_byte_alignment(0),
                 lambda: verify_field_width(9, 8), lambda: verify_field_width(0, 8),
                 lambda: verify_enum_fits(8, 3), lambda: verify_enum_fits(-1, 3)):
        with pytest.raises(ValueError):
            call()
    with pytest.raises(TypeError):
        verify_byte_alignment(8.0)  # type: ignore[arg-type]


@pytest.mark.law("bitfield.bytes_roundtrip")
@pytest.mark.covers(*DECO)
@pytest.mark.parametrize("cls", [TcpFlags, GpioConfig, _make([5, 13, 6], "big"),
                                 _make([1, 20, 30, 13], "little")], ids=lambda c: c.__name__)
def test_law_bytes_roundtrip(cls: Any) -> None:
    @given(st.binary(min_size=cls.SIZE_BYTES, max_size=cls.SIZE_BYTES))
    def check(data: bytes) -> None:
        obj = cls.from_bytes(data)
        assert obj.to_bytes() == data
        assert bytes(obj.as_bytes()) == data
        assert cls.from_bytes(bytearray(data)) == obj
        assert cls.from_int(obj.to_int()) == obj
        copy = cls.from_bytes(obj.to_bytes())
        for name, _, _ in cls.FIELDS:
            try:
                v = getattr(obj, name)
            except ValueError:  # enum bits naming no member
                continue
            setattr(copy, name, v)  # writing back what was read changes nothing
        assert copy.to_bytes() == data

    check()
    with pytest.raises(ValueError):
        cls.from_bytes(b"\x00" * (cls.SIZE_BYTES + 1))
    with pytest.raises(TypeError):
        cls.from_bytes(12)


@pytest.mark.covers(*DECO)
@pytest.mark.parametrize("cls", [TcpFlags, _make([5, 13, 6], "little")], ids=["word", "wide"])
def test_as_bytes_mut_writes_through(cls: Any) -> None:
    obj = cls.zero()
    view = obj.as_bytes_mut()
    assert not view.readonly and view.nbytes == cls.SIZE_BYTES
    view[:] = b"\xff" * cls.SIZE_BYTES
    name = cls.FIELDS[-1][0]
    assert getattr(obj, name) in (True, (1 << cls.FIELDS[-1][2]) - 1)
    setattr(obj, name, 0 if cls is not TcpFlags else False)
    assert bytes(view) != b"\xff" * cls.SIZE_BYTES  # the setter is seen through the view
    ro = obj.as_bytes()
    assert ro.readonly
    with pytest.raises(TypeError):
        ro[0] = 1
    # ctypes views over a caller's buffer write into it
    buf = bytearray(cls.SIZE_BYTES)
    over = cls.from_buffer(buf)
    setattr(over, cls.FIELDS[0][0], 1 if cls is not TcpFlags else 5)
    assert buf != bytearray(cls.SIZE_BYTES)
    assert ctypes.sizeof(cls) == cls.SIZE_BYTES


class Describe:
    """A plain mixin."""

    def describe(self) -> str:
        return f"{type(self).__name__}:{self.to_bytes().hex()}"  # type: ignore[attr-defined]


@pytest.mark.covers(*DECO)
def test_user_methods_mixins_and_super_survive() -> None:
    @bitfield(endian="big")
    class Status(Describe):
        ready: Bits[1, bool]
        code: Bits[3, Color]
        count: Bits[4, int]

        def __repr__(self) -> str:
            return "<" + super().__repr__() + ">"

        @property
        def busy(self) -> bool:
            return not self.ready

    s = Status(ready=True, code=Color.Green, count=9)
    assert s.describe() == "Status:a9" and s.busy is False
    assert repr(s) == "<Status(ready=True, code=<Color.Green: 2>, count=9)>"
    bad = Status.from_bytes(b"\x70")  # code bits 0b111 name no Color
    assert "code=<invalid>" in repr(bad)
    assert isinstance(s, Describe) and isinstance(s, ctypes.Structure)
