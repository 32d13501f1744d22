# Static checks: ruff and mypy --strict for each platform.
"$VENV/bin/ruff" check vllsi conformance benchmarks _native
for plat in linux darwin win32; do
  "$VENV/bin/mypy" --platform "$plat" vllsi
done
