# System tools the conformance suite uses as real peers: strace (durability's
# system-call sequence test). Installed only when missing and we are root.
if ! command -v strace >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq strace
  else
    echo "strace missing and not root: durability strace tests will skip (environment)"
  fi
fi
