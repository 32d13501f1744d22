"""Probes of what the running kernel offers (used by ``python -m vllsi info``).

Each probe makes the real call and reports what happened; none raises for an
absent feature: they return None/False/empty and the errno name where useful.
"""

from __future__ import annotations

import errno as _errno

from vllsi.linux import _syscall as _s
from vllsi.linux._ffi import addr, ffi

__all__ = ["bpf_available", "io_uring_opcodes", "landlock_abi"]

IORING_REGISTER_PROBE = 8
IO_URING_OP_SUPPORTED = 1
LANDLOCK_CREATE_RULESET_VERSION = 1


def io_uring_opcodes() -> tuple[list[int], str | None]:
    """(supported opcode numbers, None) or ([], errno name) if io_uring is refused.

    io_uring_setup(1, params) then io_uring_register(IORING_REGISTER_PROBE).
    """
    params = ffi.new("char[120]")  # struct io_uring_params, zeroed
    fd = _s.syscall(_s.NR["io_uring_setup"], 1, addr(params))
    if fd < 0:
        return [], _errno.errorcode.get(-fd, str(-fd))
    try:
        # struct io_uring_probe: u8 last_op, u8 ops_len, u16, u32[3], then 256 x 8-byte ops
        probe = ffi.new("unsigned char[]", 16 + 256 * 8)
        r = _s.syscall(_s.NR["io_uring_register"], fd, IORING_REGISTER_PROBE, addr(probe), 256)
        if r < 0:
            return [], _errno.errorcode.get(-r, str(-r))
        ops_len = probe[1]
        ops = []
        for i in range(ops_len):
            base = 16 + i * 8
            flags = probe[base + 2] | (probe[base + 3] << 8)
            if flags & IO_URING_OP_SUPPORTED:
                ops.append(probe[base])
        return ops, None
    finally:
        _s.syscall(_s.NR["close"], fd)


def bpf_available() -> tuple[bool, str]:
    """(True, "ok") when bpf(2) answers a harmless query; else (False, errno name).

    Asks BPF_PROG_GET_NEXT_ID (11) from id 0: ENOENT (no programs) or success
    both mean the call is there and permitted.
    """
    attr = ffi.new("char[144]")
    r = _s.syscall(_s.NR["bpf"], 11, addr(attr), 144)
    if r >= 0 or r == -_errno.ENOENT:
        return True, "ok"
    return False, _errno.errorcode.get(-r, str(-r))


def landlock_abi() -> int | None:
    """The Landlock ABI version, or None when the kernel has no Landlock."""
    r = _s.syscall(_s.NR["landlock_create_ruleset"], 0, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return r if r >= 0 else None
