#!/usr/bin/env bash
# Sync throughput against Intuit's budget: ORGS companies (default 4), each with WORKERS clients
# creating invoices as fast as qbsyncd takes them, for SECONDS (default 70, past one full minute
# window), against qbo-sim at Intuit's real limits (500 requests/min and 10 concurrent per company).
# Usage: scripts/bench-sync.sh [seconds] [orgs] [workers-per-org]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-70}; orgs=${2:-4}; workers=${3:-4}
bash scripts/setup.sh
swift build -c release --product qbsyncd
swift build -c release --product qbo-sim
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/qbsyncd-sync.XXXXXX)
mkdir -p "$work/state"
trap 'kill ${sim:-} ${daemon:-} 2>/dev/null || true; rm -rf "$work"' EXIT
. scripts/bench/sim-daemon.sh
start_sim
export QBSYNCD_STATE_DIR="$work/state" QBSYNCD_CONTROL_SOCKET="$work/control.sock" QBSYNCD_CONFIG="$work/qbsyncd.conf"
"$bin/qbsyncd" 2>> "$work/qbsyncd.log" &
daemon=$!
for _ in $(seq 200); do "$bin/qbctl" status >/dev/null 2>&1 && break; sleep 0.05; done
python3 scripts/bench/connect_orgs.py "$QBSYNCD_CONTROL_SOCKET" "$sim_url" "$orgs" > /dev/null
echo "machine: $(nproc) cores, $(date -u +%F); release build; $orgs companies × $workers workers, ${seconds} s"
python3 scripts/bench/sync_throughput.py "$QBSYNCD_CONTROL_SOCKET" "$sim_url" "$seconds" "$workers"
echo "qbsyncd RSS after: $(awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' /proc/$daemon/status)"
