# aarch64 for real under qemu-user: build the shim for Debian's arm64 CPython,
# then run the conformance suite on both tiers.
QP="$SHARED/tools/qemu-python.sh"
"$QP" --cc _native/build_linux.py
rc=0
for tier in asm libc; do
  echo "--- aarch64 tier $tier"
  VLLSI_TIER=$tier "$QP" -m pytest -q -p no:cacheprovider --vllsi-record || rc=$?
done
exit $rc
