"""@bitfield field descriptors: where the Linux shim is built, fields are C
descriptors (``_native/csrc/fast/bitfield.c``); the generated Python properties
are the reference and the fallback. Both must agree on every get and set (same
value and bytes, or the same exception class and message) over random layouts,
widths, endians, contents and values."""

from __future__ import annotations

import enum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import vllsi.bitfield as bf
from conformance._support import skip
from vllsi import _platform
from vllsi.bitfield import Bits, Reserved, UInt8, UInt16, UInt32, UInt64

DECO = ["bitfield.bitfield", "bitfield.Bits", "bitfield.Reserved"]


class Mode(enum.IntEnum):
    Off = 0
    Slow = 1
    Fast = 3
    Max = 6


class Perm(enum.IntFlag):
    R = 1
    W = 2
    X = 4


class Nibble:
    """A custom BitfieldElement of 4 bits."""

    BIT_WIDTH = 4

    def __init__(self, v: int) -> None:
        if not 0 <= v < 16:
            raise ValueError(f"nibble {v} out of range")
        self.v = v

    @classmethod
    def from_bits(cls, bits: int) -> Nibble:
        return cls(bits)

    def to_bits(self) -> int:
        return self.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Nibble) and other.v == self.v

    def __repr__(self) -> str:
        return f"Nibble({self.v})"


_UINTS = {8: UInt8, 16: UInt16, 32: UInt32, 64: UInt64}


@st.composite
def field_ann(draw: Any) -> Any:
    kind = draw(st.sampled_from(["bool", "int", "uint", "enum", "flag", "custom", "reserved"]))
    if kind == "bool":
        return Bits[1, bool]
    if kind == "int":  # unbounded type: wide fields exceed a 64-bit window (pure path)
        return Bits[draw(st.integers(1, 80)), int]
    if kind == "uint":
        top = draw(st.sampled_from(sorted(_UINTS)))
        return Bits[draw(st.integers(1, top)), _UINTS[top]]
    if kind == "enum":
        return Bits[draw(st.integers(3, 12)), Mode]
    if kind == "flag":
        return Bits[draw(st.integers(3, 12)), Perm]
    if kind == "custom":
        return Bits[draw(st.integers(1, 4)), Nibble]
    return Reserved[draw(st.integers(1, 20))]


@st.composite
def layouts(draw: Any) -> tuple[dict[str, Any], str]:
    anns = {f"f{i}": a for i, a in enumerate(draw(st.lists(field_ann(), min_size=1,
                                                             max_size=8)))}
    total = sum(a.__metadata__[0].width for a in anns.values())
    if total % 8:
        anns["pad"] = Reserved[8 - total % 8]
    return anns, draw(st.sampled_from(["little", "big", "native"]))


values = st.one_of(
    st.integers(-3, 20), st.integers(-(1 << 70), 1 << 70), st.integers(0, (1 << 64) - 1),
    st.booleans(), st.sampled_from(list(Mode)), st.integers(0, 1 << 14).map(Perm),
    st.integers(0, 20).map(lambda v: Nibble(v & 15)), st.floats(allow_nan=False),
    st.none(), st.text(max_size=2))


def _pair(anns: dict[str, Any], endian: str) -> tuple[Any, Any]:
    user = type("Rand", (), {"__annotations__": anns, "__module__": __name__})
    order = bf._ENDIANS[endian]
    return (bf._build(user, order, {}, {}), bf._build(user, order, {}, {}, descriptors=False))


def _get(obj: Any, name: str) -> object:
    try:
        v = getattr(obj, name)
    except Exception as exc:  # compared by class and message
        return (type(exc), str(exc))
    return (type(v), v)


def _set(obj: Any, name: str, value: object) -> object:
    try:
        setattr(obj, name, value)
    except Exception as exc:
        return (type(exc), str(exc), obj.to_bytes())
    return obj.to_bytes()


@pytest.mark.covers(*DECO, "bitfield.UInt8", "bitfield.UInt16", "bitfield.UInt32",
                    "bitfield.UInt64")
@given(layouts(), st.data())
def test_c_descriptors_and_python_properties_agree(layout: Any, data: Any) -> None:
    anns, endian = layout
    fast, pure = _pair(anns, endian)
    raw = data.draw(st.binary(min_size=fast.SIZE_BYTES, max_size=fast.SIZE_BYTES))
    a, b = fast.from_bytes(raw), pure.from_bytes(raw)
    for name in fast.FIELD_NAMES:
        assert _get(a, name) == _get(b, name)
        v = data.draw(values)
        assert _set(a, name, v) == _set(b, name, v)
        assert _get(a, name) == _get(b, name)
        assert a.to_bytes() == b.to_bytes()


@pytest.mark.covers(*DECO)
def test_descriptors_used_where_the_shim_is_built() -> None:
    anns = {"on": Bits[1, bool], "mode": Bits[3, Mode], "n": Bits[4, UInt8],
            "wide": Bits[72, int]}
    fast, pure = _pair(anns, "little")
    assert all(type(pure.__dict__[n]) is property for n in pure.FIELD_NAMES)
    if _platform.TIER == "asm":
        assert bf.ACCELERATED
    if not bf.ACCELERATED:
        assert all(type(fast.__dict__[n]) is property for n in fast.FIELD_NAMES)
        return
    for n in ("on", "mode", "n"):
        d = fast.__dict__[n]
        assert type(d).__name__ == "BitfieldField" and d.__name__ == n
        assert fast.__dict__[n].__doc__ == pure.__dict__[n].__doc__
    assert type(fast.__dict__["wide"]) is property  # spans 9 bytes: the pure path


@pytest.mark.covers(*DECO)
def test_descriptor_edges_do_not_touch_foreign_memory() -> None:
    if not bf.ACCELERATED:
        skip("platform", "C descriptors need the Linux shim")
    fast, _ = _pair({"a": Bits[4, UInt8], "b": Bits[20, int], "c": Bits[8, Mode]}, "big")
    d = fast.__dict__["c"]
    assert fast.c is d  # class access gives the descriptor
    with pytest.raises(TypeError, match="needs a bitfield value of 4 bytes"):
        d.__get__(bytearray(3), None)  # too small: refused, not read past the end
    with pytest.raises(TypeError):
        d.__get__(object(), None)  # no buffer at all
    with pytest.raises(BufferError):
        d.__set__(b"\0\0\0\0", Mode.Fast)  # read-only buffer
    buf = bytearray(4)
    d.__set__(buf, Mode.Fast)  # any writable buffer of the size is fine (memory-safe)
    assert buf == b"\0\0\0\x03"
    v = fast(a=9, b=0xABCDE, c=Mode.Max)
    assert v.to_int() == (9 << 28) | (0xABCDE << 8) | 6
    with pytest.raises(AttributeError):
        del v.c
    with pytest.raises(ValueError, match="does not fit 20 bits"):
        v.b = 1 << 20
    with pytest.raises(ValueError):
        v.b = -1
    with pytest.raises(TypeError):
        v.b = 1.0
    with pytest.raises(TypeError):
        v.c = 3  # an int is not a Mode
    assert v.to_int() == (9 << 28) | (0xABCDE << 8) | 6  # failed sets wrote nothing
    v.as_bytes_mut()[3] = 2  # no member has value 2
    with pytest.raises(ValueError, match="hold no member"):
        v.c  # noqa: B018
    from vllsi.linux import _fast

    with pytest.raises(ValueError):
        _fast.bitfield_descriptor("x", 4, 0, 9, False, 0, 8, 0, None, None, None, int, "")
    with pytest.raises(ValueError):
        _fast.bitfield_descriptor("x", 4, 2, 4, False, 0, 8, 0, None, None, None, int, "")
    with pytest.raises(TypeError):
        _fast.bitfield_descriptor("x", 4, 0, 1, False, 0, 8, 2, None, None, None, int, "")
