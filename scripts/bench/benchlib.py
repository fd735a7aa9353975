"""What the benchmark drivers share: a control-socket client and the simulator's JSON endpoints."""
import http.client, json, socket, urllib.parse


class Control:
    """One control-socket connection speaking newline-delimited JSON-RPC."""

    def __init__(self, sock_path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sock_path)
        self.reader = self.sock.makefile("rb")
        self.next = 0

    def reply(self, method, params=None):
        """The whole reply to a call (notifications that come first are skipped)."""
        self.next += 1
        self.sock.sendall(json.dumps({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params or {}}).encode() + b"\n")
        while True:
            reply = json.loads(self.reader.readline())
            if reply.get("id") == self.next:
                return reply

    def call(self, method, params=None):
        """The result of a call; an error ends the benchmark with it."""
        reply = self.reply(method, params)
        if "error" in reply:
            raise SystemExit(f"{method}: {reply['error']}")
        return reply["result"]


def sim_call(sim_url, method, path, body=None):
    sim = urllib.parse.urlparse(sim_url)
    conn = http.client.HTTPConnection(sim.hostname, sim.port, timeout=30)
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers={"Content-Type": "application/json"})
    return json.loads(conn.getresponse().read() or b"null")
