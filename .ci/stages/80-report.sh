# Merge every backend's results into status.json, STATUS.md and README's matrix.
"$PY" -m conformance.report --quiet
cat STATUS.md | head -60
