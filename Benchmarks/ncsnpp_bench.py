#!/usr/bin/env python3
"""ScoreServe's `ncsnpp` network (score_sde's NCSN++ / DDPM++) against PyTorch running
score_sde_pytorch's own code, on the same cores, in the same run.

The model is score_sde's DDPM++ at CIFAR-10 size, config `vp/cifar10_ddpmpp_continuous`
(nf 128, ch_mult (1,2,2,2), 4 res blocks per level, attention at 16, BigGAN blocks, no FIR,
positional embedding, skip_rescale; VP SDE beta 0.1..20; centered data, 32x32x3), with
random weights from a fixed seed. Usage (after `make release`; needs torch, safetensors,
numpy and a checkout of yang-song/score_sde_pytorch):

    python Benchmarks/ncsnpp_bench.py --score-sde /tmp/score_sde_pytorch \\
        --scoreserve .build/release/scoreserve --threads 1 --repeats 3 [--rounds 3] \\
        [--out DIR] [--json FILE] [--config vp/cifar10_ddpmpp_continuous] [--seed 0]

1. setup (a child process): imports score_sde through the `ScoreSde` class of
   Tests/Fixtures/ncsnpp/make_ncsnpp_fixtures.py (which stubs score_sde's CUDA build) and
   takes the options from the `CONFIGS` table of Models/recipes/convert_score_sde.py.
   Builds NCSNpp under torch.manual_seed(seed) and gives every parameter non-degenerate
   values (score_sde's init_scale=0 leaves zero convolutions): weights with ndim > 1
   randn / sqrt(fan_in), NIN W [in, out] randn / sqrt(in), biases 0.01 randn, GroupNorm
   weights 1 + 0.1 randn. Saves a real score_sde checkpoint DIR/checkpoint_1.pth
   ({'model': 'module.'-prefixed state_dict, 'ema': {decay, num_updates, shadow_params},
   'optimizer': {}, 'step': 0}) and converts it with the converter into DIR/<model>/
   (config.json, model.safetensors: what `scoreserve` loads). Both are reused when
   DIR/stamp.json matches (seed, config, init scheme, converter and torch version).
   Reports the parameter count and GFLOP per image (forward hooks at n = 1: Conv2d,
   Linear, NIN and attention's two products QK^T and AV) and that score_sde's score at
   t = 0.001, 0.5, 1 is finite and non-degenerate.
2. Runs ScoreServe and PyTorch, each in a fresh process, interleaved, for --rounds rounds,
   all on --threads threads:
   - forward ms per image at n = 1 and n = 8: float32 [n,3,32,32], t = 0.5 on every row,
     after warm-up, median over --repeats. PyTorch: score_sde's own score function,
     models.utils.get_score_fn(sde_lib.VPSDE(0.1, 20, 1000), model, train=False,
     continuous=True), under torch.inference_mode() (network plus the -output/std(t)
     scaling, as ScoreServe's score is).
   - a 20-step DPM-Solver sample of n = 4 in seconds (median over --repeats after a
     one-evaluation warm-up), 20 network evaluations. PyTorch: a compact multistep
     DPM-Solver++ of order 2 written in this script (data prediction x0 = (x + sigma^2
     score) / alpha; 20 steps uniform in lambda = log(alpha/sigma) from t = 1 to 1e-3,
     t recovered by the closed-form inverse of the linear VP schedule as in DPM-Solver's
     NoiseScheduleVP.inverse_lambda; first step order 1); its cost outside the network is
     a few element-wise tensor operations per step, negligible beside the network.
     ScoreServe: `sampler dpm_solver`, steps 20, which is DPM-Solver of order 3 with the
     same 20 evaluations. Whether PyTorch's sample is finite is reported.
   - peak resident size (VmHWM of the child's own address space). PyTorch loads the
     checkpoint with torch.load(mmap=True) and load_state_dict(assign=True), so the
     checkpoint's 'ema' copy is never read into memory and the weights are held once.
   ScoreServe is timed by `<scoreserve> bench --only unet2d --unet-model DIR/<model>
   --threads T --repeats R --json FILE` (that subcommand loads any model directory); its
   forward uses t = 0.5 on every row too. `--scoreserve none`, a missing binary or a
   failing command gives "n/a" and the error.
3. Prints per framework the median over rounds (min-max), ratios PyTorch / ScoreServe
   (> 1: ScoreServe faster or smaller), the per-round ratios of the sample time, the
   machine, the versions, and ScoreServe's n = 8 forward GFLOP/s (its own reported
   gflop_per_image) against the sgemm roofline (torch.mm 1024x1152 . 1152x1024 in the
   PyTorch process on the same threads, best of 10 before its workloads and 10 after).

Not timed: model construction, checkpoint loading, conversion, warm-up, process start.
The parent process imports only the standard library (and unet2d_bench, which does too);
see unet2d_bench.py for why peak RSS is VmHWM rather than ru_maxrss.
"""

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unet2d_bench as ub  # noqa: E402  (standard library only; main runs under __main__)

REPO = ub.REPO
FIXTURE_SCRIPT = os.path.join(REPO, "Tests", "Fixtures", "ncsnpp", "make_ncsnpp_fixtures.py")
CONVERTER = os.path.join(REPO, "Models", "recipes", "convert_score_sde.py")
DEFAULT_CONFIG = "vp/cifar10_ddpmpp_continuous"
CKPT_NAME = "checkpoint_1.pth"
INIT_SCHEME = "randn/sqrt(fan_in); NIN randn/sqrt(in); bias 0.01 randn; GroupNorm 1+0.1 randn (v1)"

FRAMEWORKS = ("scoreserve", "pytorch")
LABELS = {"scoreserve": "ScoreServe", "pytorch": "PyTorch"}
METRICS = ub.METRICS  # forward_n1_ms_per_image, forward_n8_ms_per_image, dpm_solver_20_n4_seconds, peak_rss_mib
SAMPLE_N, SAMPLE_STEPS, SAMPLE_SEED = 4, 20, 1234
SAMPLE_T_END = 1e-3
FORWARD_T = 0.5
GEMM_M, GEMM_K, GEMM_N = ub.GEMM_M, ub.GEMM_K, ub.GEMM_N


def model_name(config):
    if config == DEFAULT_CONFIG:
        return "ddpmpp-cifar10-random"
    return config.replace("/", "-") + "-random"


def load_file_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def options_for(config):
    """The converter's table entry (a copy), as make_ncsnpp_fixtures.resolved_options takes it."""
    conv = load_file_module("convert_score_sde", CONVERTER)  # standard library at import
    if config not in conv.CONFIGS:
        return None, sorted(conv.CONFIGS)
    return json.loads(json.dumps(conv.CONFIGS[config])), None


# ---------------------------------------------------------------------------------------
# Children: score_sde model helpers

def import_score_sde(a):
    fixtures = load_file_module("make_ncsnpp_fixtures", FIXTURE_SCRIPT)  # sets torch threads to 1
    import torch
    torch.set_num_threads(a.threads)
    ss = fixtures.ScoreSde(a.score_sde)
    o, _ = options_for(a.config)
    return ss, o, torch


def build_model(ss, o, seed, torch, init=True):
    """score_sde's NCSNpp for options o, seeded; with init, non-degenerate random weights."""
    torch.manual_seed(seed)
    model = ss.ncsnpp.NCSNpp(ss.make_config(o))
    if not init:
        return model
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in model.modules():
            for name, p in module.named_parameters(recurse=False):
                r = torch.randn(p.shape, generator=g, dtype=p.dtype)
                if isinstance(module, ss.layers.NIN):
                    p.copy_(r / math.sqrt(p.shape[0]) if name == "W" else 0.01 * r)
                elif isinstance(module, torch.nn.GroupNorm):
                    p.copy_(1 + 0.1 * r if name == "weight" else 0.01 * r)
                elif p.ndim > 1:
                    p.copy_(r / math.sqrt(p[0].numel()))  # fan_in: in_channels * kh * kw, or in_features
                else:
                    p.copy_(0.01 * r)
    return model


def vpsde(ss, o):
    return ss.sde_lib.VPSDE(beta_min=o["beta_min"], beta_max=o["beta_max"], N=o["num_scales"])


def count_flops(ss, model, o, torch):
    """Multiply-accumulates of one image's network evaluation from forward hooks at n = 1."""
    macs = {"conv": 0, "linear": 0, "nin": 0, "attention": 0}
    Attn = ss.ncsnpp.layerspp.AttnBlockpp if hasattr(ss.ncsnpp, "layerspp") else None

    def hook(module, args, out):
        if isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            macs["conv"] += out.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, torch.nn.Linear):
            macs["linear"] += out.numel() * module.in_features
        elif isinstance(module, ss.layers.NIN):
            macs["nin"] += out.numel() * module.W.shape[0]
        elif Attn is not None and isinstance(module, Attn):
            b, c, h, w = args[0].shape
            macs["attention"] += 2 * b * (h * w) ** 2 * c  # QK^T and AV

    types = (torch.nn.Conv2d, torch.nn.Linear, ss.layers.NIN) + ((Attn,) if Attn else ())
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, types)]
    C, S = o["num_channels"], o["image_size"]
    with torch.inference_mode():
        model(torch.zeros(1, C, S, S), torch.tensor([FORWARD_T * 999]))
    for h in handles:
        h.remove()
    return {"gflop_per_image": 2 * sum(macs.values()) / 1e9,
            "gflop_breakdown": {k: 2 * v / 1e9 for k, v in macs.items()}}


def child_setup(a):
    ss, o, torch = import_score_sde(a)
    info = {"torch": torch.__version__, "score_sde_commit": ss.commit}
    name = model_name(a.config)
    model_dir = os.path.join(a.out, name)
    ckpt_path = os.path.join(a.out, CKPT_NAME)
    stamp_path = os.path.join(a.out, "stamp.json")
    stamp = {"seed": a.seed, "config": a.config, "init": INIT_SCHEME, "model_dir": name,
             "converter_sha256": ub.sha256_file(CONVERTER), "torch": torch.__version__}
    cached = False
    if all(os.path.exists(p) for p in (ckpt_path, stamp_path, os.path.join(model_dir, "config.json"),
                                       os.path.join(model_dir, "model.safetensors"))):
        with open(stamp_path) as f:
            cached = json.load(f) == stamp

    model = build_model(ss, o, a.seed, torch).eval()
    info["parameters"] = sum(p.numel() for p in model.parameters())
    info.update(count_flops(ss, model, o, torch))

    # The score is finite and not degenerate over the time range the sampler visits.
    sde = vpsde(ss, o)
    score_fn = ss.mutils.get_score_fn(sde, model, train=False, continuous=True)
    C, S = o["num_channels"], o["image_size"]
    x = torch.randn(1, C, S, S, generator=torch.Generator().manual_seed(a.seed + 2))
    checks = []
    with torch.inference_mode():
        for t in (SAMPLE_T_END, FORWARD_T, 1.0):
            s = score_fn(x, torch.full((1,), t))
            std = float(sde.marginal_prob(torch.zeros(1), torch.tensor([t]))[1])
            checks.append({"t": t, "finite": bool(torch.isfinite(s).all()),
                           "network_output_std": float((-s * std).std())})
    info["score_checks"] = checks

    if cached:
        info["cached"] = True
    else:
        for p in (stamp_path, ckpt_path):
            if os.path.exists(p):
                os.remove(p)
        state = {"module." + k: v for k, v in model.state_dict().items()}
        ckpt = {"model": state,
                "ema": {"decay": 0.9999, "num_updates": 0,
                        "shadow_params": [p.detach().clone() for p in model.parameters() if p.requires_grad]},
                "optimizer": {}, "step": 0}
        t0 = time.perf_counter()
        torch.save(ckpt, ckpt_path)
        del ckpt, state
        env = dict(os.environ)
        env.pop("SCORESERVE", None)  # the converter's optional `scoreserve check`: the bench loads it anyway
        cmd = [sys.executable, CONVERTER, ckpt_path, "--config", a.config, "--out", model_dir,
               "--name", name]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise SystemExit(f"converter failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
        info["converter_output"] = r.stdout.strip()
        info["build_seconds"] = time.perf_counter() - t0
        ub.write_json(stamp_path, stamp)
        info["cached"] = False
    info["model_dir"] = model_dir
    info["checkpoint"] = ckpt_path
    ub.write_json(a.result, info)


# ---------------------------------------------------------------------------------------
# Child: PyTorch

class VPSchedule:
    """The linear VP schedule in closed form (DPM-Solver's NoiseScheduleVP 'linear')."""

    def __init__(self, beta_0, beta_1):
        self.b0, self.b1 = beta_0, beta_1

    def log_alpha(self, t):
        return -0.25 * t * t * (self.b1 - self.b0) - 0.5 * t * self.b0

    def alpha(self, t):
        return math.exp(self.log_alpha(t))

    def sigma(self, t):
        return math.sqrt(-math.expm1(2 * self.log_alpha(t)))

    def lam(self, t):
        la = self.log_alpha(t)
        return la - 0.5 * math.log(-math.expm1(2 * la))

    def inverse_lambda(self, lam):
        z = -2 * lam  # logaddexp(-2 lambda, 0)
        lae = max(z, 0.0) + math.log1p(math.exp(-abs(z)))
        tmp = 2 * (self.b1 - self.b0) * lae
        delta = self.b0 ** 2 + tmp
        return tmp / (math.sqrt(delta) + self.b0) / (self.b1 - self.b0)


def dpm_solver_pp_2m(score_fn, noise, sched, steps, t_end, torch):
    """Multistep DPM-Solver++ of order 2 (data prediction), uniform in lambda from t = 1 to
    t_end, the first step of order 1; one score evaluation per step."""
    l_T, l_0 = sched.lam(1.0), sched.lam(t_end)
    ts = [1.0] + [sched.inverse_lambda(l_T + (l_0 - l_T) * i / steps) for i in range(1, steps)] + [t_end]
    lams = [sched.lam(t) for t in ts]
    n = noise.shape[0]
    x, prev_x0 = noise, None
    for i in range(steps):
        s, t = ts[i], ts[i + 1]
        a_s, sg_s, a_t, sg_t = sched.alpha(s), sched.sigma(s), sched.alpha(t), sched.sigma(t)
        score = score_fn(x, torch.full((n,), s, dtype=torch.float32))
        x0 = (x + (sg_s * sg_s) * score) / a_s
        h = lams[i + 1] - lams[i]
        phi = math.expm1(-h)
        x = (sg_t / sg_s) * x - (a_t * phi) * x0
        if prev_x0 is not None:
            r0 = (lams[i] - lams[i - 1]) / h
            x = x - (0.5 * a_t * phi / r0) * (x0 - prev_x0)
        prev_x0 = x0
    return x, ts


def child_pytorch(a):
    ss, o, torch = import_score_sde(a)
    result = {"framework": "pytorch", "threads": torch.get_num_threads()}

    # sgemm roofline on these threads (as unet2d_bench's PyTorch child measures it).
    def sgemm_rates():
        g = torch.Generator().manual_seed(0)
        A = torch.randn(GEMM_M, GEMM_K, generator=g)
        B = torch.randn(GEMM_K, GEMM_N, generator=g)
        An, Bn = A.numpy(), B.numpy()
        rates = []
        for fn in (lambda: torch.mm(A, B), lambda: An @ Bn):
            for _ in range(3):
                fn()
            rates.append(2 * GEMM_M * GEMM_K * GEMM_N / min(ub.timed(fn, 10)) / 1e9)
        return rates

    before = sgemm_rates()

    t0 = time.perf_counter()
    model = build_model(ss, o, a.seed, torch, init=False)
    # mmap + assign: the weights are held once (the 'ema' copy in the file is never read).
    ckpt = torch.load(os.path.join(a.out, CKPT_NAME), map_location="cpu", weights_only=True, mmap=True)
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in ckpt["model"].items()}
    model.load_state_dict(state, strict=True, assign=True)
    del ckpt, state
    model.eval()
    sde = vpsde(ss, o)
    score_fn = ss.mutils.get_score_fn(sde, model, train=False, continuous=True)
    result["load_seconds"] = time.perf_counter() - t0
    C, S = o["num_channels"], o["image_size"]

    def score(x, t):
        with torch.inference_mode():
            return score_fn(x, t)

    g = torch.Generator().manual_seed(a.seed)
    for n in (1, 8):
        x = torch.randn(n, C, S, S, generator=g)
        t = torch.full((n,), FORWARD_T)
        for _ in range(2 if n == 1 else 1):
            score(x, t)
        runs = [s * 1000 / n for s in ub.timed(lambda: score(x, t), a.repeats)]
        result[f"forward_n{n}_ms_per_image"] = statistics.median(runs)
        result[f"forward_n{n}_ms_per_image_runs"] = runs
    result["peak_rss_mib_forward"] = ub.peak_rss_mib()

    sched = VPSchedule(o["beta_min"], o["beta_max"])
    noise = torch.randn(SAMPLE_N, C, S, S, generator=torch.Generator().manual_seed(SAMPLE_SEED))
    score(noise, torch.full((SAMPLE_N,), 1.0))  # warm-up at n = 4
    final = {}

    def run():
        final["x"], final["ts"] = dpm_solver_pp_2m(score, noise, sched, SAMPLE_STEPS, SAMPLE_T_END, torch)

    runs = ub.timed(run, a.repeats)
    result["dpm_solver_20_n4_seconds"] = statistics.median(runs)
    result["dpm_solver_20_n4_seconds_runs"] = runs
    x = final["x"]
    result["sampler"] = (f"DPM-Solver++(2M) in this script, {SAMPLE_STEPS} steps uniform in lambda, "
                         f"t 1 -> {SAMPLE_T_END:g}, first step order 1")
    result["sampler_times"] = [round(t, 6) for t in final["ts"]]
    result["sample_finite"] = bool(torch.isfinite(x).all())
    result["sample_range"] = [float(x.min()), float(x.max())]

    after = sgemm_rates()
    result["sgemm_gflops"] = max(before[0], after[0])
    result["numpy_sgemm_gflops"] = max(before[1], after[1])
    result["peak_rss_mib"] = ub.peak_rss_mib()
    result["ru_maxrss_mib"] = ub.ru_maxrss_mib()
    ub.write_json(a.result, result)


# ---------------------------------------------------------------------------------------
# Parent

def run_child(a, mode, result_path):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", mode, "--out", a.out,
           "--threads", str(a.threads), "--repeats", str(a.repeats), "--seed", str(a.seed),
           "--config", a.config, "--score-sde", a.score_sde, "--result", result_path]
    return ub.run_process(a, cmd, result_path, ub.child_env(a, blas_threads=a.threads))


def versions(score_sde_commit):
    v = ub.versions()
    out = {k: v.get(k) for k in ("python", "torch", "numpy", "safetensors")}
    out["score_sde_pytorch"] = (score_sde_commit or "unknown")[:12]
    out["scoreserve_commit"] = v.get("scoreserve_commit")
    return out


def main_parent(a):
    a.out = os.path.abspath(a.out or os.path.join(REPO, ".build", "bench-ncsnpp"))
    a.score_sde = os.path.abspath(a.score_sde)
    if a.scoreserve is None:
        a.scoreserve = os.path.join(REPO, ".build", "release", "scoreserve")
    o, known = options_for(a.config)
    if o is None:
        ub.log(f"--config {a.config}: not in the converter's table ({', '.join(known)})")
        return 2
    if o["sde"] != "vpsde":
        ub.log(f"--config {a.config}: sde {o['sde']}; this benchmark's PyTorch sampler and score "
               "are for the VP SDE (vpsde) configs only")
        return 2
    if not os.path.isfile(os.path.join(a.score_sde, "models", "ncsnpp.py")):
        ub.log(f"--score-sde {a.score_sde}: not a score_sde_pytorch checkout "
               "(git clone /work/.mirror/yang-song+score_sde_pytorch/repo /tmp/score_sde_pytorch)")
        return 2
    os.makedirs(os.path.join(a.out, "runs"), exist_ok=True)
    cpu, flags = ub.cpu_model()
    ub.log(f"ncsnpp bench: {a.config}; {cpu}, {a.threads} thread(s), {a.repeats} repeats, "
           f"{a.rounds} round(s); out {a.out}")

    t0 = time.perf_counter()
    setup, wall = run_child(a, "setup", os.path.join(a.out, "runs", "setup.json"))
    if "error" in setup:
        ub.log(f"setup failed: {setup['error']}")
        return 1
    bad = [c for c in setup["score_checks"] if not c["finite"] or not c["network_output_std"] > 0]
    ub.log(f"setup: {setup['model_dir']} ({setup['parameters']:,} parameters, "
           f"{setup['gflop_per_image']:.2f} GFLOP/image; checkpoint and conversion "
           f"{'reused' if setup['cached'] else 'written in %.1f s' % setup['build_seconds']}; "
           f"network output std at t = "
           + ", ".join(f"{c['t']:g}: {c['network_output_std']:.3g}" for c in setup["score_checks"])
           + f") [{wall:.1f} s]")
    if bad:
        ub.log(f"setup: score not finite or degenerate: {bad}")
        return 1

    runs = {f: [] for f in FRAMEWORKS}
    for r in range(1, a.rounds + 1):
        for f in FRAMEWORKS:
            path = os.path.join(a.out, "runs", f"round{r}-{f}.json")
            if f == "scoreserve":
                res, wall = ub.run_scoreserve(a, path, setup["model_dir"])
            else:
                res, wall = run_child(a, f, path)
            res["wall_seconds"] = wall
            runs[f].append(res)
            if "error" in res:
                ub.log(f"round {r}/{a.rounds} {LABELS[f]:<10} n/a: {res['error']}")
            else:
                ub.log(f"round {r}/{a.rounds} {LABELS[f]:<10} n=1 {res.get('forward_n1_ms_per_image', float('nan')):.1f} "
                       f"ms/img, n=8 {res.get('forward_n8_ms_per_image', float('nan')):.1f} ms/img, "
                       f"sample {res.get('dpm_solver_20_n4_seconds') or float('nan'):.2f} s, "
                       f"{res.get('peak_rss_mib', float('nan')):.0f} MiB [{wall:.1f} s]")

    ok = {f: [r for r in runs[f] if "error" not in r] for f in FRAMEWORKS}
    summary = {f: {m: ub.summarize([r.get(m) for r in ok[f]]) for m in METRICS} for f in FRAMEWORKS}
    gemm = ub.summarize([r.get("sgemm_gflops") for r in ok["pytorch"]])
    np_gemm = ub.summarize([r.get("numpy_sgemm_gflops") for r in ok["pytorch"]])
    gflop = setup["gflop_per_image"]
    ss_gflop = next((r.get("gflop_per_image") for r in ok["scoreserve"] if r.get("gflop_per_image")), None)
    ss_params = next((r.get("parameters") for r in ok["scoreserve"] if r.get("parameters")), None)
    # per-round sample-time ratios, PyTorch / ScoreServe, rounds where both ran
    round_ratios = []
    for rp, rs in zip(runs["pytorch"], runs["scoreserve"]):
        tp, ts_ = rp.get("dpm_solver_20_n4_seconds"), rs.get("dpm_solver_20_n4_seconds")
        round_ratios.append(tp / ts_ if isinstance(tp, (int, float)) and isinstance(ts_, (int, float)) and ts_ > 0
                            else None)

    # Report
    vers = versions(setup.get("score_sde_commit"))
    R = a.rounds
    print()
    print(f"score_sde NCSNpp, {a.config} (nf {o['nf']}, ch_mult {tuple(o['ch_mult'])}, {o['num_res_blocks']} res "
          f"blocks, attention at {o['attn_resolutions']}, {o['resblock_type']}, fir {o['fir']}, "
          f"{o['embedding_type']} embedding, {o['image_size']}x{o['image_size']}x{o['num_channels']}), random "
          f"weights (seed {a.seed}): {setup['parameters'] / 1e6:.2f} M parameters, {gflop:.2f} GFLOP per image "
          f"and evaluation (conv {setup['gflop_breakdown']['conv']:.2f}, linear "
          f"{setup['gflop_breakdown']['linear']:.3f}, NIN {setup['gflop_breakdown']['nin']:.3f}, attention "
          f"{setup['gflop_breakdown']['attention']:.3f})"
          + (f"; ScoreServe reports {ss_params / 1e6:.2f} M parameters, {ss_gflop:.2f} GFLOP"
             if ss_gflop and ss_params else ""))
    print(f"machine: {cpu} ({', '.join(flags) or 'no SIMD flags read'}), {os.cpu_count()} logical CPUs, "
          f"{a.threads} thread(s) per framework; {a.repeats} repeats × {R} round(s), interleaved")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items() if v))
    roofline_ms = None
    if gemm:
        roofline_ms = (ss_gflop or gflop) / gemm["median"] * 1000
        print(f"sgemm roofline: torch.mm {GEMM_M}×{GEMM_K} · {GEMM_K}×{GEMM_N} on {a.threads} thread(s) in the "
              f"PyTorch process, best of 10 before and 10 after its workloads: {ub.fmt(gemm, 1, R)} GFLOP/s"
              + (f" (numpy's BLAS: {ub.fmt(np_gemm, 1, R)} GFLOP/s)" if np_gemm else ""))
    print()
    cols = [("framework", 11), ("fwd n=1 ms/img", 24), ("×PT", 5), ("fwd n=8 ms/img", 24), ("×PT", 5),
            (f"{SAMPLE_STEPS}-step n={SAMPLE_N} s", 22), ("×PT", 5), ("peak RSS MiB", 18), ("×PT", 5)]
    digits = {"forward_n1_ms_per_image": 1, "forward_n8_ms_per_image": 1, "dpm_solver_20_n4_seconds": 2,
              "peak_rss_mib": 0}
    print("  ".join(name.ljust(w) for name, w in cols).rstrip())
    base = summary["pytorch"]
    for f in FRAMEWORKS:
        cells = [LABELS[f]]
        for m in METRICS:
            cells += [ub.fmt(summary[f][m], digits[m], R), ub.ratio(base[m], summary[f][m])]
        print("  ".join(c.ljust(w) for c, (_, w) in zip(cells, cols)).rstrip())
    print()
    print("×PT = PyTorch / framework (> 1: faster, or smaller, than PyTorch); median over rounds"
          + (" (min–max)" if R > 1 else "") + f", each the median of {a.repeats} repeats.")
    print(f"forward: score at t = {FORWARD_T} on every row (PyTorch: score_sde's get_score_fn, continuous, "
          "inference_mode).")
    print(f"{SAMPLE_STEPS}-step: {SAMPLE_STEPS} network evaluations, n = {SAMPLE_N}, total seconds; PyTorch: "
          f"DPM-Solver++(2M) loop in this script, t 1 → {SAMPLE_T_END:g} uniform in lambda; ScoreServe: its "
          "dpm_solver sampler (order 3).")
    print("peak RSS: VmHWM of the framework's own process (PyTorch: torch + score_sde + weights "
          "mmap-loaded once; ScoreServe: as its bench reports).")
    if any(v is not None for v in round_ratios):
        print("sample time PyTorch / ScoreServe per round: "
              + ", ".join("n/a" if v is None else f"{v:.2f}" for v in round_ratios))
    s8 = summary["scoreserve"]["forward_n8_ms_per_image"]
    if s8 and gemm:
        gf = ss_gflop or gflop
        rates = [gf / (v / 1000) for v in s8["rounds"]]
        rate = gf / (s8["median"] / 1000)
        print(f"ScoreServe n=8 forward: {gf:.2f} GFLOP/img / {s8['median']:.1f} ms = {rate:.1f} GFLOP/s "
              f"({min(rates):.1f}–{max(rates):.1f} over rounds) = {rate / gemm['median']:.2f} of the sgemm "
              f"roofline {gemm['median']:.1f} GFLOP/s (roofline ms/img {roofline_ms:.1f})")
    p8 = summary["pytorch"]["forward_n8_ms_per_image"]
    if p8 and gemm:
        rate = gflop / (p8["median"] / 1000)
        print(f"PyTorch n=8 forward: {gflop:.2f} GFLOP/img (hooks) / {p8['median']:.1f} ms = {rate:.1f} GFLOP/s "
              f"= {rate / gemm['median']:.2f} of the roofline")
    fin = [r.get("sample_finite") for r in ok["pytorch"]]
    if fin:
        rng = ok["pytorch"][0].get("sample_range")
        print(f"PyTorch sample finite: {all(fin)}" + (f" (range {rng[0]:.3g}..{rng[1]:.3g})" if rng else ""))
    ub.print_failures(runs, FRAMEWORKS, LABELS)

    if a.json:
        ub.write_json(os.path.abspath(a.json), {
            "model": {"config": a.config, "options": o, "dir": setup["model_dir"],
                      "checkpoint": setup["checkpoint"], "seed": a.seed, "init": INIT_SCHEME,
                      "parameters": setup["parameters"], "gflop_per_image": gflop,
                      "gflop_breakdown": setup["gflop_breakdown"], "score_checks": setup["score_checks"],
                      "scoreserve_parameters": ss_params, "scoreserve_gflop_per_image": ss_gflop},
            "machine": {"cpu": cpu, "flags": flags, "logical_cpus": os.cpu_count(),
                        "platform": platform.platform()},
            "settings": {"threads": a.threads, "repeats": a.repeats, "rounds": a.rounds,
                         "sample_n": SAMPLE_N, "sample_steps": SAMPLE_STEPS, "sample_t_end": SAMPLE_T_END,
                         "forward_t": FORWARD_T},
            "versions": vers,
            "roofline": {"sgemm_gflops": gemm, "numpy_sgemm_gflops": np_gemm,
                         "shape": [GEMM_M, GEMM_K, GEMM_N], "ms_per_image": roofline_ms},
            "summary": summary, "sample_ratio_per_round": round_ratios, "runs": runs,
            "total_seconds": time.perf_counter() - t0,
        })
        ub.log(f"wrote {os.path.abspath(a.json)}")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--score-sde", required=True, help="a checkout of yang-song/score_sde_pytorch")
    p.add_argument("--scoreserve", default=None,
                   help="scoreserve binary (default .build/release/scoreserve); 'none' to skip it")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="score_sde config name (a VP one)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds over the frameworks")
    p.add_argument("--out", default=None, help="working folder (default .build/bench-ncsnpp)")
    p.add_argument("--json", default=None, help="write every figure to this file")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per child process")
    p.add_argument("--verbose", action="store_true", help="show the children's output")
    p.add_argument("--child", choices=("setup", "pytorch"), help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.threads < 1 or a.repeats < 1 or a.rounds < 1:
        p.error("--threads, --repeats and --rounds must be at least 1")
    if a.child == "setup":
        child_setup(a)
    elif a.child == "pytorch":
        child_pytorch(a)
    else:
        sys.exit(main_parent(a))


if __name__ == "__main__":
    main()
