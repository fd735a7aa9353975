#!/usr/bin/env bash
# Start-up: exec to the first control answer and RSS then, on an empty state directory and on one
# holding DELIVERIES webhook deliveries (default 200,000; the start-up integrity check reads the
# whole file). Usage: scripts/bench-startup.sh [runs] [deliveries]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}; deliveries=${2:-200000}
bash scripts/setup.sh
swift build -c release --product qbsyncd
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/qbsyncd-startup.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/state"
printf 'QBSYNCD_LOG_LEVEL=warning\n' > "$work/qbsyncd.conf"
echo "machine: $(nproc) cores, $(date -u +%F); release build; $runs runs each"
printf 'empty state: '
python3 scripts/bench/startup.py "$bin/qbsyncd" "$work/state" "$work/qbsyncd.conf" "$runs"
python3 - "$work/state/qbsyncd.sqlite" "$deliveries" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
body = b'{"eventNotifications":[{"realmId":"4620816365000000000","dataChangeEvent":{"entities":[{"name":"Invoice","id":"130","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}'
now = int(time.time())
db.executemany("INSERT INTO qb_webhook_deliveries (received_at, body, signature, remote_address, format) VALUES (?, ?, 'sig', '127.0.0.1', 'classic')",
               ((now, body) for _ in range(int(sys.argv[2]))))
db.commit()
PY
printf '%s deliveries (%s MiB file): ' "$deliveries" "$(du -m "$work/state/qbsyncd.sqlite" | cut -f1)"
python3 scripts/bench/startup.py "$bin/qbsyncd" "$work/state" "$work/qbsyncd.conf" "$runs"
