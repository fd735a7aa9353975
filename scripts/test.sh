#!/usr/bin/env bash
# Installs what the build and tests need, builds, and runs the whole test suite: unit and
# integration tests, then the short reliability campaigns (kept apart so their load does not
# disturb the timing-sensitive systemd tests), then a short libFuzzer run.
# QBSYNC_FUZZ_SECONDS (default 10 per target; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The dashboard's live test runs qbctl in a real terminal (tmux).
if ! command -v tmux >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq tmux
fi
# Intuit's own Python OAuth client, for the simulator's compatibility test.
pydeps="$PWD/.build/pydeps"
if ! PYTHONPATH="$pydeps" python3 -c 'import intuitlib' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$pydeps" intuit-oauth
fi
export QBSYNC_PYDEPS="$pydeps"
# A throw-away PostgreSQL cluster for the PostgreSQL store's tests (never the machine's own):
# initdb in its own directory, a free port, removed again when the tests end.
pg_dir="${TMPDIR:-/tmp}/qbsyncd-pg-$$"
trap 'bash scripts/pg-cluster.sh stop "$pg_dir" >/dev/null 2>&1 || true' EXIT
export "$(bash scripts/pg-cluster.sh start "$pg_dir")"
echo "PostgreSQL: a throw-away cluster in $pg_dir"
swift build --build-tests
# At most eight tests at a time (Swift Testing's own setting): all of them at once, a few hundred
# daemons and simulators on two cores stretched single tests past their time limits.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-8}"
# One run of the tests, bounded: a test that never ends (a cancelled wait that cannot be cancelled)
# fails its run after LIMIT minutes, naming what was still running, instead of holding CI to its own
# limit. GNU timeout signals its whole process group, so the daemons the tests started end too.
run_tests() {  # LIMIT_MINUTES SWIFT_TEST_ARGUMENTS...
  local limit=$1 rc=0
  shift
  echo "== $(date -u +%H:%M:%S) swift test $* (at most $limit min)"
  timeout -k 30 "${limit}m" swift test --skip-build --disable-xctest "$@" || rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "swift test $*: still running after $limit minutes, stopped; what it had started:" >&2
    ps -eo pid,etimes,args | grep -E "qbsyncd|qbo-sim|PackageTests" | grep -v grep >&2 || true
  fi
  echo "== $(date -u +%H:%M:%S) swift test $*: exit $rc"
  return "$rc"
}
# The PostgreSQL store's own tests run apart: in the same process as the integration tests' dozens
# of daemons on two cores, their migrations (one fresh schema each) went past their one-minute
# limit, and the cancellation left some of their operations waiting on the server for good.
run_tests 15 --skip ReliabilityTests --skip QBSyncStorePostgresTests
run_tests 5 --filter QBSyncStorePostgresTests
# The integration suite again with every daemon on PostgreSQL (a fresh schema each, in the cluster above).
# The kill -9 campaign and the server restart load both cores for minutes: each runs alone after
# the rest, so that their load does not stretch the other tests' deadlines.
heavy="InstanceCampaignTests|DatabaseRestartTests"
# In two halves (suites A–L, then M–Z): all at once, a hundred debug daemons on PostgreSQL loaded two
# cores past the tests' deadlines (a subscriber not seen within 30 s, where it takes 2 s alone).
for half in '[A-L]' '[M-Z]'; do
  QBSYNCD_TEST_BACKEND=postgres run_tests 12 --filter "IntegrationTests\.$half" --skip "$heavy"
done
QBSYNCD_TEST_BACKEND=postgres run_tests 8 --filter DatabaseRestartTests
QBSYNCD_TEST_BACKEND=postgres run_tests 15 --filter InstanceCampaignTests
run_tests 15 --filter ReliabilityTests
# The man pages come from the same definitions as --help: generate them and check they name the commands.
man_dir=$(mktemp -d)
bash scripts/man.sh "$man_dir" > /dev/null
for command in dashboard quota "audit" "invoice"; do
  grep -q "$command" "$man_dir/qbctl.1" || { echo "man page: qbctl.1 does not describe $command" >&2; exit 1; }
done
rm -rf "$man_dir"
echo "man pages: qbctl.1 and qbsyncd.1 generated"
fuzz_seconds="${QBSYNC_FUZZ_SECONDS:-10}"
if [ "$fuzz_seconds" != 0 ]; then
  bash scripts/fuzz.sh "$fuzz_seconds"
fi
