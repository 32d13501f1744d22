"""The one dispatch point."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from conformance._support import ON_LINUX, skip
from conformance._support.cc import python_argv
from vllsi import _platform, errors

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.covers("platform.describe", "platform.platform_name", "platform.OS",
                    "platform.ARCH", "platform.TIER")
def test_describe_format() -> None:
    d = _platform.describe()
    assert re.fullmatch(r"(linux|darwin|windows)-[a-z0-9_]+/[a-z0-9]+", d), d
    assert d == f"{_platform.OS}-{_platform.ARCH}/{_platform.TIER}"
    assert _platform.platform_name() == d.split("/")[0]
    if ON_LINUX:
        assert os.uname().machine == _platform.ARCH
        assert _platform.TIER in ("asm", "libc")


@pytest.mark.covers("platform.os_module")
def test_os_module_standin_raises_unsupported() -> None:
    m = _platform.os_module("no_such_layer_anywhere")
    with pytest.raises(errors.Unsupported) as ei:
        m.frobnicate(1)
    assert isinstance(ei.value, NotImplementedError)
    assert "no_such_layer_anywhere.frobnicate" in str(ei.value)


@pytest.mark.covers("platform.TIER", "platform.describe")
@pytest.mark.parametrize("tier", ["asm", "libc"])
def test_forced_tier(tier: str) -> None:
    if not ON_LINUX:
        skip("platform", "tiers exist on Linux only")
    env = dict(os.environ, VLLSI_TIER=tier)
    r = subprocess.run(python_argv("-c", "import vllsi; print(vllsi.describe())"),
                       env=env, cwd=ROOT, capture_output=True, text=True)
    if tier == "asm" and r.returncode != 0:
        assert "not built" in r.stderr  # forcing asm without the shim is an ImportError
        return
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith(f"/{tier}")


@pytest.mark.covers("platform.TIER")
def test_bad_forced_tier_is_an_error() -> None:
    if not ON_LINUX:
        skip("platform", "tiers exist on Linux only")
    r = subprocess.run(python_argv("-c", "import vllsi"), cwd=ROOT, capture_output=True,
                       text=True, env=dict(os.environ, VLLSI_TIER="fast"))
    assert r.returncode != 0 and "VLLSI_TIER" in r.stderr
