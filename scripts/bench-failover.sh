#!/usr/bin/env bash
# Failover between instances (issue 18): qbo-sim and two qbsyncd (release build) sharing one schema
# of a throw-away PostgreSQL cluster (scripts/pg-cluster.sh), one connected org. Each run: a fresh
# schema and two fresh instances; once one holds the company's lease it gets `kill -9`, a signed
# webhook for the company goes to the survivor at once, and the script measures from the kill until
#   (a) the survivor holds the lease (qb_company_leases: owner is the survivor, generation risen),
#   (b) the survivor has refreshed the company's token (qb_configs.token_generation risen) and has
#       settled that webhook's event (qb_webhook_events.status no longer 'pending'),
# polling the database every 50 ms. Prints per-run figures, medians and the machine.
# Usage: scripts/bench-failover.sh [runs] [lease-seconds]   (QBSYNCD_LEASE_SECONDS; heartbeat = lease / 6)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; lease=${2:-${QBSYNCD_LEASE_SECONDS:-6}}
if [ -n "${QBSYNC_BENCH_BIN:-}" ]; then  # checking the script against binaries already built (figures not the release build's)
  bin=$QBSYNC_BENCH_BIN; build="binaries of $bin (not the release build's figures)"
else
  build="release build"
  bash scripts/setup.sh
  swift build -c release --product qbsyncd
  swift build -c release --product qbo-sim
  bin=$(swift build -c release --show-bin-path)
fi
. scripts/bench/pg-work.sh
pg_work failover
. scripts/bench/sim-daemon.sh
start_sim
pids+=("$sim")
sed -i '/^QBSYNCD_WEBHOOK_LISTEN=/d' "$work/qbsyncd.conf"
# Instances sharing a database share the token key too: tokens one sealed, another must open.
(umask 077; head -c 32 /dev/urandom > "$work/token.key")
printf 'QBSYNCD_LEASE_SECONDS=%s\nQBSYNCD_TOKEN_KEY_FILE=%s\n' "$lease" "$work/token.key" >> "$work/qbsyncd.conf"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
median() { printf '%s\n' "$@" | grep -v '^-$' | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# One value from the database (the URL carries the password: never printed).
sql() { PGOPTIONS="-c search_path=$schema" psql "$url" -X -q -t -A -v ON_ERROR_STOP=1 -c "$1"; }

# start_instance NAME: a qbsyncd on the run's schema, its own state, socket and webhook port; sets
# ${NAME}_pid and ${NAME}_port.
start_instance() {
  local name=$1 dir="$work/run$run/$1" port
  port=$(free_port)
  mkdir -p "$dir/state"
  QBSYNCD_STATE_DIR="$dir/state" QBSYNCD_CONTROL_SOCKET="$dir/control.sock" QBSYNCD_CONFIG="$work/qbsyncd.conf" \
    QBSYNCD_WEBHOOK_LISTEN="127.0.0.1:$port" QBSYNCD_DATABASE_URL="$url&schema=$schema&pool_max_conns=4" \
    "$bin/qbsyncd" 2>> "$dir/qbsyncd.log" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do [ -S "$dir/control.sock" ] && curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
  [ -S "$dir/control.sock" ] && curl -s -o /dev/null "http://127.0.0.1:$port/healthz" || { echo "instance $name did not start:" >&2; tail -20 "$dir/qbsyncd.log" >&2; exit 1; }
  printf -v "${name}_pid" '%s' "$pid"
  printf -v "${name}_port" '%s' "$port"
}

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(date -u '+%F %H:%M UTC'); $build; PostgreSQL $(psql "$url" -X -t -A -c 'SHOW server_version' | cut -d' ' -f1)"
echo "QBSYNCD_LEASE_SECONDS=$lease (heartbeat $(awk -v l="$lease" 'BEGIN {printf "%.2g", l / 6}') s, bound lease + heartbeat = $(awk -v l="$lease" 'BEGIN {printf "%.3g", l * 7 / 6}') s); 2 instances, 1 org; $runs runs; database polled every 50 ms"
declare -a lease_times ready_times refresh_times event_times
for run in $(seq "$runs"); do
  schema="bench_failover_$run"
  start_instance a
  start_instance b
  python3 scripts/bench/connect_orgs.py "$work/run$run/a/control.sock" "$sim_url" 1 > /dev/null
  realm=$(sql "SELECT realm_id FROM qb_configs WHERE status = 'connected'")
  # Wait for a holder.
  for _ in $(seq 600); do
    holder=$(sql "SELECT owner FROM qb_company_leases WHERE realm_id = '$realm' AND expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint")
    [ -n "$holder" ] && break
    sleep 0.05
  done
  [ -n "$holder" ] || { echo "run $run: no instance took the company's lease" >&2; tail -20 "$work/run$run"/*/qbsyncd.log >&2; exit 1; }
  holder_pid=$(echo "$holder" | awk -F: '{print $(NF-1)}')
  if [ "$holder_pid" = "$a_pid" ]; then survivor_pid=$b_pid; survivor_port=$b_port; else survivor_pid=$a_pid; survivor_port=$a_port; fi
  generation=$(sql "SELECT generation FROM qb_company_leases WHERE realm_id = '$realm'")
  tokens=$(sql "SELECT token_generation FROM qb_configs WHERE realm_id = '$realm'")
  body="{\"eventNotifications\":[{\"realmId\":\"$realm\",\"dataChangeEvent\":{\"entities\":[{\"name\":\"Invoice\",\"id\":\"failover-$run\",\"operation\":\"Update\",\"lastUpdated\":\"2026-11-25T10:00:00.000Z\"}]}}]}"
  sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac v -binary | base64)

  killed=$(now)
  kill -9 "$holder_pid"
  wait "$holder_pid" 2>/dev/null || true
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "intuit-signature: $sig" -H 'Content-Type: application/json' --data-binary "$body" \
    "http://127.0.0.1:$survivor_port/api/webhooks/quickbooks")
  [ "$code" = 200 ] || { echo "run $run: the survivor answered $code to a signed delivery" >&2; exit 1; }

  leased=""; refreshed=""; settled=""
  deadline=$(awk -v k="$killed" -v l="$lease" 'BEGIN {printf "%.0f", k + 3 * l + 30}')
  while [ -z "$leased" ] || [ -z "$refreshed" ] || [ -z "$settled" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || break
    state=$(sql "SELECT
        (SELECT owner || ' ' || generation FROM qb_company_leases WHERE realm_id = '$realm'),
        (SELECT token_generation FROM qb_configs WHERE realm_id = '$realm'),
        (SELECT status FROM qb_webhook_events WHERE realm_id = '$realm' AND entity_id = 'failover-$run')" | tr '|' ' ')
    t=$(now)
    read -r owner gen token status <<< "$state"
    if [ -z "$leased" ] && [ "$(echo "$owner" | awk -F: '{print $(NF-1)}')" = "$survivor_pid" ] && [ "$gen" -gt "$generation" ]; then leased=$t; fi
    if [ -z "$refreshed" ] && [ -n "$token" ] && [ "$token" -gt "$tokens" ]; then refreshed=$t; fi
    if [ -z "$settled" ] && [ -n "${status:-}" ] && [ "$status" != pending ]; then settled=$t; fi
    sleep 0.05
  done
  missing="not within $(awk -v l="$lease" 'BEGIN {print 3 * l + 30}') s"
  figure() { if [ -n "$1" ]; then since "$killed" "$1"; else echo "-"; fi; }
  lease_times+=("$(figure "$leased")"); refresh_times+=("$(figure "$refreshed")"); event_times+=("$(figure "$settled")")
  if [ -n "$refreshed" ] && [ -n "$settled" ]; then ready_times+=("$(since "$killed" "$(printf '%s\n' "$refreshed" "$settled" | sort -g | tail -1)")"); else ready_times+=("-"); fi
  echo "run $run: kill -9 → (a) survivor holds the lease ${lease_times[-1]} s (generation $generation → ${gen:-?}); (b) token refreshed ${refresh_times[-1]} s, webhook event settled ${event_times[-1]} s (${status:-no event}), both ${ready_times[-1]} s   ('-': $missing)"
  [ -n "$refreshed" ] || echo "  run $run: qb_configs.token_generation stayed at ${token:-?} (was $tokens at the kill)"
  kill -9 "$survivor_pid" 2>/dev/null || true
  wait "$survivor_pid" 2>/dev/null || true
done
echo "median over $runs runs: (a) lease taken $(median "${lease_times[@]}") s; (b) token refreshed $(median "${refresh_times[@]}") s, event settled $(median "${event_times[@]}") s, both $(median "${ready_times[@]}") s (bound lease + heartbeat = $(awk -v l="$lease" 'BEGIN {printf "%.3g", l * 7 / 6}') s)"
