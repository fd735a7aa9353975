"""Start-up time: from exec to READY=1 on a notify socket (as systemd sees it) and to the first
daemon.status answer on the control socket, median of RUNS, then SIGTERM to exit.
Usage: startup.py QBSYNCD STATE_DIR CONFIG RUNS"""
import json, os, signal, socket, statistics, subprocess, sys, time

binary, state, config, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sock = os.path.join(os.path.dirname(state), "startup.sock")
notify_path = os.path.join(os.path.dirname(state), "startup-notify.sock")
env = dict(os.environ, QBSYNCD_STATE_DIR=state, QBSYNCD_CONTROL_SOCKET=sock, QBSYNCD_CONFIG=config, QBSYNCD_WEBHOOK_LISTEN="127.0.0.1:0",
           NOTIFY_SOCKET=notify_path)
ready, stopped, rss, notified = [], [], [], []
for _ in range(runs):
    if os.path.exists(notify_path): os.unlink(notify_path)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); notify.bind(notify_path)
    started = time.monotonic()
    daemon = subprocess.Popen([binary], env=env, stderr=subprocess.DEVNULL)
    while True:
        try:
            s = socket.socket(socket.AF_UNIX); s.connect(sock)
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"daemon.status"}\n')
            if b'"result"' in s.makefile("rb").readline():
                break
        except OSError:
            pass
        finally:
            s.close()
        if daemon.poll() is not None:
            raise SystemExit("qbsyncd exited during start-up")
        time.sleep(0.001)
    ready.append((time.monotonic() - started) * 1000)
    notify.settimeout(60)
    while b"READY=1" not in notify.recv(4096):
        pass
    notified.append((time.monotonic() - started) * 1000)
    notify.close()
    with open(f"/proc/{daemon.pid}/status") as f:
        rss.append(next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024)
    t = time.monotonic(); daemon.send_signal(signal.SIGTERM); daemon.wait(); stopped.append((time.monotonic() - t) * 1000)
print(f"exec to READY=1: median {statistics.median(notified):.0f} ms (runs: {', '.join(f'{v:.0f}' for v in notified)}); "
      f"exec to first answer: median {statistics.median(ready):.0f} ms (runs: {', '.join(f'{v:.0f}' for v in ready)}); "
      f"RSS then {statistics.median(rss):.1f} MiB; SIGTERM to exit: median {statistics.median(stopped):.0f} ms")
