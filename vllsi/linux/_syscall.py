"""Binding of the raw syscall entry for the active tier, and result decoding.

Tier ``asm``: ``vllsi.linux._fast`` (METH_FASTCALL over the inline-asm
trampolines of ``_native/``); ``syscall`` keeps the GIL (for calls that never
block), ``syscall_blocking`` releases it. Tier ``libc``: cffi ABI mode over
libc's variadic ``syscall(2)`` looked up in the global namespace (so LD_PRELOAD
interposers see it), with ``-1``/errno folded back to the raw ``-errno``.

Both return the kernel's raw value: -4095..-1 is -errno. :func:`check` turns
that into a value or an exception from the single factory.
"""

from __future__ import annotations

import errno as _errno
import os
from collections.abc import Callable
from typing import Any, Final

from vllsi import errors
from vllsi._platform import ARCH, TIER
from vllsi.linux.arch import TABLES

__all__ = ["NR", "TIER", "check", "fd_arg", "path_arg", "syscall", "syscall_blocking"]

if ARCH not in TABLES:
    raise ImportError(f"vllsi.linux supports x86_64 and aarch64, not {ARCH}")

NR: Final[dict[str, int]] = TABLES[ARCH]
EINTR: Final = _errno.EINTR

syscall: Callable[..., int]
syscall_blocking: Callable[..., int]

_C_RULES: dict[str, Callable[[int], errors.VllsiError]] = {}


def c_error(code: int, name: str) -> errors.VllsiError:
    """The exception a C fast path raises for errno ``code`` in syscall ``name``.

    The one factory behind ``_native/csrc/fast/errhook.c`` (``vllsi_raise``),
    installed here once: ``errors.from_errno(code, syscall=name)``, or the rule a
    layer registered for ``name`` with :func:`c_error_rule` (e.g. locking's
    LockConflict for a conflicting fcntl lock).
    """
    rule = _C_RULES.get(name)
    return rule(code) if rule is not None else errors.from_errno(code, syscall=name)


def c_error_rule(name: str, rule: Callable[[int], errors.VllsiError]) -> None:
    """Make C fast-path errors of syscall ``name`` come from ``rule(errno)``
    (which must build them with ``errors.from_errno``)."""
    _C_RULES[name] = rule


if TIER == "asm":
    from vllsi.linux import _fast

    syscall = _fast.syscall
    syscall_blocking = _fast.syscall_blocking
else:
    import cffi

    _ffi = cffi.FFI()
    _ffi.cdef("long syscall(long number, ...);")
    _libc: Any = _ffi.dlopen(None)
    _LONG_MAX = (1 << 63) - 1

    def _varg(a: int) -> Any:
        if type(a) is not int and not isinstance(a, int):
            raise TypeError(f"syscall argument must be int, not {type(a).__name__}")
        if not -(1 << 63) <= a < (1 << 64):
            raise ValueError("syscall argument does not fit 64 bits")
        return _ffi.cast("unsigned long" if a > _LONG_MAX else "long", a)

    def _libc_syscall(nr: int, *args: int) -> int:
        if len(args) > 6:
            raise TypeError(f"syscall takes a number and 0..6 arguments ({len(args) + 1} given)")
        r = int(_libc.syscall(nr, *[_varg(a) for a in args]))
        if r == -1:
            return -int(_ffi.errno)
        return r

    syscall = _libc_syscall
    syscall_blocking = _libc_syscall


try:  # C fast paths raise through c_error on either tier (the io_uring ring is C on both)
    from vllsi.linux import _fast as _fastmod

    _fastmod.set_error_factory(c_error)
except ImportError:  # no compiled shim: nothing in C to raise
    pass


def check(r: int, name: str, filename: Any = None, filename2: Any = None) -> int:
    """Return ``r`` unless it is -errno, in which case raise the factory's exception."""
    if -4096 < r < 0:
        raise errors.from_errno(-r, syscall=name, filename=filename, filename2=filename2)
    return r


def fd_arg(fd: Any, *, name: str = "fd", allow: tuple[int, ...] = ()) -> int:
    """A file descriptor from an int or an object with ``fileno()``.

    TypeError for anything else (bool included); ValueError outside 0..2**31-1
    unless listed in ``allow`` (e.g. AT_FDCWD).
    """
    if type(fd) is int:
        v = fd
    elif isinstance(fd, bool) or not (isinstance(fd, int) or hasattr(fd, "fileno")):
        raise TypeError(f"{name} must be an int or have fileno(), not {type(fd).__name__}")
    else:
        v = int(fd) if isinstance(fd, int) else fd.fileno()
        if type(v) is not int:
            raise TypeError(f"{name}.fileno() must return int")
    if 0 <= v <= 0x7FFFFFFF or v in allow:
        return v
    raise ValueError(f"{name} {v} is not a valid descriptor")


def path_arg(path: Any, *, name: str = "path") -> bytes:
    """``str``/``bytes``/``os.PathLike`` -> NUL-free bytes (TypeError/ValueError otherwise)."""
    try:
        b = os.fsencode(path)
    except TypeError:
        raise TypeError(
            f"{name} must be str, bytes or os.PathLike, not {type(path).__name__}"
        ) from None
    if b"\0" in b:
        raise ValueError(f"{name} contains a NUL byte")
    return b


def retry(fn: Callable[[], int]) -> int:
    """Call ``fn`` until it does not return -EINTR (PEP 475: Python signal handlers
    run between attempts and may raise). Returns the raw value."""
    while True:
        r = fn()
        if r != -EINTR:
            return r
