# Sourced by the benchmarks that run qbsyncd against qbo-sim. Needs $bin and $work.
# start_sim [NAME=VALUE ...]: starts qbo-sim (with that environment) in $work, sets $sim (its pid)
# and $sim_url, and writes $work/qbsyncd.conf pointing the daemon at it.
start_sim() {
  env "$@" "$bin/qbo-sim" --listen 127.0.0.1:0 --port-file "$work/sim.port" --client-id c --client-secret s \
    --redirect-uri https://app.example.com/cb --verifier-token v > "$work/sim.out" 2> "$work/sim.log" &
  sim=$!
  for _ in $(seq 100); do grep -q realmId "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
  sim_url="http://127.0.0.1:$(cat "$work/sim.port")"
  cat > "$work/qbsyncd.conf" <<CONF
QUICKBOOKS_CLIENT_ID=c
QUICKBOOKS_CLIENT_SECRET=s
QUICKBOOKS_REDIRECT_URI=https://app.example.com/cb
QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN=v
QUICKBOOKS_AUTHORIZE_URL=$sim_url/connect/oauth2
QUICKBOOKS_TOKEN_URL=$sim_url/oauth2/v1/tokens/bearer
QUICKBOOKS_REVOKE_URL=$sim_url/v2/oauth2/tokens/revoke
QUICKBOOKS_API_BASE_URL=$sim_url
QBSYNCD_WEBHOOK_LISTEN=127.0.0.1:0
QBSYNCD_LOG_LEVEL=warning
CONF
}
