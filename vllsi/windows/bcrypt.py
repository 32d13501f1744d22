"""Typed wrapper of bcrypt's random generator."""

from __future__ import annotations

from typing import Any

from vllsi.windows import consts as C
from vllsi.windows._ffi import bcrypt, buffer, check_ntstatus, ffi

__all__ = ["bcrypt_gen_random"]

_CHUNK = 0xFFFFFFFF


def bcrypt_gen_random(buf: Any) -> int:
    """BCryptGenRandom(NULL, buf, len, BCRYPT_USE_SYSTEM_PREFERRED_RNG): fill ``buf``.

    Fills the whole writable buffer (in chunks of at most 2**32-1 bytes) from the
    system-preferred RNG; returns its length. Raises: TypeError for a read-only
    buffer; an NTSTATUS failure through RtlNtStatusToDosError. Availability: Windows.
    """
    cbuf = buffer(buf, writable=True)
    total = len(cbuf)
    done = 0
    while done < total:
        n = min(total - done, _CHUNK)
        check_ntstatus(bcrypt.BCryptGenRandom(
            ffi.NULL, ffi.cast("UCHAR *", cbuf) + done, n, C.BCRYPT_USE_SYSTEM_PREFERRED_RNG),
            "BCryptGenRandom")
        done += n
    return total

