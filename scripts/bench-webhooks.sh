#!/usr/bin/env bash
# Webhook intake: qbsyncd's listener against shared/bench's pyreceiver (uvicorn + starlette, 2
# workers, one SQLite commit per delivery), side by side in the same run, with the same wrk load
# and the same signed body. Both receivers verify the HMAC and commit durably (WAL,
# synchronous=FULL) before answering 200. Usage: scripts/bench-webhooks.sh [seconds] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}; runs=${2:-3}; connections=${QBSYNC_BENCH_CONNECTIONS:-16}
bash scripts/setup.sh
command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk; }
pydeps="$PWD/.build/pydeps-bench"
PYTHONPATH="$pydeps" python3 -c 'import uvicorn, starlette' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check --target "$pydeps" uvicorn starlette
receiver_dir=$(cd ../shared/bench 2>/dev/null && pwd || true)
[ -f "$receiver_dir/pyreceiver.py" ] || receiver_dir="$PWD/scripts/bench"
swift build -c release --product qbsyncd
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/qbsyncd-webhooks.XXXXXX)
mkdir -p "$work/state"
verifier=bench-verifier-token
daemon_port=18731; py_port=18741
cat > "$work/qbsyncd.conf" <<CONF
QUICKBOOKS_CLIENT_ID=c
QUICKBOOKS_CLIENT_SECRET=s
QUICKBOOKS_REDIRECT_URI=https://app.example.com/cb
QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN=$verifier
QBSYNCD_WEBHOOK_LISTEN=127.0.0.1:$daemon_port
QBSYNCD_LOG_LEVEL=warning
CONF
QBSYNCD_STATE_DIR="$work/state" QBSYNCD_CONTROL_SOCKET="$work/control.sock" QBSYNCD_CONFIG="$work/qbsyncd.conf" "$bin/qbsyncd" 2> "$work/qbsyncd.log" &
daemon=$!
PYTHONPATH="$pydeps" VERIFIER="$verifier" DB="$work/pyreceiver.sqlite" python3 -m uvicorn pyreceiver:app --app-dir "$receiver_dir" \
  --host 127.0.0.1 --port $py_port --workers 2 --log-level warning 2> "$work/py.log" &
py=$!
trap 'kill $daemon $py 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 200); do
  curl -s -o /dev/null "http://127.0.0.1:$daemon_port/healthz" && curl -s -o /dev/null -X POST "http://127.0.0.1:$py_port/api/webhooks/quickbooks" && break
  sleep 0.1
done
# A classic delivery for a realm no org has (the first check that both receivers answer 200).
export BODY='{"eventNotifications":[{"realmId":"4620816365000000000","dataChangeEvent":{"entities":[{"name":"Invoice","id":"130","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}'
export SIG=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$verifier" -binary | base64)
for port in $daemon_port $py_port; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "intuit-signature: $SIG" -H 'Content-Type: application/json' --data-binary "$BODY" "http://127.0.0.1:$port/api/webhooks/quickbooks")
  [ "$code" = 200 ] || { echo "receiver on $port answered $code to a signed delivery" >&2; exit 1; }
done
# Each run sends bodies no receiver has seen (qbsyncd answers a replay without storing it again).
bodies_per_run=${QBSYNC_BENCH_BODIES:-400000}
run() {  # port run-number → "requests/s p99(ms)"
  python3 scripts/bench/signed_bodies.py "$verifier" "$bodies_per_run" "$2" "$work/bodies"
  BODIES="$work/bodies" wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/bench/signed_post.lua "http://127.0.0.1:$1/api/webhooks/quickbooks" > "$work/wrk.out"
  if grep -q 'Non-2xx' "$work/wrk.out"; then echo "non-2xx answers from port $1:" >&2; cat "$work/wrk.out" >&2; exit 1; fi
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.out")
  echo "$rps $p99"
}
echo "machine: $(nproc) cores, $(date -u +%F); wrk -t2 -c$connections, ${seconds} s per run, $runs runs alternating"
declare -a ours theirs
for i in $(seq "$runs"); do
  ours+=("$(run $daemon_port "$i")")
  theirs+=("$(run $py_port "$i")")
  echo "run $i: qbsyncd ${ours[-1]}  pyreceiver ${theirs[-1]}   (deliveries/s, p99)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
q=$(median $(printf '%s\n' "${ours[@]}" | cut -d' ' -f1)); p=$(median $(printf '%s\n' "${theirs[@]}" | cut -d' ' -f1))
qp=$(printf '%s\n' "${ours[@]}" | cut -d' ' -f2 | paste -sd' '); pp=$(printf '%s\n' "${theirs[@]}" | cut -d' ' -f2 | paste -sd' ')
stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from qb_webhook_deliveries').fetchone()[0])" "$work/state/qbsyncd.sqlite")
echo "median deliveries/s: qbsyncd $q, pyreceiver $p, ratio $(awk -v a=$q -v b=$p 'BEGIN {printf "%.2f", a / b}')"
echo "p99 per run: qbsyncd $qp; pyreceiver $pp"
answered=$(printf '%s\n' "${ours[@]}" | awk -v s="$seconds" '{t += $1 * s} END {printf "%d", t}')
echo "deliveries in qbsyncd's log afterwards: $stored, of about $answered answered 200 (every body distinct: every 200 is a committed row)"
echo "qbsyncd RSS after the runs: $(awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' /proc/$daemon/status)"
