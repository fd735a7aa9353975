#!/usr/bin/env bash
# The main job: build; start qbo-sim (the Intuit simulator) and qbsyncd pointed at it; connect an
# organisation through the simulator's OAuth consent; push a development as a customer and a demand
# as an invoice; pay the invoice in the simulator; Intuit's signed webhook reaches the daemon, which
# turns the demand Paid; stop both with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --product qbsyncd
swift build --product qbctl
swift build --product qbo-sim
bin=$(swift build --show-bin-path)

work=$(mktemp -d /tmp/qbsyncd-demo.XXXXXX)
# Runs a check every 0.1 s until it passes, for at most 10 s; otherwise says what did not happen,
# shows the daemon's last log lines, and fails the demo.
wait_for() {
  local what=$1; shift
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "demo: $what did not happen within 10 s" >&2
  tail -n 20 "$work/qbsyncd.log" >&2 2>/dev/null || true
  exit 1
}
mkdir -p "$work/state"
client_id=demo-client; client_secret=demo-secret; redirect=https://blockman.example.com/quickbooks/callback; verifier=demo-verifier
"$bin/qbo-sim" --listen 127.0.0.1:0 --port-file "$work/sim.port" --client-id $client_id --client-secret $client_secret \
  --redirect-uri $redirect --verifier-token $verifier --webhook-url http://127.0.0.1:8731/api/webhooks/quickbooks \
  > "$work/sim.out" 2> "$work/sim.log" &
sim=$!
trap 'kill $sim ${daemon:-} 2>/dev/null || true; rm -rf "$work"' EXIT
wait_for "qbo-sim announcing its company" grep -q realmId "$work/sim.out"
sim_url="http://127.0.0.1:$(cat "$work/sim.port")"; realm=$(grep -o 'realmId=[0-9]*' "$work/sim.out" | cut -d= -f2)
echo "== qbo-sim: $sim_url, default company $realm"

cat > "$work/qbsyncd.conf" <<CONF
QUICKBOOKS_CLIENT_ID=$client_id
QUICKBOOKS_CLIENT_SECRET=$client_secret
QUICKBOOKS_REDIRECT_URI=$redirect
QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN=$verifier
QUICKBOOKS_AUTHORIZE_URL=$sim_url/connect/oauth2
QUICKBOOKS_TOKEN_URL=$sim_url/oauth2/v1/tokens/bearer
QUICKBOOKS_REVOKE_URL=$sim_url/v2/oauth2/tokens/revoke
QUICKBOOKS_API_BASE_URL=$sim_url
QBSYNCD_LOG_LEVEL=info
CONF
export QBSYNCD_STATE_DIR="$work/state" QBSYNCD_CONTROL_SOCKET="$work/control.sock" QBSYNCD_CONFIG="$work/qbsyncd.conf"
"$bin/qbsyncd" 2> "$work/qbsyncd.log" &
daemon=$!
wait_for "qbsyncd answering on its control socket" "$bin/qbctl" status

echo; echo "== qbctl status (the daemon, pointed at the simulator)"; "$bin/qbctl" status
echo; echo "== qbctl connect acme: the authorize URL is opened (as a browser would) and the redirect pasted back"
coproc CONNECT { "$bin/qbctl" connect acme 2>/dev/null; }
read -r authorize_url <&"${CONNECT[0]}"
echo "authorize URL: ${authorize_url:0:100}..."
location=$(curl -s -o /dev/null -w '%{redirect_url}' "$authorize_url")
echo "Intuit redirected to: ${location:0:90}..."
echo "$location" >&"${CONNECT[1]}"
read -r connected <&"${CONNECT[0]}"; echo "$connected"
wait "$CONNECT_PID"
echo; echo "== qbctl org list"; "$bin/qbctl" org list
echo; echo "== qbctl org test acme"; "$bin/qbctl" org test acme
echo; echo "== qbctl token refresh acme"; "$bin/qbctl" token refresh acme

echo; echo "== qbctl customer sync: the development as a QuickBooks customer"
"$bin/qbctl" customer sync acme --id dev-1 --name "Maple Court Development" --email office@maplecourt.example
echo; echo "== qbctl invoice sync --file -: the service-charge demand (JSON, as the app sends it) as a QuickBooks invoice"
"$bin/qbctl" invoice sync acme --file - <<'JSON'
{"id":"dem-1","developmentId":"dev-1","docNumber":"SC-2026-001","dueDate":"2026-12-31","lines":[{"description":"Service charge Q1","amount":"1250.00"}]}
JSON
invoice_id=$("$bin/qbctl" entities acme --kind demand | awk '$2 == "dem-1" { print $4 }')
echo; echo "== the invoice ($invoice_id) is paid in QuickBooks (the simulator)"
payment=$(curl -sf -X POST -d '{}' "$sim_url/sim/companies/$realm/invoices/$invoice_id/pay")
echo "payment $(grep -o '"Id" *: *"[0-9]*"' <<<"$payment" | head -1 | grep -o '[0-9]*') of $(grep -o '"TotalAmt" *: *[0-9.]*' <<<"$payment" | head -1 | grep -o '[0-9.]*$')"
echo; echo "== Intuit's webhook reaches the daemon (signed, stored, processed): the demand turns Paid by itself"
demand_paid() { grep -q dem-1 <<<"$("$bin/qbctl" entities acme --kind demand --status Paid)"; }
wait_for "the demand turning Paid" demand_paid
echo; echo "== qbctl entities acme"; "$bin/qbctl" entities acme
echo; echo "== qbctl events --org acme"; "$bin/qbctl" events --org acme
echo; echo "== qbctl summary acme"; "$bin/qbctl" summary acme
echo; echo "== qbctl quota"; "$bin/qbctl" quota

echo; echo "== SIGTERM"; kill -TERM $daemon $sim; wait $daemon && echo "qbsyncd exited 0"; wait $sim && echo "qbo-sim exited 0"
