#!/usr/bin/env python3
"""Load-and-fault run (run by `make test`; loopback only, bounded in time and count).

Two `scoreserve serve` replicas behind HAProxy (deploy/haproxy/haproxy.cfg). For about
30 s, at once:
  - 8 clients send small sampling requests through HAProxy without pause;
  - 2 clients send large ones (n = 200, 200 steps) through HAProxy;
  - 2 clients (from another loopback address) send large requests straight to replica 2
    and hang up 50–300 ms later, mid-job (their work must be cancelled, not left running,
    and their connections released at once);
  - replica 1 is restarted (SIGTERM: lame duck, drain, exit 0; started again) twice.
Checks: every request that was not hung up on got a 200 (none lost), every replica
exited 0, replica 2's admitted work is back to 0 once the clients stop (hung-up jobs
were cancelled), and its resident memory did not grow by more than 256 MiB (what a
leak of the hung-up jobs' time tables would pass four times over). Prints the
figures the README's reliability section quotes.

Usage: Tests/load-fault.py   (SCORESERVE_BIN: the binary, default .build/debug/scoreserve;
LOAD_FAULT_SECONDS: how long the load runs, default 30.)
"""
import collections
import json
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import time

from replicas import BIN, ROOT, Failed, HAProxy, Replica, free_port, request, wait_until

SECONDS = float(os.environ.get("LOAD_FAULT_SECONDS", "30"))
MODEL = "moons-vp"


def say(message):
    print(f"load-fault: {message}", flush=True)


def fail(message):
    say(f"FAILED: {message}")
    sys.exit(1)


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def metric(port, name):
    status, body = request(port, "GET", "/metrics", timeout=5)
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{}"):
            return float(line.split()[-1])
    return None


def main():
    if not os.access(BIN, os.X_OK):
        fail(f"no scoreserve binary at {BIN} (build first)")
    if not shutil.which("haproxy"):
        fail("haproxy is not installed (make test installs it)")
    work = tempfile.mkdtemp(prefix="scoreserve-load-fault-")
    log = open(os.path.join(work, "replicas.log"), "w")
    replicas = [Replica(free_port(), log), Replica(free_port(), log)]
    haproxy = None
    try:
        for r in replicas:
            r.start()
        haproxy = HAProxy(os.path.join(ROOT, "deploy/haproxy/haproxy.cfg"), replicas, open(os.path.join(work, "haproxy.log"), "w"))
        front = haproxy.front
        steady = replicas[1]
        rss_before = rss_kib(steady.process.pid)

        statuses = collections.Counter()
        hung_up = [0]
        examples = []
        lock = threading.Lock()
        stop = threading.Event()
        path = f"/v1/models/{MODEL}/sample"

        def record(kind, status):
            with lock:
                statuses[(kind, status)] += 1

        def small(k):
            seed = k * 1_000_000
            while not stop.is_set():
                seed += 1
                try:
                    status, body = request(front, "POST", path, {"n": 2, "seed": seed, "sampler": "euler_maruyama", "steps": 30})
                    if status != 200 and len(examples) < 5:
                        examples.append((status, body[:200]))
                except OSError as e:
                    status = f"error {type(e).__name__}"
                record("small", status)

        def large(k):
            seed = 500_000_000 + k * 1_000_000
            while not stop.is_set():
                seed += 1
                try:
                    status, _ = request(front, "POST", path, {"n": 200, "seed": seed, "sampler": "euler_maruyama", "steps": 200}, timeout=180)
                except OSError as e:
                    status = f"error {type(e).__name__}"
                record("large", status)

        def hang_up(k):
            rng = random.Random(k)
            body = json.dumps({"n": 2000, "seed": k, "sampler": "euler_maruyama", "steps": 2000}).encode()
            while not stop.is_set():
                # From another address: a misbehaving client elsewhere, not HAProxy's.
                with socket.create_connection(("127.0.0.1", steady.port), timeout=5, source_address=("127.0.0.2", 0)) as s:
                    s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                    time.sleep(rng.uniform(0.05, 0.3))
                with lock:
                    hung_up[0] += 1

        restarts = []

        def restarter():
            for _ in range(2):
                time.sleep(SECONDS / 4)
                haproxy.restart(replicas[0], "replica1")
                restarts.append(time.monotonic())

        threads = ([threading.Thread(target=small, args=(k,)) for k in range(8)]
                   + [threading.Thread(target=large, args=(k,)) for k in range(2)]
                   + [threading.Thread(target=hang_up, args=(k,)) for k in range(2)])
        restart = threading.Thread(target=restarter)
        started = time.monotonic()
        for t in threads + [restart]:
            t.start()
        restart.join()
        while time.monotonic() - started < SECONDS:
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join(timeout=180)
        elapsed = time.monotonic() - started

        # Hung-up jobs were cancelled: replica 2's admitted work drains to 0.
        wait_until(lambda: metric(steady.port, "scoreserve_work_in_flight") == 0,
                   "replica 2's work in flight to return to 0 (hung-up jobs cancelled)", seconds=30)
        rss_after = rss_kib(steady.process.pid)
        cancelled = metric(steady.port, 'scoreserve_rejected_requests_total{reason="cancelled"}')

        by_status = collections.Counter()
        for (kind, status), count in statuses.items():
            by_status[status] += count
        total = sum(by_status.values())
        lost = total - by_status.get(200, 0)
        say(f"{total} requests in {elapsed:.0f} s ({statuses[('small', 200)]} small, {statuses[('large', 200)]} large "
            f"answered 200), {hung_up[0]} hung up mid-job, replica 1 restarted {len(restarts)} times "
            f"(exit codes {replicas[0].exits})")
        say(f"answers by status: {dict(sorted(by_status.items(), key=lambda kv: str(kv[0])))}; lost: {lost}")
        say(f"replica 2: cancelled jobs counted {cancelled}, resident memory {rss_before} KiB before, "
            f"{rss_after} KiB after ({rss_after - rss_before:+d} KiB)")
        if lost:
            say(f"examples: {examples}")
            checks = [l.strip() for l in open(os.path.join(work, "haproxy.log")) if "is DOWN" in l or "is UP" in l]
            say("HAProxy's checks: " + " | ".join(checks[:8]))
            fail(f"{lost} of {total} requests did not get a 200: {dict(statuses)}")
        if any(code != 0 for code in replicas[0].exits) or len(restarts) != 2:
            fail(f"replica 1's restarts: exits {replicas[0].exits}, {len(restarts)} restarts")
        if hung_up[0] < 10:
            fail(f"only {hung_up[0]} mid-job disconnects happened")
        # The allocator keeps some freed memory (up to 65 MiB seen after a burst of jobs,
        # varying run to run); a leak would not stop there: the hung-up jobs' time tables
        # alone (3 MiB each for 2000 steps, ~300 jobs), kept, would pass this bound 4 times.
        if rss_after - rss_before > 256 * 1024:
            fail(f"replica 2's resident memory grew by {rss_after - rss_before} KiB")
        steady.stop()
        say("passed")
    except Failed as e:
        fail(str(e))
    finally:
        if haproxy is not None:
            haproxy.stop()
        for r in replicas:
            r.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
