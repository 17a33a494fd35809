"""Real `scoreserve serve` replicas behind HAProxy on loopback, for Tests/scale-out.py
and Tests/load-fault.py: free ports, plain HTTP calls, bounded waits, replica processes
and HAProxy's view of them. A failed wait raises `Failed`; the scripts report it."""
import http.client
import json
import os
import signal
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(os.environ.get("SCORESERVE_BIN", os.path.join(ROOT, ".build/debug/scoreserve")))


class Failed(Exception):
    """A check or a bounded wait that did not hold."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, timeout=60):
    """(status, body bytes); a JSON `body` is sent as application/json."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_until(predicate, what, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise Failed(f"timed out waiting for {what}")


class Replica:
    """One `scoreserve serve` process on `port` (one sampling thread), restartable."""

    def __init__(self, port, log, lame_duck="2"):
        self.port, self.log, self.lame_duck, self.process, self.exits = port, log, lame_duck, None, []

    def start(self):
        self.process = subprocess.Popen([BIN, "serve", "--models", os.path.join(ROOT, "Models"), "--port", str(self.port),
                                         "--threads", "1", "--grace-seconds", "60", "--lame-duck-seconds", self.lame_duck],
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
        wait_until(lambda: request(self.port, "GET", "/readyz", timeout=2)[0] == 200, f"replica on {self.port} to be ready")

    def stop(self):
        """SIGTERM: lame duck, drain, exit; the exit code must be 0."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=120)
        self.exits.append(code)
        if code != 0:
            raise Failed(f"replica on {self.port} exited {code} after SIGTERM")

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class HAProxy:
    """HAProxy with `config` in front of two replicas, its stats page on a free port."""

    def __init__(self, config, replicas, log):
        self.front, self.stats = free_port(), free_port()
        env = {**os.environ, "SCORESERVE_BIND": f"127.0.0.1:{self.front}", "SCORESERVE_STATS_BIND": f"127.0.0.1:{self.stats}",
               "SCORESERVE_REPLICA_1": f"127.0.0.1:{replicas[0].port}",
               "SCORESERVE_REPLICA_2": f"127.0.0.1:{replicas[1].port}"}
        self.process = subprocess.Popen(["haproxy", "-db", "-f", config], env=env, stdout=log, stderr=subprocess.STDOUT)
        for name in ("replica1", "replica2"):
            self.wait_for(name, "UP")

    def status(self, server):
        """The server's status on the stats page (UP, DOWN, "UP 1/2", ...)."""
        _, body = request(self.stats, "GET", "/stats;csv", timeout=5)
        for line in body.decode().splitlines():
            fields = line.split(",")
            if len(fields) > 17 and fields[0] == "replicas" and fields[1] == server:
                return fields[17]
        return None

    def wait_for(self, server, state):
        wait_until(lambda: (self.status(server) or "").startswith(state), f"HAProxy to see {server} {state}")

    def restart(self, replica, name):
        """SIGTERM the replica, see HAProxy take it out, start it, see it back in."""
        replica.stop()
        self.wait_for(name, "DOWN")
        replica.start()
        wait_until(lambda: self.status(name) == "UP", f"HAProxy to see {name} up again")

    def stop(self):
        self.process.terminate()
        self.process.wait()
