# Debian tools the tests use as real peers/oracles (strace counts and orders syscalls).
need=()
for tool in strace; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -ne 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
