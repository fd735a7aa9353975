#!/usr/bin/env bash
# Start-up: exec to READY=1 (as systemd sees it) and to the first control answer, and RSS then, on
# an empty state directory, then on one holding SMALL and LARGE webhook deliveries, each with one
# event (defaults 10,000 and 1,000,000). For each size it also times what the start-up check used
# to be, `PRAGMA quick_check` of the whole file: since F10 a file over 64 MiB has only its tables
# other than the webhook log checked before opening, and the whole file after READY.
# Usage: scripts/bench-startup.sh [runs] [small] [large]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}; small=${2:-10000}; large=${3:-1000000}
bash scripts/setup.sh
swift build -c release --product qbsyncd
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/qbsyncd-startup.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/state"
printf 'QBSYNCD_LOG_LEVEL=warning\n' > "$work/qbsyncd.conf"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F); release build; $runs runs each; page cache warm"
printf 'empty state: '
python3 scripts/bench/startup.py "$bin/qbsyncd" "$work/state" "$work/qbsyncd.conf" "$runs"
have=0
for deliveries in "$small" "$large"; do
  python3 - "$work/state/qbsyncd.sqlite" "$have" "$deliveries" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
start, end = int(sys.argv[2]), int(sys.argv[3])
now = int(time.time() * 1000) - 86_400_000
def rows():
    for n in range(start, end):
        body = b'{"eventNotifications":[{"realmId":"4620816365000000000","dataChangeEvent":{"entities":[{"name":"Invoice","id":"%d","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}' % n
        yield (now, body)
cur = db.cursor()
for received, body in rows():
    cur.execute("INSERT INTO qb_webhook_deliveries (received_at, body, signature, remote_address, format) VALUES (?, ?, 'sig', '127.0.0.1', 'classic')", (received, body))
    cur.execute("INSERT INTO qb_webhook_events (delivery_id, received_at, realm_id, entity_name, entity_id, operation, type, dedupe_key, status, process_error) "
                "VALUES (?, ?, '4620816365000000000', 'Invoice', ?, 'Update', '', ?, 'ignored', 'bench')", (cur.lastrowid, received, str(cur.lastrowid), 'b:%d' % cur.lastrowid))
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
  have=$deliveries
  file="$work/state/qbsyncd.sqlite"
  check=$(python3 -c 'import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1]); t = time.monotonic(); r = db.execute("PRAGMA quick_check").fetchone()[0]
print(f"{(time.monotonic() - t) * 1000:.0f} ms ({r})")' "$file")
  printf '%s deliveries (%s MiB file; a whole quick_check takes %s): ' "$deliveries" "$(du -m "$file" | cut -f1)" "$check"
  python3 scripts/bench/startup.py "$bin/qbsyncd" "$work/state" "$work/qbsyncd.conf" "$runs"
done
