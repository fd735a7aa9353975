#!/usr/bin/env bash
# Scaling (issue 18 item 5): webhook intake and invoice.sync throughput of qbsyncd (release build)
# with 1, 2 and 3 instances on one schema of a throw-away PostgreSQL cluster (scripts/pg-cluster.sh,
# restarted with fsync on, as a production server runs), beside the SQLite single instance (the
# peer), all in one run against one qbo-sim. Every configuration has a fresh schema (SQLite: a
# fresh state directory) and runs throughout; the configurations are measured in turn, round after
# round (the first configuration of a round moves by one each round), so a change in the machine's
# load falls on all of them alike.
#   (a) intake: signed deliveries/s answered 200 (every body new: each 200 is a committed row), by
#       one wrk per instance (-t1), the CONNECTIONS (32) spread evenly over the instances as a load
#       balancer would, for INTAKE-SECONDS; the instances' event extraction is let finish before
#       the next measurement.
#   (b) sync: invoice.sync calls/s answered with a result, over the instances' control sockets
#       (scripts/bench/sync_spread.py, asyncio): COMPANIES connected companies, WORKERS (2) clients
#       each, each client on its own control connection, client j of company i on instance
#       (i * WORKERS + j) mod N, for SYNC-SECONDS. Each round uses companies no earlier round has
#       used (Intuit's per-minute windows start empty). qbsyncd keeps each company under 8
#       requests/s (Intuit allows 10/s and 500/min per company; qbo-sim enforces those), so the
#       limiter's ceiling is 8 × COMPANIES calls/s per instance holding the budget; the script
#       prints it beside the figures.
# Medians over RUNS rounds; ratios against the SQLite single instance of the same run.
# Usage: scripts/bench-scaling.sh [intake-seconds] [sync-seconds] [runs] [companies]
#   (defaults 6 10 3 64: 10 minutes on 2 cores after the build; about a third of it is the waits
#   for the PostgreSQL instances' event extraction to catch up after each intake run)
# Environment: QBSYNC_BENCH_BIN (binaries already built: no build), QBSYNC_BENCH_CONNECTIONS (32),
#   QBSYNC_BENCH_WORKERS (clients per company, 2), QBSYNC_BENCH_WARMUP (seconds of each load per
#   configuration before the first round, 2), QBSYNC_BENCH_PG_FSYNC (on; off keeps the test
#   cluster's fsync=off), QBSYNCD_LEASE_SECONDS (the instances' lease, default the daemon's 90).
set -euo pipefail
cd "$(dirname "$0")/.."
intake_seconds=${1:-6}; sync_seconds=${2:-10}; runs=${3:-3}; companies=${4:-64}
connections=${QBSYNC_BENCH_CONNECTIONS:-32}; workers=${QBSYNC_BENCH_WORKERS:-2}
warmup=${QBSYNC_BENCH_WARMUP:-2}; pg_fsync=${QBSYNC_BENCH_PG_FSYNC:-on}
run_started=$(date +%s)
if [ -n "${QBSYNC_BENCH_BIN:-}" ]; then  # checking the script against binaries already built
  bin=$QBSYNC_BENCH_BIN; build="binaries of $bin"
else
  build="release build"
  bash scripts/setup.sh
  swift build -c release --product qbsyncd
  swift build -c release --product qbo-sim
  bin=$(swift build -c release --show-bin-path)
fi
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
if ! command -v wrk >/dev/null; then  # a fresh machine (CI): Debian's package
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi
. scripts/bench/pg-work.sh
trap 'exit 130' INT TERM
pg_work scaling

# pg-cluster.sh starts its test server with fsync=off (on its command line, which ALTER SYSTEM
# cannot override): start the same server again without it, so a commit is as durable as SQLite's
# (synchronous=FULL) and as on a production server.
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$pg_fsync" = on ]; then
  pgbin=/usr/lib/postgresql/$(cat "$pgdir/data/PG_VERSION")/bin
  [ -x "$pgbin/pg_ctl" ] || pgbin=$(pg_config --bindir)
  bash scripts/pg-cluster.sh stop-server "$pgdir" >/dev/null
  as_postgres "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
    -o "-p $(cat "$pgdir/port") -k $pgdir/socket -c listen_addresses=127.0.0.1 -c max_connections=600" start >/dev/null
fi
psql_value() { psql "$url" -X -q -t -A -v ON_ERROR_STOP=1 -c "$1"; }
pg_settings="PostgreSQL $(psql_value 'SHOW server_version' | cut -d' ' -f1), fsync $(psql_value 'SHOW fsync'), synchronous_commit $(psql_value 'SHOW synchronous_commit')"

. scripts/bench/sim-daemon.sh
start_sim
pids+=("$sim")
sed -i '/^QBSYNCD_WEBHOOK_LISTEN=/d' "$work/qbsyncd.conf"
# Instances sharing a database share the token key too: tokens one sealed, another must open.
(umask 077; head -c 32 /dev/urandom > "$work/token.key")
echo "QBSYNCD_TOKEN_KEY_FILE=$work/token.key" >> "$work/qbsyncd.conf"
# Every client of the benchmark runs as this user: the per-user cap on control connections (64 by
# default) is raised so that one instance takes them all, as for an application's connection pool.
printf 'QBSYNCD_CONTROL_MAX_CONNECTIONS=2048\nQBSYNCD_CONTROL_MAX_CONNECTIONS_PER_UID=2048\n' >> "$work/qbsyncd.conf"
[ -z "${QBSYNCD_LEASE_SECONDS:-}" ] || echo "QBSYNCD_LEASE_SECONDS=$QBSYNCD_LEASE_SECONDS" >> "$work/qbsyncd.conf"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }

# The configurations: name, instances, schema ("" for SQLite).
configs=(sqlite-1 pg-1 pg-2 pg-3)
declare -A count=([sqlite-1]=1 [pg-1]=1 [pg-2]=2 [pg-3]=3)
declare -A label=([sqlite-1]="SQLite, 1 instance" [pg-1]="PostgreSQL, 1 instance" [pg-2]="PostgreSQL, 2 instances" [pg-3]="PostgreSQL, 3 instances")
declare -A schema=([sqlite-1]="" [pg-1]=bench_scaling_1 [pg-2]=bench_scaling_2 [pg-3]=bench_scaling_3)
declare -A sockets ports instance_pids

# start_instance CONFIG INDEX: a qbsyncd of the configuration, its own state, socket and webhook port.
start_instance() {
  local cfg=$1 i=$2 dir="$work/$1/$2" port
  port=$(free_port)
  mkdir -p "$dir/state"
  local db=()
  [ -z "${schema[$cfg]}" ] || db=(QBSYNCD_DATABASE_URL="$url&schema=${schema[$cfg]}")
  env QBSYNCD_STATE_DIR="$dir/state" QBSYNCD_CONTROL_SOCKET="$dir/control.sock" QBSYNCD_CONFIG="$work/qbsyncd.conf" \
    QBSYNCD_WEBHOOK_LISTEN="127.0.0.1:$port" "${db[@]}" "$bin/qbsyncd" 2>> "$dir/qbsyncd.log" &
  local pid=$!
  pids+=("$pid")
  sockets[$cfg]="${sockets[$cfg]:+${sockets[$cfg]},}$dir/control.sock"
  ports[$cfg]="${ports[$cfg]:+${ports[$cfg]} }$port"
  instance_pids[$cfg]="${instance_pids[$cfg]:+${instance_pids[$cfg]} }$pid"
}
wait_healthy() {  # CONFIG
  local -a socks=(${sockets[$1]//,/ }) port_list=(${ports[$1]})
  local i
  for i in "${!socks[@]}"; do
    for _ in $(seq 600); do [ -S "${socks[$i]}" ] && curl -s -o /dev/null "http://127.0.0.1:${port_list[$i]}/healthz" && break; sleep 0.05; done
    [ -S "${socks[$i]}" ] && curl -s -o /dev/null "http://127.0.0.1:${port_list[$i]}/healthz" \
      || { echo "instance $i of $1 did not start:" >&2; tail -20 "$work/$1/$i/qbsyncd.log" >&2; exit 1; }
  done
}
# sql CONFIG QUERY: one value from the configuration's store.
sql() {
  if [ -z "${schema[$1]}" ]; then
    python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$work/$1/0/state/qbsyncd.sqlite" "$2"
  else
    PGOPTIONS="-c search_path=${schema[$1]}" psql_value "$2"
  fi
}
# drain CONFIG: waits until the instances have extracted every delivery's events (the work after
# the answers), so it does not run into the next measurement; prints the seconds waited.
drain() {
  local t0; t0=$(date +%s.%N)
  local left=1
  for _ in $(seq 1200); do left=$(sql "$1" 'SELECT count(*) FROM qb_webhook_unexpanded'); [ "$left" = 0 ] && break; sleep 0.1; done
  [ "$left" = 0 ] || echo "  warning: $1: $left deliveries still wait for event extraction; measuring on" >&2
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'
}
orgs_of() {  # SET: the companies of set SET (set 0: the warm-up; set r: round r)
  seq -f 'bench-%g' $(($1 * companies)) $(($1 * companies + companies - 1)) | paste -sd,
}

for cfg in "${configs[@]}"; do
  for i in $(seq 0 $((count[$cfg] - 1))); do start_instance "$cfg" "$i"; done
done
for cfg in "${configs[@]}"; do wait_healthy "$cfg"; done
sets=$((runs + 1))
echo "connecting $((sets * companies)) companies to each configuration ..." >&2
for cfg in "${configs[@]}"; do
  python3 scripts/bench/connect_orgs.py "${sockets[$cfg]%%,*}" "$sim_url" $((sets * companies)) > /dev/null
done
# Every company held by a live instance before anything runs (the heartbeat takes new companies).
for cfg in "${configs[@]}"; do
  [ -n "${schema[$cfg]}" ] || continue
  for _ in $(seq 1200); do
    unheld=$(sql "$cfg" "SELECT count(*) FROM qb_configs c WHERE c.status = 'connected' AND NOT EXISTS (SELECT 1 FROM qb_company_leases l
      WHERE l.realm_id = c.realm_id AND l.expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint)")
    [ "$unheld" = 0 ] && break
    sleep 0.1
  done
  [ "$unheld" = 0 ] || echo "warning: $cfg: $unheld companies without a lease holder after 120 s" >&2
done
echo "customer.sync of every company ..." >&2
for cfg in "${configs[@]}"; do
  for set in $(seq 0 "$runs"); do python3 scripts/bench/sync_spread.py prepare "${sockets[$cfg]}" "$(orgs_of "$set")"; done
done

# intake CONFIG ROUND SECONDS: one wrk per instance, the connections spread evenly; sets
# intake_rate (deliveries/s answered 200, the sum over the instances) and intake_answered. Bodies: $work/bodies.ROUND.I, new to the store.
intake() {
  local cfg=$1 round=$2 seconds=$3 n=${count[$1]} i c port wrk_pids=() total=0 answered=0
  local -a port_list=(${ports[$cfg]})
  for i in $(seq 0 $((n - 1))); do
    c=$((connections / n + (i < connections % n ? 1 : 0)))
    # -t1 and SAME_BODY: the one thread takes every line of the file (signed_post.lua hands each
    # of two threads every other line); every line is a distinct body all the same.
    SAME_BODY=1 BODIES="$work/bodies.$round.$i" wrk -t1 -c"$c" -d"${seconds}s" -s scripts/bench/signed_post.lua \
      "http://127.0.0.1:${port_list[$i]}/api/webhooks/quickbooks" > "$work/wrk.$i" 2>&1 &
    wrk_pids+=($!)
  done
  wait "${wrk_pids[@]}"
  for i in $(seq 0 $((n - 1))); do
    if grep -q 'Non-2xx' "$work/wrk.$i"; then echo "non-2xx answers from $cfg instance $i:" >&2; cat "$work/wrk.$i" >&2; exit 1; fi
    if grep -q 'Socket errors' "$work/wrk.$i"; then echo "  $cfg instance $i: $(grep 'Socket errors' "$work/wrk.$i" | xargs)" >&2; fi
    total=$(awk -v t="$total" '/Requests\/sec/ {printf "%.1f", t + $2}' "$work/wrk.$i")
    answered=$((answered + $(awk '/requests in/ {print $1}' "$work/wrk.$i")))
    [ "$(awk '/requests in/ {print $1}' "$work/wrk.$i")" -le "$body_lines" ] \
      || echo "  warning: $cfg instance $i sent more requests than distinct bodies ($body_lines): replays counted" >&2
  done
  intake_rate=$total; intake_answered=$answered
}
body_lines=$((25000 * (intake_seconds > warmup ? intake_seconds : warmup)))
make_bodies() {  # ROUND: a file of distinct bodies per instance index (each configuration's store is its own)
  local i made=()
  for i in 0 1 2; do python3 scripts/bench/signed_bodies.py v "$body_lines" $((100 + $1 * 10 + i)) "$work/bodies.$1.$i" & made+=($!); done
  wait "${made[@]}"
}
# sync_run CONFIG SET SECONDS: writes "ok rate_limited other elapsed ok/s p50_ms p99_ms" to $work/sync.out.
sync_run() { python3 scripts/bench/sync_spread.py run "${sockets[$1]}" "$(orgs_of "$2")" "$3" "$workers" > "$work/sync.out"; }

machine="$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores ($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) a core), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr)"
echo "machine: $machine"
echo "date: $(date -u '+%F %H:%M UTC'); $build; $pg_settings; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "intake: wrk -t1 per instance, $connections connections spread evenly, ${intake_seconds} s a run; sync: $companies companies × $workers clients, invoice.sync, ${sync_seconds} s a run (fresh companies each round); $runs rounds; warm-up ${warmup} s of each"
for cfg in "${configs[@]}"; do
  [ -n "${schema[$cfg]}" ] || continue
  echo "$cfg: companies held per instance: $(sql "$cfg" "SELECT string_agg(n::text, ' ' ORDER BY n DESC) FROM (SELECT count(*) AS n FROM qb_company_leases
    WHERE expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint GROUP BY owner) s")"
done

make_bodies 0
for cfg in "${configs[@]}"; do
  intake "$cfg" 0 "$warmup"; drain "$cfg" > /dev/null
  sync_run "$cfg" 0 "$warmup"
done
rm -f "$work"/bodies.0.*

declare -A intake_rates sync_rates answered_total sync_errors backlogs drains
for round in $(seq "$runs"); do
  make_bodies "$round"
  order=("${configs[@]:$(( (round - 1) % ${#configs[@]} ))}" "${configs[@]:0:$(( (round - 1) % ${#configs[@]} ))}")
  for cfg in "${order[@]}"; do
    drain "$cfg" > /dev/null
    intake "$cfg" "$round" "$intake_seconds"
    rate=$intake_rate; answered=$intake_answered
    backlog=$(sql "$cfg" 'SELECT count(*) FROM qb_webhook_unexpanded')
    waited=$(drain "$cfg")
    intake_rates[$cfg]="${intake_rates[$cfg]:-} $rate"
    answered_total[$cfg]=$(( ${answered_total[$cfg]:-0} + answered ))
    backlogs[$cfg]="${backlogs[$cfg]:-} $backlog"; drains[$cfg]="${drains[$cfg]:-} $waited"
    echo "round $round, $cfg intake: $rate deliveries/s answered 200 ($answered in ${intake_seconds} s; at the end $backlog deliveries were waiting for event extraction, done ${waited} s later)"
  done
  rm -f "$work"/bodies."$round".*
  for cfg in "${order[@]}"; do
    sync_run "$cfg" "$round" "$sync_seconds"
    read -r ok limited other elapsed rate p50 p99 < "$work/sync.out"
    sync_rates[$cfg]="${sync_rates[$cfg]:-} $rate"
    sync_errors[$cfg]=$(( ${sync_errors[$cfg]:-0} + limited + other ))
    echo "round $round, $cfg sync: $rate invoice.sync/s ($ok in ${elapsed} s; rate_limited $limited, other errors $other; call p50 ${p50} ms, p99 ${p99} ms)"
  done
done

echo
echo "machine: $machine; $(date -u '+%F %H:%M UTC'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
base_intake=$(median ${intake_rates[sqlite-1]}); base_sync=$(median ${sync_rates[sqlite-1]})
printf '%-26s %12s %9s %12s %9s   %s\n' configuration "intake/s" "vs SQLite" "sync/s" "vs SQLite" "runs (intake; sync)"
for cfg in "${configs[@]}"; do
  mi=$(median ${intake_rates[$cfg]}); ms=$(median ${sync_rates[$cfg]})
  printf '%-26s %12s %9s %12s %9s   %s; %s\n' "${label[$cfg]}" "$mi" "$(ratio "$mi" "$base_intake")" "$ms" "$(ratio "$ms" "$base_sync")" \
    "$(echo ${intake_rates[$cfg]} | tr ' ' ',')" "$(echo ${sync_rates[$cfg]} | tr ' ' ',')"
done
echo "(medians over $runs rounds; intake: signed deliveries/s answered 200, $connections connections; sync: invoice.sync/s completed, $companies companies × $workers clients; qbsyncd's own budget caps a company at 8 requests/s per instance: ${companies} companies → $((8 * companies))/s)"
for cfg in "${configs[@]}"; do
  stored=$(sql "$cfg" 'SELECT count(*) FROM qb_webhook_deliveries')
  rss=$(for pid in ${instance_pids[$cfg]}; do awk '/VmRSS/ {printf "%.0f\n", $2 / 1024}' "/proc/$pid/status"; done | paste -sd/)
  echo "$cfg: deliveries stored $stored (answered 200 in the measured runs: ${answered_total[$cfg]}, plus the warm-up); invoice.sync errors in the measured runs: ${sync_errors[$cfg]}; RSS ${rss} MiB"
  echo "$cfg: event extraction after an intake run: median $(median ${backlogs[$cfg]}) deliveries still waiting at its end, all extracted a median $(median ${drains[$cfg]}) s later (runs: $(echo ${backlogs[$cfg]} | tr ' ' ',') in $(echo ${drains[$cfg]} | tr ' ' ',') s)"
done
echo "run took $(( $(date +%s) - run_started )) s"
