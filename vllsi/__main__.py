"""``python -m vllsi``: status, info, bench.

- ``status``: run the conformance suite on every tier this machine has (with
  pytest's progress display), merge with any stored results of other backends
  (conformance/results/), print the matrix, write STATUS.md and status.json.
- ``info``: platform, tier, page size, CPUs and what the kernel offers.
- ``bench``: run the benchmarks (benchmarks/run.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tiers() -> list[str]:
    from vllsi import _platform

    if _platform.OS != "linux":
        return [""]
    tiers = ["libc"]
    if _platform.TIER == "asm":
        tiers.insert(0, "asm")
    return tiers


def cmd_status(args: argparse.Namespace) -> int:
    if not (ROOT / "conformance" / "plugin.py").exists():
        print("vllsi status needs a source checkout (conformance/ beside vllsi/)", file=sys.stderr)
        return 2
    worst = 0
    for tier in _tiers():
        env = dict(os.environ)
        if tier:
            env["VLLSI_TIER"] = tier
        label = tier or "native"
        print(f"== conformance, tier {label} ==", flush=True)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--vllsi-record", *args.pytest_args]
        rc = subprocess.call(cmd, cwd=ROOT, env=env)
        if rc not in (0, 5):
            worst = worst or rc
    rc = subprocess.call([sys.executable, "-m", "conformance.report"], cwd=ROOT)
    return worst or rc


def cmd_info(_: argparse.Namespace) -> int:
    from vllsi import _platform, types

    print(f"platform   {_platform.platform_name()}")
    print(f"tier       {_platform.TIER}  (backend {_platform.describe()})")
    print(f"python     {sys.version.split()[0]}")
    print(f"page size  {types.PAGE_SIZE}")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cpus       {cpus}")
    if _platform.OS != "linux":
        return 0
    import platform

    from vllsi.linux import probe

    print(f"kernel     {platform.release()}")
    ops, why = probe.io_uring_opcodes()
    print(f"io_uring   {f'{len(ops)} opcodes supported (0..{max(ops)})' if ops else why}")
    try:
        from vllsi.linux import vdso

        syms = sorted(vdso.symbols())
        print(f"vdso       {', '.join(syms)}")
    except ImportError:
        maps = Path("/proc/self/maps").read_text().splitlines()
        vd = [ln.split()[0] for ln in maps if ln.endswith("[vdso]")]
        print(f"vdso       mapped at {vd[0] if vd else 'nowhere'} (symbol parser not built)")
    ok, why = probe.bpf_available()
    print(f"bpf        {'available' if ok else why}")
    abi = probe.landlock_abi()
    print(f"landlock   {f'ABI {abi}' if abi else 'absent'}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    run = ROOT / "benchmarks" / "run.py"
    if not run.exists():
        print("benchmarks/run.py not found (needs a source checkout)", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(run), *args.bench_args], cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["bench"]:  # everything after "bench" belongs to benchmarks/run.py
        return cmd_bench(argparse.Namespace(bench_args=args[1:]))
    ap = argparse.ArgumentParser(prog="python -m vllsi")
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("status", help="run the conformance suite and print the matrix")
    st.add_argument("pytest_args", nargs=argparse.REMAINDER)
    sub.add_parser("info", help="platform, tier and kernel features")
    b = sub.add_parser("bench", help="run the benchmarks (see: python -m vllsi bench --help)")
    b.add_argument("bench_args", nargs=argparse.REMAINDER)
    a = ap.parse_args(args)
    handler = {"status": cmd_status, "info": cmd_info, "bench": cmd_bench}[a.cmd]
    return handler(a)


if __name__ == "__main__":
    sys.exit(main())
