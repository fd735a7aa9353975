"""invoice.sync throughput over the control sockets of several instances (scripts/bench-scaling.sh).

  sync_spread.py prepare SOCKETS ORGS
      customer.sync of the development `bench-dev` for each org (its invoices' customer), the orgs
      spread over the instances in turn; not timed.
  sync_spread.py run SOCKETS ORGS SECONDS WORKERS
      WORKERS clients per org, each on a control connection of its own, call invoice.sync with a
      new demand as soon as the previous call answered, until SECONDS have passed; client j of org
      i talks to instance (i * WORKERS + j) mod N, so the calls are spread evenly, as a load
      balancer in front of the sockets would spread them. Prints one line:
      `ok rate_limited other elapsed_s ok_per_s p50_ms p99_ms` (ok_per_s: calls answered with a
      result, over the time from the first call to the last answer).

SOCKETS: comma-separated control socket paths. ORGS: comma-separated org names (connected).
One asyncio process for every client: the load generator's share of the machine stays small and
the same for every configuration measured with it.
"""
import asyncio, itertools, json, sys, time


class Client:
    def __init__(self, path):
        self.path = path
        self.next = 0

    async def open(self):
        self.reader, self.writer = await asyncio.open_unix_connection(self.path, limit=1 << 22)

    async def call(self, method, params):
        self.next += 1
        self.writer.write(json.dumps({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params}).encode() + b"\n")
        while True:
            line = await self.reader.readline()
            if not line:
                raise SystemExit(f"{self.path}: the control connection closed")
            reply = json.loads(line)
            if reply.get("id") == self.next:  # notifications first are skipped
                return reply

    def close(self):
        self.writer.close()


async def prepare(sockets, orgs):
    clients = [Client(s) for s in sockets]
    for c in clients:
        await c.open()

    async def one(i, org):
        client = clients[i % len(clients)]
        return await client.call("customer.sync", {"org": org, "development": {"id": "bench-dev", "name": f"Bench Court {org}"}})

    # One call at a time per connection (a connection's replies come in order), the instances in parallel.
    async def lane(k):
        for i, org in enumerate(orgs):
            if i % len(clients) != k:
                continue
            reply = await one(i, org)
            if "result" not in reply:
                raise SystemExit(f"customer.sync {org}: {reply.get('error')}")
    await asyncio.gather(*(lane(k) for k in range(len(clients))))
    for c in clients:
        c.close()


async def run(sockets, orgs, seconds, workers):
    counts = {"ok": 0, "rate_limited": 0, "other": 0}
    latencies = []
    errors = []
    clients = []
    for i, org in enumerate(orgs):
        for j in range(workers):
            client = Client(sockets[(i * workers + j) % len(sockets)])
            await client.open()
            clients.append((org, f"{i}-{j}", client))
    start = time.monotonic()
    deadline = start + seconds

    async def worker(org, tag, client):
        for n in itertools.count(1):
            if time.monotonic() >= deadline:
                return
            demand = {"id": f"scale-{tag}-{n}", "developmentId": "bench-dev", "docNumber": f"S{tag}-{n}", "dueDate": "2099-12-31",
                      "lines": [{"description": "Service charge", "amount": "125.00"}]}
            sent = time.monotonic()
            reply = await client.call("invoice.sync", {"org": org, "demand": demand})
            if "result" in reply:
                counts["ok"] += 1
                latencies.append(time.monotonic() - sent)
            elif (reply["error"].get("data") or {}).get("reason") == "rate_limited":
                counts["rate_limited"] += 1
            else:
                counts["other"] += 1
                if len(errors) < 3:
                    errors.append(reply["error"])

    await asyncio.gather(*(worker(*c) for c in clients))
    elapsed = time.monotonic() - start
    for _, _, client in clients:
        client.close()
    for e in errors:
        print("invoice.sync error:", json.dumps(e), file=sys.stderr)
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0
    print(f"{counts['ok']} {counts['rate_limited']} {counts['other']} {elapsed:.2f} {counts['ok'] / elapsed:.1f} {p(0.5):.1f} {p(0.99):.1f}")


def main():
    mode, sockets, orgs = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
    if mode == "prepare":
        asyncio.run(prepare(sockets, orgs))
    elif mode == "run":
        asyncio.run(run(sockets, orgs, float(sys.argv[4]), int(sys.argv[5])))
    else:
        raise SystemExit(__doc__)


main()
