# Benchmark smoke test: the harness's self-tests, then `python -m vllsi bench --quick`
# (bench venv with the peers, every bench_<area>.py, table, JSON, chart). Fails only
# when the harness or a benchmark process crashes, never on a ratio; bench files
# whose peers are missing or that fail to import are reported and skipped.
"$PY" -m pytest -q -p no:cacheprovider benchmarks/test_harness.py
"$PY" -m vllsi bench --quick
