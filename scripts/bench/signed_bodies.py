"""Writes COUNT distinct signed Intuit webhook bodies, one `SIGNATURE<TAB>BODY` line each.

Every body is new (its entity id carries RUN), so a receiver that recognises replays (qbsyncd
since F10) stores each one: the benchmark measures intake, not the replay path.
Usage: python3 signed_bodies.py VERIFIER COUNT RUN OUT
"""
import base64
import hashlib
import hmac
import sys

verifier, count, run, out = sys.argv[1].encode(), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
template = (
    '{"eventNotifications":[{"realmId":"4620816365000000000","dataChangeEvent":{"entities":'
    '[{"name":"Invoice","id":"%d","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}'
)
with open(out, "w") as f:
    for n in range(count):
        body = template % (run * 10_000_000 + n)
        signature = base64.b64encode(hmac.new(verifier, body.encode(), hashlib.sha256).digest()).decode()
        f.write(signature + "\t" + body + "\n")
