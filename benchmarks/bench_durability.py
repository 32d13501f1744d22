"""Durable atomic replacement: vllsi.durability against atomicwrites.

Rows: "atomic_write 4 KiB" (<= 1.0x time; both do 2 syncs: file + directory, as
conformance/durability's strace test pins for vllsi) and "1000 small files"
(``atomic_write_many`` in one batch vs atomicwrites per file; >= 3x faster, still
durable: syncfs + one directory fsync instead of 2000 fsyncs).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from vllsi import durability

DATA = b"d" * 4096
SMALL = b"s" * 100
FILES = 1000


def _role(benchmark: Any, group: str, role: str, target: float | None = None) -> None:
    benchmark.group = group
    info: dict[str, Any] = {"role": role}
    if target is not None:
        info["target"] = target
    benchmark.extra_info.update(info)


def test_atomic_write_vllsi(benchmark: Any, tmp_path: Path) -> None:
    _role(benchmark, "atomic_write 4 KiB", "vllsi")
    target = tmp_path / "t"
    benchmark(lambda: durability.atomic_write(target, DATA))


def test_atomic_write_atomicwrites(benchmark: Any, tmp_path: Path) -> None:
    atomicwrites = pytest.importorskip("atomicwrites")
    _role(benchmark, "atomic_write 4 KiB", "baseline", 1.0)
    target = str(tmp_path / "t")

    def run() -> None:
        with atomicwrites.atomic_write(target, mode="wb", overwrite=True) as f:
            f.write(DATA)

    benchmark(run)


def test_many_vllsi(benchmark: Any, tmp_path: Path) -> None:
    _role(benchmark, "1000 small files", "vllsi")
    rounds = itertools.count()

    def run() -> None:
        d = tmp_path / str(next(rounds) % 2)
        d.mkdir(exist_ok=True)
        durability.atomic_write_many([(d / f"f{i}", SMALL) for i in range(FILES)])

    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)


def test_many_atomicwrites(benchmark: Any, tmp_path: Path) -> None:
    atomicwrites = pytest.importorskip("atomicwrites")
    _role(benchmark, "1000 small files", "baseline", 1 / 3)
    rounds = itertools.count()

    def run() -> None:
        d = tmp_path / str(next(rounds) % 2)
        d.mkdir(exist_ok=True)
        for i in range(FILES):
            with atomicwrites.atomic_write(str(d / f"f{i}"), mode="wb", overwrite=True) as f:
                f.write(SMALL)

    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)


FSYNC_CHILD = {
    "vllsi": "from vllsi import durability\ndurability.atomic_write({t!r}, b'x' * 4096)",
    "atomicwrites": "import atomicwrites\n"
                    "with atomicwrites.atomic_write({t!r}, mode='wb', overwrite=True) as f:\n"
                    "    f.write(b'x' * 4096)",
}


def test_equal_sync_count(tmp_path: Path) -> None:
    """Not timed: strace counts the syncs of one atomic_write on each side (must be equal)."""
    import os
    import shutil
    import subprocess
    import sys

    pytest.importorskip("atomicwrites")
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("environment: strace is not installed")
    counts = {}
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    for side, code in FSYNC_CHILD.items():
        log = tmp_path / f"{side}.log"
        subprocess.run([strace, "-f", "-qq", "-o", str(log), "-e",
                        "trace=fsync,fdatasync,syncfs,sync_file_range,msync",
                        sys.executable, "-c", code.format(t=str(tmp_path / side))],
                       check=True, env=env)
        counts[side] = sum(1 for ln in log.read_text().splitlines() if "(" in ln)
    assert counts["vllsi"] == counts["atomicwrites"] == 2, counts
