"""The month benchmark's live part: the same workload as the model at a reduced scale, through
the real qbsyncd and qbo-sim, to confirm that the daemon makes the reads its plan says.

Usage: month_live.py SOCKET SIM_URL DEMANDS_PER_ORG HORIZON_SECONDS SEED
Every connected org gets DEMANDS invoices; over HORIZON seconds, 80 % of them are paid and 2 %
voided at seeded random times (the simulator loses its configured share of webhooks). Prints
one JSON object: the reads the daemon made in the window (by class, and as the simulator
metered them), pay-to-Paid latencies split into webhook-driven and caught-up, and what is left.
"""
import json, os, random, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

sock_path, sim_url, demands, horizon, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
rng = random.Random(seed)

def Control():
    return benchlib.Control(sock_path)

def sim_call(method, path, body=None):
    return benchlib.sim_call(sim_url, method, path, body)

control = Control()
orgs = [o for o in control.call("org.list")["orgs"] if o["status"] == "connected"]
work = []
for o in orgs:
    control.call("customer.sync", {"org": o["org"], "development": {"id": "dev-1", "name": f"Court {o['org']}"}})
    for d in range(demands):
        mapping = control.call("invoice.sync", {"org": o["org"], "demand": {
            "id": f"dem-{d}", "developmentId": "dev-1", "docNumber": f"SC-{d}", "dueDate": "2099-12-31",
            "lines": [{"description": "Service charge", "amount": "100.00"}]}})
        fate = rng.random()
        if fate < 0.82:
            work.append((rng.random() * horizon, "pay" if fate < 0.80 else "void", o, f"dem-{d}", mapping["qboId"]))
work.sort(key=lambda w: w[0])
# Steady state before the window opens: the creates' webhooks settled (qbsyncd's own writes: no
# reads) and every company read once (its first sweep, spread over the first period).
period = float(sys.argv[6]) if len(sys.argv) > 6 else 60
deadline = time.monotonic() + 2 * period + 30
while time.monotonic() < deadline and control.call("daemon.status")["quota"]["byClass"]["sweep"] < len(orgs):
    time.sleep(0.5)

changed = {}
lock = threading.Lock()
def listen():
    watcher = Control()
    watcher.call("subscribe", {"topics": ["invoice.status_changed"]})
    for line in watcher.reader:
        message = json.loads(line)
        if message.get("method") == "invoice.status_changed" and message["params"]["to"] in ("Paid", "Voided"):
            with lock:
                changed.setdefault((message["params"]["org"], message["params"]["demandId"]), time.monotonic())
threading.Thread(target=listen, daemon=True).start()
time.sleep(0.5)

before = control.call("daemon.status")["quota"]["byClass"]
usage_before = sim_call("GET", "/sim/usage")
start = time.monotonic()
done_at = {}
for at, action, o, demand, qbo in work:
    delay = start + at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    sim_call("POST", f"/sim/companies/{o['realmId']}/invoices/{qbo}/{action}", {})
    done_at[(o["org"], demand)] = time.monotonic()
remaining = start + horizon - time.monotonic()
if remaining > 0:
    time.sleep(remaining)
after = control.call("daemon.status")["quota"]["byClass"]
usage_after = sim_call("GET", "/sim/usage")
# Then wait (bounded) for the stragglers the sweeps catch up.
deadline = time.monotonic() + 3 * period
while time.monotonic() < deadline:
    with lock:
        if all(key in changed for key in done_at):
            break
    time.sleep(0.5)
latencies = sorted(changed[k] - done_at[k] for k in done_at if k in changed)
fast = [l for l in latencies if l < 10]
slow = [l for l in latencies if l >= 10]
def pct(values, q):
    return round(values[min(len(values) - 1, int((len(values) - 1) * q))], 2) if values else None
print(json.dumps({
    "orgs": len(orgs), "changes": len(done_at), "settled": len(latencies), "unsettled": len(done_at) - len(latencies),
    "reads": {k: after[k] - before[k] for k in after}, "simMetered": usage_after["metered"] - usage_before["metered"],
    "webhooksLost": usage_after.get("webhooksLost", 0) - usage_before.get("webhooksLost", 0),
    "freshnessP50": pct(fast, 0.5), "freshnessP99": pct(fast, 0.99), "caughtUp": len(slow), "catchUpMax": round(max(slow), 1) if slow else None,
}, sort_keys=True))
