#!/usr/bin/env python3
"""Scale-out tests with real processes on loopback (run by `make test`):

1. shards (CLI): for every sampler but langevin, `scoreserve sample --shard I/3` of an
   uneven n joined by `scoreserve concat` equals one `scoreserve sample` of that n,
   byte for byte;
2. the Indexed Job: deploy/k8s/batch-job.yaml's command line, run once per index with
   JOB_COMPLETION_INDEX set and $(VAR) expanded as Kubernetes does (only the model
   path, the output folder, --n and --steps changed to fit a test), joined, equals one
   request;
3. rolling restarts: two `scoreserve serve` replicas behind HAProxy with
   deploy/haproxy/haproxy.cfg, and again with that file's retry-on without 503 (a
   balancer that does not retry a replica's 503); clients send sampling requests through
   HAProxy without pause while the replicas take turns getting SIGTERM and starting again
   (several rounds, over 13,000 requests per balancer); every request must get exactly
   one answer, a 200, equal to the single-process answer for its seed. The replicas'
   lame duck (/readyz 503 while new work is still served) is what makes the second
   balancer lose nothing;
4. an event stream (`Accept: text/event-stream`) through HAProxy with the shipped
   config arrives as written: its first progress event well before its result.

Usage: Tests/scale-out.py [--only shards,job,restart,stream]   (SCORESERVE_BIN: the binary,
default .build/debug/scoreserve; PYTHON with PyYAML for the job test.)
"""
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import yaml

from replicas import BIN, Failed, HAProxy, Replica, free_port, request, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "Models", "moons-vp")


def say(message):
    print(f"scale-out: {message}", flush=True)


def fail(message):
    say(f"FAILED: {message}")
    sys.exit(1)


def run(args, **kwargs):
    result = subprocess.run([BIN] + args, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        fail(f"scoreserve {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result


def same_file(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        return x.read() == y.read()


# MARK: 1. shards through the CLI

SAMPLERS = [
    ["--sampler", "euler_maruyama", "--steps", "60"],
    ["--sampler", "reverse_diffusion", "--steps", "60"],
    ["--sampler", "ancestral", "--steps", "60"],
    ["--sampler", "pc", "--steps", "40"],  # corrector annealed_langevin: per-sample, shardable
    ["--sampler", "ode"],  # rk45
    ["--sampler", "ode", "--method", "heun", "--steps", "40"],
    ["--sampler", "dpm_solver", "--steps", "15"],
    ["--sampler", "ode", "--log-likelihood"],
]


def test_shards(work):
    n, k = 11, 3  # shards of 3, 3 and 5
    for flags in SAMPLERS:
        name = " ".join(flags)
        parts = []
        for i in range(k):
            part = os.path.join(work, f"part-{i}.npy")
            run(["sample", MODEL, "--n", str(n), "--seed", "9", "--shard", f"{i}/{k}", "--output", part] + flags)
            parts.append(part)
        whole = os.path.join(work, "whole.npy")
        joined = os.path.join(work, "joined.npy")
        run(["sample", MODEL, "--n", str(n), "--seed", "9", "--output", whole] + flags)
        run(["concat"] + parts + ["--output", joined])
        if not same_file(whole, joined):
            fail(f"{name}: 3 shards of n = {n} joined differ from one request")
        say(f"shards: {name}: 3 uneven shards = one request of {n}, byte for byte")


# MARK: 2. the Indexed Job's command line

def test_indexed_job(work):
    with open(os.path.join(ROOT, "deploy/k8s/batch-job.yaml")) as f:
        job = [d for d in yaml.safe_load_all(f) if d["kind"] == "Job"][0]
    spec = job["spec"]
    k = spec["completions"]
    container = spec["template"]["spec"]["containers"][0]
    if spec["completionMode"] != "Indexed" or container["command"] != ["scoreserve"]:
        fail("batch-job.yaml is not an Indexed Job running scoreserve")
    args = list(container["args"])
    shard = args[args.index("--shard") + 1]
    if not shard.endswith(f"/{k}"):
        fail(f"--shard {shard} does not match completions: {k}")
    # Fit a test: a smaller n (uneven over K) and fewer steps, the checkout's models and a temporary /out.
    n = 4 * k + 3
    args[args.index("--n") + 1] = str(n)
    if "--steps" in args:
        args[args.index("--steps") + 1] = "50"
    out = os.path.join(work, "out")
    os.makedirs(out)
    args = [a.replace("/opt/scoreserve/models", os.path.join(ROOT, "Models")).replace("/out/", out + "/") for a in args]
    for index in range(k):
        env = {**os.environ, "JOB_COMPLETION_INDEX": str(index)}
        # Kubernetes expands $(VAR) in args from the container's environment.
        expanded = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in args]
        done = subprocess.run([BIN] + expanded, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            fail(f"index {index}: scoreserve {' '.join(expanded)} exited {done.returncode}: {done.stderr.strip()}")
    parts = sorted(os.listdir(out))
    if len(parts) != k:
        fail(f"{k} indices wrote {parts}")
    joined = os.path.join(work, "job-joined.npy")
    run(["concat"] + [os.path.join(out, p) for p in parts] + ["--output", joined])
    single = args[:]
    i = single.index("--shard")
    del single[i:i + 2]
    single[single.index("--output") + 1] = os.path.join(work, "job-single.npy")
    run(single)
    if not same_file(joined, os.path.join(work, "job-single.npy")):
        fail("the Indexed Job's parts joined differ from one request")
    say(f"indexed job: {k} pods' command lines (n = {n}) joined = one request, byte for byte")


# MARK: 3. rolling restart behind HAProxy

def sample_body(seed):
    return json.dumps({"n": 2, "seed": seed, "sampler": "euler_maruyama", "steps": 30})


def post(port, seed):
    status, body = request(port, "POST", "/v1/models/moons-vp/sample", json.loads(sample_body(seed)))
    return status, json.loads(body) if status == 200 else body.decode(errors="replace")


def haproxy_config(work, retry_503):
    """deploy/haproxy/haproxy.cfg as shipped, or with 503 taken out of retry-on."""
    path = os.path.join(ROOT, "deploy/haproxy/haproxy.cfg")
    if retry_503:
        return path
    text = open(path).read()
    if "retry-on conn-failure empty-response 503" not in text:
        fail("deploy/haproxy/haproxy.cfg no longer has the retry-on line this test edits")
    edited = os.path.join(work, "haproxy-no-503-retry.cfg")
    with open(edited, "w") as f:
        f.write(text.replace("retry-on conn-failure empty-response 503", "retry-on conn-failure empty-response"))
    return edited


@contextlib.contextmanager
def balanced(work, config, label, lame_duck="2"):
    """Two started replicas behind HAProxy with `config`: (replicas, haproxy); a failure
    inside fails the run under `label`; both are stopped on the way out."""
    if not shutil.which("haproxy"):
        fail("haproxy is not installed (make test installs it)")
    log = open(os.path.join(work, "replicas.log"), "a")
    replicas = [Replica(free_port(), log, lame_duck), Replica(free_port(), log, lame_duck)]
    haproxy = None
    try:
        for r in replicas:
            r.start()
        haproxy = HAProxy(config, replicas, open(os.path.join(work, "haproxy.log"), "a"))
        yield replicas, haproxy
    except Failed as e:
        fail(f"{label}: {e}")
    finally:
        if haproxy is not None:
            haproxy.stop()
        for r in replicas:
            r.kill()


def test_rolling_restart(work, retry_503, rounds=3, at_least=13000):
    label = "retrying 503s" if retry_503 else "not retrying 503s"
    lame_duck = os.environ.get("SCALE_OUT_LAME_DUCK_SECONDS", "2")  # four check intervals
    with balanced(work, haproxy_config(work, retry_503), label, lame_duck) as (replicas, haproxy):
        answers, lock, done = {}, threading.Lock(), threading.Event()
        next_seed = iter(range(1, 10**9))
        started = time.monotonic()

        def client():
            # Sends until the restarts are over and at least `at_least` requests went out.
            while not (done.is_set() and len(answers) >= at_least):
                with lock:
                    seed = next(next_seed)
                status, answer = post(haproxy.front, seed)
                with lock:
                    if seed in answers:
                        fail(f"seed {seed} answered twice")
                    answers[seed] = (status, answer)

        restarts = []

        def restarter():
            # Each replica in turn, `rounds` times: SIGTERM (lame duck, drain, exit 0),
            # HAProxy takes it out, start it again, HAProxy brings it back.
            try:
                for _ in range(rounds):
                    for index, name in ((0, "replica1"), (1, "replica2")):
                        before = len(answers)
                        wait_until(lambda: len(answers) >= before + 200, "requests to flow")
                        haproxy.restart(replicas[index], name)
                        restarts.append(name)
            finally:
                done.set()

        with concurrent.futures.ThreadPoolExecutor(9) as pool:
            clients = [pool.submit(client) for _ in range(8)]
            restart = pool.submit(restarter)
            for f in clients + [restart]:
                f.result()
        elapsed = time.monotonic() - started
        total = len(answers)
        bad = {s: a for s, (status, a) in answers.items() if status != 200}
        if bad:
            first = sorted(bad)[:3]
            fail(f"{label}: {len(bad)} of {total} requests failed, e.g. {[(s, answers[s]) for s in first]}")
        if sorted(answers) != list(range(1, total + 1)):
            fail(f"{label}: {len(answers)} answers, seeds not 1…{total}")
        # The single-process answer, from one replica directly, for every 13th seed.
        for seed in range(1, total + 1, 13):
            status, direct = post(replicas[0].port, seed)
            if status != 200 or direct["samples"] != answers[seed][1]["samples"] or direct["seed"] != seed:
                fail(f"seed {seed}: the answer through HAProxy differs from the single-process answer")
        say(f"rolling restarts, HAProxy {label}: {total} requests in {elapsed:.1f} s while the replicas restarted "
            f"{len(restarts)} times: all 200, each answered once, equal to the single-process answers checked")


def test_event_stream(work):
    """Through HAProxy (deploy/haproxy/haproxy.cfg as shipped), an event stream arrives as
    it is written: the first progress event comes well before the result, not all at once."""
    import http.client
    with balanced(work, os.path.join(ROOT, "deploy/haproxy/haproxy.cfg"), "event stream") as (_, haproxy):
        c = http.client.HTTPConnection("127.0.0.1", haproxy.front, timeout=60)
        # About 3 s of work for the release binary the scripted tests run (10,000 steps
        # took 0.9 s once the engine got faster: too short to tell streaming from buffering).
        body = json.dumps({"n": 50, "seed": 1, "sampler": "euler_maruyama", "steps": 40000})
        started = time.monotonic()
        c.request("POST", "/v1/models/moons-vp/sample", body=body,
                  headers={"Content-Type": "application/json", "Accept": "text/event-stream"})
        r = c.getresponse()
        if r.status != 200 or r.getheader("Content-Type") != "text/event-stream":
            fail(f"event stream through HAProxy: {r.status} {r.getheader('Content-Type')}")
        first = None
        text = b""
        arrivals = []
        while True:
            line = r.readline()
            if not line:
                break
            text += line
            if line.startswith(b"event: "):
                arrivals.append(time.monotonic() - started)
            if first is None and line.startswith(b"event: progress"):
                first = time.monotonic() - started
        ended = time.monotonic() - started
        gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
        if gaps and max(gaps) > 2.5:
            fail(f"event stream through HAProxy: {max(gaps):.2f} s between two events (at least one every 2 s)")
        c.close()
        if first is None or b"event: result" not in text:
            fail(f"event stream through HAProxy: no progress or no result in {text[:300]!r}")
        if ended - first < 0.5:
            fail(f"event stream through HAProxy: first progress at {first:.2f} s, end at {ended:.2f} s: buffered")
        say(f"event stream through HAProxy: {len(arrivals)} events, the first progress after {first:.2f} s, the result "
            f"after {ended:.2f} s, at most {max(gaps or [0]):.2f} s apart (unbuffered)")


def main():
    only = set(sys.argv[sys.argv.index("--only") + 1].split(",")) if "--only" in sys.argv else {"shards", "job", "restart", "stream"}
    if not os.access(BIN, os.X_OK):
        fail(f"no scoreserve binary at {BIN} (build first)")
    work = tempfile.mkdtemp(prefix="scoreserve-scale-out-")
    try:
        if "shards" in only:
            test_shards(work)
        if "job" in only:
            test_indexed_job(work)
        if "stream" in only:
            test_event_stream(work)
        if "restart" in only:
            test_rolling_restart(work, retry_503=True)
            test_rolling_restart(work, retry_503=False)
        say("passed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
