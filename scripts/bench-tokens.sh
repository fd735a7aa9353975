#!/usr/bin/env bash
# Token scheduling at scale: N connected orgs (default 10,000) against qbo-sim. Reports the
# daemon's RSS and idle CPU, then restarts it with every access token due at once and measures the
# time until all are refreshed, and the 429s seen. Usage: scripts/bench-tokens.sh [orgs] [idle-seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
orgs=${1:-10000}; idle=${2:-30}
bash scripts/setup.sh
swift build -c release --product qbsyncd
swift build -c release --product qbo-sim
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/qbsyncd-tokens.XXXXXX)
mkdir -p "$work/state"
trap 'kill ${sim:-} ${daemon:-} 2>/dev/null || true; rm -rf "$work"' EXIT
. scripts/bench/sim-daemon.sh
# Access tokens live 2,000 s here, so that a restart with a 3,000 s margin finds every one due.
start_sim QBOSIM_ACCESS_TTL=2000 QBOSIM_REQUESTS_PER_MINUTE=100000000
export QBSYNCD_STATE_DIR="$work/state" QBSYNCD_CONTROL_SOCKET="$work/control.sock" QBSYNCD_CONFIG="$work/qbsyncd.conf"
start_daemon() {
  "$bin/qbsyncd" 2>> "$work/qbsyncd.log" &
  daemon=$!
  for _ in $(seq 200); do "$bin/qbctl" status >/dev/null 2>&1 && break; sleep 0.05; done
}
cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' /proc/$1/status; }

start_daemon
echo "machine: $(nproc) cores, $(date -u +%F); release build; $orgs orgs"
python3 scripts/bench/connect_orgs.py "$QBSYNCD_CONTROL_SOCKET" "$sim_url" "$orgs"
echo "daemon RSS with $orgs connected orgs: $(rss_mib $daemon) MiB"
before=$(cpu_ticks $daemon); sleep "$idle"; after=$(cpu_ticks $daemon)
hz=$(getconf CLK_TCK)
echo "idle CPU over ${idle} s: $(awk -v t=$((after - before)) -v hz=$hz -v s=$idle 'BEGIN {printf "%.2f%%", 100 * t / hz / s}') of one core"

# Every access token has < 2,000 s left; with a 3,000 s margin all are due when the daemon restarts.
kill -TERM $daemon; wait $daemon || true
echo "QBSYNCD_REFRESH_MARGIN=3000" >> "$work/qbsyncd.conf"
restart=$(date +%s)
start=$(date +%s.%N)
start_daemon
echo "restart to answering with $orgs orgs: $(awk -v a=$start -v b=$(date +%s.%N) 'BEGIN {printf "%.2f", b - a}') s (qbctl polled every 50 ms)"
while true; do
  # Read the store directly (a read-only WAL reader): polling org.list would itself load the daemon.
  pending=$(python3 - "$QBSYNCD_STATE_DIR/qbsyncd.sqlite" "$restart" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(db.execute("SELECT COUNT(*) FROM qb_configs WHERE status != 'connected' OR last_refresh_at < ?", (int(sys.argv[2]),)).fetchone()[0])
PY
)
  [ "$pending" = "0" ] && break
  sleep 0.5
done
end=$(date +%s.%N)
echo "all $orgs access tokens due at once: refreshed in $(awk -v a=$start -v b=$end 'BEGIN {printf "%.1f", b - a}') s (includes the deliberate start-up spread of up to 30 s)"
echo "daemon RSS after the refresh storm: $(rss_mib $daemon) MiB"
before=$(cpu_ticks $daemon); sleep 10; after=$(cpu_ticks $daemon)
echo "idle CPU over 10 s after it: $(awk -v t=$((after - before)) -v hz=$hz 'BEGIN {printf "%.2f%%", 100 * t / hz / 10}') of one core; RSS $(rss_mib $daemon) MiB"
echo "429s seen by the daemon: $(grep -c 'rate_limited\|429' "$work/qbsyncd.log" || true); refresh failures logged: $(grep -c 'refresh failed' "$work/qbsyncd.log" || true)"
stop_start=$(date +%s.%N)
kill -TERM $daemon; wait $daemon; status=$?
echo "SIGTERM to exit: $(awk -v a=$stop_start -v b=$(date +%s.%N) 'BEGIN {printf "%.2f", b - a}') s, exit status $status"
daemon=""
