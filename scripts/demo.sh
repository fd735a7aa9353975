#!/usr/bin/env bash
# The main job: build, start qbsyncd on a scratch state directory and socket, talk to it with qbctl,
# stop it with SIGTERM. (The end-to-end run against the qbo-sim simulator joins this script when the
# simulator lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --product qbsyncd
swift build --product qbctl
bin=$(swift build --show-bin-path)

work=$(mktemp -d /tmp/qbsyncd-demo.XXXXXX)
mkdir -p "$work/state"
export QBSYNCD_STATE_DIR="$work/state" QBSYNCD_CONTROL_SOCKET="$work/control.sock" QBSYNCD_CONFIG="$work/qbsyncd.conf"
printf 'QBSYNCD_LOG_LEVEL=info\n' > "$QBSYNCD_CONFIG"

"$bin/qbsyncd" 2> "$work/qbsyncd.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do "$bin/qbctl" status >/dev/null 2>&1 && break; sleep 0.1; done

echo "== qbctl status"; "$bin/qbctl" status
echo; echo "== qbctl org list"; "$bin/qbctl" org list
echo; echo "== qbctl status --json"; "$bin/qbctl" status --json
echo; echo "== SIGTERM"; kill -TERM $pid; wait $pid && echo "qbsyncd exited 0"
echo; echo "== the daemon's log"; cat "$work/qbsyncd.log"
