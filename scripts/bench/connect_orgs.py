"""Connects N organisations through a running qbsyncd and qbo-sim, one QuickBooks company each.

Usage: connect_orgs.py SOCKET SIM_URL N
Each org: POST /sim/companies, oauth.begin over the control socket, the browser's visit to the
authorize URL (with realmId), oauth.complete. Prints progress and the elapsed time.
"""
import http.client, json, socket, sys, time, urllib.parse

sock_path, sim_url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
sim = urllib.parse.urlparse(sim_url)

control = socket.socket(socket.AF_UNIX)
control.connect(sock_path)
reader = control.makefile("rb")
next_id = 0

def call(method, params):
    global next_id
    next_id += 1
    control.sendall(json.dumps({"jsonrpc": "2.0", "id": next_id, "method": method, "params": params}).encode() + b"\n")
    reply = json.loads(reader.readline())
    if "error" in reply:
        raise SystemExit(f"{method}: {reply['error']}")
    return reply["result"]

conn = http.client.HTTPConnection(sim.hostname, sim.port)
def request(method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.getheader("Location"), response.read()

started = time.monotonic()
for index in range(count):
    _, _, body = request("POST", "/sim/companies", {"name": f"Bench Company {index}"})
    realm = json.loads(body)["realmId"]
    begun = call("oauth.begin", {"org": f"bench-{index}"})
    url = urllib.parse.urlparse(begun["authorizeUrl"])
    status, location, _ = request("GET", f"{url.path}?{url.query}&realmId={realm}")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    call("oauth.complete", {"state": begun["state"], "code": query["code"][0], "realmId": realm})
    if (index + 1) % 1000 == 0:
        print(f"  connected {index + 1} orgs ({time.monotonic() - started:.1f} s)", flush=True)
print(f"connected {count} orgs in {time.monotonic() - started:.1f} s")
