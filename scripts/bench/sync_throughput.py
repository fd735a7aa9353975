"""Sync throughput against Intuit's budget: each connected org's workers create invoices through
qbsyncd as fast as it will take them, for SECONDS; then the simulator's counters tell how many
requests reached each company and how many it throttled (429).

Usage: sync_throughput.py SOCKET SIM_URL SECONDS WORKERS_PER_ORG
"""
import http.client, json, os, sys, threading, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

sock_path, sim_url, seconds, workers = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
sim = urllib.parse.urlparse(sim_url)

class Control(benchlib.Control):
    def __init__(self):
        super().__init__(sock_path)
    call = benchlib.Control.reply

def sim_get(path):
    conn = http.client.HTTPConnection(sim.hostname, sim.port)
    conn.request("GET", path)
    return json.loads(conn.getresponse().read())

orgs = [o for o in Control().call("org.list")["result"]["orgs"] if o["status"] == "connected"]
before = {o["org"]: sim_get(f"/sim/companies/{o['realmId']}")["counters"] for o in orgs}
for o in orgs:
    reply = Control().call("customer.sync", {"org": o["org"], "development": {"id": "bench-dev", "name": f"Bench Court {o['org']}"}})
    assert "result" in reply, reply

results = {o["org"]: {"ok": 0, "rate_limited": 0, "other": 0, "latency": []} for o in orgs}
lock = threading.Lock()
deadline = time.monotonic() + seconds

def worker(org, index):
    control = Control()
    n = 0
    while time.monotonic() < deadline:
        n += 1
        demand = {"id": f"bench-{index}-{n}", "developmentId": "bench-dev", "docNumber": f"B{index}-{n}", "dueDate": "2099-12-31",
                  "lines": [{"description": "Service charge", "amount": "125.00"}]}
        started = time.monotonic()
        reply = control.call("invoice.sync", {"org": org, "demand": demand})
        elapsed = time.monotonic() - started
        with lock:
            r = results[org]
            if "result" in reply:
                r["ok"] += 1; r["latency"].append(elapsed)
            elif reply["error"]["data"].get("reason") == "rate_limited":
                r["rate_limited"] += 1
            else:
                r["other"] += 1
                if r["other"] <= 3: print("error:", reply["error"], file=sys.stderr)

threads = [threading.Thread(target=worker, args=(o["org"], f"{o['org']}-{i}")) for o in orgs for i in range(workers)]
start = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.monotonic() - start

total_ok = 0
for o in orgs:
    after = sim_get(f"/sim/companies/{o['realmId']}")["counters"]
    served = after["requestsServed"] - before[o["org"]]["requestsServed"]
    throttled = after["throttled"] - before[o["org"]]["throttled"]
    r = results[o["org"]]
    total_ok += r["ok"]
    lat = sorted(r["latency"]) or [0]
    print(f"{o['org']}: {r['ok'] / elapsed * 60:.0f} invoices/min created; {served / elapsed * 60:.0f} Intuit requests/min "
          f"({served / elapsed * 60 / 500 * 100:.0f}% of Intuit's 500/min); Intuit 429s: {throttled}; "
          f"answered rate_limited: {r['rate_limited']}; other errors: {r['other']}; call p50 {lat[len(lat) // 2] * 1000:.0f} ms")
print(f"all {len(orgs)} companies: {total_ok / elapsed * 60:.0f} invoices/min over {elapsed:.0f} s with {workers} workers per org")
