#!/usr/bin/env python3
"""The probability-flow ODE: ScoreServe's `ode` sampler (rk45, per-sample step control)
against torchdiffeq's dopri5 (one step size for the whole batch) on the same network,
the same latents and the same cores, in the same run.

Workload W2 of `scoreserve bench`: `moons-vp` (the shipped 2-D mlp, H 128, L 3), n =
10,000, rtol = atol = 1e-5, from t = 1 to eps = 1e-3, decoding fixed latents (seeded
standard normals, written to a .npy both sides read), `denoise` off. Usage (after
`make release`; needs torch, torchdiffeq, safetensors, numpy):

    python Benchmarks/ode_bench.py --scoreserve .build/release/scoreserve [--threads 1,2] [--repeats 3]

ScoreServe: `scoreserve sample Models/moons-vp --sampler ode --method rk45 --latents
FILE --denoise false --rtol 1e-5 --atol 1e-5 --eps 1e-3 --threads T` (process wall time,
model load included). PyTorch: `torchdiffeq.odeint(f, x_T, [1, eps], method="dopri5",
rtol=1e-5, atol=1e-5)` with f = −½β(t)(x + s(x, t)) (t held at 1e-5 for the stages
dopri5's last step takes past eps), the network in torch
(Benchmarks/mlp_torch.py), torch.set_num_threads(T), under inference_mode. Printed:
median of --repeats (min–max) per side, the ratio PyTorch / ScoreServe, the mean network
evaluations per sample (ScoreServe's `nfe`; torchdiffeq's function calls, each over the
whole batch), and the median and maximum |x − x_torch| of the answers (the accuracy
check: the same ODE at the same tolerances).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N, TOL, EPS, SEED = 10_000, 1e-5, 1e-3, 1


def child_pytorch(model_dir, latents, out, threads):
    import numpy as np
    import torch
    from torchdiffeq import odeint
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mlp_torch import load_score
    torch.set_num_threads(threads)
    score = load_score(model_dir)
    x0 = torch.from_numpy(np.load(latents)).float()
    calls = [0]

    def f(t, x):
        calls[0] += 1
        # dopri5's last step may take stages past eps (it interpolates back): below t = 0
        # the VP marginal std is not defined, so times are held at 1e-5 there.
        tt = t.clamp(min=1e-5).expand(x.shape[0])
        return -0.5 * score.beta(tt)[:, None] * (x + score(x, tt))

    start = time.perf_counter()
    with torch.inference_mode():
        x = odeint(f, x0, torch.tensor([1.0, EPS]), method="dopri5", rtol=TOL, atol=TOL)[-1]
    seconds = time.perf_counter() - start
    np.save(out, x.numpy().astype(np.float64))
    print(json.dumps({"seconds": seconds, "calls": calls[0]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scoreserve", default=os.path.join(REPO, ".build", "release", "scoreserve"))
    ap.add_argument("--model", default=os.path.join(REPO, "Models", "moons-vp"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(REPO, ".build", "bench-ode"))
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child_pytorch(a.model, a.child[0], a.child[1], int(a.child[2]))
        return
    import numpy as np
    os.makedirs(a.out, exist_ok=True)
    latents = os.path.join(a.out, "latents.npy")
    np.save(latents, np.random.default_rng(SEED).standard_normal((N, 2)))
    ours_npy, theirs_npy = os.path.join(a.out, "scoreserve.json"), os.path.join(a.out, "torch.npy")
    print(f"probability-flow ODE, {N} samples of {os.path.basename(a.model)}, rtol = atol = {TOL}, t 1 -> {EPS}; "
          f"{a.repeats} repeats, interleaved")
    report = {"workload": {"n": N, "tol": TOL, "eps": EPS, "model": os.path.basename(a.model)}, "threads": {}}
    for threads in [int(t) for t in a.threads.split(",")]:
        ours, theirs, calls, nfe = [], [], 0, 0.0
        for _ in range(a.repeats):
            cmd = [a.scoreserve, "sample", a.model, "--sampler", "ode", "--method", "rk45", "--latents", latents,
                   "--denoise", "false", "--rtol", str(TOL), "--atol", str(TOL), "--eps", str(EPS),
                   "--threads", str(threads), "--format", "json", "--output", ours_npy]
            start = time.perf_counter()
            p = subprocess.run(cmd, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"}, capture_output=True, text=True)
            ours.append(time.perf_counter() - start)
            if p.returncode != 0:
                raise SystemExit(f"scoreserve failed: {p.stderr.strip()}")
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            p = subprocess.run([sys.executable, __file__, "--model", a.model, "--child", latents, theirs_npy, str(threads)],
                               env=env, capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"pytorch child failed: {p.stderr.strip()[-500:]}")
            r = json.loads(p.stdout.strip().splitlines()[-1])
            theirs.append(r["seconds"])
            calls = r["calls"]
        with open(ours_npy) as f:
            answer = json.load(f)
        x_ours = np.array(answer["samples"], dtype=np.float64).reshape(N, -1)
        nfe = float(np.mean(answer["nfe"]))
        diff = np.abs(x_ours - np.load(theirs_npy))
        m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
        print(f"threads {threads}: ScoreServe {m_ours:.2f} s ({min(ours):.2f}-{max(ours):.2f}), {nfe:.0f} evaluations per sample; "
              f"torchdiffeq dopri5 {m_theirs:.2f} s ({min(theirs):.2f}-{max(theirs):.2f}), {calls} batch evaluations; "
              f"PyTorch/ScoreServe {m_theirs / m_ours:.2f} (per repeat {', '.join(f'{t / o:.2f}' for o, t in zip(ours, theirs))}); "
              f"|x - x_torch| median {np.median(diff):.1e}, max {diff.max():.1e}")
        report["threads"][str(threads)] = {
            "scoreserve_seconds": ours, "pytorch_seconds": theirs, "ratio": m_theirs / m_ours,
            "ratios": [t / o for o, t in zip(ours, theirs)], "nfe_per_sample": nfe, "pytorch_calls": calls,
            "median_abs_diff": float(np.median(diff)), "max_abs_diff": float(diff.max())}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
