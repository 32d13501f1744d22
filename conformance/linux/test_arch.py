"""Every syscall number in vllsi.linux.arch equals the kernel uapi headers, both arches."""

from __future__ import annotations

import pytest

from conformance._support import linux_only, skip
from conformance._support.uapi import have_compiler, uapi_numbers
from vllsi.linux import arch

pytestmark = linux_only


@pytest.mark.parametrize("name", ["x86_64", "aarch64"])
@pytest.mark.covers("linux.NR")
def test_numbers_match_uapi_headers(name: str) -> None:
    if not have_compiler():
        skip("environment", "no C preprocessor to read the uapi headers")
    table = arch.TABLES[name]
    try:
        headers = uapi_numbers(name, sorted(set(table) | {"epoll_wait", "arch_prctl", "open"}))
    except OSError as exc:  # e.g. a host binary that cannot run under emulation
        skip("environment", f"cannot run the C preprocessor: {exc}")
    for sym, nr in table.items():
        assert headers[sym] == nr, f"{name} {sym}: table {nr}, header {headers[sym]}"
    # names the headers lack on this arch are absent from the table, and vice versa
    absent = {s for s, v in headers.items() if v is None}
    assert not absent & set(table)
    assert ("open" not in arch.AARCH64 and headers.get("open") is None) or name == "x86_64"


@pytest.mark.covers("linux.NR")
def test_active_table_is_this_arch() -> None:
    from vllsi import _platform
    from vllsi.linux import NR

    assert NR is arch.TABLES[_platform.ARCH]
    # spot checks that do not depend on the header reader
    expected = {"x86_64": ("getpid", 39), "aarch64": ("getpid", 172)}[_platform.ARCH]
    assert NR[expected[0]] == expected[1]
