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
"$bin/qbo-sim" --listen 127.0.0.1:0 --port-file "$work/sim.port" --client-id c --client-secret s \
  --redirect-uri https://app.example.com/cb --verifier-token v > "$work/sim.out" 2> "$work/sim.log" &
sim=$!
trap 'kill $sim ${daemon:-} 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q realmId "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
sim_url="http://127.0.0.1:$(cat "$work/sim.port")"
cat > "$work/qbsyncd.conf" <<CONF
QUICKBOOKS_CLIENT_ID=c
QUICKBOOKS_CLIENT_SECRET=s
QUICKBOOKS_REDIRECT_URI=https://app.example.com/cb
QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN=v
QUICKBOOKS_AUTHORIZE_URL=$sim_url/connect/oauth2
QUICKBOOKS_TOKEN_URL=$sim_url/oauth2/v1/tokens/bearer
QUICKBOOKS_REVOKE_URL=$sim_url/v2/oauth2/tokens/revoke
QUICKBOOKS_API_BASE_URL=$sim_url
QBSYNCD_WEBHOOK_LISTEN=127.0.0.1:0
QBSYNCD_LOG_LEVEL=warning
CONF
export QBSYNCD_STATE_DIR="$work/state" QBSYNCD_CONTROL_SOCKET="$work/control.sock" QBSYNCD_CONFIG="$work/qbsyncd.conf"
"$bin/qbsyncd" 2>> "$work/qbsyncd.log" &
daemon=$!
for _ in $(seq 200); do "$bin/qbctl" status >/dev/null 2>&1 && break; sleep 0.05; done
python3 scripts/bench/connect_orgs.py "$QBSYNCD_CONTROL_SOCKET" "$sim_url" "$orgs" > /dev/null
echo "machine: $(nproc) cores, $(date -u +%F); release build; $orgs companies × $workers workers, ${seconds} s"
python3 scripts/bench/sync_throughput.py "$QBSYNCD_CONTROL_SOCKET" "$sim_url" "$seconds" "$workers"
echo "qbsyncd RSS after: $(awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' /proc/$daemon/status)"
