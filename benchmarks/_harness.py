"""Pure logic of the benchmark harness: measurements -> rows, table, results JSON, chart.

No pytest, no vllsi imports here (``benchmarks/conftest.py`` and
``benchmarks/run.py`` use it; ``benchmarks/test_harness.py`` tests it).

Vocabulary
----------
record
    One measured run of one benchmark test in one interleaving round: the
    pytest-benchmark minimum of that run's rounds (its median when the test says
    ``noisy=True``) divided by ``ops`` (operations per call of the benchmarked
    function), in ns per operation, with the test's ``group``,
    ``role`` ("vllsi" / "baseline"), ``target``, ``label`` and ``noisy`` flag; any other
    ``extra_info`` key the test set is kept under ``info``.
member
    All records of one test (one per round).
row
    One (vllsi member, baseline member) pair of a group: medians of each side
    over the rounds, and the ratio vllsi/baseline computed *per round* from the
    two runs that ran back to back, then the median of those paired ratios (its
    min..max is the spread). ``met`` is ``ratio <= target`` (``None`` when the
    baseline has no target or a side is missing).
"""

from __future__ import annotations

import json
import math
import statistics
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SCHEMA = "vllsi-bench/1"
ROLES = ("vllsi", "baseline")

# Keys every results JSON must have at top level, and every row.
RESULT_KEYS = ("schema", "created", "mode", "machine", "python", "packages", "vllsi",
               "areas", "records", "rows")
ROW_KEYS = ("area", "group", "name", "vllsi", "baseline", "vllsi_ns", "baseline_ns",
            "vllsi_spread", "baseline_spread", "ratio", "ratio_lo", "ratio_hi", "rounds",
            "target", "met", "noisy", "goal")


# Performance goals of ../shared/reference/anchors.md section 17.2. A baseline test
# names the goal its row proves with extra_info goal="P5"; the run lists the goals
# that have no row yet.
GOALS = {
    "P1": "getpid vs os.getpid <= 1.3x", "P2": "getpid >= 1.6x faster than ctypes syscall",
    "P3": "getpid >= 1.3x faster than cffi ABI getpid", "P4": "vDSO monotonic_ns <= 1.5x time",
    "P5": "pread_into 4 KiB <= 1.05x os.preadv", "P6": "engine batch 64 x 4 KiB vs os.pread loop",
    "P7": "engine single op <= 1.3x os.pread", "P8": "O_DIRECT QD64 >= 6x IOPS of QD1",
    "P9": "engine instructions per read <= 0.7x os.pread loop",
    "P10": "echo vs asyncio Protocol >= 1.3x", "P11": "echo vs uvloop Protocol >= 0.85x",
    "P12": "echo vs trio / select.epoll >= 1.1x", "P13": "epoll fallback >= 0.9x io_uring",
    "P14": "64/100 KiB echo vs uvloop >= 0.9x", "P15": "OFD lock+unlock <= 1.0x fcntl",
    "P16": "OFD lock+unlock <= 1.1x lockf", "P17": "lock object vs filelock/fasteners/portalocker",
    "P18": "SQLite lock round trips <= 2.5/3 us", "P19": "full_fsync 0.95-1.05x fdatasync",
    "P20": "atomic_write <= 1.0x atomicwrites", "P21": "atomic_write(durable=False) <= 1.1x",
    "P22": "1000 files batched dir fsync >= 3x", "P23": "bitfield extract vs bitstruct & co",
    "P24": "bitfield insert <= 1.0x cbitstruct", "P25": "field get/set <= 2.0x ctypes",
    "P26": "batch extract >= 3x cbitstruct loop", "P27": "MMIO read32/write32 <= 1.5x memoryview",
    "P28": "madvise <= 1.2x mmap.madvise", "P29": "TLS get <= 2.0x threading.local",
}


# extra_info keys the harness interprets; any other key is kept as the record's "info".
INFO_RESERVED = frozenset({"role", "target", "label", "ops", "ops_per_round", "noisy", "goal",
                           "max_ns"})


def make_record(*, area: str, nodeid: str, name: str, group: str | None,
                extra: Mapping[str, Any], rnd: int, median_s: float, min_s: float,
                iqr_s: float, rounds: int, iterations: int) -> dict[str, Any]:
    """One measurement, from a pytest-benchmark run (seconds per call) to ns per op."""
    ops = extra.get("ops", extra.get("ops_per_round", 1))  # ops_per_round: an alias
    if not isinstance(ops, (int, float)) or isinstance(ops, bool) or ops <= 0:
        raise ValueError(f"{nodeid}: extra_info ops must be a positive number, not {ops!r}")
    role = extra.get("role")
    if role is not None and role not in ROLES:
        raise ValueError(f"{nodeid}: extra_info role must be one of {ROLES}, not {role!r}")
    target = extra.get("target")
    if target is not None and (not isinstance(target, (int, float)) or isinstance(target, bool)
                               or not target > 0):
        raise ValueError(f"{nodeid}: extra_info target must be a positive number, not {target!r}")
    if role == "vllsi" and target is not None:
        raise ValueError(f"{nodeid}: target belongs on the baseline side, not role='vllsi'")
    max_ns = extra.get("max_ns")
    if max_ns is not None and (role != "vllsi" or not isinstance(max_ns, (int, float))
                               or isinstance(max_ns, bool) or not max_ns > 0):
        raise ValueError(f"{nodeid}: max_ns (an absolute target) is a positive number on the "
                         "vllsi side")
    scale = 1e9 / ops
    noisy = bool(extra.get("noisy", False))
    info = {k: v for k, v in extra.items() if k not in INFO_RESERVED}
    return {
        "area": area, "nodeid": nodeid, "group": group, "role": role,
        "label": str(extra.get("label") or _label_from(name)),
        "target": None if target is None else float(target),
        "ops": ops, "noisy": noisy, "round": rnd, "goal": extra.get("goal"),
        "max_ns": None if max_ns is None else float(max_ns),
        # the run's figure: best of its rounds for CPU-bound rows (what the anchors
        # measured; robust to preemption on a shared box), median for noisy ones
        "ns": (median_s if noisy else min_s) * scale,
        "median_ns": median_s * scale, "min_ns": min_s * scale, "iqr_ns": iqr_s * scale,
        "bench_rounds": rounds, "iterations": iterations,
        # the test's other extra_info (e.g. the echo rows' CPU accounting), as it set it
        "info": info,
    }


def _label_from(name: str) -> str:
    return name[5:] if name.startswith("test_") else name


def members(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Records by test (nodeid), in first-seen order, each with ``samples`` {round: ns}."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        m = out.get(r["nodeid"])
        if m is None:
            m = out[r["nodeid"]] = {k: r.get(k) for k in ("area", "nodeid", "group", "role",
                                                          "label", "target", "noisy", "goal",
                                                          "max_ns")}
            m["samples"] = {}
        m["samples"][int(r["round"])] = float(r["ns"])
    return out


def spread(values: Sequence[float]) -> float:
    """Relative half-range: max(|max - median|, |median - min|) / median (0 for one value)."""
    if len(values) < 2:
        return 0.0
    med = statistics.median(values)
    if med == 0:
        return 0.0
    return max(max(values) - med, med - min(values)) / med


def _side(m: Mapping[str, Any] | None) -> tuple[float | None, float | None]:
    if m is None or not m["samples"]:
        return None, None
    vals = list(m["samples"].values())
    return statistics.median(vals), spread(vals)


def make_row(vl: Mapping[str, Any] | None, bl: Mapping[str, Any] | None, name: str,
             group: str, area: str) -> dict[str, Any]:
    """The row comparing one vllsi member with one baseline member (either may be absent)."""
    vns, vsp = _side(vl)
    bns, bsp = _side(bl)
    ratios: list[float] = []
    if vl is not None and bl is not None:
        for rnd, v in vl["samples"].items():
            b = bl["samples"].get(rnd)
            if b:
                ratios.append(v / b)
        if not ratios and vns is not None and bns:
            ratios.append(vns / bns)  # no common round: medians (should not happen)
    target = bl["target"] if bl is not None else None
    ratio = statistics.median(ratios) if ratios else None
    met = None if ratio is None or target is None else bool(ratio <= target)
    return {
        "area": area, "group": group, "name": name,
        "vllsi": vl["label"] if vl is not None else None,
        "baseline": bl["label"] if bl is not None else None,
        "vllsi_ns": vns, "baseline_ns": bns, "vllsi_spread": vsp, "baseline_spread": bsp,
        "ratio": ratio, "ratio_lo": min(ratios) if ratios else None,
        "ratio_hi": max(ratios) if ratios else None, "rounds": len(ratios),
        "target": target, "met": met,
        "noisy": bool((vl is not None and vl["noisy"]) or (bl is not None and bl["noisy"])),
        "goal": bl.get("goal") if bl is not None else None,
    }


def rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every (vllsi, baseline) pair of every group, groups in first-seen order.

    A group with baselines but no measured vllsi member (not written yet, or
    skipped) still yields its rows with the vllsi side empty, and a vllsi member
    with no baseline a row with the baseline side empty, so missing work shows.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in members(records).values():
        if m["group"] is None or m["role"] is None:
            continue
        groups.setdefault((m["area"], m["group"]), []).append(m)
    areas_of: dict[str, set[str]] = {}
    for area, group in groups:
        areas_of.setdefault(group, set()).add(area)
    out: list[dict[str, Any]] = []
    for (area_key, group), ms in groups.items():
        # the same group name in two areas: name the area so row names stay unique
        shown = f"{area_key}/{group}" if len(areas_of[group]) > 1 else group
        vls = [m for m in ms if m["role"] == "vllsi"]
        bls = [m for m in ms if m["role"] == "baseline"]
        area = ms[0]["area"]
        for vl in vls or [None]:
            for bl in bls or [None]:
                parts = [shown]
                label = []
                if len(vls) > 1 and vl is not None:
                    label.append(vl["label"])
                if bl is not None:
                    label.append(bl["label"])
                if label:
                    parts.append(" / ".join(label) if len(label) == 1
                                 else f"{label[0]} vs {label[1]}")
                out.append(make_row(vl, bl, ": ".join(parts), group, area))
        for vl in vls:
            if vl.get("max_ns"):  # absolute target: a fixed "baseline" of max_ns
                ref = {"label": f"absolute <= {fmt_time(vl['max_ns'])}", "target": 1.0,
                       "noisy": False, "goal": vl.get("goal"),
                       "samples": {k: vl["max_ns"] for k in vl["samples"]}}
                out.append(make_row(vl, ref, f"{shown}: {ref['label']}", group, area))
    return out


def goals_missing(rs: Iterable[Mapping[str, Any]]) -> list[str]:
    """Goals of GOALS that no measured row names yet."""
    have = {r.get("goal") for r in rs if r.get("ratio") is not None}
    return [g for g in GOALS if g not in have]


def declared_rows(declared: Iterable[Mapping[str, Any]], measured: list[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """Add empty rows for benchmarks that were collected but not measured (skipped).

    ``declared`` items carry area, group, role, label, target when the test set
    them before skipping; without a group nothing can be said and they are left out.
    """
    have = {(r["group"], side, r[side]) for r in measured for side in ROLES if r[side]}
    extra: list[dict[str, Any]] = []
    for d in declared:
        g, role = d.get("group"), d.get("role")
        if not g or role not in ROLES or (g, role, d["label"]) in have:
            continue
        have.add((g, role, d["label"]))
        m = {"label": d["label"], "target": d.get("target"), "noisy": False, "samples": {},
             "goal": d.get("goal")}
        row = make_row(m if role == "vllsi" else None, m if role == "baseline" else None,
                       f"{g}: {d['label']}", g, d["area"])
        row["skipped"] = d.get("reason", "")
        extra.append(row)
    order: dict[str, int] = {}
    for r in measured + extra:
        order.setdefault(r["group"], len(order))
    return sorted(measured + extra, key=lambda r: order[r["group"]])  # stable: keeps row order


# ---------------------------------------------------------------- formatting

def fmt_time(ns: float | None) -> str:
    if ns is None:
        return "-"
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_target(t: float | None) -> str:
    if t is None:
        return "-"
    if t < 1:
        return f"<={t:.3g}x (>={1 / t:.3g}x faster)"
    return f"<={t:.3g}x"


def fmt_ratio(r: Mapping[str, Any]) -> str:
    if r["ratio"] is None:
        return "-"
    s = f"{r['ratio']:.3f}x"
    if r["rounds"] > 1:
        s += f" ({r['ratio_lo']:.3f}-{r['ratio_hi']:.3f})"
    return s


def fmt_met(m: bool | None, r: Mapping[str, Any]) -> str:
    if m is None:
        return "-" if r["ratio"] is not None else "n/a"
    return "yes" if m else "NO"


def table(rs: Sequence[Mapping[str, Any]]) -> str:
    """``name | vllsi | baseline | ratio | target | met`` as an aligned text table."""
    head = ("name", "vllsi", "baseline", "ratio (lo-hi)", "target", "met")
    lines = [head]
    for r in rs:
        vs = fmt_time(r["vllsi_ns"])
        if r["vllsi_ns"] is not None and r["vllsi_spread"]:
            vs += f" ±{r['vllsi_spread'] * 100:.0f}%"
        bs = fmt_time(r["baseline_ns"])
        if r["baseline_ns"] is not None and r["baseline_spread"]:
            bs += f" ±{r['baseline_spread'] * 100:.0f}%"
        name = r["name"] + (f" [{r['goal']}]" if r.get("goal") else "") + (
            " (noisy)" if r.get("noisy") else "")
        lines.append((name, vs, bs, fmt_ratio(r), fmt_target(r["target"]),
                      fmt_met(r["met"], r)))
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    out = []
    for i, row in enumerate(lines):
        out.append(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


def markdown(rs: Sequence[Mapping[str, Any]]) -> str:
    """The same table as Markdown (benchmarks/results/latest.md)."""
    out = ["| name | vllsi | baseline | ratio (lo-hi) | target | met |",
           "|---|---|---|---|---|---|"]
    for r in rs:
        goal = f" [{r['goal']}]" if r.get("goal") else ""
        out.append(f"| {r['name']}{goal}{' (noisy)' if r.get('noisy') else ''} | "
                   f"{fmt_time(r['vllsi_ns'])} | {fmt_time(r['baseline_ns'])} | {fmt_ratio(r)} | "
                   f"{fmt_target(r['target'])} | {fmt_met(r['met'], r)} |")
    return "\n".join(out)


# ---------------------------------------------------------------- results JSON

def validate(doc: Mapping[str, Any]) -> list[str]:
    """Problems with a results document (empty list: valid)."""
    probs = [f"missing key {k!r}" for k in RESULT_KEYS if k not in doc]
    if doc.get("schema") != SCHEMA:
        probs.append(f"schema is {doc.get('schema')!r}, expected {SCHEMA!r}")
    for i, r in enumerate(doc.get("rows", [])):
        probs += [f"row {i}: missing {k!r}" for k in ROW_KEYS if k not in r]
        if (r.get("ratio") is not None and r.get("target") is not None
                and r.get("met") is not (r["ratio"] <= r["target"])):
            probs.append(f"row {i}: met disagrees with ratio/target")
        if r.get("ratio") is not None and not math.isfinite(r["ratio"]):
            probs.append(f"row {i}: ratio not finite")
    return probs


def load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        doc: dict[str, Any] = json.load(f)
    return doc


def compare(a: Mapping[str, Any], b: Mapping[str, Any], tolerance: float = 0.10
            ) -> tuple[str, list[str]]:
    """Table of ratio changes between two results; second item: CPU-bound rows off by
    more than ``tolerance`` (relative) between the runs."""
    ra = {r["name"]: r for r in a["rows"] if r["ratio"] is not None}
    rb = {r["name"]: r for r in b["rows"] if r["ratio"] is not None}
    lines = [("name", "ratio A", "ratio B", "change", "kind")]
    off: list[str] = []
    for name in [n for n in ra if n in rb]:
        x, y = ra[name]["ratio"], rb[name]["ratio"]
        ch = (y - x) / x
        noisy = ra[name].get("noisy") or rb[name].get("noisy")
        kind = "noisy" if noisy else "cpu"
        lines.append((name, f"{x:.3f}x", f"{y:.3f}x", f"{ch * 100:+.1f}%", kind))
        if not noisy and abs(ch) > tolerance:
            off.append(name)
    widths = [max(len(r[i]) for r in lines) for i in range(5)]
    text = "\n".join(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in lines)
    return text, off


# ---------------------------------------------------------------- chart

def fmt_ratio_short(r: float) -> str:
    """0.51x, 1.9x; far below 1 as 1/50x (50 times faster)."""
    return f"1/{1 / r:.0f}x" if r < 0.1 else f"{r:.2f}x"


def _short(name: str, width: int = 66) -> str:
    return name if len(name) <= width else name[: width // 2 - 1] + "..." + name[-(width // 2 - 2):]


CLIP = (0.1, 10.0)  # the x range drawn; bars beyond it are clipped and say so


def chart(rs: Sequence[Mapping[str, Any]], path: str, title: str) -> bool:
    """Horizontal bars of ratio (log scale) per row with the target marked; needs matplotlib.

    The x axis spans 0.1x..10x at most (wider ratios are clipped, with an arrow and
    their value); a light line separates groups; ``*`` marks noisy rows. Returns
    False (and draws nothing) when matplotlib is missing or nothing was measured.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
    except ImportError:
        return False
    data = [r for r in rs if r["ratio"] is not None]
    if not data:
        return False
    data = data[::-1]  # first row on top
    n = len(data)
    fig, ax = plt.subplots(figsize=(12, 1.6 + 0.3 * n))
    lows = [min(r["ratio_lo"], r["target"] or r["ratio_lo"]) for r in data]
    highs = [max(r["ratio_hi"], r["target"] or r["ratio_hi"]) for r in data]
    xmin = max(min(min(lows), 0.9) / 1.3, CLIP[0])
    xmax = min(max(max(highs), 1.1) * 1.6, CLIP[1])

    def clip(v: float) -> float:
        return min(max(v, xmin), xmax)

    ys = list(range(n))
    colors = ["#2e7d32" if r["met"] else "#c62828" if r["met"] is False else "#9e9e9e"
              for r in data]
    vals = [clip(r["ratio"]) for r in data]
    ax.barh(ys, [v - 1 for v in vals], left=1, color=colors, height=0.6)
    for y, r in zip(ys, data, strict=True):
        lo, hi = clip(r["ratio_lo"]), clip(r["ratio_hi"])
        if hi > lo:
            ax.plot([lo, hi], [y, y], color="#333333", lw=0.8)
            ax.plot([lo, lo], [y - 0.12, y + 0.12], color="#333333", lw=0.8)
            ax.plot([hi, hi], [y - 0.12, y + 0.12], color="#333333", lw=0.8)
        if r["target"] is not None and xmin <= r["target"] <= xmax:
            ax.plot([r["target"]] * 2, [y - 0.4, y + 0.4], color="black", lw=2)
        clipped = r["ratio"] != vals[y]
        label = fmt_ratio_short(r["ratio"]) + (" (clipped)" if clipped else "")
        right = max(hi, clip(r["target"] or 0), 1)
        ax.text(min(right * 1.04, xmax), y, " " + label, va="center", fontsize=8)
    for y in range(1, n):  # a light line between groups
        if data[y]["group"] != data[y - 1]["group"]:
            ax.axhline(y - 0.5, color="#bbbbbb", lw=0.6)
    ax.axvline(1.0, color="#555555", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlim(xmin, xmax * 1.5)
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10) if xmin <= t <= xmax]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}x" for t in ticks])
    ax.minorticks_off()
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks(ys)
    ax.set_yticklabels([_short(r["name"]) + (f" [{r['goal']}]" if r.get("goal") else "")
                        + (" *" if r.get("noisy") else "") for r in data], fontsize=8)
    ax.set_xlabel("time ratio vllsi / baseline, median of interleaved rounds with min..max "
                  "(log scale; < 1: vllsi faster; * noisy row)", fontsize=9)
    fig.suptitle(textwrap.fill(title, 120), fontsize=9)
    ax.legend(handles=[Patch(color="#2e7d32", label="target met"),
                       Patch(color="#c62828", label="target missed"),
                       Patch(color="#9e9e9e", label="no target (reference)"),
                       Line2D([0], [0], color="black", lw=2, label="target (max ratio)")],
              loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize=8,
              frameon=False)
    ax.grid(axis="x", alpha=0.25)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))  # room for the title
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
