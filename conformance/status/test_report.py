"""conformance/report.py computes the statuses of ARCHITECTURE.md's table.

Pure logic over synthetic result files; each rule has a case that would fail if
the rule were dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance import report
from vllsi.status import MODULES


def _header(backend: str, modules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    mods = {m: {"exists": False, "all": [], "laws": []} for m in MODULES}
    mods.update(modules)
    return {"kind": "header", "backend": backend, "platform": backend.split("/")[0],
            "tier": backend.split("/")[1], "python": "3", "modules": mods}


def _t(nodeid: str, module: str, outcome: str, covers: tuple[str, ...] = (),
       laws: tuple[str, ...] = (), reason: str = "") -> dict[str, Any]:
    rec = {"kind": "test", "nodeid": nodeid, "module": module, "covers": list(covers),
           "laws": list(laws), "outcome": outcome, "reason": reason}
    if outcome == "skipped":
        rec["reason_code"] = reason.split(":", 1)[0]
    return rec


MOD = {"bitfield": {"exists": True, "all": ["a", "b"], "laws": ["l"]}}


def _status(tests: list[dict[str, Any]], mods: dict[str, Any] = MOD,
            backend: str = "linux-x86_64/asm") -> str:
    doc = report.compute([{"header": _header(backend, mods), "tests": tests}])
    return str(doc["matrix"]["bitfield"][backend]["status"])


FULL = [_t("t1", "bitfield", "passed", ("bitfield.a", "bitfield.b")),
        _t("t2", "bitfield", "passed", laws=("bitfield.l",))]


@pytest.mark.covers("status.MODULES")
@pytest.mark.parametrize(
    ("tests", "expected"),
    [
        (FULL, "stable"),
        (FULL[:1], "partial"),  # law without a passing test
        ([_t("t1", "bitfield", "passed", ("bitfield.a",)), FULL[1]], "partial"),  # b uncovered
        ([*FULL, _t("t3", "bitfield", "xfailed", reason="pinned")], "partial"),
        ([*FULL, _t("t3", "bitfield", "failed")], "failing"),
        ([*FULL, _t("t3", "bitfield", "error")], "failing"),
        ([*FULL, _t("t3", "bitfield", "xpassed")], "failing"),
        ([_t("t3", "bitfield", "xfailed", reason="pinned")], "regression-only"),
        ([_t("t1", "bitfield", "skipped", reason="platform: linux only")], "n/a"),
        ([_t("t1", "bitfield", "skipped", reason="kernel: ENOSYS")], "undocumented"),
        ([], "undocumented"),
    ],
)
def test_status_rules(tests: list[dict[str, Any]], expected: str) -> None:
    assert _status(tests) == expected


@pytest.mark.covers("status.MODULES")
def test_import_error_is_failing() -> None:
    mods = {"bitfield": {"exists": True, "all": [], "laws": [], "error": "ImportError()"}}
    assert _status(FULL, mods) == "failing"


@pytest.mark.covers("status.MODULES")
def test_tiers_must_agree(tmp_path: Path) -> None:
    asm = {"header": _header("linux-x86_64/asm", MOD), "tests": FULL}
    libc_tests = [FULL[0], _t("t2", "bitfield", "skipped", reason="kernel: x")]
    libc = {"header": _header("linux-x86_64/libc", MOD), "tests": [*libc_tests,
                                                                   FULL[1] | {"nodeid": "t9"}]}
    doc = report.compute([asm, libc])
    cell = doc["matrix"]["bitfield"]["linux-x86_64/asm"]
    assert cell["status"] == "partial"
    assert any("disagree" in n for n in cell["notes"])
    # another platform is not a tier of this one: no cross-platform agreement rule
    arm = {"header": _header("linux-aarch64/asm", MOD), "tests": FULL[:1]}
    doc2 = report.compute([asm, arm])
    assert doc2["matrix"]["bitfield"]["linux-x86_64/asm"]["status"] == "stable"


@pytest.mark.covers("status.load", "status.module_status")
def test_write_render_and_readme(tmp_path: Path) -> None:
    runs = [{"header": _header("linux-x86_64/asm", MOD),
             "tests": [*FULL, _t("t3", "bitfield", "xfailed", reason="Wine 8 divergence")]},
            {"header": _header("linux-x86_64/libc", MOD),
             "tests": [*FULL, _t("t4", "bitfield", "failed")]}]
    for r in runs:
        lines = [json.dumps(r["header"]), *(json.dumps(t) for t in r["tests"])]
        (tmp_path / (r["header"]["backend"].replace("/", "_") + ".jsonl")).write_text(
            "\n".join(lines))
    (tmp_path / "README.md").write_text(f"intro\n{report.BEGIN}\nold\n{report.END}\ntail\n")
    assert report.main([str(tmp_path), "--root", str(tmp_path), "--quiet"]) == 0
    md = (tmp_path / "STATUS.md").read_text()
    rows = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert rows[1].startswith("| bitfield |")  # a failing row is listed first
    assert "**failing**" in rows[1]
    assert "Wine 8 divergence" in md  # open defects are listed
    readme = (tmp_path / "README.md").read_text()
    assert readme.startswith("intro\n") and readme.endswith("tail\n") and "old" not in readme
    from vllsi import status

    assert status.module_status("bitfield", "linux-x86_64/libc", tmp_path / "status.json") \
        == "failing"
