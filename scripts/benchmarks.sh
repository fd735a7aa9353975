#!/usr/bin/env bash
# Every benchmark of the project, one after another, written to BENCHMARKS.md with the machine.
# About 10 minutes on 2 cores (plus a release build). Run on a quiet machine: the figures are
# medians of several runs, and the ratios come from peers measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product qbsyncd --product qbo-sim --product qbsync-bench --product qbctl 2>/dev/null \
  || { swift build -c release --product qbsyncd; swift build -c release --product qbo-sim; swift build -c release --product qbsync-bench; swift build -c release --product qbctl; }
# Let the machine settle after the build: a VM's first seconds after minutes of compiling run slow.
sleep 20
out=$(mktemp -d /tmp/qbsyncd-benchmarks.XXXXXX)
trap 'rm -rf "$out"' EXIT
section() {  # name, command...: runs it, keeps its output
  local name=$1; shift
  echo "== $name: $*" >&2
  # Only the benchmark's own report: everything from its "machine:" line on (not the build's output).
  "$@" 2>"$out/$name.err" | sed -n '/^machine:/,$p' > "$out/$name" || { cat "$out/$name.err" >&2; exit 1; }
  cat "$out/$name" >&2
}
section control bash scripts/bench-control.sh 5 3
section webhooks bash scripts/bench-webhooks.sh 10 3
section sync bash scripts/bench-sync.sh 70 4 4
section startup bash scripts/bench-startup.sh 5 200000
section tokens bash scripts/bench-tokens.sh 10000 30
section simulator bash scripts/bench-sim.sh 5 3
section month bash scripts/bench-month.sh 20 5 180 60 0.2

line() { grep -m1 "$2" "$out/$1" || echo "(not found)"; }
{
  cat <<HEAD
# Benchmarks

Written by \`bash scripts/benchmarks.sh\` on $(date -u +"%Y-%m-%d %H:%M UTC"), commit $(git rev-parse --short HEAD).
Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(swift --version 2>/dev/null | head -n1).

Release builds. Each figure is a median over several runs in one sitting; each ratio compares peers
measured side by side in the same run, with the same load generator. The machine is a shared
2-core VM: expect a few per cent of noise between sittings, more on latency tails. The reliability
campaigns (crash, faults, bad input, hostile environment, access, soak) are in
[reports/reliability.md](reports/reliability.md), written by \`bash scripts/reliability.sh\`.

## Summary

| what | figure | target |
|---|---|---|
| control socket, 1 client | $(line control '^1 client, depth 1' | sed 's/  */ /g') | p99 < 1 ms |
| control socket, 16 clients × 16 deep | $(line control '^16 clients, depth 16' | sed 's/  */ /g') | ≥ 200,000/s |
| webhook intake vs pyreceiver | $(line webhooks 'median deliveries/s') | faster than the Python peer |
| sync throughput | $(line sync '^all ') | within Intuit's 500/min per company, no 429 |
| start-up, empty | $(line startup '^empty state') | — |
| start-up, 200,000 deliveries | $(line startup 'deliveries (') | — |
| 10,000 orgs | $(line tokens 'RSS with') ; $(line tokens 'idle CPU over') | RSS < 64 MiB |
| 10,000 tokens due at once | $(line tokens 'refreshed in') | no 429, none lost |
| simulator | $(line simulator 'median requests') | ≥ 5,000 requests/s |
| the month, 10,000 companies (model) | $(line month '^ *10000 ' | sed 's/  */ /g') | ≤ 400,000 reads (80 % of 500,000) |
| the month, 20,000 companies (model) | $(line month '^ *20000 ' | sed 's/  */ /g') | how the plan bends |

HEAD
  for name in control webhooks sync startup tokens simulator month; do
    case $name in
      control) title="Control socket: daemon.status against Redis PING (scripts/bench-control.sh 5 3)";;
      webhooks) title="Webhook intake against shared/bench/pyreceiver.py (scripts/bench-webhooks.sh 10 3)";;
      sync) title="Sync throughput against Intuit's budget (scripts/bench-sync.sh 70 4 4)";;
      startup) title="Start-up and memory (scripts/bench-startup.sh 5 200000)";;
      tokens) title="Token refresh at 10,000 orgs (scripts/bench-tokens.sh 10000 30)";;
      simulator) title="qbo-sim throughput, so that it is never the bottleneck (scripts/bench-sim.sh 5 3)";;
      month) title="The read budget over a month: model and live (scripts/bench-month.sh 20 5 180 60 0.2)";;
    esac
    printf '## %s\n\n```text\n' "$title"
    cat "$out/$name"
    printf '```\n\n'
  done
} > BENCHMARKS.md
echo "wrote BENCHMARKS.md" >&2
