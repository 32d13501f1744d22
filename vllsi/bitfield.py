"""Bit manipulation over machine words, and ``@bitfield`` register/header types.

Pure Python (no OS call): it works on every platform and backend.

Word functions
--------------
``test_bit``, ``set_bit``, ``clear_bit``, ``toggle_bit``, ``set_bits``,
``clear_bits``, ``field_mask``, ``extract_bits`` and ``insert_bits`` work on
unsigned words of ``USIZE_BITS`` bits (64 on 64-bit hosts). Python ints are
unbounded, so the caller contracts of the original (which were undefined
behaviour there) are checked here and violations raise ``ValueError`` (or
``TypeError`` for non-integers) instead of returning garbage:

- values and masks are in ``0 .. 2**USIZE_BITS - 1``;
- single-bit ops need ``0 <= n < USIZE_BITS``;
- fields need ``offset >= 0``, ``width >= 0`` and ``offset + width <=
  USIZE_BITS`` (so a full-width field has offset 0).

Boundary table (kept from the original):

=====================  ==============  =================  ==================
width                  ``field_mask``  ``extract_bits``   ``insert_bits``
=====================  ==============  =================  ==================
0                      0               0                  value unchanged
``USIZE_BITS``         all ones        the whole value    ``bits`` (overwrite)
otherwise              ``low << off``  ``(v >> off)&low``  ``(v & ~mask) | ((bits & low) << off)``
=====================  ==============  =================  ==================

``insert_bits`` keeps only the low ``width`` bits of ``bits``, so
``extract_bits(insert_bits(v, b, o, w), o, w) == b & field_mask(0, w)``.
The algebraic laws in ``__laws__`` are property-tested in
``conformance/bitfield/``.

Everything here is pure Python and works everywhere. Where the Linux shim is
built (x86_64/aarch64), ``extract_bits`` and ``insert_bits`` are its C fast
paths (``_native/csrc/fast/bitfield.c``: same contract and errors, ~30 ns
instead of ~100 ns for a checked Python call); ``ACCELERATED`` says which is
in use, and a hypothesis test checks the two agree on every input.

``@bitfield`` types
-------------------
::

    @bitfield(endian="big")
    class TcpHeaderWord:              # the 16-bit data-offset/flags word of TCP
        data_offset: Bits[4, UInt8]
        reserved: Reserved[3]
        ns: Bits[1, bool]
        cwr: Bits[1, bool]
        ...
        fin: Bits[1, bool]            # 0x0001 of the big-endian word, as on the wire

Bit order: the first declared field takes the least significant bits of the
little-endian integer, or the most significant bits of the big-endian one
(``endian="native"`` is the host's order). Field types are ``bool``, ``int``,
``UInt8/16/32/64``, an ``IntEnum``/``IntFlag`` with non-negative values, or
any class following the :class:`BitfieldElement` protocol. At class creation
``verify_field_width``, ``verify_enum_fits`` and ``verify_byte_alignment`` run
and reject bad layouts with ``ValueError`` (``TypeError`` for unsupported
field types).

The generated class is a ``ctypes`` structure holding exactly ``SIZE_BYTES``
bytes (so ``memoryview(obj)``, ``ctypes`` ``from_buffer`` and friends work).
Every setter checks the value (``ValueError`` when it does not fit, ``TypeError``
for a wrong type) before storing it; nothing is ever truncated.

Accessors come in two tiers that behave identically (same values, same
exception classes and messages; a hypothesis test in ``conformance/bitfield``
checks it over random layouts, widths, endians and values):

- where the Linux shim is built (``ACCELERATED``), each field whose bits lie
  within 8 consecutive bytes is a C data descriptor
  (``_native/csrc/fast/bitfield.c``, ``bitfield_descriptor``): it reads and
  writes the instance's bytes through the buffer protocol (bounds-checked
  against ``SIZE_BYTES``), builds ``bool``/``int`` results directly, maps enum
  bits through a dict, and stores the exact fast cases (an ``int``, ``True``/
  ``False``, a member of the field's enum) without a Python frame; anything
  else goes through the Python checker below and is range-checked again. A
  field get or checked set costs ~1.0-1.5x a raw ctypes bitfield attribute;
- everywhere else (and for wider ``int`` fields) the generated Python
  properties are used: for 1, 2, 4 and 8-byte types each field is a C
  bitfield of the storage word (integer fields read through ctypes' own
  descriptor) and setters are generated straight-line checking code; other
  sizes use generated shift/mask code over ``int.from_bytes``. Reserved bits are
never written by setters (they stay zero in ``zero()`` values, and keep what
``from_bytes`` or ``as_bytes_mut`` put there). Getting an enum field whose bits
hold no member raises ``ValueError``.
"""

from __future__ import annotations

import ctypes
import enum
import inspect
import operator
import struct
import sys
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Final, Literal, Protocol, runtime_checkable

from vllsi import _platform

__all__ = [
    "USIZE_BITS",
    "Bitfield",
    "BitfieldElement",
    "Bits",
    "Reserved",
    "UInt8",
    "UInt16",
    "UInt32",
    "UInt64",
    "bitfield",
    "clear_bit",
    "clear_bits",
    "extract_bits",
    "field_mask",
    "insert_bits",
    "set_bit",
    "set_bits",
    "test_bit",
    "toggle_bit",
    "verify_byte_alignment",
    "verify_enum_fits",
    "verify_field_width",
]

__laws__ = (
    "idempotence",
    "toggle_involution",
    "extract_insert_roundtrip",
    "mask_disjoint_union",
    "adjacent_field_independence",
    "test_bit_extract_bits",
    "set_bit_set_bits",
    "bytes_roundtrip",
)

USIZE_BITS: Final[int] = struct.calcsize("P") * 8
_MAX: Final[int] = (1 << USIZE_BITS) - 1
_LOW: Final[tuple[int, ...]] = tuple((1 << w) - 1 for w in range(USIZE_BITS + 1))
_B: Final[int] = USIZE_BITS


# --------------------------------------------------------------------------- contracts

def _int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, bool):
            return int(v)
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    return v


def _bad_word(**args: Any) -> Exception:
    """The exception for arguments that failed the fast check (slow path, builds messages)."""
    try:
        vals = {k: _int(k, v) for k, v in args.items()}
    except TypeError as exc:
        return exc
    for k in ("value", "bits", "mask"):
        if k in vals and not 0 <= vals[k] <= _MAX:
            return ValueError(f"{k} {vals[k]:#x} is not a {USIZE_BITS}-bit unsigned word")
    if "n" in vals:
        return ValueError(f"bit index {vals['n']} is not in 0..{_B - 1}")
    off, width = vals["offset"], vals["width"]
    if off < 0 or width < 0:
        return ValueError(f"offset {off} and width {width} must be >= 0")
    return ValueError(f"offset {off} + width {width} exceeds {_B} bits")


def test_bit(value: int, n: int) -> bool:
    """Whether bit ``n`` of ``value`` is set (pure; no OS call).

    Args: value: a word in 0..2**USIZE_BITS-1; n: bit index in 0..USIZE_BITS-1.
    Returns: ``bool``.
    Raises: TypeError for non-ints; ValueError when a contract above is broken.
    Availability: everywhere.
    """
    if 0 <= value <= _MAX and 0 <= n < _B:
        return (value >> n) & 1 == 1
    raise _bad_word(value=value, n=n)


test_bit.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def set_bit(value: int, n: int) -> int:
    """``value`` with bit ``n`` set (pure; no OS call).

    Args/Raises/Availability: as :func:`test_bit`. Returns: the new word.
    """
    if 0 <= value <= _MAX and 0 <= n < _B:
        return value | (1 << n)
    raise _bad_word(value=value, n=n)


def clear_bit(value: int, n: int) -> int:
    """``value`` with bit ``n`` cleared (pure; no OS call).

    Args/Raises/Availability: as :func:`test_bit`. Returns: the new word.
    """
    if 0 <= value <= _MAX and 0 <= n < _B:
        return value & ~(1 << n)
    raise _bad_word(value=value, n=n)


def toggle_bit(value: int, n: int) -> int:
    """``value`` with bit ``n`` inverted (pure; no OS call).

    Args/Raises/Availability: as :func:`test_bit`. Returns: the new word.
    """
    if 0 <= value <= _MAX and 0 <= n < _B:
        return value ^ (1 << n)
    raise _bad_word(value=value, n=n)


def set_bits(value: int, mask: int) -> int:
    """``value | mask`` (pure; no OS call).

    Args: value, mask: words in 0..2**USIZE_BITS-1. Returns: the new word.
    Raises: TypeError for non-ints; ValueError out of range. Availability: everywhere.
    """
    if 0 <= value <= _MAX and 0 <= mask <= _MAX:
        return value | mask
    raise _bad_word(value=value, mask=mask)


def clear_bits(value: int, mask: int) -> int:
    """``value & ~mask`` (pure; no OS call).

    Args/Raises/Availability: as :func:`set_bits`. Returns: the new word.
    """
    if 0 <= value <= _MAX and 0 <= mask <= _MAX:
        return value & ~mask
    raise _bad_word(value=value, mask=mask)


def field_mask(offset: int, width: int) -> int:
    """The mask of ``width`` bits starting at bit ``offset`` (pure; no OS call).

    Width 0 gives 0; width ``USIZE_BITS`` (offset 0) gives all ones.
    Args: offset, width >= 0 with offset + width <= USIZE_BITS.
    Returns: the mask. Raises: TypeError for non-ints; ValueError when the
    field does not fit the word. Availability: everywhere.
    """
    if width >= 0 and 0 <= offset <= _B - width:
        return _LOW[width] << offset
    raise _bad_word(offset=offset, width=width)


def extract_bits(value: int, offset: int, width: int) -> int:
    """``width`` bits of ``value`` starting at bit ``offset``, shifted down (pure).

    Width 0 gives 0; width ``USIZE_BITS`` gives ``value``.
    Args: value: a word; offset, width as :func:`field_mask`.
    Returns: the field, in 0..2**width-1. Raises: TypeError for non-ints;
    ValueError when a contract is broken. Availability: everywhere.
    """
    if 0 <= value <= _MAX and width >= 0 and 0 <= offset <= _B - width:
        return (value >> offset) & _LOW[width]
    raise _bad_word(value=value, offset=offset, width=width)


def insert_bits(value: int, bits: int, offset: int, width: int) -> int:
    """``value`` with its field (``offset``, ``width``) replaced by the low
    ``width`` bits of ``bits`` (pure; no OS call).

    Width 0 returns ``value``; width ``USIZE_BITS`` returns ``bits``. Higher
    bits of ``bits`` are discarded (it must still be a word).
    Args: value, bits: words; offset, width as :func:`field_mask`.
    Returns: the new word. Raises: TypeError for non-ints; ValueError when a
    contract is broken. Availability: everywhere.
    """
    if 0 <= value <= _MAX and 0 <= bits <= _MAX and width >= 0 and 0 <= offset <= _B - width:
        low = _LOW[width]
        return (value & ~(low << offset)) | ((bits & low) << offset)
    raise _bad_word(value=value, bits=bits, offset=offset, width=width)


def _accelerator() -> Any:
    """The compiled fast paths (Linux x86_64/aarch64 shim) if built, else None."""
    if _platform.OS != "linux" or USIZE_BITS != 64:
        return None
    try:
        _platform._load_native("_fast")  # loads the .so without importing vllsi.linux
    except ImportError:
        return None
    mod = sys.modules.get("vllsi.linux._fast")
    return mod if hasattr(mod, "bitfield_extract") else None


# The pure-Python versions are the reference (and what runs off Linux, or
# without the compiled shim); the C ones (_native/csrc/fast/bitfield.c) are the
# same contract at a third of the cost. conformance/bitfield checks they agree.
_py_extract_bits = extract_bits
_py_insert_bits = insert_bits
_accel = _accelerator()
if _accel is not None:
    extract_bits = _accel.bitfield_extract
    insert_bits = _accel.bitfield_insert
ACCELERATED: Final[bool] = _accel is not None


# --------------------------------------------------------------------------- verifiers

def verify_byte_alignment(total_bits: int) -> None:
    """Check that a bitfield type's total width is a whole, non-zero number of bytes.

    Raises: ValueError otherwise (TypeError for a non-int). Availability: everywhere.
    """
    if _int("total_bits", total_bits) <= 0 or total_bits % 8:
        raise ValueError(f"bitfield total of {total_bits} bits is not a whole number of bytes")


def verify_field_width(field_bits: int, type_bits: int | None) -> None:
    """Check that a field of ``field_bits`` bits fits its type of ``type_bits``
    bits (``None``: unbounded, as for ``int``) and is at least 1 bit wide.

    Raises: ValueError otherwise. Availability: everywhere.
    """
    if _int("field_bits", field_bits) < 1:
        raise ValueError(f"field width {field_bits} must be >= 1")
    if type_bits is not None and field_bits > _int("type_bits", type_bits):
        raise ValueError(f"a {field_bits}-bit field overflows its {type_bits}-bit type")


def verify_enum_fits(max_value: int, bits: int) -> None:
    """Check that an enum whose largest value is ``max_value`` fits ``bits`` bits.

    Raises: ValueError when ``max_value >= 2**bits`` or it is negative.
    Availability: everywhere.
    """
    if _int("max_value", max_value) < 0:
        raise ValueError(f"enum value {max_value} is negative and cannot be stored in bits")
    if max_value >> _int("bits", bits):
        raise ValueError(f"enum value {max_value} does not fit {bits} bits")


# --------------------------------------------------------------------------- elements



@runtime_checkable
class BitfieldElement(Protocol):
    """What a ``Bits[n, T]`` field type provides: ``BIT_WIDTH`` (its natural width,
    the upper bound of ``n``), ``from_bits(int) -> T`` and ``to_bits(self) -> int``.

    ``UInt8/16/32/64`` implement it; ``bool``, ``int`` and ``IntEnum``/``IntFlag``
    types are adapted by the decorator (widths 1, unbounded, and the bit length
    of the largest value)."""

    BIT_WIDTH: ClassVar[int]

    @classmethod
    def from_bits(cls, bits: int, /) -> Any: ...

    def to_bits(self) -> int: ...


@runtime_checkable
class Bitfield(Protocol):
    """What every ``@bitfield`` class provides."""

    SIZE_BITS: ClassVar[int]
    SIZE_BYTES: ClassVar[int]

    @classmethod
    def zero(cls) -> Any: ...

    def as_bytes(self) -> memoryview: ...

    def as_bytes_mut(self) -> memoryview: ...


class _UInt(int):
    BIT_WIDTH: ClassVar[int] = 0

    def __new__(cls, value: Any = 0) -> Any:
        v = int(value)
        if v < 0 or v >> cls.BIT_WIDTH:
            raise ValueError(f"{v} does not fit {cls.__name__}")
        return int.__new__(cls, v)

    @classmethod
    def from_bits(cls, bits: int, /) -> Any:
        return cls(bits)

    def to_bits(self) -> int:
        return int(self)


class UInt8(_UInt):
    """An unsigned 8-bit element (``BIT_WIDTH`` 8); fields of this type read as ``int``."""

    BIT_WIDTH: ClassVar[int] = 8


class UInt16(_UInt):
    """An unsigned 16-bit element; fields of this type read as ``int``."""

    BIT_WIDTH: ClassVar[int] = 16


class UInt32(_UInt):
    """An unsigned 32-bit element; fields of this type read as ``int``."""

    BIT_WIDTH: ClassVar[int] = 32


class UInt64(_UInt):
    """An unsigned 64-bit element; fields of this type read as ``int``."""

    BIT_WIDTH: ClassVar[int] = 64


class _FieldSpec:
    __slots__ = ("type", "width")

    def __init__(self, width: int, tp: Any) -> None:
        self.width = width
        self.type = tp

    def __repr__(self) -> str:
        return f"Bits[{self.width}, {getattr(self.type, '__name__', self.type)}]"


class _ReservedSpec:
    __slots__ = ("width",)

    def __init__(self, width: int) -> None:
        self.width = width

    def __repr__(self) -> str:
        return f"Reserved[{self.width}]"


def _width_arg(w: Any) -> int:
    if isinstance(w, bool) or not isinstance(w, int):
        raise TypeError(f"a field width must be an int, not {type(w).__name__}")
    if w < 1:
        raise ValueError(f"field width {w} must be >= 1")
    return w


class Bits:
    """``Bits[n, T]``: a field of ``n`` bits holding a ``T`` (an annotation;
    it evaluates to ``typing.Annotated[T, ...]``)."""

    def __class_getitem__(cls, params: Any) -> Any:
        if not isinstance(params, tuple) or len(params) != 2:
            raise TypeError("use Bits[width, type]")
        width, tp = params
        return Annotated[tp, _FieldSpec(_width_arg(width), tp)]


class Reserved:
    """``Reserved[n]``: ``n`` bits that no accessor reads or writes."""

    def __class_getitem__(cls, width: Any) -> Any:
        return Annotated[None, _ReservedSpec(_width_arg(width))]


# --------------------------------------------------------------------------- decorator

class _Field:
    __slots__ = ("conv", "elem_max", "kind", "name", "offset", "type", "width")

    def __init__(self, name: str, width: int, tp: Any) -> None:
        self.name, self.width, self.type = name, width, tp
        self.offset = 0
        self.conv: Any = None
        if tp is bool:
            self.kind, type_bits = "bool", 1
        elif tp is int:
            self.kind, type_bits = "int", None
        elif isinstance(tp, type) and issubclass(tp, _UInt):
            self.kind, type_bits = "int", tp.BIT_WIDTH
        elif isinstance(tp, type) and issubclass(tp, enum.Enum) and issubclass(tp, int):
            values = [int(m) for m in tp.__members__.values()]
            if not values:
                raise ValueError(f"field {name}: enum {tp.__name__} has no members")
            if issubclass(tp, enum.Flag):
                top = 0
                for v in values:
                    top |= v
                self.kind, self.conv = "flag", tp
            else:
                top = max(values)
                self.kind, self.conv = "enum", {int(m): m for m in tp.__members__.values()}
            verify_enum_fits(min(values) if min(values) < 0 else top, width)
            type_bits = None
        elif all(hasattr(tp, a) for a in ("BIT_WIDTH", "from_bits", "to_bits")):
            self.kind, type_bits = "custom", int(tp.BIT_WIDTH)
        else:
            raise TypeError(f"field {name}: unsupported bitfield type {tp!r}")
        verify_field_width(width, type_bits)
        self.elem_max = (1 << width) - 1


_Order = Literal["little", "big"]
_ENDIANS: Final[dict[str, _Order]] = {"little": "little", "big": "big",
                                       "native": sys.byteorder}
_WORD: Final[dict[int, Any]] = {1: ctypes.c_uint8, 2: ctypes.c_uint16, 4: ctypes.c_uint32,
                                8: ctypes.c_uint64}


def _coerce_int(v: Any, top: int, name: str) -> int:
    if not isinstance(v, int):
        raise TypeError(f"field {name} takes an int, not {type(v).__name__}")
    if not 0 <= v <= top:
        raise ValueError(f"field {name}: {v} does not fit {top.bit_length()} bits")
    return int(v)


def _coerce_bool(v: Any, name: str) -> int:
    if isinstance(v, int) and v in (0, 1):
        return int(v)
    if isinstance(v, int):
        raise ValueError(f"field {name} takes a bool (or 0/1), not {v}")
    raise TypeError(f"field {name} takes a bool, not {type(v).__name__}")


def _coerce_enum(v: Any, tp: Any, name: str) -> int:
    if not isinstance(v, tp):
        raise TypeError(f"field {name} takes a {tp.__name__}, not {type(v).__name__}")
    return int(v)


def _bad_enum(raw: int, tp: Any, name: str) -> ValueError:
    return ValueError(f"field {name}: bits {raw:#x} hold no member of {tp.__name__}")


def _resolve(cls: type, globalns: dict[str, Any],
             localns: dict[str, Any]) -> list[tuple[str, Any]]:
    raw = inspect.get_annotations(cls)
    ns = {"Bits": Bits, "Reserved": Reserved, **localns, **dict(vars(cls))}
    out = []
    for name, ann in raw.items():
        if isinstance(ann, str):
            try:
                ann = eval(ann, dict(globalns), ns)
            except NameError as exc:
                raise TypeError(f"field {name}: cannot resolve annotation {ann!r}: {exc}") from None
        out.append((name, ann))
    return out


def _spec_of(name: str, ann: Any) -> Any:
    for meta in getattr(ann, "__metadata__", ()):
        if isinstance(meta, (_FieldSpec, _ReservedSpec)):
            return meta
    raise TypeError(f"field {name}: annotate bitfield fields with Bits[n, T] or Reserved[n]")


def _exec(src: str, env: dict[str, Any], fn: str) -> Callable[..., Any]:
    exec(compile(src, f"<bitfield {fn}>", "exec"), env)
    f: Callable[..., Any] = env[fn]
    return f


def _accessors(f: _Field, word: bool, cname: str, order: _Order, nbytes: int,
               qual: str) -> property:
    env: dict[str, Any] = {
        "_conv": f.conv, "_T": f.type, "_ci": _coerce_int, "_cb": _coerce_bool,
        "_ce": _coerce_enum, "_be": _bad_enum, "_from": int.from_bytes,
        "_move": ctypes.memmove, "_addr": ctypes.addressof,
    }
    n, top = f.name, f.elem_max
    if word:
        raw = f"self.{cname}"
        store = f"    self.{cname} = r\n"
    else:
        keep = ((1 << (8 * nbytes)) - 1) & ~(top << f.offset)
        raw = f"((_from(self, {order!r}) >> {f.offset}) & {top})"
        store = (f"    x = (_from(self, {order!r}) & {keep}) | (r << {f.offset})\n"
                 f"    _move(_addr(self), x.to_bytes({nbytes}, {order!r}), {nbytes})\n")
    if f.kind == "int":
        get = f"def g(self):\n    return {raw}\n"
        put = (f"def s(self, v):\n    if v.__class__ is int and 0 <= v <= {top}:\n        r = v\n"
               f"    else:\n        r = _ci(v, {top}, {n!r})\n")
    elif f.kind == "bool":
        get = f"def g(self):\n    return {raw} != 0\n"
        put = ("def s(self, v):\n    if v is True:\n        r = 1\n    elif v is False:\n"
               f"        r = 0\n    else:\n        r = _cb(v, {n!r})\n")
    elif f.kind == "enum":
        get = (f"def g(self):\n    r = {raw}\n    m = _conv.get(r)\n    if m is None:\n"
               f"        raise _be(r, _T, {n!r})\n    return m\n")
        put = (f"def s(self, v):\n    if v.__class__ is _T:\n        r = v._value_\n"
               f"    else:\n        r = _ce(v, _T, {n!r})\n")
    elif f.kind == "flag":
        get = f"def g(self):\n    return _conv({raw})\n"
        put = (f"def s(self, v):\n    r = _ce(v, _T, {n!r})\n    if not 0 <= r <= {top}:\n"
               f"        raise ValueError('field {n}: ' + repr(v) + "
               f"' does not fit {f.width} bits')\n")
    else:
        get = f"def g(self):\n    return _T.from_bits({raw})\n"
        put = f"def s(self, v):\n    r = _ci(_T.to_bits(v), {top}, {n!r})\n"
    getter: Callable[..., Any]
    if word and f.kind == "int":
        getter = operator.attrgetter(cname)  # C descriptor, no Python frame
    else:
        getter = _exec(get, env, "g")
        getter.__qualname__ = f"{qual}.{n}"
    setter = _exec(put + store, env, "s")
    setter.__qualname__ = f"{qual}.{n}"
    return property(getter, setter, doc=f"{n}: {f.width} bit(s) at bit {f.offset}")


_KINDS: Final[dict[str, int]] = {"int": 0, "bool": 1, "enum": 2, "flag": 3, "custom": 3}


def _c_descriptor(f: _Field, order: _Order, nbytes: int) -> Any:
    """The C descriptor for ``f`` (``_native/csrc/fast/bitfield.c``), or None
    where the shim is not built or the field spans more than 8 bytes."""
    if _accel is None:
        return None
    lo, hi = f.offset // 8, (f.offset + f.width - 1) // 8
    if hi - lo >= 8:
        return None
    n, top, tp = f.name, f.elem_max, f.type
    coerce: Callable[[Any], int]
    etype: Any = None
    conv: Any = None
    miss: Any = None
    if f.kind == "int":
        def coerce(v: Any) -> int:
            return _coerce_int(v, top, n)
    elif f.kind == "bool":
        def coerce(v: Any) -> int:
            return _coerce_bool(v, n)
    elif f.kind == "custom":
        conv = tp.from_bits

        def coerce(v: Any) -> int:
            return _coerce_int(tp.to_bits(v), top, n)
    else:
        etype, conv = tp, f.conv

        def coerce(v: Any) -> int:
            return _coerce_enum(v, tp, n)

        def miss(raw: int) -> Any:
            raise _bad_enum(raw, tp, n)
    start = lo if order == "little" else nbytes - 1 - hi
    return _accel.bitfield_descriptor(
        n, nbytes, start, hi - lo + 1, order == "big", f.offset % 8, f.width,
        _KINDS[f.kind], etype, conv, miss, coerce,
        f"{n}: {f.width} bit(s) at bit {f.offset}")


def _layout_ok(cls: Any, fields: list[tuple[str, int, int]], order: _Order,
               nbytes: int) -> bool:
    """Check ctypes put every bitfield where the bit order rule says (else use the wide path)."""
    for cname, offset, width in fields:
        obj = cls()
        setattr(obj, cname, (1 << width) - 1)
        if bytes(obj) != (((1 << width) - 1) << offset).to_bytes(nbytes, order):
            return False
    return True


def _raw(obj: Any) -> bytes:
    return bytes(obj)


class _Methods:
    """Methods shared by every generated class (its first base)."""

    SIZE_BITS: ClassVar[int]
    SIZE_BYTES: ClassVar[int]
    ENDIAN: ClassVar[_Order]
    FIELDS: ClassVar[tuple[tuple[str, int, int], ...]]

    def __init__(self, **fields: Any) -> None:
        names = self.FIELD_NAMES  # type: ignore[attr-defined]
        for k, v in fields.items():
            if k not in names:
                raise TypeError(f"{type(self).__name__} has no field {k!r}")
            setattr(self, k, v)

    @classmethod
    def zero(cls) -> Any:
        """A value with every bit zero (reserved bits included)."""
        return cls()

    @classmethod
    def from_bytes(cls, data: Any) -> Any:
        """A new value from exactly ``SIZE_BYTES`` bytes (any buffer); reserved
        bits are kept as given. Raises TypeError (not a buffer), ValueError (size)."""
        try:
            view = memoryview(data)
        except TypeError:
            raise TypeError(f"from_bytes needs a buffer, not {type(data).__name__}") from None
        with view:
            if view.nbytes != cls.SIZE_BYTES:
                raise ValueError(f"{cls.__name__} takes {cls.SIZE_BYTES} bytes, got {view.nbytes}")
            return cls.from_buffer_copy(view.cast("B") if view.ndim != 1 else view)  # type: ignore[attr-defined]

    @classmethod
    def from_int(cls, value: int) -> Any:
        """A new value from its integer form (the ``ENDIAN`` reading of its bytes)."""
        v = _int("value", value)
        if v < 0 or v >> cls.SIZE_BITS:
            raise ValueError(f"{value} does not fit {cls.SIZE_BITS} bits")
        return cls.from_buffer_copy(v.to_bytes(cls.SIZE_BYTES, cls.ENDIAN))  # type: ignore[attr-defined]

    def to_int(self) -> int:
        """The integer form (the ``ENDIAN`` reading of the bytes)."""
        return int.from_bytes(_raw(self), self.ENDIAN)

    def to_bytes(self) -> bytes:
        """A copy of the ``SIZE_BYTES`` bytes."""
        return _raw(self)

    def as_bytes(self) -> memoryview:
        """A read-only view of the bytes (no copy)."""
        return memoryview(self).cast("B").toreadonly()  # type: ignore[arg-type]

    def as_bytes_mut(self) -> memoryview:
        """A writable view of the bytes: writes through it change the fields."""
        return memoryview(self).cast("B")  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return _raw(self) == _raw(other)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        parts = []
        for name in self.FIELD_NAMES:  # type: ignore[attr-defined]
            try:
                parts.append(f"{name}={getattr(self, name)!r}")
            except ValueError:  # enum bits naming no member
                parts.append(f"{name}=<invalid>")
        return f"{type(self).__name__}({', '.join(parts)})"


def bitfield(cls: type | None = None, *, endian: str = "little") -> Any:
    """Class decorator: turn a class of ``Bits[n, T]`` / ``Reserved[n]``
    annotations into a packed bitfield type (pure; no OS call).

    Args: endian: ``"little"``, ``"big"`` or ``"native"``.
    Returns: the new class (a ctypes structure of ``SIZE_BYTES`` bytes with
    ``SIZE_BITS``, ``SIZE_BYTES``, ``ENDIAN``, ``FIELDS`` — (name, bit offset,
    width) in the integer form —, ``zero()``, ``from_bytes``, ``to_bytes``,
    ``as_bytes``, ``as_bytes_mut``, ``from_int``, ``to_int``; keyword
    construction ``T(field=value, ...)``; equality by bytes).
    Raises: ValueError for a bad layout (field wider than its type, enum that
    does not fit, total not whole bytes, unknown endian); TypeError for an
    unsupported field type or annotation.
    Availability: everywhere.
    """
    if endian not in _ENDIANS:
        raise ValueError(f"endian must be 'little', 'big' or 'native', not {endian!r}")
    caller = sys._getframe(1)  # where the class statement runs: resolves string annotations
    globalns = caller.f_globals
    localns = dict(caller.f_locals) if caller.f_locals is not globalns else {}

    def decorate(c: type) -> Any:
        return _build(c, _ENDIANS[endian], globalns, localns)

    if cls is not None:
        return decorate(cls)
    return decorate


def _build(user: type, order: _Order, globalns: dict[str, Any],
           localns: dict[str, Any], descriptors: bool = True) -> Any:
    fields: list[_Field] = []
    layout: list[tuple[str, int, Any]] = []  # (ctypes name, width, field or None)
    for name, ann in _resolve(user, globalns, localns):
        spec = _spec_of(name, ann)
        if name in vars(user):
            raise TypeError(f"field {name}: bitfield fields take no default (use zero())")
        if isinstance(spec, _ReservedSpec):
            layout.append((f"_rsv_{len(layout)}_{name}", spec.width, None))
        else:
            f = _Field(name, spec.width, spec.type)
            fields.append(f)
            layout.append((f"_bf_{name}", spec.width, f))
    total = sum(w for _, w, _ in layout)
    verify_byte_alignment(total)
    nbytes = total // 8
    pos, placed = 0, []
    for cname, width, f in layout:
        offset = pos if order == "little" else total - pos - width
        pos += width
        placed.append((cname, offset, width))
        if f is not None:
            f.offset = offset
    ns = {k: v for k, v in vars(user).items() if k not in ("__dict__", "__weakref__")}
    ns.update(SIZE_BITS=total, SIZE_BYTES=nbytes, ENDIAN=order,
              FIELDS=tuple((f.name, f.offset, f.width) for f in fields),
              FIELD_NAMES=tuple(f.name for f in fields))
    word = nbytes in _WORD
    cbase: Any = ctypes.LittleEndianStructure if order == "little" else ctypes.BigEndianStructure
    if word:
        trial = type("_probe", (cbase,), {"_fields_": [(c, _WORD[nbytes], w)
                                                       for c, _, w in placed]})
        word = _layout_ok(trial, placed, order, nbytes)
    ns["_fields_"] = ([(c, _WORD[nbytes], w) for c, _, w in placed] if word
                      else [("_bytes_", ctypes.c_uint8 * nbytes)])
    for f in fields:
        ns[f.name] = ((descriptors and _c_descriptor(f, order, nbytes))
                      or _accessors(f, word, f"_bf_{f.name}", order, nbytes, user.__qualname__))
    bases = tuple(b for b in user.__bases__ if b is not object)
    # _Methods first: its __init__/__eq__ win over ctypes', and user methods can
    # reach them with super().
    new = type(user.__name__, (_Methods, cbase, *bases), ns)
    _rebind_class_cells(ns, user, new)
    return new


def _rebind_class_cells(ns: dict[str, Any], old: type, new: type) -> None:
    """Point the ``__class__`` cells of copied methods (zero-argument ``super()``)
    at the generated class."""
    for v in ns.values():
        for f in (v, getattr(v, "__func__", None), getattr(v, "fget", None),
                  getattr(v, "fset", None)):
            for cell in getattr(f, "__closure__", None) or ():
                try:
                    if cell.cell_contents is old:
                        cell.cell_contents = new
                except ValueError:  # empty cell
                    pass
