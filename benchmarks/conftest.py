"""pytest plugin of the vllsi benchmarks: interleaved rounds, paired ratios, the table.

Convention (DEVELOPING.md): every ``bench_<area>.py`` test takes pytest-benchmark's
``benchmark`` fixture, sets ``benchmark.group = "<row name>"`` and
``benchmark.extra_info.update(role="vllsi")`` for the vllsi side or
``role="baseline", target=<max ratio vllsi/baseline>`` for a baseline (no
``target``: a reference row, e.g. the C floor). Optional extra_info keys:
``label`` (how the side is named in the table; default: the test name without
``test_``), ``ops`` (operations per call of the benchmarked function, e.g. 1000
when it runs a loop of 1000 calls; times are reported per operation) and
``noisy=True`` (wall time dominated by the device or the scheduler: fsync,
sockets; such rows are excluded from the run-to-run reproducibility check and
are the ones worth ``run.py --callgrind``).

How a session runs (the A B A B design)
---------------------------------------
Round 0 is a normal pytest pass over the collected tests in file order, which
also tells the harness each test's group and role (they are set in the test
body). Then, group by group, the members are re-run ``--vl-rounds - 1`` more
times, alternating their order each round (A B | B A | A B ...: a linear drift
of the machine cancels out). Each run is a full pytest-benchmark measurement
(calibration, then rounds for ``--benchmark-max-time``); the harness keeps that
run's best round per operation (its median for ``noisy=True`` tests: the best
fsync is not a typical one), as the anchors were measured (best of runs): on a
shared 2-CPU machine a preempted round says nothing about the code. A row's ratio is computed per round from the two
runs that ran back to back, and the median of those paired ratios is reported
with its min..max; each side's time is the median over rounds with its relative
half-range. Fixtures are set up afresh for every run.

Reruns are not logged as separate test results (pytest's summary counts each test
once); a rerun that fails is reported in the summary and the results file.
pytest-benchmark's own table and JSON (``--benchmark-json``) keep one entry per
test: the round whose median is the median over rounds.

Collection errors (a bench file that fails to import) do not stop the session
(``--continue-on-collection-errors`` in pytest.ini); they are listed in the
summary and the results file. Fixtures for bench files: ``cbuild`` (compile C
with gcc into a shared library, cached in ``benchmarks/.build``),
``bench_tmpdir`` (a directory on the disk under test, not tmpfs), ``bench_quick``
(True under ``--quick``: scale work down) and ``echo_load`` (ping-pong clients in
separate pinned processes, ``benchmarks/_loadgen.py``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness

HERE = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("vllsi-bench")
    g.addoption("--vl-rounds", type=int, default=5,
                help="interleaved rounds per group (default 5; round 0 is the first pass)")
    g.addoption("--vl-out", default=None, help="write this session's measurements (JSON)")
    g.addoption("--vl-area", default=None, help="area label (default: from bench_<area>.py)")
    g.addoption("--vl-quick", action="store_true",
                help="(run.py --quick) clamp benchmark.pedantic to 1 round, no warm-up")
    g.addoption("--vl-callgrind", default=None, metavar="SO",
                help="(run.py --callgrind) count instructions: run each benchmarked callable "
                     "CG_CALLS times with collection toggled on through this helper library")


class _State:
    def __init__(self, rounds: int) -> None:
        self.rounds = max(1, rounds)
        self.round = 0
        self.records: list[dict[str, Any]] = []
        self.metas: dict[str, list[tuple[float, Any]]] = {}
        self.declared: list[dict[str, Any]] = []
        self.errors: list[dict[str, str]] = []
        self.skipped: list[dict[str, str]] = []
        self.collected = 0


def _state(config: pytest.Config) -> _State:
    st: _State = config._vl_state  # type: ignore[attr-defined]
    return st


def pytest_configure(config: pytest.Config) -> None:
    config._vl_state = _State(config.getoption("--vl-rounds"))  # type: ignore[attr-defined]


def _area_of(item: pytest.Item, config: pytest.Config) -> str:
    forced = config.getoption("--vl-area")
    if forced:
        return str(forced)
    stem = Path(str(item.path)).stem
    return stem[6:] if stem.startswith("bench_") else stem


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        text = str(report.longrepr)
        _COLLECT_ERRORS.append({"nodeid": report.nodeid or "?", "phase": "collect",
                                "error": text[-1500:]})


_COLLECT_ERRORS: list[dict[str, str]] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    _state(session.config).collected = len(session.items)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    st = _state(item.config)
    if call.when != "call":
        if rep.failed:
            _note_failure(item, rep)
        elif rep.skipped and st.round == 0 and isinstance(rep.longrepr, tuple):
            st.skipped.append({"nodeid": item.nodeid, "reason": str(rep.longrepr[2])})
        return
    fx = (getattr(item, "funcargs", None) or {}).get("benchmark")
    area = _area_of(item, item.config)
    if rep.skipped:
        reason = str(rep.longrepr[2]) if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        if st.round == 0:
            st.skipped.append({"nodeid": item.nodeid, "reason": reason})
            if fx is not None and fx.group:
                st.declared.append({
                    "area": area, "group": fx.group, "role": fx.extra_info.get("role"),
                    "label": fx.extra_info.get("label") or _harness._label_from(item.name),
                    "target": fx.extra_info.get("target"), "goal": fx.extra_info.get("goal"),
                    "reason": reason})
        return
    if rep.failed:
        _note_failure(item, rep)
        return
    if fx is None or fx.stats is None or not fx.stats.stats.data:
        return
    s = fx.stats.stats
    extra = dict(fx.extra_info)
    if extra.get("role") == "vllsi" and extra.get("target") is not None:
        extra.pop("target")  # lenient: keep the measurement, report the slip once
        if st.round == 0:
            st.errors.append({"nodeid": item.nodeid, "phase": "convention",
                              "error": "target belongs on the baseline side; ignored"})
    try:
        rec = _harness.make_record(
            area=area, nodeid=item.nodeid, name=item.name, group=fx.group,
            extra=extra, rnd=st.round, median_s=s.median, min_s=s.min, iqr_s=s.iqr,
            rounds=s.rounds, iterations=fx.stats.iterations)
    except ValueError as exc:
        st.errors.append({"nodeid": item.nodeid, "phase": "convention", "error": str(exc)})
        return
    st.records.append(rec)
    st.metas.setdefault(item.nodeid, []).append((rec["ns"], fx.stats))


def _note_failure(item: pytest.Item, rep: pytest.TestReport) -> None:
    st = _state(item.config)
    st.errors.append({"nodeid": item.nodeid, "phase": f"{rep.when} (round {st.round})",
                      "error": str(rep.longrepr)[-1500:]})


def _schedule(session: pytest.Session) -> list[tuple[pytest.Item, int]]:
    """Reruns for rounds 1..R-1, group after group, member order alternating."""
    st = _state(session.config)
    by_id = {it.nodeid: it for it in session.items}
    failed = {e["nodeid"] for e in st.errors if e["phase"] != "convention"}
    groups: dict[str, list[pytest.Item]] = {}
    for rec in st.records:
        if rec["group"] is None or rec["role"] is None or rec["nodeid"] in failed:
            continue
        members = groups.setdefault(rec["group"], [])
        item = by_id.get(rec["nodeid"])
        if item is not None and item not in members:
            members.append(item)
    plan: list[tuple[pytest.Item, int]] = []
    for members in groups.values():
        for rnd in range(1, st.rounds):
            order = members if rnd % 2 == 0 else members[::-1]
            plan.extend((it, rnd) for it in order)
    return plan


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool:
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        raise session.Interrupted(f"{session.testsfailed} errors during collection")
    if session.config.option.collectonly:
        return True
    from _pytest.runner import runtestprotocol

    st = _state(session.config)
    tw = session.config.get_terminal_writer()
    items = session.items
    for i, item in enumerate(items):
        nextitem = items[i + 1] if i + 1 < len(items) else None
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
    plan = _schedule(session)
    if plan:
        tw.line()
        tw.line(f"interleaved reruns: {len(plan)} runs ({st.rounds - 1} more rounds per group)")
    last_group = None
    for i, (item, rnd) in enumerate(plan):
        st.round = rnd
        fx_group = next((r["group"] for r in st.records if r["nodeid"] == item.nodeid), None)
        if fx_group != last_group:
            tw.line(f"  [{i + 1}/{len(plan)}] {fx_group}", flush=True)
            last_group = fx_group
        nextitem = plan[i + 1][0] if i + 1 < len(plan) else None
        if nextitem is item:
            # The same test again (A B | B A): teardown must still finish this run's
            # function-scoped fixtures, so name a sibling (same module) as next.
            nextitem = next((it for it in items if it is not item
                             and it.parent is item.parent), None)
        runtestprotocol(item, log=False, nextitem=nextitem)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
    st.round = 0
    return True


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Iterator[None]:
    st = _state(session.config)
    _dedupe_benchmark_session(session, st)
    rs = _harness.declared_rows(st.declared, _harness.rows(st.records))
    out = session.config.getoption("--vl-out")
    if out:
        doc = {"records": st.records, "rows": rs, "declared": st.declared,
               "errors": _COLLECT_ERRORS + st.errors, "skipped": st.skipped,
               "collected": st.collected, "rounds": st.rounds, "env": _env()}
        Path(out).write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    session.config._vl_rows = rs  # type: ignore[attr-defined]
    yield


def _dedupe_benchmark_session(session: pytest.Session, st: _State) -> None:
    """Keep one pytest-benchmark entry per test: the round at the median."""
    bs = getattr(session.config, "_benchmarksession", None)
    if bs is None or not st.metas:
        return
    keep = set()
    for runs in st.metas.values():
        ordered = sorted(runs, key=lambda t: t[0])
        keep.add(id(ordered[(len(ordered) - 1) // 2][1]))
    rerun_ids = {id(m) for runs in st.metas.values() for _, m in runs}
    bs.benchmarks[:] = [b for b in bs.benchmarks if id(b) not in rerun_ids or id(b) in keep]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    rs = getattr(terminalreporter.config, "_vl_rows", None)
    st = _state(terminalreporter.config)
    tr = terminalreporter
    if rs:
        tr.section("vllsi ratios (vllsi / baseline, median of paired rounds)")
        tr.write_line(_harness.table(rs))
    errs = _COLLECT_ERRORS + st.errors
    if errs:
        tr.section("vllsi bench errors (reported, run continued)")
        for e in errs:
            last = e["error"].strip().splitlines()[-1:] or [""]
            tr.write_line(f"{e['nodeid']} [{e['phase']}]: {last[0][:200]}")


def _env() -> dict[str, Any]:
    from importlib import metadata

    pkgs: dict[str, str] = {}
    req = HERE / "requirements.txt"
    names = ["vllsi"]
    if req.exists():
        for line in req.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                names.append(line.split("==")[0].split(">=")[0].strip())
    for n in names:
        try:
            pkgs[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pkgs[n] = None  # type: ignore[assignment]
    try:
        from vllsi import _platform

        backend = _platform.describe()
    except Exception as exc:  # the harness reports, it does not crash
        backend = f"unavailable: {exc}"
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "executable": sys.executable, "packages": pkgs, "backend": backend}


# ---------------------------------------------------------------- fixtures

CG_CALLS = 20


@pytest.fixture
def benchmark(benchmark: Any, request: pytest.FixtureRequest) -> Any:
    """pytest-benchmark's fixture; under ``--vl-callgrind`` its measuring loop is replaced
    by CG_CALLS calls with callgrind collection switched on around them."""
    so = request.config.getoption("--vl-callgrind")
    if so:
        _callgrind_patch(benchmark, so)
    elif request.config.getoption("--vl-quick"):
        _quick_patch(benchmark)
    return benchmark


def _quick_patch(fx: Any) -> None:
    """Smoke runs: a pedantic benchmark does one round (the harness still interleaves)."""
    orig = fx._raw_pedantic

    def raw_pedantic(target: Callable[..., Any], args: tuple[Any, ...] = (),
                     kwargs: dict[str, Any] | None = None, setup: Any = None,
                     teardown: Any = None, rounds: int = 1, warmup_rounds: int = 0,
                     iterations: int = 1) -> Any:
        return orig(target, args=args, kwargs=kwargs, setup=setup, teardown=teardown,
                    rounds=1, warmup_rounds=0, iterations=iterations)

    fx._raw_pedantic = raw_pedantic


def _callgrind_patch(fx: Any, so: str) -> None:
    import ctypes

    toggle = ctypes.CDLL(so).vl_cg_toggle

    def raw(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        fn(*args, **kwargs)  # warm caches and lazy imports outside the count
        toggle()
        for _ in range(CG_CALLS):
            fn(*args, **kwargs)
        toggle()
        os.write(2, f"VLCG calls={CG_CALLS}\n".encode())
        return fn(*args, **kwargs)

    def raw_pedantic(target: Callable[..., Any], args: tuple[Any, ...] = (),
                     kwargs: dict[str, Any] | None = None, setup: Any = None,
                     teardown: Any = None, rounds: int = 1, warmup_rounds: int = 0,
                     iterations: int = 1) -> Any:
        kw = kwargs or {}
        result = None
        for i in range(CG_CALLS + 1):
            a, k = args, kw
            if setup is not None:
                made = setup()
                if made is not None:
                    a, k = made
            if i:
                toggle()
            result = target(*a, **k)
            if i:
                toggle()
            if teardown is not None:
                teardown(*a, **k)
        os.write(2, f"VLCG calls={CG_CALLS}\n".encode())
        return result

    fx._raw = raw
    fx._raw_pedantic = raw_pedantic


@pytest.fixture(scope="session")
def cbuild() -> Callable[..., Any]:
    """Compile C source with gcc into a shared library (cached by content) and load it.

    ``cbuild(source, flags=("-O2",))`` returns a ``ctypes.CDLL``; set argtypes and
    restype on its functions. Skips (reason ``environment:``) when gcc is missing
    or the build fails. Typical use: a floor function running a loop of N calls,
    benchmarked with ``extra_info["ops"] = N``.
    """
    import ctypes

    import _cc

    def build(source: str, flags: tuple[str, ...] = ("-O2",)) -> Any:
        try:
            so = _cc.build(source, shared=True, flags=flags)
        except _cc.BuildError as exc:
            pytest.skip(f"environment: floor loop: {exc}")
        return ctypes.CDLL(str(so))

    return build


@pytest.fixture(scope="session")
def bench_quick() -> bool:
    """True under ``run.py --quick`` (env ``VLLSI_BENCH_QUICK=1``): scale work down."""
    return os.environ.get("VLLSI_BENCH_QUICK") == "1"


@pytest.fixture(scope="session")
def echo_load() -> Callable[..., dict[str, Any]]:
    """``_loadgen.echo_load``: ping-pong echo clients in separate, pinned processes
    (see benchmarks/_loadgen.py; call ``_loadgen.pin_server()`` in the server process)."""
    import _loadgen

    return _loadgen.echo_load


@pytest.fixture
def bench_tmpdir() -> Iterator[Path]:
    """A fresh directory under ``$VLLSI_BENCH_DIR`` or ``benchmarks/.work`` (on the real disk;
    /tmp may be tmpfs, which makes fsync free). Removed afterwards."""
    base = Path(os.environ.get("VLLSI_BENCH_DIR", HERE / ".work"))
    base.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(dir=base))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)

