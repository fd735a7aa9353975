#!/usr/bin/env bash
# Simulator throughput: wrk against GET companyinfo with a valid token, on several connections.
# The simulator must never be the bottleneck of a benchmark (target: 5,000 requests/s).
# Usage: scripts/bench-sim.sh [seconds] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}; runs=${2:-3}
bash scripts/setup.sh
command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk; }
swift build -c release --product qbo-sim
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/qbosim-bench.XXXXXX)
QBOSIM_REQUESTS_PER_MINUTE=100000000 QBOSIM_CONCURRENT_REQUESTS=1000 "$bin/qbo-sim" --listen 127.0.0.1:0 --port-file "$work/port" --client-id c --client-secret s --redirect-uri https://app.example.com/cb --verifier-token v > "$work/out" 2> "$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && grep -q realmId "$work/out" && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$work/port")"; realm=$(grep -o 'realmId=[0-9]*' "$work/out" | cut -d= -f2)
code=$(curl -s -o /dev/null -w '%{redirect_url}' "$base/connect/oauth2?client_id=c&response_type=code&scope=com.intuit.quickbooks.accounting&redirect_uri=https://app.example.com/cb&state=s" | sed 's/.*code=\([^&]*\).*/\1/')
token=$(curl -s -u c:s -d "grant_type=authorization_code&code=$code&redirect_uri=https://app.example.com/cb" "$base/oauth2/v1/tokens/bearer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# Intuit's limits (500/min, 10 concurrent) are raised above: this measures the simulator, not the throttle.
echo "machine: $(nproc) cores, $(date -u +%F); GET /v3/company/{realm}/companyinfo, wrk -t2 -c8, ${seconds}s"
for run in $(seq "$runs"); do
  wrk -t2 -c8 -d"${seconds}s" -H "Authorization: Bearer $token" -H "Accept: application/json" "$base/v3/company/$realm/companyinfo/$realm" \
    | grep -E 'Requests/sec|Non-2xx|Latency' | tr -s ' ' | sed "s/^/run $run: /" | tee -a "$work/runs"
done
echo "median requests/s: $(awk '/Requests\/sec/ {print $NF}' "$work/runs" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
