"""The module registry and the generated status document."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vllsi import status

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "SPEC.md"


@pytest.mark.covers("status.MODULES", "status.import_name", "status.STATUSES")
def test_registry() -> None:
    assert len(set(status.MODULES)) == len(status.MODULES)
    assert status.import_name("platform") == "vllsi._platform"
    assert status.import_name("linux.io") == "vllsi.linux.io"
    assert status.STATUSES[0] == "failing"
    if SPEC.exists():
        named = set(re.findall(r"`vllsi\.([a-z_.]+)`", SPEC.read_text()))
        named = {n.split(".")[0] if n.split(".")[0] not in ("linux", "locking") else n
                 for n in named}
        missing = {n for n in named if n not in status.MODULES and
                   n.split(".")[0] not in status.MODULES}
        assert not missing, missing


@pytest.mark.covers("status.load", "status.module_status")
def test_load_and_lookup(tmp_path: Path) -> None:
    assert status.load(tmp_path / "absent.json") == {}
    doc = {"matrix": {"errors": {"linux-x86_64/asm": {"status": "stable"}}}}
    p = tmp_path / "s.json"
    p.write_text(json.dumps(doc))
    assert status.module_status("errors", "linux-x86_64/asm", p) == "stable"
    assert status.module_status("errors", "windows-amd64/wine", p) == "undocumented"
    with pytest.raises(ValueError):
        status.module_status("nope", "x", p)
