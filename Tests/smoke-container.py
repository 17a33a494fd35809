#!/usr/bin/env python3
"""The container image's runtime stage, run without a container engine (`make smoke-container`).

Reads deploy/Dockerfile, builds its final stage's root file system with
`debootstrap --variant=minbase` of the stage's Debian release, then carries out that
stage's instructions in order: RUN in the new root (so its apt-get installs exactly the
Dockerfile's package list), COPY from the repository (a build-stage path is this
checkout's `make static` output), ENV, USER, WORKDIR, EXPOSE, HEALTHCHECK, ENTRYPOINT.
It then starts the ENTRYPOINT as the USER in a chroot and a new PID and mount
namespace (the server is PID 1, as in a container), waits for /readyz, lists the models,
draws samples and a likelihood over HTTP, runs the HEALTHCHECK command, sends the
STOPSIGNAL and expects a clean exit 0. It also checks that the runtime root holds no
compiler and no -dev package.

Needs root, debootstrap, chroot and unshare (util-linux), and a Debian mirror
(DEBIAN_MIRROR, default: the one this machine's apt sources name, else
http://deb.debian.org/debian). `--can-run` only says whether
this machine can run it (exit 0) or not (exit 1).
"""
import json
import math
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
def host_mirror():
    """The Debian mirror this machine's apt uses (it reaches that one), else deb.debian.org."""
    import glob
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*")):
        try:
            text = open(path).read()
        except OSError:
            continue
        for m in re.finditer(r"^(?:URIs:|deb\s+(?:\[[^\]]*\]\s+)?)\s*(\S+)", text, re.M):
            if m.group(1).rstrip("/").endswith("/debian"):
                return m.group(1).rstrip("/")
    return "http://deb.debian.org/debian"


MIRROR = os.environ.get("DEBIAN_MIRROR") or host_mirror()
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Build tools that must not reach the runtime image.
# (gcc-12-base, which every Debian has for libgcc-s1, is documentation, not a compiler.)
FORBIDDEN = re.compile(r"(-dev$|^gcc(-\d+)?$|^g\+\+|^cpp(-\d+)?$|^clang|^llvm|^swift|^binutils|^make$|^pkg-?conf)")


def say(message):
    print(f"smoke-container: {message}", flush=True)


def fail(message):
    say(f"FAILED: {message}")
    sys.exit(1)


def can_run():
    if os.geteuid() != 0 or not shutil.which("chroot") or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "--mount", "--pid", "--fork", "true"], capture_output=True)
    return probe.returncode == 0


def instructions(path):
    """(KEYWORD, arguments) of each instruction, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def stages(instrs):
    """Stages in order: {"base", "name", "instructions"}; ARGs before the first FROM expanded."""
    result, global_args = [], {}
    for keyword, rest in instrs:
        if keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: global_args.get(m.group(1), ""), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append({"base": base, "name": name, "instructions": []})
        elif not result and keyword == "ARG":
            key, _, value = rest.partition("=")
            global_args[key] = value
        elif result:
            result[-1]["instructions"].append((keyword, rest))
    return result


def in_root(rootfs, command, env, user=None, workdir="/", **kwargs):
    """Runs `command` in `rootfs` like a container process: own PID and mount namespace
    with /proc mounted (the Swift runtime reads its arguments from /proc/self/cmdline),
    chroot, the given user, a clean environment."""
    background = kwargs.pop("background", False)
    # --kill-child: if unshare is killed (a failed run's clean-up), so is the server.
    argv = ["unshare", "--mount", "--pid", "--fork", "--kill-child", f"--mount-proc={rootfs}/proc", "chroot"]
    if user:
        argv.append(f"--userspec={user}")
    argv += [str(rootfs), "/usr/bin/env", "-i", f"--chdir={workdir}"]
    argv += [f"{k}={v}" for k, v in env.items()] + command
    return subprocess.Popen(argv, **kwargs) if background else subprocess.run(argv, **kwargs)


def copy_into(rootfs, source, destination, chown=None):
    target = Path(str(rootfs) + destination)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        if destination.endswith("/"):
            target = target / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    if chown:
        subprocess.run(["chroot", str(rootfs), "chown", "-R", chown, destination], check=True)


def request(port, method, path, body=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    def decode(body):
        try:
            return json.loads(body or b"null")
        except ValueError:
            return {"unparsed": body[:300].decode(errors="replace")}
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, decode(response.read())
    except urllib.error.HTTPError as error:
        return error.code, decode(error.read())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flat(values):
    """The numbers of a nested list (samples of shaped data are nested by their shape)."""
    return [x for v in values for x in flat(v)] if isinstance(values, list) else [values]


def finite(values):
    return all(math.isfinite(v) for v in flat(values))


def main():
    if "--can-run" in sys.argv:
        sys.exit(0 if can_run() else 1)
    if not can_run():
        fail("needs root, chroot and unshare (run as root on Linux)")
    all_stages = stages(instructions(DOCKERFILE))
    final = all_stages[-1]
    match = re.fullmatch(r"debian:(\w+)(-slim)?", final["base"])
    if not match:
        fail(f"the runtime stage's base is {final['base']}, not a debian:<release>[-slim] image")
    suite = match.group(1)
    build_dirs = {}
    for stage in all_stages[:-1]:
        workdirs = [rest for keyword, rest in stage["instructions"] if keyword == "WORKDIR"]
        build_dirs[stage["name"]] = workdirs[-1] if workdirs else "/"

    work = Path(tempfile.mkdtemp(prefix="scoreserve-smoke-", dir=os.environ.get("SMOKE_TMP", "/var/tmp")))
    rootfs = work / "rootfs"
    server = None
    try:
        started = time.monotonic()
        say(f"debootstrap --variant=minbase {suite} ({MIRROR})")
        subprocess.run(["debootstrap", "--variant=minbase", suite, str(rootfs), MIRROR], check=True,
                       stdout=subprocess.DEVNULL)
        say(f"  base system in {time.monotonic() - started:.0f} s")
        shutil.copy2("/etc/resolv.conf", rootfs / "etc" / "resolv.conf")

        env = {"PATH": PATH}
        args, user, workdir, port, health, entrypoint, cmd = {}, None, "/", None, None, [], []
        stop_signal = signal.SIGTERM
        for keyword, rest in final["instructions"]:
            if keyword == "ARG":
                key, _, value = rest.partition("=")
                args[key] = value
            elif keyword == "ENV":
                for word in shlex.split(rest):
                    key, _, value = word.partition("=")
                    env[key] = value
            elif keyword == "RUN":
                say(f"RUN {rest[:100]}{'…' if len(rest) > 100 else ''}")
                step = in_root(rootfs, ["/bin/sh", "-c", rest], {**args, **env, "DEBIAN_FRONTEND": "noninteractive"},
                               user=user, workdir=workdir, stdout=subprocess.DEVNULL)
                if step.returncode != 0:
                    fail(f"RUN exited {step.returncode}: {rest}")
            elif keyword == "COPY":
                words = shlex.split(rest)
                flags = dict(w[2:].split("=", 1) for w in words if w.startswith("--"))
                paths = [w for w in words if not w.startswith("--")]
                *sources, destination = paths
                for source in sources:
                    if "from" in flags:
                        base = build_dirs[flags["from"]].rstrip("/") + "/"
                        if not source.startswith(base):
                            fail(f"COPY --from={flags['from']} {source}: not under the build stage's WORKDIR {base}")
                        local = ROOT / source[len(base):]
                    else:
                        local = ROOT / source
                    if not local.exists():
                        fail(f"COPY {source}: {local} does not exist (run `make static` first)")
                    say(f"COPY {local.relative_to(ROOT)} -> {destination}")
                    copy_into(rootfs, local, destination, flags.get("chown"))
            elif keyword == "USER":
                user = rest
            elif keyword == "WORKDIR":
                workdir = rest
                (Path(str(rootfs) + workdir)).mkdir(parents=True, exist_ok=True)
            elif keyword == "EXPOSE":
                port = int(rest.split()[0].split("/")[0])
            elif keyword == "HEALTHCHECK":
                health = json.loads(rest[rest.index("CMD") + 3:].strip())
            elif keyword == "ENTRYPOINT":
                entrypoint = json.loads(rest)
            elif keyword == "CMD":
                cmd = json.loads(rest)
            elif keyword == "STOPSIGNAL":
                stop_signal = signal.Signals[rest] if rest.startswith("SIG") else signal.Signals(int(rest))
            elif keyword not in ("LABEL",):
                fail(f"this runner does not know the instruction {keyword}")
        if not entrypoint or port is None or health is None or user is None:
            fail("the runtime stage needs ENTRYPOINT, EXPOSE, HEALTHCHECK and USER")

        packages = in_root(rootfs, ["dpkg-query", "-W", "-f", "${Package}\n"], env,
                           capture_output=True, text=True, check=True).stdout.split()
        leaked = [p for p in packages if FORBIDDEN.search(p)]
        if leaked:
            fail(f"the runtime root holds build packages: {', '.join(leaked)}")
        say(f"runtime root: {len(packages)} packages, no compiler or -dev package")

        # Like `docker run -e SCORESERVE_PORT=...`: a free port, since the host's network is shared.
        host_port = free_port()
        run_env = {**env, "SCORESERVE_PORT": str(host_port)}
        if "SCORESERVE_PROBE_PORT" in env:
            # The probe listener too (HEALTHCHECK's `scoreserve health` follows the variable).
            probe_port = free_port()
            while probe_port == host_port:
                probe_port = free_port()
            run_env["SCORESERVE_PROBE_PORT"] = str(probe_port)
        log = open(work / "server.log", "w+")
        say(f"start {' '.join(entrypoint + cmd)} as {user} (port {port} -> {host_port})")
        server = in_root(rootfs, entrypoint + cmd, run_env, user=user, workdir=workdir,
                         stdout=log, stderr=subprocess.STDOUT, background=True)

        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                fail(f"the server exited {server.returncode} before it was ready:\n{open(work / 'server.log').read()}")
            try:
                status, _ = request(host_port, "GET", "/readyz", timeout=2)
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                fail("/readyz did not answer 200 within 60 s")
            time.sleep(0.1)
        say("/readyz 200")

        # The container's PID 1 is the server itself, and not root.
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        if len(children) != 1:
            fail(f"expected one process under unshare, found {children}")
        pid = int(children[0])
        uid = next(l.split()[1] for l in Path(f"/proc/{pid}/status").read_text().splitlines() if l.startswith("Uid:"))
        if uid == "0":
            fail("the server runs as root")
        say(f"server process runs as uid {uid}")

        # Model directories: config.json of the format, or a diffusers model (a pipeline's
        # model_index.json, or a config.json with _class_name), named by its folder.
        def served_name(d):
            config = d / "config.json"
            if (d / "model_index.json").exists() or "_class_name" in json.load(open(config)):
                return d.name
            return json.load(open(config)).get("name", d.name)
        models = sorted({p.parent for p in (ROOT / "Models").glob("*/config.json")}
                        | {p.parent for p in (ROOT / "Models").glob("*/model_index.json")})
        shipped = sorted(served_name(d) for d in models)
        status, listing = request(host_port, "GET", "/v1/models")
        names = sorted(m["name"] for m in listing["models"])
        if status != 200 or names != shipped:
            fail(f"GET /v1/models answered {status} with {names}; the shipped models are {shipped}")
        say(f"GET /v1/models: {', '.join(names)}")

        status, sample = request(host_port, "POST", "/v1/models/moons-vp/sample",
                                 {"n": 8, "seed": 1, "sampler": "euler_maruyama", "steps": 200})
        points = flat(sample.get("samples", [])) if status == 200 else []
        if status != 200 or len(points) != 16 or not finite(points):
            fail(f"POST sample answered {status}: {json.dumps(sample)[:300]}")
        status, likelihood = request(host_port, "POST", "/v1/models/moons-vp/likelihood", {"x": sample["samples"]})
        values = likelihood.get("log_likelihood", []) if status == 200 else []
        if status != 200 or len(values) != 8 or not finite(values):
            fail(f"POST likelihood answered {status}: {json.dumps(likelihood)[:300]}")
        say(f"8 samples and their log-likelihoods (mean {sum(values) / 8:.3f} nats)")
        # Identical requests, identical answers: catches an OpenBLAS build that is unsafe
        # under the sampling threads' concurrent calls (libopenblas0-serial does this).
        answers = set()
        for _ in range(12):
            status, again = request(host_port, "POST", "/v1/models/moons-vp/sample",
                                    {"n": 64, "seed": 7, "sampler": "euler_maruyama", "steps": 200})
            answers.add(json.dumps(again.get("samples")) if status == 200 else f"status {status}")
        if len(answers) != 1:
            fail(f"12 identical sampling requests gave {len(answers)} different answers")
        say("12 identical requests (n = 64) gave identical samples")
        status, digits = request(host_port, "POST", "/v1/models/digits-vp/sample", {"n": 2, "seed": 1, "steps": 100})
        if status != 200 or len(flat(digits["samples"])) != 128 or not finite(digits["samples"]):
            fail(f"POST digits-vp sample answered {status}")
        say("digits-vp sample 200")

        probe = in_root(rootfs, health, run_env, user=user, workdir=workdir, capture_output=True, text=True)
        if probe.returncode != 0 or "answered 200" not in probe.stdout:
            fail(f"HEALTHCHECK {health} exited {probe.returncode}: {probe.stdout}{probe.stderr}")
        say(f"HEALTHCHECK {' '.join(health)}: {probe.stdout.strip()}")

        os.kill(pid, stop_signal)
        try:
            code = server.wait(timeout=45)
        except subprocess.TimeoutExpired:
            fail(f"the server did not exit within 45 s of {stop_signal.name}")
        log.seek(0)
        output = log.read()
        if code != 0 or "stopped" not in output:
            fail(f"after {stop_signal.name} the server exited {code}:\n{output}")
        server = None
        warnings = [l for l in output.splitlines() if re.search(r" (warning|error|critical) ", l)]
        if warnings:
            fail("the server logged:\n" + "\n".join(warnings))
        say(f"{stop_signal.name}: drained and exited 0; passed in {time.monotonic() - started:.0f} s")
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        if "--keep" not in sys.argv:
            shutil.rmtree(work, ignore_errors=True)
        else:
            say(f"kept {work}")


if __name__ == "__main__":
    main()
