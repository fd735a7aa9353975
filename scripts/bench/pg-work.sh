# Sourced by the benchmarks that run qbsyncd instances on a throw-away PostgreSQL cluster.
# pg_work NAME: makes $work (/tmp/qbsyncd-NAME.XXXXXX) and $pgdir beside it, starts the cluster
# there and sets $url to it; $pids collects the processes to kill -9 at exit, when the cluster
# is stopped and both directories removed.
pg_work() {
  work=$(mktemp -d "/tmp/qbsyncd-$1.XXXXXX")
  pgdir="$work-pg"  # beside $work, not in it: as root the server runs as postgres, and $work is 0700
  pids=()
  trap pg_work_cleanup EXIT
  url=$(bash scripts/pg-cluster.sh start "$pgdir" | sed -n 's/^QBSYNCD_TEST_DATABASE_URL=//p')
  [ -n "$url" ] || { echo "the PostgreSQL cluster did not start" >&2; exit 1; }
}

pg_work_cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bash scripts/pg-cluster.sh stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
