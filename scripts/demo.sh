#!/usr/bin/env bash
# The main job: build; start qbo-sim (the Intuit simulator) and qbsyncd pointed at it; query the
# daemon with qbctl; drive the simulator the way Intuit's clients do (OAuth code flow, a customer,
# an invoice, a payment); stop both with SIGTERM. The daemon's own connect/sync/webhook steps join
# this script as those capabilities land.
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

echo; echo "== the simulator, driven as Intuit's own clients do (the daemon's sync arrives with the next release)"
location=$(curl -s -o /dev/null -w '%{redirect_url}' "$sim_url/connect/oauth2?client_id=$client_id&response_type=code&scope=com.intuit.quickbooks.accounting&redirect_uri=$redirect&state=demo")
code=$(echo "$location" | sed 's/.*code=\([^&]*\).*/\1/')
tokens=$(curl -s -u "$client_id:$client_secret" -d "grant_type=authorization_code&code=$code&redirect_uri=$redirect" "$sim_url/oauth2/v1/tokens/bearer")
access=$(echo "$tokens" | python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["access_token"])')

api="$sim_url/v3/company/$realm"
auth=(-H "Authorization: Bearer $access" -H "Accept: application/json" -H "Content-Type: application/json")
echo; echo "== a development as a customer, a demand as an invoice, then paid in the simulator"
customer=$(curl -s "${auth[@]}" -d '{"DisplayName":"Maple Court Development"}' "$api/customer?requestid=demo-c1&minorversion=75" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Customer"]["Id"])')
invoice=$(curl -s "${auth[@]}" -d "{\"CustomerRef\":{\"value\":\"$customer\"},\"DueDate\":\"2026-12-31\",\"Line\":[{\"Amount\":1250.00,\"DetailType\":\"SalesItemLineDetail\",\"Description\":\"Service charge Q1\",\"SalesItemLineDetail\":{\"ItemRef\":{\"value\":\"1\"}}}]}" "$api/invoice?requestid=demo-i1&minorversion=75")
invoice_id=$(echo "$invoice" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Invoice"]["Id"])')
echo "$invoice" | python3 -c 'import json,sys; i=json.load(sys.stdin)["Invoice"]; print("invoice %s DocNumber %s TotalAmt %s Balance %s" % (i["Id"], i["DocNumber"], i["TotalAmt"], i["Balance"]))'
curl -s -X POST -d '{}' "$sim_url/sim/companies/$realm/invoices/$invoice_id/pay" > /dev/null
curl -s "${auth[@]}" "$api/invoice/$invoice_id" | python3 -c 'import json,sys; i=json.load(sys.stdin)["Invoice"]; print("after payment: Balance %s, LinkedTxn %s -> Paid" % (i["Balance"], i["LinkedTxn"]))'

echo; echo "== SIGTERM"; kill -TERM $daemon $sim; wait $daemon && echo "qbsyncd exited 0"; wait $sim && echo "qbo-sim exited 0"
