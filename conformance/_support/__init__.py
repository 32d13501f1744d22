"""Helpers shared by the conformance tests (not a module of the matrix)."""

from __future__ import annotations

import pytest

from vllsi import _platform

REASON_CODES = ("platform", "kernel", "privilege", "environment", "hardware")

ON_LINUX = _platform.OS == "linux"
ON_DARWIN = _platform.OS == "darwin"
ON_WINDOWS = _platform.OS == "windows"
UNDER_WINE = _platform.TIER == "wine"
UNDER_QEMU = False
if ON_LINUX:
    import os

    UNDER_QEMU = "VL_QEMU_PREFIX" in os.environ


def skip(code: str, why: str) -> None:
    """Skip the running test with a reason code the status matrix understands."""
    if code not in REASON_CODES:
        raise ValueError(f"unknown skip reason code {code!r}")
    pytest.skip(f"{code}: {why}")


def only_on(*oses: str) -> pytest.MarkDecorator:
    """Mark a test that exists only on these OSes (skip reason ``platform`` elsewhere)."""
    return pytest.mark.skipif(
        _platform.OS not in oses, reason=f"platform: {'/'.join(oses)} only"
    )


linux_only = only_on("linux")
windows_only = only_on("windows")
darwin_only = only_on("darwin")
