"""pytest plugin: tag every conformance test and record its outcome per backend.

Each test belongs to the module named by its folder (``conformance/locking/sqlite/``
-> ``locking.sqlite``). ``@pytest.mark.covers("locking.try_lock", ...)`` names the
public names it exercises; ``@pytest.mark.law("bitfield.toggle_involution")`` the
declared law it proves. Skips must give a reason code as ``"<code>: text"`` with
code one of platform/kernel/privilege/environment/hardware (use
``conformance._support.skip``); an unclassified skip is turned into a failure.

With ``--vllsi-record`` the run writes ``<results-dir>/<backend>.jsonl``: a header
(backend, each module's ``__all__`` and ``__laws__`` as imported on this backend)
and one line per test. ``conformance/report.py`` merges those files.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

from vllsi import _platform
from vllsi.status import MODULES, import_name

REASON_CODES = ("platform", "kernel", "privilege", "environment", "hardware")
ROOT = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("vllsi")
    g.addoption("--vllsi-record", action="store_true", help="write the results file")
    g.addoption("--vllsi-results", default=str(ROOT / "results"), help="results directory")


def pytest_configure(config: pytest.Config) -> None:
    # No timing assertions: hypothesis' per-example deadline is one (and trips under
    # qemu and Wine, where the same example can take 100x longer).
    from hypothesis import settings

    settings.register_profile("vllsi", deadline=None, print_blob=True)
    settings.load_profile("vllsi")
    config.addinivalue_line("markers", "covers(*names): public names this test covers")
    config.addinivalue_line("markers", "law(*names): declared laws this test proves")
    config._vllsi_records = []  # type: ignore[attr-defined]


def module_of(path: Path) -> str | None:
    try:
        rel = path.resolve().relative_to(ROOT)
    except ValueError:
        return None
    parts = rel.parts[:-1]
    if not parts or parts[0].startswith("_"):
        return None
    return ".".join(parts)


def _module_info(mod: str) -> dict[str, Any]:
    try:
        m = importlib.import_module(import_name(mod))
    except ModuleNotFoundError as exc:
        if exc.name and import_name(mod).startswith(exc.name):
            return {"exists": False, "all": [], "laws": []}
        return {"exists": True, "all": [], "laws": [], "error": repr(exc)}
    except Exception as exc:  # an import error is a finding, not a crash of the run
        return {"exists": True, "all": [], "laws": [], "error": repr(exc)}
    return {
        "exists": True,
        "all": sorted(getattr(m, "__all__", [])),
        "laws": sorted(getattr(m, "__laws__", ())),
    }


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    infos: dict[str, dict[str, Any]] = {}
    for item in items:
        mod = module_of(Path(str(item.path)))
        if mod is None:
            continue
        if mod not in MODULES:
            raise pytest.UsageError(f"{item.nodeid}: folder names unknown module {mod!r}")
        for marker, attr in (("covers", "all"), ("law", "laws")):
            for m in item.iter_markers(marker):
                for name in m.args:
                    owner, _, sym = str(name).rpartition(".")
                    if owner not in MODULES:
                        raise pytest.UsageError(f"{item.nodeid}: {marker}({name!r}): bad module")
                    info = infos.setdefault(owner, _module_info(owner))
                    if info["exists"] and "error" not in info and sym not in info[attr]:
                        raise pytest.UsageError(
                            f"{item.nodeid}: {marker}({name!r}): not in {owner}'s "
                            f"{'__all__' if attr == 'all' else '__laws__'}"
                        )


def _reason(rep: pytest.TestReport) -> str:
    if rep.skipped and isinstance(rep.longrepr, tuple):
        return str(rep.longrepr[2]).removeprefix("Skipped: ")
    return str(getattr(rep, "wasxfail", "") or "")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    rep: pytest.TestReport = outcome.get_result()
    if rep.skipped and not hasattr(rep, "wasxfail"):
        code = _reason(rep).split(":", 1)[0].strip()
        if code not in REASON_CODES:
            rep.outcome = "failed"
            rep.longrepr = (
                f"unclassified skip ({_reason(rep)!r}): skip reasons must start with one of "
                f"{', '.join(REASON_CODES)} followed by ':'"
            )
    rec = _record_for(item)
    if rec is None:
        return
    state = rec.setdefault("_phases", {})
    state[rep.when] = rep


def _record_for(item: pytest.Item) -> dict[str, Any] | None:
    mod = module_of(Path(str(item.path)))
    if mod is None:
        return None
    store: dict[str, dict[str, Any]] = item.config.__dict__.setdefault("_vllsi_items", {})
    if item.nodeid not in store:
        store[item.nodeid] = {
            "nodeid": item.nodeid,
            "module": mod,
            "covers": [str(a) for m in item.iter_markers("covers") for a in m.args],
            "laws": [str(a) for m in item.iter_markers("law") for a in m.args],
        }
    return store[item.nodeid]


def _final(rec: dict[str, Any]) -> dict[str, Any]:
    phases: dict[str, pytest.TestReport] = rec.pop("_phases", {})
    outcome, reason = "passed", ""
    for when in ("setup", "call", "teardown"):
        rep = phases.get(when)
        if rep is None:
            continue
        if hasattr(rep, "wasxfail"):
            outcome = "xfailed" if rep.skipped else "xpassed"
            reason = _reason(rep)
        elif rep.failed:
            outcome = "failed" if when == "call" else "error"
            reason = str(rep.longrepr)[-2000:]
            break
        elif rep.skipped:
            outcome, reason = "skipped", _reason(rep)
            break
    rec["outcome"] = outcome
    rec["reason"] = reason
    if outcome == "skipped":
        rec["reason_code"] = reason.split(":", 1)[0].strip()
    return rec


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if not config.getoption("--vllsi-record"):
        return
    store: dict[str, dict[str, Any]] = config.__dict__.get("_vllsi_items", {})
    header = {
        "kind": "header",
        "backend": _platform.describe(),
        "platform": _platform.platform_name(),
        "tier": _platform.TIER,
        "python": sys.version.split()[0],
        "modules": {m: _module_info(m) for m in MODULES},
    }
    out = Path(config.getoption("--vllsi-results"))
    out.mkdir(parents=True, exist_ok=True)
    path = out / (_platform.describe().replace("/", "_") + ".jsonl")
    try:
        lines = [json.dumps(header)]
        lines += [json.dumps({"kind": "test", **_final(dict(r))}) for r in store.values()]
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except Exception:
        traceback.print_exc()
        raise
