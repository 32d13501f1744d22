"""cffi layouts of kernel structs equal the compiler's, field by field."""

from __future__ import annotations

import pytest

from conformance._support import linux_only
from conformance._support.cc import run_c
from vllsi.linux._ffi import ffi

pytestmark = linux_only

STRUCTS = {
    "struct stat": ("asm/stat.h", ["st_dev", "st_ino", "st_nlink", "st_mode", "st_uid", "st_gid",
                                   "st_rdev", "st_size", "st_blksize", "st_blocks", "st_atime",
                                   "st_atime_nsec", "st_mtime", "st_mtime_nsec", "st_ctime",
                                   "st_ctime_nsec"]),
    "struct statx": ("linux/stat.h", ["stx_mask", "stx_blksize", "stx_attributes", "stx_nlink",
                                      "stx_uid", "stx_gid", "stx_mode", "stx_ino", "stx_size",
                                      "stx_blocks", "stx_attributes_mask", "stx_atime",
                                      "stx_btime", "stx_ctime", "stx_mtime", "stx_rdev_major",
                                      "stx_rdev_minor", "stx_dev_major", "stx_dev_minor",
                                      "stx_mnt_id"]),
    "struct timespec": ("linux/time_types.h", ["tv_sec", "tv_nsec"]),
    "struct iovec": ("linux/uio.h", ["iov_base", "iov_len"]),
}


@pytest.mark.covers("linux.Stat", "linux.fstat", "linux.statx")
@pytest.mark.parametrize("struct", sorted(STRUCTS))
def test_layout_matches_headers(struct: str) -> None:
    header, fields = STRUCTS[struct]
    cname = "struct __kernel_timespec" if struct == "struct timespec" else struct
    src = f"#include <stdio.h>\n#include <stddef.h>\n#include <{header}>\nint main(void){{\n"
    src += f'printf("sizeof %zu\\n", sizeof({cname}));\n'
    src += "".join(f'printf("{f} %zu\\n", offsetof({cname}, {f}));\n' for f in fields)
    src += "return 0;}\n"
    got = dict(line.split() for line in run_c(src).splitlines())
    assert int(got["sizeof"]) == ffi.sizeof(struct)
    for f in fields:
        assert int(got[f]) == ffi.offsetof(struct, f), f
