#!/usr/bin/env bash
# The read budget over a month. First the model: one simulated month for 100, 1,000, 10,000 and
# 20,000 companies, driven by qbsyncd's own planning code (FeedQueue, EventTriage, SweepPlan,
# ReadBudget), beside the reads 0.1's design makes for the same month. Then a live run at a
# reduced scale through the real qbsyncd and qbo-sim (ORGS companies × DEMANDS invoices, HORIZON
# seconds, the sweep period shortened to PERIOD seconds, LOSS of the webhooks lost: the simulator
# loses single events, so a change goes unseen only when all its events are lost), and the model
# of exactly that run, so the two can be compared.
# Usage: scripts/bench-month.sh [orgs] [demands] [horizon-seconds] [period-seconds] [loss]
set -euo pipefail
cd "$(dirname "$0")/.."
orgs=${1:-20}; demands=${2:-5}; horizon=${3:-180}; period=${4:-60}; loss=${5:-0.2}
bash scripts/setup.sh
for product in qbsync-bench qbsyncd qbo-sim qbctl; do swift build -c release --product "$product" 2>&1 | grep -v '^\[' || true; done
bin=$(swift build -c release --show-bin-path)
echo "machine: $(nproc) cores, $(date -u +%F); release build"
echo
echo "## The month (model; seed 2026): 20 demands per company, 80 % paid and 2 % voided at random times, 1 % of webhooks lost"
"$bin/qbsync-bench" month --companies 100,1000,10000,20000
echo
work=$(mktemp -d /tmp/qbsyncd-month.XXXXXX)
mkdir -p "$work/state"
trap 'kill ${sim:-} ${daemon:-} 2>/dev/null || true; rm -rf "$work"' EXIT
. scripts/bench/sim-daemon.sh
start_sim QBOSIM_WEBHOOK_LOSS_RATE="$loss" QBOSIM_WEBHOOK_LOSS_SEED=7
# No budget for the live run: a month of 60-second sweeps would not fit one, and the plan would
# stretch them (rightly); here the point is to compare the daemon's reads with the model's.
cat >> "$work/qbsyncd.conf" <<CONF
QBSYNCD_SWEEP_PERIOD=$period
QBSYNCD_RECONCILE_GRACE=0
QUICKBOOKS_READ_QUOTA=0
CONF
export QBSYNCD_STATE_DIR="$work/state" QBSYNCD_CONTROL_SOCKET="$work/control.sock" QBSYNCD_CONFIG="$work/qbsyncd.conf"
"$bin/qbsyncd" 2>> "$work/qbsyncd.log" &
daemon=$!
for _ in $(seq 200); do "$bin/qbctl" status >/dev/null 2>&1 && break; sleep 0.05; done
listen=$("$bin/qbctl" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["webhook"]["listen"])')
curl -s -X POST "$sim_url/sim/webhooks/config" -H 'Content-Type: application/json' \
  -d "{\"url\":\"http://$listen/api/webhooks/quickbooks\",\"format\":\"cloudevents\"}" > /dev/null
python3 scripts/bench/connect_orgs.py "$QBSYNCD_CONTROL_SOCKET" "$sim_url" "$orgs" > /dev/null
echo "## Live: $orgs companies × $demands invoices over ${horizon} s, sweep period ${period} s, ${loss} of webhooks lost"
python3 scripts/bench/month_live.py "$QBSYNCD_CONTROL_SOCKET" "$sim_url" "$demands" "$horizon" 11 "$period"
echo "## The model of the same run"
"$bin/qbsync-bench" month --companies "$orgs" --demands "$demands" --horizon "$horizon" --sweep-period "$period" --loss "$loss" --budget 0 --json
"$bin/qbctl" quota
