#!/usr/bin/env bash
# Webhook intake (issue 17): qbsyncd's listener (release build) against shared/bench's pyreceiver
# (uvicorn + starlette, 2 workers, one SQLite commit per delivery) and Debian's nginx answering a
# bare 200 (the ceiling: what an HTTP server does with no work at all), side by side in the same
# run, with the same wrk load (-t2 -c32) and the same signed bodies. Both receivers verify the HMAC
# and commit durably (WAL, synchronous=FULL) before answering 200. Then qbsyncd alone at a fixed
# 2,000 deliveries/s (scripts/bench/paced_post.py, open loop) for its latency.
# Usage: scripts/bench-webhooks.sh [seconds] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}; runs=${2:-3}; connections=${QBSYNC_BENCH_CONNECTIONS:-32}; rate=${QBSYNC_BENCH_RATE:-2000}
bash scripts/setup.sh
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
missing=()
for tool in wrk nginx; do PATH="$PATH:/usr/sbin" command -v $tool >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then  # a fresh machine (CI): Debian's packages (the benchmark runs its own nginx on a free port)
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
nginx_bin=$(PATH="$PATH:/usr/sbin" command -v nginx)
pydeps="$PWD/.build/pydeps-bench"
PYTHONPATH="$pydeps" python3 -c 'import uvicorn, starlette' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check --target "$pydeps" uvicorn starlette
receiver_dir=$(cd ../shared/bench 2>/dev/null && pwd || true)
[ -f "$receiver_dir/pyreceiver.py" ] || receiver_dir="$PWD/scripts/bench"
swift build -c release --product qbsyncd
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/qbsyncd-webhooks.XXXXXX)
mkdir -p "$work/state" "$work/nginx/logs"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
verifier=bench-verifier-token
daemon_port=$(free_port); py_port=$(free_port); nginx_port=$(free_port)
cat > "$work/qbsyncd.conf" <<CONF
QUICKBOOKS_CLIENT_ID=c
QUICKBOOKS_CLIENT_SECRET=s
QUICKBOOKS_REDIRECT_URI=https://app.example.com/cb
QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN=$verifier
QBSYNCD_WEBHOOK_LISTEN=127.0.0.1:$daemon_port
QBSYNCD_LOG_LEVEL=warning
CONF
# A throwaway nginx: its own prefix and config in the temp dir, no access log, 2 workers (one a core).
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  keepalive_requests 100000000;
  server { listen 127.0.0.1:$nginx_port; location / { return 200; } }
}
CONF
QBSYNCD_STATE_DIR="$work/state" QBSYNCD_CONTROL_SOCKET="$work/control.sock" QBSYNCD_CONFIG="$work/qbsyncd.conf" "$bin/qbsyncd" 2> "$work/qbsyncd.log" &
daemon=$!
PYTHONPATH="$pydeps" VERIFIER="$verifier" DB="$work/pyreceiver.sqlite" python3 -m uvicorn pyreceiver:app --app-dir "$receiver_dir" \
  --host 127.0.0.1 --port $py_port --workers 2 --log-level warning 2> "$work/py.log" &
py=$!
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2> "$work/nginx/stderr.log" &
ng=$!
trap 'kill $daemon $py $ng 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 200); do
  curl -s -o /dev/null "http://127.0.0.1:$daemon_port/healthz" && curl -s -o /dev/null -X POST "http://127.0.0.1:$py_port/api/webhooks/quickbooks" \
    && curl -s -o /dev/null "http://127.0.0.1:$nginx_port/" && break
  sleep 0.1
done
# A classic delivery for a realm no org has (the first check that every peer answers 200).
body='{"eventNotifications":[{"realmId":"4620816365000000000","dataChangeEvent":{"entities":[{"name":"Invoice","id":"130","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}'
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$verifier" -binary | base64)
for port in $daemon_port $py_port $nginx_port; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "intuit-signature: $sig" -H 'Content-Type: application/json' --data-binary "$body" "http://127.0.0.1:$port/api/webhooks/quickbooks")
  [ "$code" = 200 ] || { echo "peer on $port answered $code to a signed delivery" >&2; exit 1; }
done
printf '%s\t%s\n' "$sig" "$body" > "$work/same"

# Each distinct run sends bodies no receiver has seen (qbsyncd answers a replay without storing it again).
bodies_per_run=${QBSYNC_BENCH_BODIES:-400000}
wrk_run() {  # port bodies-file [same] → "requests/s p99"
  SAME_BODY=${3:-} BODIES="$2" wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/bench/signed_post.lua "http://127.0.0.1:$1/api/webhooks/quickbooks" > "$work/wrk.out"
  if grep -q 'Non-2xx' "$work/wrk.out"; then echo "non-2xx answers from port $1:" >&2; cat "$work/wrk.out" >&2; exit 1; fi
  echo "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out") $(awk '$1 == "99%" {print $2}' "$work/wrk.out")"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
column() { printf '%s\n' "${@:2}" | cut -d' ' -f"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(date -u +%F); wrk -t2 -c$connections, ${seconds} s per run, $runs runs alternating; nginx $("$nginx_bin" -v 2>&1 | cut -d/ -f2)"
declare -a q_d p_d n_d q_s p_s
answered=0
for i in $(seq "$runs"); do
  python3 scripts/bench/signed_bodies.py "$verifier" "$bodies_per_run" "$i" "$work/bodies"
  q_d+=("$(wrk_run $daemon_port "$work/bodies")"); p_d+=("$(wrk_run $py_port "$work/bodies")"); n_d+=("$(wrk_run $nginx_port "$work/bodies")")
  answered=$(awk -v a="$answered" -v r="${q_d[-1]%% *}" -v s="$seconds" 'BEGIN {printf "%d", a + r * s}')
  echo "run $i, distinct bodies: qbsyncd ${q_d[-1]}  pyreceiver ${p_d[-1]}  nginx bare 200 ${n_d[-1]}   (requests/s, p99)"
done
for i in $(seq "$runs"); do
  q_s+=("$(wrk_run $daemon_port "$work/same" same)"); p_s+=("$(wrk_run $py_port "$work/same" same)")
  echo "run $i, the same body: qbsyncd ${q_s[-1]}  pyreceiver ${p_s[-1]}   (requests/s, p99)"
done
q=$(median $(column 1 "${q_d[@]}")); p=$(median $(column 1 "${p_d[@]}")); n=$(median $(column 1 "${n_d[@]}"))
qs=$(median $(column 1 "${q_s[@]}")); ps=$(median $(column 1 "${p_s[@]}"))
echo "median deliveries/s, distinct bodies (the target's measure): qbsyncd $q, pyreceiver $p, ratio $(ratio "$q" "$p") (target >= 10); nginx bare 200 $n (ceiling; qbsyncd at $(ratio "$q" "$n") of it, pyreceiver at $(ratio "$p" "$n"))"
echo "median deliveries/s, the same body (qbsyncd: the replay path, answered without a second copy): qbsyncd $qs, pyreceiver $ps, ratio $(ratio "$qs" "$ps")"
echo "p99 per run, distinct: qbsyncd $(column 2 "${q_d[@]}" | paste -sd' '); pyreceiver $(column 2 "${p_d[@]}" | paste -sd' '); nginx $(column 2 "${n_d[@]}" | paste -sd' ')"

# The fixed rate: open loop, latency from each request's due time. The same generator against
# nginx's bare 200, alternating, is its own floor on this machine at that moment.
declare -a paced floor
for i in $(seq "$runs"); do
  python3 scripts/bench/signed_bodies.py "$verifier" $((rate * seconds)) $((100 + i)) "$work/paced"
  paced+=("$(python3 scripts/bench/paced_post.py "http://127.0.0.1:$daemon_port/api/webhooks/quickbooks" "$work/paced" "$rate" "$seconds" "$connections")")
  read -r sent got bad achieved p50 p99 max <<< "${paced[-1]}"
  [ "$bad" = 0 ] || { echo "non-200 answers in the paced run: $bad" >&2; exit 1; }
  answered=$((answered + got))
  echo "run $i, fixed rate $rate/s (paced_post.py, open loop, $connections connections): achieved $achieved/s, p50 ${p50} ms, p99 ${p99} ms, max ${max} ms"
  floor+=("$(python3 scripts/bench/paced_post.py "http://127.0.0.1:$nginx_port/api/webhooks/quickbooks" "$work/paced" "$rate" "$seconds" "$connections")")
  read -r sent got bad achieved p50 p99 max <<< "${floor[-1]}"
  echo "run $i, the same against nginx's bare 200 (the generator's floor): achieved $achieved/s, p50 ${p50} ms, p99 ${p99} ms, max ${max} ms"
done
echo "qbsyncd at $rate/s: median p50 $(median $(column 5 "${paced[@]}")) ms, median p99 $(median $(column 6 "${paced[@]}")) ms (target < 10 ms); the generator's floor (nginx): median p50 $(median $(column 5 "${floor[@]}")) ms, median p99 $(median $(column 6 "${floor[@]}")) ms"

# Every distinct 200 is a committed row; the events of each are extracted after the answer.
sql() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$work/state/qbsyncd.sqlite" "$1"; }
started=$(date +%s.%N)
while [ "$(sql 'select count(*) from qb_webhook_unexpanded')" != 0 ]; do sleep 0.2; done
caught=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
echo "deliveries in qbsyncd's log afterwards: $(sql 'select count(*) from qb_webhook_deliveries'), of about $answered distinct deliveries answered 200 (+ the same body once)"
echo "events extracted after the answers: $(sql 'select count(*) from qb_webhook_events'); the extraction finished ${caught} s after the last run"
echo "qbsyncd RSS after the runs: $(awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' /proc/$daemon/status)"
