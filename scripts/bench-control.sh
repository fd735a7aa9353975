#!/usr/bin/env bash
# Benchmark of the control socket: daemon.status from 1 and 16 clients, one at a time and
# pipelining 16 deep, with redis-benchmark PING over a Unix socket in the same run as the yardstick.
# Usage: scripts/bench-control.sh [seconds-per-shape] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}; runs=${2:-3}
bash scripts/setup.sh
command -v redis-server >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools; }
swift build -c release --product qbsyncd
swift build -c release --product qbsync-bench
bin=$(swift build -c release --show-bin-path)

work=$(mktemp -d /tmp/qbsyncd-bench.XXXXXX)
mkdir -p "$work/state"
printf 'QBSYNCD_LOG_LEVEL=warning\n' > "$work/qbsyncd.conf"
QBSYNCD_STATE_DIR="$work/state" QBSYNCD_CONTROL_SOCKET="$work/control.sock" QBSYNCD_CONFIG="$work/qbsyncd.conf" \
  "$bin/qbsyncd" 2> "$work/qbsyncd.log" &
pid=$!
redis-server --port 0 --unixsocket "$work/redis.sock" --save '' --appendonly no --daemonize no > /dev/null &
rpid=$!
trap 'kill $pid $rpid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -S "$work/control.sock" ] && [ -S "$work/redis.sock" ] && break; sleep 0.1; done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo "daemon RSS at start: $(( $(grep VmRSS /proc/$pid/status | awk '{print $2}') / 1024 )) MiB"
echo
echo "qbsyncd daemon.status (release build):"
"$bin/qbsync-bench" control --socket "$work/control.sock" --pid $pid --seconds "$seconds" --runs "$runs"
echo
echo "redis PING over a Unix socket, same machine, same run:"
n=200000
for shape in "1 1" "16 1" "1 16" "16 16"; do
  set -- $shape
  rps=$(redis-benchmark -s "$work/redis.sock" -t ping_mbulk -n $n -c $1 -P $2 -q | grep -oE '[0-9.]+ requests per second' | awk '{print $1}')
  printf '%-30s%14s\n' "$1 client(s), depth $2" "$rps"
done
