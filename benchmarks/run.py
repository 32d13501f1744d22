"""Run the vllsi benchmarks side by side with their baselines; ``python -m vllsi bench``.

    python -m vllsi bench [--quick] [--only AREA[,AREA]] [--rounds N] [--max-time S]
                          [--no-venv] [--[no-]callgrind] [--strict]
    python benchmarks/run.py --compare A.json B.json     # ratio changes between two runs

Steps: (1) create or reuse ``benchmarks/.venv`` with the peers of
``benchmarks/requirements.txt`` and vllsi installed editable (peers are never
dependencies of the library; a peer that fails to install is reported and its
rows skip); (2) install ``fio`` from Debian when missing (root + apt-get); (3) run
each ``bench_<area>.py`` in its own pytest process in that venv (a crash or an
import error of one area does not stop the others), with the interleaved rounds
of ``benchmarks/conftest.py``; (4) print ``name | vllsi | baseline | ratio |
target | met``; (5) write ``benchmarks/results/<date>-<host>.json`` (machine,
kernel, Python, package versions, every measurement and row), the chart
``benchmarks/results/latest.png`` and ``latest.md`` (quick runs:
``...-quick.json``, ``quick.png``, not committed).

``--quick`` (CI smoke test, under 3 minutes): 3 rounds of 0.02 s per test,
``benchmark.pedantic`` clamped to one round, 45 s per area at most and a global
time budget (areas past it are listed as not run). The exit status is non-zero only when the harness itself or
a benchmark process crashes (signal, pytest internal/usage error, no results from an
area that dies); failed or skipped benchmarks, areas killed on timeout and
missed targets are reported, not fatal (``--strict`` makes failures and timeouts
fatal too).

``--callgrind`` (default for full runs when valgrind is installed; ``--no-callgrind``
to skip): afterwards, run every benchmark marked ``noisy=True`` (and those named
by ``--callgrind-only SUBSTRING``) once more under ``valgrind --tool=callgrind``
and record user-space instructions per operation, Python side included
(instrumentation is switched on only around the measured calls: about 10 s per
test). Wall time of fsync and sockets is noisy; these counts are not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import _harness  # noqa: E402

VENV = HERE / ".venv"
RESULTS = HERE / "results"
QUICK_BUDGET_S = 150.0


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


# ---------------------------------------------------------------- environment

def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _stamp() -> str:
    h = hashlib.sha256()
    for f in (HERE / "requirements.txt", ROOT / "pyproject.toml", ROOT / "setup.py"):
        if f.exists():
            h.update(f.read_bytes())
    h.update(sys.version.encode())
    return h.hexdigest()[:16]


def ensure_venv(venv: Path) -> tuple[Path, list[str]]:
    """Create or reuse the bench venv; returns its python and the peers that failed."""
    py = venv_python(venv)
    stamp_file = venv / ".vllsi-bench-stamp"
    want = _stamp()
    if py.exists() and stamp_file.exists() and stamp_file.read_text().strip() == want:
        log(f"reusing {venv.relative_to(ROOT) if venv.is_relative_to(ROOT) else venv}")
        return py, json.loads((venv / ".vllsi-bench-failed").read_text() or "[]")
    if not py.exists():
        log(f"creating {venv} ...")
        subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    req = HERE / "requirements.txt"
    log("installing peers (benchmarks/requirements.txt) ...")
    failed: list[str] = []
    t0 = time.monotonic()
    if subprocess.run([*pip, "-r", str(req)]).returncode != 0:
        log("bulk install failed; installing one by one")
        for line in req.read_text().splitlines():
            spec = line.split("#", 1)[0].strip()
            if spec and subprocess.run([*pip, spec]).returncode != 0:
                failed.append(spec)
                log(f"  could not install {spec}: its rows will be skipped")
    log("installing vllsi (editable) ...")
    if subprocess.run([*pip, "--no-deps", "-e", str(ROOT)]).returncode != 0:
        failed.append("vllsi (editable)")
        log("  editable install of vllsi failed; using the source tree on PYTHONPATH")
    log(f"venv ready in {time.monotonic() - t0:.0f} s")
    (venv / ".vllsi-bench-failed").write_text(json.dumps(failed))
    stamp_file.write_text(want)
    return py, failed


def _base_python() -> str:
    base = getattr(sys, "_base_executable", None) or sys.executable
    return base if Path(base).exists() else sys.executable


def ensure_fio(allow: bool, timeout: float = 240.0) -> str | None:
    path = shutil.which("fio")
    if path or not allow:
        return path
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        log("fio missing (needs root and apt-get to install); fio rows will skip")
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "fio"]
    log("installing fio from Debian ...")
    try:
        if subprocess.run(cmd, env=env, capture_output=True, timeout=timeout).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True,
                           timeout=timeout)
            subprocess.run(cmd, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log("apt-get timed out; fio rows will skip")
    path = shutil.which("fio")
    if path is None:
        log("fio could not be installed; fio rows will skip")
    return path


def _cmd_out(cmd: list[str]) -> str | None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (r.stdout or r.stderr).strip().splitlines()[0] if r.returncode == 0 else None


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        m = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        mem = int(m.group(1)) * 1024 if m else None
    except OSError:
        pass
    osrel = ""
    try:
        m = re.search(r'PRETTY_NAME="([^"]*)"', Path("/etc/os-release").read_text())
        osrel = m.group(1) if m else ""
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "hostname": platform.node(), "machine": platform.machine(), "system": platform.system(),
        "kernel": platform.release(), "kernel_version": platform.version(), "os": osrel,
        "cpu": cpu, "cpus": cpus, "memory_bytes": mem,
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "gcc": _cmd_out(["gcc", "--version"]), "fio": _cmd_out(["fio", "--version"]),
        "valgrind": _cmd_out(["valgrind", "--version"]),
    }


def git_info() -> dict[str, Any]:
    rev = _cmd_out(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    dirty = None
    try:
        r = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=20)
        dirty = bool(r.stdout.strip()) if r.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {"commit": rev, "dirty": dirty}


# ---------------------------------------------------------------- running areas

def areas(only: list[str]) -> list[str]:
    found = sorted(p.stem[6:] for p in HERE.glob("bench_*.py"))
    if not only:
        return found
    unknown = [a for a in only if a not in found]
    for a in unknown:
        log(f"no benchmarks/bench_{a}.py (have: {', '.join(found)})")
    return [a for a in found if a in only]


_PROGRESS = re.compile(r"(PASSED|FAILED|SKIPPED|ERROR|XFAIL|interleaved reruns|^\s+\[\d+/\d+\])")


def run_area(py: Path, area: str, args: argparse.Namespace, outdir: Path, timeout: float,
             env: dict[str, str]) -> dict[str, Any]:
    out = outdir / f"{area}.json"
    logf = outdir / f"{area}.log"
    out.unlink(missing_ok=True)
    cmd = [str(py), "-m", "pytest", f"bench_{area}.py", "-v", "-p", "no:cacheprovider",
           f"--vl-rounds={args.rounds}", f"--benchmark-max-time={args.max_time}",
           "--benchmark-min-rounds=5", f"--vl-out={out}", "--benchmark-sort=name",
           "--benchmark-columns=min,median,iqr,rounds,iterations",
           *(["--vl-quick"] if args.quick else []), *args.pytest_args]
    t0 = time.monotonic()
    status: dict[str, Any] = {"area": area, "cmd": cmd}
    with open(logf, "w", encoding="utf-8") as lf:
        proc = subprocess.Popen(cmd, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, start_new_session=True)
        assert proc.stdout is not None
        timed_out = False
        deadline = t0 + timeout
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                os.killpg(proc.pid, 9)
                break
            if not sel.select(timeout=min(left, 1.0)):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            lf.write(line)
            if _PROGRESS.search(line):
                print(f"    {line.rstrip()[:140]}", flush=True)
        rc = proc.wait()
        sel.close()
    status["seconds"] = round(time.monotonic() - t0, 1)
    status["returncode"] = rc
    status["log"] = str(logf.relative_to(HERE))
    data: dict[str, Any] = {}
    if out.exists():
        try:
            data = json.loads(out.read_text())
        except json.JSONDecodeError as exc:
            status["error"] = f"unreadable results: {exc}"
    if timed_out:
        # killed: reported loudly, fatal only with --strict (a hang is not a crash)
        status["state"], status["crash"] = f"TIMEOUT (killed after {timeout:.0f} s)", False
        status["timeout"] = True
    elif rc < 0:
        status["state"], status["crash"] = f"crashed (signal {-rc})", True
    elif rc in (2, 3, 4) or not data:
        # 2 interrupted, 3 internal error, 4 usage error, or no results at all
        status["state"], status["crash"] = f"harness error (pytest exit {rc})", True
    elif rc == 1:
        status["state"], status["crash"] = "some benchmarks failed", False
    else:
        status["state"], status["crash"] = "ok", False
    status["errors"] = data.get("errors", [])
    status["skipped"] = data.get("skipped", [])
    status["collected"] = data.get("collected", 0)
    status["env"] = data.get("env", {})
    return {"status": status, "records": data.get("records", []),
            "declared": data.get("declared", [])}


# ---------------------------------------------------------------- callgrind

CG_C = r"""
#include <valgrind/callgrind.h>
/* valgrind runs with --instr-atstart=no --collect-atstart=no: interpreter and
   pytest start-up run uninstrumented (fast); only the measured calls are counted. */
static int on;
void vl_cg_toggle(void) {
    if (!on) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_TOGGLE_COLLECT; }
    else { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_STOP_INSTRUMENTATION; }
    on = !on;
}
"""


def callgrind(py: Path, records: list[dict[str, Any]], only: list[str], env: dict[str, str],
              outdir: Path) -> dict[str, Any]:
    if not shutil.which("valgrind"):
        log("callgrind: valgrind not found, skipped")
        return {}
    if not Path("/usr/include/valgrind/callgrind.h").exists():
        log("callgrind: valgrind headers missing, skipped")
        return {}
    so = outdir / "vl_cg.so"
    src = outdir / "vl_cg.c"
    src.write_text(CG_C)
    if subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(so), str(src)]).returncode:
        log("callgrind: helper build failed, skipped")
        return {}
    seen: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["nodeid"] in seen:
            continue
        if r["noisy"] or any(s in r["nodeid"] for s in only):
            seen[r["nodeid"]] = r
    res: dict[str, Any] = {}
    for i, (nodeid, r) in enumerate(seen.items()):
        cg_out = outdir / f"cg-{i}.out"
        log(f"callgrind [{i + 1}/{len(seen)}] {nodeid} ...")
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--instr-atstart=no",
               f"--callgrind-out-file={cg_out}", str(py), "-m", "pytest", nodeid, "-q", "-s",
               "-p", "no:cacheprovider", "--vl-rounds=1", f"--vl-callgrind={so}"]
        try:
            p = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True,
                               timeout=900)
        except subprocess.TimeoutExpired:
            res[nodeid] = {"error": "timeout"}
            continue
        text = cg_out.read_text() if cg_out.exists() else ""
        m = re.search(r"^totals:\s+(\d+)", text, re.M) or re.search(r"^summary:\s+(\d+)",
                                                                      text, re.M)
        calls = re.search(r"VLCG calls=(\d+)", p.stdout + p.stderr)
        if not m or not calls:
            res[nodeid] = {"error": f"no counts (rc {p.returncode})"}
            continue
        n_ops = int(calls.group(1)) * r["ops"]
        res[nodeid] = {"instructions": int(m.group(1)), "ops": n_ops,
                       "instructions_per_op": int(m.group(1)) / n_ops,
                       "group": r["group"], "label": r["label"], "role": r["role"]}
        log(f"    {res[nodeid]['instructions_per_op']:.0f} instructions per op")
        cg_out.unlink(missing_ok=True)
    return res


# ---------------------------------------------------------------- chart

def draw_chart(py: Path, doc: Path, png: Path, title: str) -> bool:
    """Draw with matplotlib of the bench venv (this interpreter may not have it)."""
    try:
        import matplotlib  # noqa: F401

        return _harness.chart(_harness.load(str(doc))["rows"], str(png), title)
    except ImportError:
        pass
    r = subprocess.run([str(py), str(Path(__file__).resolve()), "--_chart", str(doc), str(png),
                        title], capture_output=True, text=True)
    if r.returncode != 0:
        log(f"chart failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return r.returncode == 0


# ---------------------------------------------------------------- main

def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m vllsi bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: few short rounds (< 3 min)")
    ap.add_argument("--only", action="append", default=[], metavar="AREA",
                    help="run only these areas (bench_<AREA>.py); repeat or comma-separate")
    ap.add_argument("--rounds", type=int, help="interleaved rounds per group (7 full, 3 quick)")
    ap.add_argument("--max-time", type=float,
                    help="pytest-benchmark seconds per test run (0.25 full, 0.02 quick)")
    ap.add_argument("--no-venv", action="store_true",
                    help="use this interpreter instead of benchmarks/.venv (missing peers skip)")
    ap.add_argument("--venv", type=Path, default=VENV, help="bench venv location")
    ap.add_argument("--no-fio", action="store_true", help="do not install fio")
    ap.add_argument("--callgrind", action=argparse.BooleanOptionalAction, default=None,
                    help="count instructions of noisy=True rows under valgrind "
                         "(default: on for full runs when valgrind is installed)")
    ap.add_argument("--callgrind-only", action="append", default=[], metavar="SUBSTRING",
                    help="also count these tests (nodeid substring) under callgrind")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a benchmark failed")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two results files")
    ap.add_argument("--tolerance", type=float, default=0.10, help="--compare tolerance (0.10)")
    ap.add_argument("--timeout", type=float, help="seconds per area (900 full, 45 quick)")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    a = ap.parse_args(argv)
    a.only = [x for o in a.only for x in o.split(",") if x]
    a.rounds = a.rounds or (3 if a.quick else 7)
    a.max_time = a.max_time or (0.02 if a.quick else 0.25)
    a.timeout = a.timeout or (45.0 if a.quick else 900.0)
    if a.callgrind is None:
        a.callgrind = not a.quick and shutil.which("valgrind") is not None
    return a


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_chart"]:  # internal: draw_chart() in the bench venv
        ok = _harness.chart(_harness.load(argv[1])["rows"], argv[2], argv[3])
        return 0 if ok else 1
    a = parse(argv)
    if a.compare:
        text, off = _harness.compare(_harness.load(a.compare[0]), _harness.load(a.compare[1]),
                                     a.tolerance)
        print(text)
        print(f"\nCPU-bound rows beyond {a.tolerance:.0%}: {', '.join(off) if off else 'none'}")
        return 1 if off else 0
    t_start = time.monotonic()
    mode = "quick" if a.quick else "full"
    log(f"mode {mode}: {a.rounds} interleaved rounds, {a.max_time} s per test run")
    failed_peers: list[str] = []
    if a.no_venv:
        py = Path(sys.executable)
    else:
        try:
            py, failed_peers = ensure_venv(a.venv)
        except (subprocess.CalledProcessError, OSError) as exc:
            log(f"could not create the bench venv ({exc}); using {sys.executable}")
            py = Path(sys.executable)
    ensure_fio(not a.no_fio, timeout=40.0 if a.quick else 240.0)
    if not shutil.which("gcc"):
        log("gcc not found: C floor rows will skip")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("PYTEST_ADDOPTS", None)
    env["VLLSI_BENCH_QUICK"] = "1" if a.quick else "0"
    outdir = HERE / "results" / "areas"
    outdir.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    todo = areas(a.only)
    if not todo:
        log("no benchmark areas to run")
        return 2
    records: list[dict[str, Any]] = []
    declared: list[dict[str, Any]] = []
    statuses: dict[str, Any] = {}
    for i, area in enumerate(todo):
        left = QUICK_BUDGET_S - (time.monotonic() - t_start)
        if a.quick and left < 10:
            statuses[area] = {"area": area, "state": "not run (quick time budget spent)",
                              "crash": False, "errors": [], "skipped": []}
            log(f"[{i + 1}/{len(todo)}] {area}: not run (quick budget spent)")
            continue
        log(f"[{i + 1}/{len(todo)}] {area} ...")
        res = run_area(py, area, a, outdir, min(a.timeout, left) if a.quick else a.timeout, env)
        st = res["status"]
        statuses[area] = st
        records += res["records"]
        declared += res["declared"]
        n_err = len(st["errors"])
        log(f"    {area}: {st['state']} in {st['seconds']} s; {st['collected']} tests, "
            f"{len(st['skipped'])} skipped, {n_err} errors")
    rs = _harness.declared_rows(declared, _harness.rows(records))
    cg: dict[str, Any] = {}
    if a.callgrind or a.callgrind_only:
        cg = callgrind(py, records, a.callgrind_only, env, outdir)
    env_info = next((s.get("env") for s in statuses.values() if s.get("env")), {}) or {}
    machine["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    doc = {
        "schema": _harness.SCHEMA, "created": created, "mode": mode,
        "settings": {"rounds": a.rounds, "max_time": a.max_time, "only": a.only},
        "machine": machine,
        "python": {k: env_info.get(k) for k in ("python", "implementation", "executable")},
        "packages": env_info.get("packages", {}), "peers_failed": failed_peers,
        "vllsi": {"backend": env_info.get("backend"), **git_info()},
        "areas": {k: {kk: vv for kk, vv in v.items() if kk not in ("env", "cmd")}
                  for k, v in statuses.items()},
        "records": records, "rows": rs, "callgrind": cg,
        "seconds": round(time.monotonic() - t_start, 1),
    }
    probs = _harness.validate(doc)
    if probs:
        log("results document problems: " + "; ".join(probs))
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H%M%S", time.gmtime())
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", platform.node() or "host")
    suffix = "-quick" if a.quick else ""
    if a.only and not a.quick:
        suffix = "-" + "-".join(a.only)
    jpath = RESULTS / f"{stamp}-{host}{suffix}.json"
    jpath.write_text(json.dumps(doc, indent=1, default=str) + "\n", encoding="utf-8")
    title = (f"vllsi {mode} benchmark, {created[:10]}, {machine['cpu'] or machine['machine']}, "
             f"{machine['cpus']} CPUs, kernel {machine['kernel']}, "
             f"Python {doc['python'].get('python')}, {doc['vllsi'].get('backend')}")
    name = "quick" if a.quick else ("latest" if not a.only else "latest-" + "-".join(a.only))
    png = RESULTS / f"{name}.png"
    drawn = any(r["ratio"] is not None for r in rs) and draw_chart(py, jpath, png, title)
    md = f"{title}\n\n{_harness.markdown(rs)}\n"
    if cg:
        md += "\ncallgrind, user-space instructions per operation (Python loop included):\n\n"
        md += "\n".join(f"- `{k}`: " + (f"{v['instructions_per_op']:.0f}"
                                         if "instructions_per_op" in v else str(v.get("error")))
                        for k, v in cg.items()) + "\n"
    md += ("\nGoals of anchors.md 17.2 not yet tagged on a measured row: "
           f"{' '.join(_harness.goals_missing(rs)) or 'none'}\n")
    (RESULTS / f"{name}.md").write_text(md + f"\n(`{jpath.name}`)\n", encoding="utf-8")
    print()
    print(_harness.table(rs))
    if cg:
        print("\ncallgrind instructions per operation (Python side included):")
        for nodeid, v in cg.items():
            n = v.get("instructions_per_op")
            print(f"  {nodeid}: {f'{n:.0f}' if n is not None else v.get('error')}")
    print()
    crashed = [k for k, v in statuses.items() if v.get("crash")]
    failed = [k for k, v in statuses.items() if v.get("errors") or v.get("timeout")]
    for area, st in statuses.items():
        for e in st.get("errors", []):
            last = (e["error"].strip().splitlines() or [""])[-1]
            print(f"  error  {e['nodeid']} [{e['phase']}]: {last[:160]}")
        reasons: dict[str, int] = {}
        for s in st.get("skipped", []):
            reasons[s["reason"]] = reasons.get(s["reason"], 0) + 1
        for reason, n in reasons.items():
            print(f"  skip   {area}: {n} x {reason[:150]}")
    missing = _harness.goals_missing(rs)
    print("  goals (anchors.md 17.2) not yet tagged on a measured row (extra_info goal=...): "
          f"{' '.join(missing) or 'none'}")
    met = [r for r in rs if r["met"] is True]
    missed = [r for r in rs if r["met"] is False]
    log(f"{len(rs)} rows: {len(met)} targets met, {len(missed)} missed, "
        f"{sum(1 for r in rs if r['ratio'] is None)} without a measurement")
    log(f"wrote {jpath.relative_to(ROOT)}" + (f", {png.relative_to(ROOT)}" if drawn else
                                               " (no chart: matplotlib missing or no rows)"))
    load = [machine.get("loadavg_start"), machine.get("loadavg_end")]
    busy = [x[0] for x in load if x]
    if busy and max(busy) > (machine.get("cpus") or 1) * 0.75:
        log(f"note: the machine was busy (1-min load {', '.join(f'{b:.1f}' for b in busy)} on "
            f"{machine.get('cpus')} CPUs at start/end): ratios of the smallest operations "
            "may shift between runs")
    log(f"total {time.monotonic() - t_start:.0f} s")
    for area in [k for k, v in statuses.items() if v.get("timeout")]:
        log(f"WARNING: {area} timed out and was killed (see benchmarks/results/areas/{area}.log)")
    if crashed:
        for area in crashed:
            logf = outdir / f"{area}.log"
            lines = logf.read_text(errors="replace").splitlines() if logf.exists() else []
            at = next((i for i, t in enumerate(lines) if "Fatal Python error" in t), None)
            tail = lines[at:at + 12] if at is not None else lines[-15:]
            print(f"--- {area}: {statuses[area]['state']}; from {logf.name}:")
            print("\n".join("    " + t for t in tail))
        log(f"CRASHED areas: {', '.join(crashed)} (see benchmarks/results/areas/*.log)")
        return 1
    if a.strict and failed:
        log(f"failed benchmarks in: {', '.join(failed)} (--strict)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
