#!/usr/bin/env python3
"""score_sde's predictor-corrector sampler with the `langevin` corrector: ScoreServe
against PyTorch on the same cores, in the same run.

The workload of issue 20's table: `pc` with the Euler-Maruyama predictor and score_sde's
`langevin` corrector (its step size couples the batch: 2·α·(snr·mean‖z‖/mean‖g‖)²), 1000
steps, n = 1000, on a 16-D residual MLP (hidden 256, 4 blocks, time embedding 128: the
`mlp` network of docs/model-format.md) with random weights from a fixed seed, VP SDE.

    python Benchmarks/langevin_bench.py --scoreserve .build/release/scoreserve [--threads 1,2] [--repeats 3]

ScoreServe: `scoreserve sample DIR --sampler pc --predictor euler-maruyama --corrector
langevin --n 1000 --steps 1000 --threads T` (wall time of the process, model load
included: about 10 ms). PyTorch: the same network in torch (float32, inference_mode), the
loop of score_sde's `pc_sampler` with `EulerMaruyamaPredictor` and `LangevinCorrector`
written out (score_sde's sampling.py needs its model registry; the arithmetic per step is
the same: one network evaluation for the corrector, one for the predictor), with
torch.set_num_threads(T). Each in a fresh process, interleaved, median of --repeats;
the ratio is PyTorch's time over ScoreServe's (> 1: ScoreServe faster).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
D, H, L, E = 16, 256, 4, 128
N, STEPS, SNR, SEED = 1000, 1000, 0.16, 1


def write_model(out):
    """The mlp model directory (config.json, model.safetensors) with seeded random weights."""
    import torch
    from safetensors.torch import save_file
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(0)

    def linear(o, i):
        return torch.randn(o, i, generator=g) / i ** 0.5, 0.01 * torch.randn(o, generator=g)

    t = {"embed.0.W": torch.randn(E // 2, generator=g) * 16}
    t["embed.1.weight"], t["embed.1.bias"] = linear(E, E)
    t["proj_in.weight"], t["proj_in.bias"] = linear(H, D)
    for b in range(L):
        t[f"blocks.{b}.temb.weight"], t[f"blocks.{b}.temb.bias"] = linear(H, E)
        w, bias = linear(H, H)
        t[f"blocks.{b}.dense.weight"], t[f"blocks.{b}.dense.bias"] = 0.3 * w, bias
    t["proj_out.weight"], t["proj_out.bias"] = linear(D, H)
    save_file({k: v.contiguous() for k, v in t.items()}, os.path.join(out, "model.safetensors"))
    config = {"name": "mlp16-vp", "description": "random 16-D mlp (H 256, L 4) for langevin_bench",
              "data": {"shape": [D]}, "sde": {"type": "vp", "beta_min": 0.1, "beta_max": 20},
              "network": {"type": "mlp", "hidden": H, "blocks": L, "embed_dim": E}}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f)


def child_pytorch(model_dir, threads):
    """score_sde's pc_sampler loop (EulerMaruyamaPredictor + LangevinCorrector) on the mlp."""
    import math
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mlp_torch import load_score
    torch.set_num_threads(threads)
    score = load_score(model_dir)
    b0, b1 = 0.1, 20.0

    torch.manual_seed(SEED)
    eps = 1e-3
    timesteps = torch.linspace(1, eps, STEPS)
    start = time.perf_counter()
    with torch.inference_mode():
        x = torch.randn(N, D)
        for i in range(STEPS):
            t = timesteps[i].repeat(N)
            # LangevinCorrector (score_sde sampling.py), n_steps = 1
            # score_sde: alpha = sde.alphas[(t * (N - 1)).long()], alphas = 1 - linspace(b0 / N, b1 / N, N)
            index = int(timesteps[i] * (STEPS - 1))
            alpha = 1 - (b0 / STEPS + index / (STEPS - 1) * (b1 - b0) / STEPS)
            grad = score(x, t)
            noise = torch.randn_like(x)
            grad_norm = torch.norm(grad.reshape(N, -1), dim=-1).mean()
            noise_norm = torch.norm(noise.reshape(N, -1), dim=-1).mean()
            step = (SNR * noise_norm / grad_norm) ** 2 * 2 * alpha
            x = x + step * grad + torch.sqrt(step * 2) * noise
            # EulerMaruyamaPredictor
            dt = -1.0 / STEPS
            beta = b0 + t * (b1 - b0)
            drift = -0.5 * beta[:, None] * x - beta[:, None] * score(x, t)
            x = x + drift * dt + torch.sqrt(beta)[:, None] * math.sqrt(-dt) * torch.randn_like(x)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "finite": bool(torch.isfinite(x).all())}))


def run_scoreserve(exe, model_dir, threads):
    cmd = [exe, "sample", model_dir, "--sampler", "pc", "--predictor", "euler-maruyama", "--corrector", "langevin",
           "--n", str(N), "--steps", str(STEPS), "--seed", str(SEED), "--threads", str(threads),
           "--output", os.devnull, "--format", "npy"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    start = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(f"scoreserve failed: {p.stderr.strip()}")
    return seconds


def run_pytorch(model_dir, threads):
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    p = subprocess.run([sys.executable, __file__, "--child", model_dir, "--threads", str(threads)],
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"pytorch child failed: {p.stderr.strip()[-500:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scoreserve", default=os.path.join(REPO, ".build", "release", "scoreserve"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(REPO, ".build", "bench-langevin"))
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child_pytorch(a.child, int(a.threads))
        return
    model_dir = os.path.join(a.out, "mlp16-vp")
    if not os.path.exists(os.path.join(model_dir, "model.safetensors")):
        write_model(model_dir)
    print(f"pc + langevin (score_sde's batch rule), euler_maruyama predictor, {STEPS} steps, n = {N}, "
          f"16-D mlp H{H} L{L} E{E} (random weights), {a.repeats} repeats, interleaved")
    report = {"workload": {"n": N, "steps": STEPS, "snr": SNR, "dim": D, "hidden": H, "blocks": L}, "threads": {}}
    for threads in [int(t) for t in a.threads.split(",")]:
        ours, theirs, finite = [], [], True
        for _ in range(a.repeats):
            ours.append(run_scoreserve(a.scoreserve, model_dir, threads))
            r = run_pytorch(model_dir, threads)
            theirs.append(r["seconds"])
            finite = finite and r["finite"]
        m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
        ratios = [t / o for o, t in zip(ours, theirs)]
        print(f"threads {threads}: ScoreServe {m_ours:.2f} s ({min(ours):.2f}-{max(ours):.2f}), "
              f"PyTorch {m_theirs:.2f} s ({min(theirs):.2f}-{max(theirs):.2f}; sample finite: {finite}), "
              f"PyTorch/ScoreServe {m_theirs / m_ours:.2f} (per repeat {', '.join(f'{r:.2f}' for r in ratios)})")
        report["threads"][str(threads)] = {"scoreserve_seconds": ours, "pytorch_seconds": theirs,
                                            "ratio": m_theirs / m_ours, "ratios": ratios, "finite": finite}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
