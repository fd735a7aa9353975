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
mkdir -p "$work/state"
client_id=demo-client; client_secret=demo-secret; redirect=https://blockman.example.com/quickbooks/callback; verifier=demo-verifier
"$bin/qbo-sim" --listen 127.0.0.1:0 --port-file "$work/sim.port" --client-id $client_id --client-secret $client_secret \
  --redirect-uri $redirect --verifier-token $verifier --webhook-url http://127.0.0.1:8731/api/webhooks/quickbooks \
  > "$work/sim.out" 2> "$work/sim.log" &
sim=$!
trap 'kill $sim ${daemon:-} 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q realmId "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
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
for _ in $(seq 100); do "$bin/qbctl" status >/dev/null 2>&1 && break; sleep 0.1; done

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

echo; echo "== customer.sync: the development as a QuickBooks customer"
"$bin/qbctl" call customer.sync '{"org":"acme","development":{"id":"dev-1","name":"Maple Court Development","email":"office@maplecourt.example"}}' \
  | python3 -c 'import json,sys; m=json.load(sys.stdin); print("development %s -> QuickBooks customer %s (%s)" % (m["localId"], m["qboId"], m["status"]))'
echo; echo "== invoice.sync: the service-charge demand as a QuickBooks invoice"
invoice=$("$bin/qbctl" call invoice.sync '{"org":"acme","demand":{"id":"dem-1","developmentId":"dev-1","docNumber":"SC-2026-001","dueDate":"2026-12-31","lines":[{"description":"Service charge Q1","amount":"1250.00"}]}}')
echo "$invoice" | python3 -c 'import json,sys; m=json.load(sys.stdin); print("demand %s -> QuickBooks invoice %s, %s, total %s, balance %s" % (m["localId"], m["qboId"], m["status"], m["totalAmount"], m["balance"]))'
invoice_id=$(echo "$invoice" | python3 -c 'import json,sys; print(json.load(sys.stdin)["qboId"])')
echo; echo "== the invoice is paid in QuickBooks (the simulator)"
curl -s -X POST -d '{}' "$sim_url/sim/companies/$realm/invoices/$invoice_id/pay" | python3 -c 'import json,sys; p=json.load(sys.stdin)["Payment"]; print("payment %s of %s" % (p["Id"], p["TotalAmt"]))'
echo; echo "== Intuit's webhook reaches the daemon (signed, stored, processed): the demand turns Paid by itself"
for _ in $(seq 100); do
  status=$("$bin/qbctl" call entity.list '{"org":"acme","kind":"demand"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["entities"][0]["status"])')
  [ "$status" = "Paid" ] && break
  sleep 0.1
done
"$bin/qbctl" call entity.list '{"org":"acme","kind":"demand"}' \
  | python3 -c 'import json,sys; m=json.load(sys.stdin)["entities"][0]; print("demand %s: %s, balance %s" % (m["localId"], m["status"], m["balance"]))'
"$bin/qbctl" call event.list '{"org":"acme"}' \
  | python3 -c 'import json,sys; [print("event %s %s %s -> %s" % (e["id"], e["type"], e["entityId"], e["status"])) for e in json.load(sys.stdin)["events"]]'
echo; echo "== sync.summary"; "$bin/qbctl" call sync.summary '{"org":"acme"}'

echo; echo "== SIGTERM"; kill -TERM $daemon $sim; wait $daemon && echo "qbsyncd exited 0"; wait $sim && echo "qbo-sim exited 0"
