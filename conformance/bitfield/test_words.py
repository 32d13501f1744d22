"""Word functions of vllsi.bitfield: the boundary table, the caller contracts, and
every algebraic law of SPEC §10 as a hypothesis property."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllsi import bitfield as bf

B = bf.USIZE_BITS
ALL = (1 << B) - 1
words = st.integers(min_value=0, max_value=ALL)
bitn = st.integers(min_value=0, max_value=B - 1)


@st.composite
def fields(draw: st.DrawFn) -> tuple[int, int]:
    width = draw(st.integers(min_value=0, max_value=B))
    offset = draw(st.integers(min_value=0, max_value=B - width))
    return offset, width


def ref_extract(v: int, o: int, w: int) -> int:
    """Bit-by-bit oracle (independent of the shift/mask formulation)."""
    return sum(((v >> (o + i)) & 1) << i for i in range(w))


@pytest.mark.covers("bitfield.USIZE_BITS")
def test_usize_bits_is_pointer_width() -> None:
    assert struct.calcsize("P") * 8 == B
    assert B in (32, 64)


@pytest.mark.covers("bitfield.field_mask", "bitfield.extract_bits", "bitfield.insert_bits")
def test_boundary_table_pinned() -> None:
    v, bits = 0x0123_4567_89AB_CDEF & ALL, 0xFEDC_BA98_7654_3210 & ALL
    for off in (0, 1, 17, B):
        assert bf.field_mask(off, 0) == 0
        assert bf.extract_bits(v, off, 0) == 0
        assert bf.insert_bits(v, bits, off, 0) == v
    assert bf.field_mask(0, B) == ALL
    assert bf.extract_bits(v, 0, B) == v
    assert bf.insert_bits(v, bits, 0, B) == bits
    assert bf.field_mask(3, 5) == 0b1111_1000
    assert bf.extract_bits(0b1010_1000, 3, 5) == 0b10101
    assert bf.insert_bits(0xFF, 0b10, 3, 2) == 0b1111_0111
    # excess high bits of `bits` are discarded
    assert bf.insert_bits(0, 0xFF, 4, 2) == 0b11_0000
    assert bf.field_mask(B - 1, 1) == 1 << (B - 1)
    assert bf.extract_bits(ALL, B - 1, 1) == 1


@pytest.mark.covers("bitfield.test_bit", "bitfield.set_bit", "bitfield.clear_bit",
                    "bitfield.toggle_bit", "bitfield.set_bits", "bitfield.clear_bits")
def test_single_bit_examples() -> None:
    assert bf.test_bit(0b100, 2) is True and bf.test_bit(0b100, 1) is False
    assert bf.set_bit(0, B - 1) == 1 << (B - 1)
    assert bf.clear_bit(ALL, 0) == ALL - 1
    assert bf.toggle_bit(0b101, 1) == 0b111
    assert bf.set_bits(0b0011, 0b0110) == 0b0111
    assert bf.clear_bits(0b0111, 0b0110) == 0b0001
    assert bf.clear_bits(ALL, ALL) == 0


BAD_VALUE = [-1, ALL + 1, 1 << 200]


@pytest.mark.covers("bitfield.test_bit", "bitfield.set_bit", "bitfield.clear_bit",
                    "bitfield.toggle_bit")
@pytest.mark.parametrize("fn", [bf.test_bit, bf.set_bit, bf.clear_bit, bf.toggle_bit])
def test_single_bit_contracts(fn: object) -> None:
    f = fn  # type: ignore[assignment]
    for n in (-1, B, B + 100):
        with pytest.raises(ValueError, match="bit index"):
            f(1, n)  # type: ignore[operator]
    for v in BAD_VALUE:
        with pytest.raises(ValueError, match="word"):
            f(v, 0)  # type: ignore[operator]
    for bad in (1.0, "1", None, b"\x01"):
        with pytest.raises(TypeError):
            f(bad, 0)  # type: ignore[operator]
        with pytest.raises(TypeError):
            f(1, bad)  # type: ignore[operator]


@pytest.mark.covers("bitfield.set_bits", "bitfield.clear_bits")
@pytest.mark.parametrize("fn", [bf.set_bits, bf.clear_bits])
def test_mask_contracts(fn: object) -> None:
    f = fn  # type: ignore[assignment]
    for v in BAD_VALUE:
        with pytest.raises(ValueError, match="value"):
            f(v, 0)  # type: ignore[operator]
        with pytest.raises(ValueError, match="mask"):
            f(0, v)  # type: ignore[operator]
    with pytest.raises(TypeError):
        f(1.5, 1)  # type: ignore[operator]
    with pytest.raises(TypeError):
        f(1, 1.5)  # type: ignore[operator]


@pytest.mark.covers("bitfield.field_mask", "bitfield.extract_bits", "bitfield.insert_bits")
def test_field_contracts() -> None:
    for off, w in ((0, B + 1), (1, B), (B, 1), (-1, 3), (3, -1), (B + 1, 0)):
        with pytest.raises(ValueError):
            bf.field_mask(off, w)
        with pytest.raises(ValueError):
            bf.extract_bits(5, off, w)
        with pytest.raises(ValueError):
            bf.insert_bits(5, 1, off, w)
    for v in BAD_VALUE:
        with pytest.raises(ValueError, match="value"):
            bf.extract_bits(v, 0, 1)
        with pytest.raises(ValueError, match="value"):
            bf.insert_bits(v, 0, 0, 1)
        with pytest.raises(ValueError, match="bits"):
            bf.insert_bits(0, v, 0, 1)
    # width 0 / full width still check types (no garbage passes through)
    for args in ((1.5, 0, 0), (1.5, 0, B), (1, 0.0, 0), (1, 0, 5.0), ("1", 0, 1)):
        with pytest.raises(TypeError):
            bf.extract_bits(*args)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bf.insert_bits(1, 2.0, 0, B)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bf.insert_bits(1.0, 2, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bf.field_mask(0, 2.0)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- laws

@pytest.mark.law("bitfield.idempotence")
@pytest.mark.covers("bitfield.set_bit", "bitfield.clear_bit", "bitfield.set_bits",
                    "bitfield.clear_bits")
@given(words, bitn, words)
def test_law_idempotence(v: int, n: int, m: int) -> None:
    assert bf.set_bit(bf.set_bit(v, n), n) == bf.set_bit(v, n)
    assert bf.clear_bit(bf.clear_bit(v, n), n) == bf.clear_bit(v, n)
    assert bf.set_bits(bf.set_bits(v, m), m) == bf.set_bits(v, m)
    assert bf.clear_bits(bf.clear_bits(v, m), m) == bf.clear_bits(v, m)
    assert bf.test_bit(bf.set_bit(v, n), n) and not bf.test_bit(bf.clear_bit(v, n), n)


@pytest.mark.law("bitfield.toggle_involution")
@pytest.mark.covers("bitfield.toggle_bit")
@given(words, bitn)
def test_law_toggle_involution(v: int, n: int) -> None:
    t = bf.toggle_bit(v, n)
    assert t != v and 0 <= t <= ALL
    assert bf.toggle_bit(t, n) == v
    assert bf.test_bit(t, n) != bf.test_bit(v, n)


@pytest.mark.law("bitfield.extract_insert_roundtrip")
@pytest.mark.covers("bitfield.extract_bits", "bitfield.insert_bits", "bitfield.field_mask")
@given(words, words, fields())
def test_law_extract_insert_roundtrip(v: int, bits: int, f: tuple[int, int]) -> None:
    o, w = f
    ins = bf.insert_bits(v, bits, o, w)
    assert 0 <= ins <= ALL
    assert bf.extract_bits(ins, o, w) == bits & bf.field_mask(0, w)
    # inserting what is there changes nothing
    assert bf.insert_bits(v, bf.extract_bits(v, o, w), o, w) == v
    assert bf.extract_bits(v, o, w) == ref_extract(v, o, w)
    assert bf.field_mask(o, w) == sum(1 << (o + i) for i in range(w))


@pytest.mark.law("bitfield.mask_disjoint_union")
@pytest.mark.covers("bitfield.field_mask", "bitfield.set_bits", "bitfield.clear_bits")
@given(st.integers(0, B), st.integers(0, B), st.integers(0, B))
def test_law_mask_disjoint_union(o: int, w1: int, w2: int) -> None:
    if o + w1 + w2 > B:
        w2 = B - o - w1 if o + w1 <= B else 0
        w1 = min(w1, B - o)
    a, b = bf.field_mask(o, w1), bf.field_mask(o + w1, w2)
    assert a & b == 0
    assert a | b == bf.field_mask(o, w1 + w2)
    assert bf.clear_bits(a | b, a) == b and bf.set_bits(a, b) == a | b


@pytest.mark.law("bitfield.adjacent_field_independence")
@pytest.mark.covers("bitfield.insert_bits", "bitfield.extract_bits")
@given(words, words, fields(), fields())
def test_law_adjacent_field_independence(v: int, bits: int, f: tuple[int, int],
                                         g: tuple[int, int]) -> None:
    (o1, w1), (o2, w2) = f, g
    if bf.field_mask(o1, w1) & bf.field_mask(o2, w2):
        return  # overlapping fields are not independent
    assert bf.extract_bits(bf.insert_bits(v, bits, o1, w1), o2, w2) == bf.extract_bits(v, o2, w2)
    # everything outside the field is untouched
    outside = ALL & ~bf.field_mask(o1, w1)
    assert bf.insert_bits(v, bits, o1, w1) & outside == v & outside


@pytest.mark.law("bitfield.test_bit_extract_bits")
@pytest.mark.covers("bitfield.test_bit", "bitfield.extract_bits")
@given(words, bitn)
def test_law_test_bit_extract(v: int, n: int) -> None:
    assert bf.test_bit(v, n) == (bf.extract_bits(v, n, 1) == 1)


@pytest.mark.law("bitfield.set_bit_set_bits")
@pytest.mark.covers("bitfield.set_bit", "bitfield.set_bits", "bitfield.clear_bit",
                    "bitfield.clear_bits", "bitfield.toggle_bit")
@given(words, bitn)
def test_law_set_bit_set_bits(v: int, n: int) -> None:
    assert bf.set_bit(v, n) == bf.set_bits(v, 1 << n) == bf.insert_bits(v, 1, n, 1)
    assert bf.clear_bit(v, n) == bf.clear_bits(v, 1 << n) == bf.insert_bits(v, 0, n, 1)
    assert bf.toggle_bit(v, n) == v ^ bf.field_mask(n, 1)


def _outcome(fn: object, *args: object) -> object:
    try:
        return fn(*args)  # type: ignore[operator]
    except (TypeError, ValueError) as exc:
        return type(exc)


any_int = st.one_of(st.integers(-(1 << 70), 1 << 70), st.integers(-2, B + 2), st.just(ALL),
                    st.booleans(), st.floats(allow_nan=False), st.none())


@pytest.mark.covers("bitfield.extract_bits", "bitfield.insert_bits")
@given(any_int, any_int, any_int, any_int)
def test_compiled_and_python_versions_agree(v: object, b: object, o: object, w: object) -> None:
    """On Linux the public extract/insert are C fast paths; the pure-Python versions
    (used everywhere else) must give the same value or the same exception class."""
    assert _outcome(bf.extract_bits, v, o, w) == _outcome(bf._py_extract_bits, v, o, w)
    assert _outcome(bf.insert_bits, v, b, o, w) == _outcome(bf._py_insert_bits, v, b, o, w)


@pytest.mark.covers("bitfield.extract_bits", "bitfield.insert_bits")
def test_accelerated_where_the_shim_is_built() -> None:
    from vllsi import _platform

    if _platform.TIER == "asm":  # the compiled shim is loaded: the fast paths are used
        assert bf.ACCELERATED
    if bf.ACCELERATED:
        assert type(bf.extract_bits).__name__ == "builtin_function_or_method"
        assert bf.extract_bits is not bf._py_extract_bits
    else:
        assert bf.extract_bits is bf._py_extract_bits and bf.insert_bits is bf._py_insert_bits
