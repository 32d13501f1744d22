"""Self-tests of the benchmark harness (cheap; run by .ci/stages/90-bench.sh).

Pure logic of ``_harness`` (paired ratios, target/met, rows for missing sides, the
results schema) and one end-to-end session of ``conftest.py`` on synthetic bench
files in a temporary directory: a pair with a target, a baseline whose peer is
missing, a file that fails to import, and a test that fails on its second round.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness

HERE = Path(__file__).resolve().parent


def rec(nodeid: str, group: str, role: str, rnd: int, seconds: float, **extra: Any
        ) -> dict[str, Any]:
    return _harness.make_record(area="t", nodeid=nodeid, name=nodeid, group=group,
                                extra={"role": role, **extra}, rnd=rnd, median_s=seconds,
                                min_s=seconds, iqr_s=0.0, rounds=5, iterations=1)


def test_ratio_is_median_of_paired_rounds() -> None:
    # round 1 is slow for both sides (machine drift): pairing cancels it.
    rs = [rec("v", "g", "vllsi", 0, 1.0), rec("b", "g", "baseline", 0, 2.0, target=0.6),
          rec("v", "g", "vllsi", 1, 3.0), rec("b", "g", "baseline", 1, 6.0, target=0.6),
          rec("v", "g", "vllsi", 2, 1.1), rec("b", "g", "baseline", 2, 2.0, target=0.6)]
    [row] = _harness.rows(rs)
    assert row["ratio"] == pytest.approx(0.5)
    assert row["ratio_lo"] == pytest.approx(0.5) and row["ratio_hi"] == pytest.approx(0.55)
    assert row["rounds"] == 3 and row["met"] is True
    assert row["vllsi_ns"] == pytest.approx(1.1e9)


def test_met_and_target_direction() -> None:
    slow = [rec("v", "g", "vllsi", 0, 1.4), rec("b", "g", "baseline", 0, 1.0, target=1.3)]
    [row] = _harness.rows(slow)
    assert row["ratio"] == pytest.approx(1.4) and row["met"] is False
    ref = [rec("v", "g", "vllsi", 0, 1.4), rec("b", "g", "baseline", 0, 1.0)]
    assert _harness.rows(ref)[0]["met"] is None


def test_ops_normalises_to_per_operation() -> None:
    r = rec("v", "g", "vllsi", 0, 1e-3, ops=1000)
    assert r["ns"] == pytest.approx(1000.0)


def test_missing_sides_still_give_rows() -> None:
    only_baseline = [rec("b", "g", "baseline", 0, 1.0, target=1.0)]
    [row] = _harness.rows(only_baseline)
    assert row["vllsi"] is None and row["ratio"] is None and row["met"] is None
    declared = [{"area": "t", "group": "h", "role": "baseline", "label": "peer", "target": 2.0,
                 "reason": "could not import 'peer'"}]
    rs = _harness.declared_rows(declared, _harness.rows(only_baseline))
    assert [r["group"] for r in rs] == ["g", "h"] and rs[1]["skipped"]


def test_absolute_target_and_goals() -> None:
    rs = _harness.rows([rec("v", "g", "vllsi", 0, 2e-6, max_ns=2500, goal="P18"),
                        rec("v", "g", "vllsi", 1, 3e-6, max_ns=2500, goal="P18")])
    [absolute] = [r for r in rs if r["baseline"]]
    assert absolute["ratio"] == pytest.approx(1.0) and absolute["met"] is True
    assert absolute["ratio_hi"] == pytest.approx(1.2) and absolute["goal"] == "P18"
    assert "P18" not in _harness.goals_missing(rs) and "P1" in _harness.goals_missing(rs)
    with pytest.raises(ValueError, match="max_ns"):
        rec("b", "g", "baseline", 0, 1.0, max_ns=5)


def test_same_group_in_two_areas_stays_apart() -> None:
    a = rec("v", "g", "vllsi", 0, 1.0) | {"area": "x"}
    b = rec("b", "g", "baseline", 0, 2.0) | {"area": "x"}
    c = rec("v2", "g", "vllsi", 0, 3.0) | {"area": "y"}
    d = rec("b2", "g", "baseline", 0, 3.0) | {"area": "y"}
    rs = _harness.rows([a, b, c, d])
    assert [(r["name"], r["ratio"]) for r in rs] == [("x/g: b", 0.5), ("y/g: b2", 1.0)]


def test_convention_errors() -> None:
    with pytest.raises(ValueError, match="role"):
        rec("v", "g", "peer", 0, 1.0)
    with pytest.raises(ValueError, match="target belongs"):
        rec("v", "g", "vllsi", 0, 1.0, target=1.0)
    with pytest.raises(ValueError, match="ops"):
        rec("v", "g", "vllsi", 0, 1.0, ops=0)


def test_schema_and_compare() -> None:
    rs = _harness.rows([rec("v", "g", "vllsi", 0, 1.0), rec("b", "g", "baseline", 0, 2.0,
                                                             target=0.6)])
    doc = {"schema": _harness.SCHEMA, "created": "x", "mode": "full", "machine": {},
           "python": {}, "packages": {}, "vllsi": {}, "areas": {}, "records": [], "rows": rs}
    assert _harness.validate(doc) == []
    assert _harness.validate({**doc, "rows": [{**rs[0], "met": False}]})
    assert _harness.validate({k: v for k, v in doc.items() if k != "machine"})
    other = {**doc, "rows": [{**rs[0], "ratio": 0.56}]}
    _, off = _harness.compare(doc, other)
    assert off == ["g: b"]
    _, off = _harness.compare(doc, {**doc, "rows": [{**rs[0], "ratio": 0.52}]})
    assert off == []
    text = _harness.table(rs)
    assert "name | vllsi | baseline" in text and "yes" in text


BENCH_OK = '''
import pytest
def test_a(benchmark):
    benchmark.group = "pair"
    benchmark.extra_info.update(role="vllsi", ops=10)
    benchmark(lambda: sum(range(10)))
def test_b(benchmark):
    benchmark.group = "pair"
    benchmark.extra_info.update(role="baseline", target=100.0, label="sum of list")
    benchmark(lambda: sum(list(range(10))))
def test_peer(benchmark):
    benchmark.group = "pair"
    benchmark.extra_info.update(role="baseline", target=1.0, label="no such peer")
    pytest.importorskip("vllsi_no_such_peer_pkg")
COUNT = [0]
def test_flaky(benchmark):
    benchmark.group = "flaky"
    benchmark.extra_info.update(role="vllsi")
    COUNT[0] += 1
    if COUNT[0] == 2:
        raise RuntimeError("second round fails")
    benchmark(lambda: None)
'''


def test_session_end_to_end(tmp_path: Path) -> None:
    for f in ("conftest.py", "_harness.py", "pytest.ini"):
        shutil.copy(HERE / f, tmp_path / f)
    (tmp_path / "bench_ok.py").write_text(BENCH_OK)
    (tmp_path / "bench_broken.py").write_text("import vllsi_no_such_module_either\n")
    out = tmp_path / "out.json"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "bench_ok.py", "bench_broken.py",
                        "--vl-rounds=3", "--benchmark-max-time=0.005", f"--vl-out={out}"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.exists(), r.stdout + r.stderr
    doc = json.loads(out.read_text())
    rounds = sorted(x["round"] for x in doc["records"] if x["nodeid"].endswith("test_a"))
    assert rounds == [0, 1, 2]
    rows = {x["name"]: x for x in doc["rows"]}
    assert rows["pair: sum of list"]["rounds"] == 3 and rows["pair: sum of list"]["met"] is True
    assert rows["pair: no such peer"]["ratio"] is None  # declared by the skipped test
    errs = {(e["nodeid"], e["phase"].split()[0]) for e in doc["errors"]}
    assert ("bench_broken.py", "collect") in errs
    assert ("bench_ok.py::test_flaky", "call") in errs
    assert [s["nodeid"] for s in doc["skipped"]] == ["bench_ok.py::test_peer"]
    assert "vllsi ratios" in r.stdout and "bench_broken.py" in r.stdout


class _EchoServer:
    """A tiny threaded echo server in this process; ``mangle`` may alter what it echoes
    and ``limit`` makes it hang up after echoing that many bytes on a connection."""

    def __init__(self, mangle: Any = None, limit: int | None = None) -> None:
        import socketserver
        import threading

        outer = self
        self.echoed = 0
        self.lock = threading.Lock()

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                done = 0
                while data := self.request.recv(65536):
                    if limit is not None:
                        data = data[:limit - done]
                    self.request.sendall(mangle(data) if mangle else data)
                    done += len(data)
                    with outer.lock:
                        outer.echoed += len(data)
                    if limit is not None and done >= limit:
                        return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = Server(("127.0.0.1", 0), Handler)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def __enter__(self) -> _EchoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.srv.shutdown()
        self.srv.server_close()


def _need_c_client() -> None:
    import _cc
    import _loadgen

    try:
        _loadgen.client_binary()
    except _cc.BuildError as exc:
        pytest.skip(f"environment: {exc}")


@pytest.mark.parametrize("size", [1000, 100_000])
def test_c_echo_client_plays_rounds(size: int) -> None:
    # 2 processes x 3 connections, two rounds; 100 kB messages need partial sends
    import _loadgen

    _need_c_client()
    with _EchoServer() as srv, _loadgen.EchoClients(srv.port, size=size, processes=2,
                                                     connections=3) as cl:
        assert len(cl.pids) == 2 and all(b > 0 for b in cl.sndbuf + cl.rcvbuf)
        c0 = _loadgen.cpu_ns(cl.pids)[0]
        assert cl.round(20) > 0
        assert cl.round(5) > 0
        assert _loadgen.cpu_ns(cl.pids)[0] > c0
    assert srv.echoed == 2 * 3 * 25 * size


def test_c_echo_client_checks_every_byte() -> None:
    import _loadgen

    _need_c_client()

    def flip_last(data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1])

    with (_EchoServer(mangle=flip_last) as srv,
          _loadgen.EchoClients(srv.port, size=1000, processes=1) as cl,
          pytest.raises(RuntimeError, match="wrong bytes echoed in message 0")):
        cl.round(3)


def test_c_echo_client_fails_loudly_when_the_server_closes_early() -> None:
    import _loadgen

    _need_c_client()
    with (_EchoServer(limit=1500) as srv,
          _loadgen.EchoClients(srv.port, size=1000, processes=1) as cl,
          pytest.raises(RuntimeError, match=r"closed the connection \(500 of 1000 bytes "
                                            r"of message 1 echoed\)")):
        cl.round(10)


def test_echo_clients_are_pinned_where_the_plan_says() -> None:
    import _loadgen

    _need_c_client()
    cpus = _loadgen.allowed_cpus()
    plan = _loadgen.cpu_plan(cpus)
    with _EchoServer() as srv, _loadgen.EchoClients(srv.port, processes=2,
                                                     cpus=plan.clients) as cl:
        want = set(plan.clients) if plan.clients is not None else set(cpus)
        assert all(os.sched_getaffinity(pid) == want for pid in cl.pids)
        cl.round(10)


def test_cpu_plan_pins_apart_and_falls_back_on_one_cpu() -> None:
    import _loadgen

    plan = _loadgen.cpu_plan([5, 1, 3])
    assert plan.server == {1} and plan.clients == {3, 5}
    assert plan.note == "server on CPU 1, clients on CPU 3,5"
    one = _loadgen.cpu_plan([2])
    assert one.server is None and one.clients is None and "unpinned (1 CPU)" in one.note
    # a real process allowed a single CPU sees the fallback too
    code = ("import os, sys; sys.path.insert(0, sys.argv[1]); "
            "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "import _loadgen; p = _loadgen.cpu_plan(); print(p.server, p.clients, p.note)")
    out = subprocess.run([sys.executable, "-c", code, str(HERE)], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.startswith("None None unpinned (1 CPU)")


def test_prioritize_applies_or_says_why_not() -> None:
    import _loadgen

    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        got = _loadgen.prioritize(child.pid, "fifo")
        if got == "SCHED_FIFO 1":
            assert os.sched_getscheduler(child.pid) == os.SCHED_FIFO
        else:  # not permitted here: nice -10, or the default, and the reason
            assert "SCHED_FIFO refused" in got
        other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                                 stdin=subprocess.PIPE)
        try:
            got = _loadgen.prioritize(other.pid, "nice")
            assert got == "default (nice -10 refused: Permission denied)" or (
                got == "nice -10" and os.getpriority(os.PRIO_PROCESS, other.pid) == -10)
            assert _loadgen.prioritize(other.pid, "none") == "default"
        finally:
            other.communicate(b"")
        with pytest.raises(ValueError, match="priority"):
            _loadgen.prioritize(child.pid, "realtime")
    finally:
        child.communicate(b"")


def test_extra_info_is_kept_in_records() -> None:
    r = rec("v", "g", "vllsi", 0, 1.0, server_busy=0.97, wall_us_per_msg=[1.0, 1.1])
    assert r["info"] == {"server_busy": 0.97, "wall_us_per_msg": [1.0, 1.1]}


def test_echo_load_against_a_threaded_echo_server() -> None:
    import _loadgen

    _need_c_client()
    with _EchoServer() as srv:
        r = _loadgen.echo_load(("127.0.0.1", srv.port), size=100, clients=2, messages=200,
                               rcvbuf=65536)
        py = _loadgen.echo_load(("localhost", srv.port), size=300, clients=1, messages=50,
                                kind="python")
    assert r["messages"] == 400 and r["req_per_s"] > 0 and len(r["sndbuf"]) == 2
    assert r["rcvbuf"][0] >= 65536  # the kernel doubles what was asked
    assert r["client_cpu_ns"] > 0 and py["messages"] == 50
    assert srv.echoed == 400 * 100 + 50 * 300
    with pytest.raises(ValueError, match="loopback"):
        _loadgen.echo_load(("192.0.2.1", 9), messages=1)
