"""An open-loop paced load generator: POSTs the signed bodies of BODIES (`SIGNATURE<TAB>BODY` lines)
at a fixed RATE per second for SECONDS over CONNECTIONS keep-alive connections, and prints
`sent answered non200 achieved_rate p50_ms p99_ms max_ms`.

Pacing: request i is due at start + i / RATE. At its due time it goes out on a free connection
(one request at a time per connection); if every connection is busy it waits for one. Its latency
is measured from its due time, not from when it could be sent, so a stalled server shows in the
figures (no coordinated omission). Usage: python3 paced_post.py URL BODIES RATE SECONDS [CONNECTIONS]
"""
import asyncio
import sys
import time
from urllib.parse import urlparse


async def main():
    url, bodies_path, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    connections = int(sys.argv[5]) if len(sys.argv) > 5 else 32
    parsed = urlparse(url)
    requests = []
    with open(bodies_path) as f:
        for line in f:
            signature, body = line.rstrip("\n").split("\t", 1)
            data = body.encode()
            requests.append(
                (f"POST {parsed.path} HTTP/1.1\r\nHost: {parsed.hostname}\r\nContent-Type: application/json\r\n"
                 f"intuit-signature: {signature}\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data)
            if len(requests) >= rate * seconds:
                break
    free = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(await asyncio.open_connection(parsed.hostname, parsed.port))
    latencies, statuses = [], {}

    async def exchange(connection, request, due):
        reader, writer = connection
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await reader.readexactly(length)
        latencies.append(time.perf_counter() - due)
        status = int(head[9:12])
        statuses[status] = statuses.get(status, 0) + 1
        free.put_nowait(connection)

    total = int(rate * seconds)
    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        connection = await free.get()
        tasks.append(asyncio.ensure_future(exchange(connection, requests[i % len(requests)], due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    non200 = sum(n for s, n in statuses.items() if s != 200)
    print(f"{total} {len(latencies)} {non200} {len(latencies) / elapsed:.0f} {pick(0.50):.2f} {pick(0.99):.2f} {latencies[-1] * 1000:.2f}")


asyncio.run(main())
