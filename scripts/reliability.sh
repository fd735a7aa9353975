#!/usr/bin/env bash
# The long reliability campaigns (issue 9): crash (40 kill -9 cycles), faults (6 orgs × 40),
# bad input (200,000 control lines, 20,000 HTTP requests, libFuzzer 5 minutes per target),
# hostile environment, access control, and a 10-minute soak. About 30 minutes on 2 cores.
# The figures go to reports/reliability.md (and the terminal).
# QBSYNC_SEED replays a run; QBSYNC_SOAK_SECONDS and QBSYNC_FUZZ_SECONDS change the durations.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p reports
report="$PWD/reports/reliability.md"
{
  echo "# Reliability campaigns (long)"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo
} >"$report"
swift build --build-tests
# One seed for the whole run, printed in every section, so a failure replays with QBSYNC_SEED.
export QBSYNC_SEED="${QBSYNC_SEED:-$((RANDOM * 32768 + RANDOM))}"
# The soak runs alone afterwards, so that its latency figures are not the other campaigns' load.
QBSYNC_CAMPAIGN=long QBSYNC_CAMPAIGN_REPORT="$report" swift test --skip-build --disable-xctest --filter ReliabilityTests --skip SoakTests
QBSYNC_CAMPAIGN=long QBSYNC_CAMPAIGN_REPORT="$report" swift test --skip-build --disable-xctest --filter SoakTests
{
  echo "### libFuzzer"
  bash scripts/fuzz.sh "${QBSYNC_FUZZ_SECONDS:-300}" | grep '^fuzz:' | sed 's/^fuzz: /- /'
} >>"$report"
echo "report: $report"
