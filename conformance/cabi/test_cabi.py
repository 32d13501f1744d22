"""C widths from cffi equal the compiler's sizeof on the host headers."""

from __future__ import annotations

import ctypes

import pytest

from conformance._support import ON_LINUX, ON_WINDOWS, skip
from vllsi import cabi

NAMES = ["C_SHORT", "C_INT", "C_LONG", "C_LONGLONG", "POINTER", "SIZE_T", "SSIZE_T", "OFF_T",
         "MODE_T", "PID_T", "UID_T", "GID_T", "CLOCKID_T", "SOCKLEN_T"]


@pytest.mark.covers(*(f"cabi.{n}" for n in NAMES), "cabi.widths", "cabi.sizeof",
                    "cabi.CHAR_BIT")
def test_widths_match_ctypes() -> None:
    w = cabi.widths()
    assert w["int"] == cabi.C_INT == ctypes.sizeof(ctypes.c_int) * 8
    assert w["long"] == cabi.C_LONG == ctypes.sizeof(ctypes.c_long) * 8
    assert cabi.SIZE_T == ctypes.sizeof(ctypes.c_size_t) * 8 == cabi.POINTER
    assert ctypes.sizeof(ctypes.c_ssize_t) * 8 == cabi.SSIZE_T
    assert cabi.sizeof("long long") * cabi.CHAR_BIT == cabi.C_LONGLONG == 64
    assert cabi.C_SHORT == 16
    if ON_WINDOWS:
        assert cabi.C_LONG == 32  # LLP64


@pytest.mark.covers(*(f"cabi.{n}" for n in NAMES))
def test_widths_match_host_headers() -> None:
    if not ON_LINUX:
        skip("platform", "header check runs where the host compiler is (Linux)")
    from conformance._support.cc import run_c

    types = ["short", "int", "long", "long long", "void *", "size_t", "ssize_t", "off_t",
             "mode_t", "pid_t", "uid_t", "gid_t", "clockid_t", "socklen_t"]
    src = "#define _FILE_OFFSET_BITS 64\n#include <stdio.h>\n#include <sys/types.h>\n" \
          "#include <sys/socket.h>\n#include <time.h>\nint main(void){\n" + "".join(
              f'printf("%s=%zu\\n", "{t}", sizeof({t}));\n' for t in types) + "return 0;}\n"
    got = dict(line.split("=") for line in run_c(src).split("\n") if line)
    assert {k: int(v) * 8 for k, v in got.items()} == cabi.widths()
