# Windows backend for real under Wine (Windows CPython 3.13 + cffi ABI mode, no compiler):
# the whole conformance suite, recording conformance/results/windows-amd64_wine.jsonl
# (the matrix's windows-amd64/wine column); then the mingw golden table's freshness
# and the cdef prototypes against the SDK headers (_native/gen_windows_golden.py --check:
# shared/tools/xheaders.sh and zig clang -fsyntax-only).
WP="$SHARED/tools/wine-python.sh"
rc=0
"$WP" -m pytest -q -p no:cacheprovider --vllsi-record || rc=$?
"$WP" --stop || true
"$PY" _native/gen_windows_golden.py --check || rc=1
exit $rc
