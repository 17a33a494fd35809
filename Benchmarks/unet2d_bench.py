#!/usr/bin/env python3
"""ScoreServe's `UNet2DModel` network against PyTorch + diffusers, ONNX Runtime and OpenVINO.

The model is google/ddpm-cifar10-32's configuration (35.7 M parameters, 12.4 GFLOP per
image and evaluation) with random weights from a fixed seed; the scheduler is that
checkpoint's DDPMScheduler (linear betas 1e-4..0.02, 1000 steps, epsilon). Usage (after
`make release`; needs torch, diffusers, safetensors, numpy, and for the other frameworks
onnxruntime, openvino, onnx, onnxscript):

    python Benchmarks/unet2d_bench.py --scoreserve .build/release/scoreserve --threads 1 \
        --repeats 5 [--rounds 2] [--out DIR] [--skip-onnx] [--skip-openvino] [--json FILE]

1. Writes the model to DIR/ddpm-cifar10-32-random/ (config.json,
   diffusion_pytorch_model.safetensors, scheduler_config.json: what `scoreserve` loads),
   DIR/reference.npz (a fixed input and PyTorch's output for it) and, unless both ONNX
   frameworks are skipped, DIR/onnx/unet2d.onnx (torch.onnx.export, dynamic batch,
   timestep a float32 tensor [n]; re-exported only when the weights or torch change).
2. Runs each framework in a fresh child process, in rounds (ScoreServe, PyTorch, ONNX
   Runtime, OpenVINO; again), all on --threads threads: forward time per image at n = 1
   and n = 8 (float32, after warm-up, median over --repeats), a 20-step DPM-Solver++
   (order 2, diffusers' DPMSolverMultistepScheduler from the DDPM config) sample of
   n = 4 in seconds, and the process's peak resident size (VmHWM).
3. Prints per framework the median over rounds (min–max when rounds > 1) and the ratio
   PyTorch / framework (> 1: faster or smaller than PyTorch), with the machine, the
   versions and the sgemm roofline (torch.mm 1024×1152 · 1152×1024 on the same threads).

ScoreServe is timed by `<scoreserve> bench --only unet2d --unet-model DIR/... --threads T
--repeats R --json FILE` (keys forward_n1_ms_per_image, forward_n8_ms_per_image,
dpm_solver_20_n4_seconds, peak_rss_mib; optionally *_runs arrays); `--scoreserve none`,
a missing binary or a failing command gives "n/a".

The parent process imports nothing beyond the standard library: a child's
getrusage(RUSAGE_SELF).ru_maxrss starts at the parent's resident size (Linux carries the
old address space's high-water mark across exec, vfork included), so the children report
/proc/self/status VmHWM, which belongs to the new address space alone.
"""

import argparse
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_NAME = "ddpm-cifar10-32-random"

# google/ddpm-cifar10-32's config.json (keys its diffusers 0.0.4 file sets; the rest are
# UNet2DModel's defaults, which save_pretrained writes out as well).
UNET_CONFIG = dict(
    sample_size=32,
    in_channels=3,
    out_channels=3,
    center_input_sample=False,
    time_embedding_type="positional",
    freq_shift=1,
    flip_sin_to_cos=False,
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(128, 256, 256, 256),
    layers_per_block=2,
    mid_block_scale_factor=1,
    downsample_padding=0,
    act_fn="silu",
    attention_head_dim=None,
    norm_num_groups=32,
    norm_eps=1e-6,
)
# Its scheduler_config.json.
SCHEDULER_CONFIG = dict(
    num_train_timesteps=1000,
    beta_start=0.0001,
    beta_end=0.02,
    beta_schedule="linear",
    trained_betas=None,
    variance_type="fixed_small",
    clip_sample=True,
    prediction_type="epsilon",
)

FRAMEWORKS = ("scoreserve", "pytorch", "onnxruntime", "openvino")
LABELS = {"scoreserve": "ScoreServe", "pytorch": "PyTorch", "onnxruntime": "ONNX Runtime",
          "openvino": "OpenVINO"}
METRICS = ("forward_n1_ms_per_image", "forward_n8_ms_per_image", "dpm_solver_20_n4_seconds",
           "peak_rss_mib")
SAMPLE_N, SAMPLE_STEPS, SAMPLE_SEED = 4, 20, 1234
FORWARD_T = 500.0  # timestep of the forward timings (all rows)
GEMM_M, GEMM_K, GEMM_N = 1024, 1152, 1024  # a 3×3 conv on 128 channels at 32×32, as a GEMM


# ---------------------------------------------------------------------------------------
# Helpers shared by parent and children (standard library only)

def peak_rss_mib():
    """VmHWM of this process in MiB (see the module docstring for why not ru_maxrss)."""
    try:
        with open("/proc/self/status") as f:
            m = re.search(r"^VmHWM:\s+(\d+)\s+kB", f.read(), re.M)
        if m:
            return int(m.group(1)) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ru_maxrss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, repeats):
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return runs


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def sha256_file(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------
# Child: setup (model, reference output, ONNX export, parameter and FLOP counts)

def count_flops(unet, torch):
    """Multiply-accumulates of one image's evaluation: convolutions, linear layers and
    attention's two batched products (QKᵀ and AV), from forward hooks at n = 1."""
    from diffusers.models.attention_processor import Attention
    macs = {"conv": 0, "linear": 0, "attention": 0}

    def hook(module, args, kwargs, out):
        if isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            macs["conv"] += out.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, torch.nn.Linear):
            macs["linear"] += out.numel() * module.in_features
        elif isinstance(module, Attention):
            h = args[0] if args else kwargs["hidden_states"]
            tokens = h.shape[2] * h.shape[3] if h.ndim == 4 else h.shape[1]
            macs["attention"] += 2 * h.shape[0] * tokens * tokens * module.inner_dim

    handles = [m.register_forward_hook(hook, with_kwargs=True) for m in unet.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, Attention))]
    with torch.inference_mode():
        unet(torch.zeros(1, 3, 32, 32), torch.tensor([FORWARD_T]), return_dict=False)
    for h in handles:
        h.remove()
    return {"gflop_per_image": 2 * sum(macs.values()) / 1e9,
            "gflop_breakdown": {k: 2 * v / 1e9 for k, v in macs.items()}}


def child_setup(a):
    import numpy as np
    import torch
    from diffusers import DDPMScheduler, UNet2DModel
    torch.set_num_threads(a.threads)
    info = {"torch": torch.__version__}
    torch.manual_seed(a.seed)
    unet = UNet2DModel(**UNET_CONFIG).eval()
    scheduler = DDPMScheduler(**SCHEDULER_CONFIG)
    model_dir = os.path.join(a.out, MODEL_NAME)
    unet.save_pretrained(model_dir, safe_serialization=True)
    scheduler.save_pretrained(model_dir)
    info["model_dir"] = model_dir
    info["parameters"] = sum(p.numel() for p in unet.parameters())
    info.update(count_flops(unet, torch))

    # A fixed input and PyTorch's output, which the other frameworks check themselves against.
    g = torch.Generator().manual_seed(a.seed + 1)
    x = torch.randn(2, 3, 32, 32, generator=g)
    t = torch.tensor([10.0, 700.0])
    with torch.inference_mode():
        eps = unet(x, t, return_dict=False)[0]
    np.savez(os.path.join(a.out, "reference.npz"), sample=x.numpy(), timestep=t.numpy(),
             noise_pred=eps.numpy())

    if a.export_onnx:
        try:
            info["onnx"] = export_onnx(a, unet, model_dir, torch)
        except Exception as e:  # the other frameworks still run; ONNX Runtime and OpenVINO show n/a
            info["onnx"] = {"error": f"ONNX export failed: {type(e).__name__}: {str(e)[:300]}"}
    write_json(a.result, info)


def export_onnx(a, unet, model_dir, torch):
    onnx_dir = os.path.join(a.out, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    path = os.path.join(onnx_dir, "unet2d.onnx")
    stamp_path = path + ".json"
    stamp = {"weights_sha256": sha256_file(os.path.join(model_dir, "diffusion_pytorch_model.safetensors")),
             "torch": torch.__version__, "exporter": a.onnx_exporter, "opset": a.opset}
    if os.path.exists(path) and os.path.exists(stamp_path):
        with open(stamp_path) as f:
            if json.load(f) == stamp:
                return {"path": path, "exporter": a.onnx_exporter, "cached": True}

    class Forward(torch.nn.Module):
        def __init__(self, unet):
            super().__init__()
            self.unet = unet

        def forward(self, sample, timestep):
            return self.unet(sample, timestep, return_dict=False)[0]

    model = Forward(unet).eval()
    # Batch 2 in the example so that no size-1 specialisation sneaks in; the timestep is a
    # float32 tensor [n] (an int64 or 0-d timestep would be traced as a constant or get a
    # different input signature).
    args = (torch.randn(2, 3, 32, 32), torch.tensor([10.0, 700.0], dtype=torch.float32))
    names = dict(input_names=["sample", "timestep"], output_names=["noise_pred"])
    t0 = time.perf_counter()
    if a.onnx_exporter == "dynamo":
        batch = torch.export.Dim("batch", min=1, max=4096)
        torch.onnx.export(model, args, path, **names, dynamo=True, opset_version=a.opset,
                          dynamic_shapes={"sample": {0: batch}, "timestep": {0: batch}},
                          external_data=False)
    else:
        torch.onnx.export(model, args, path, **names, dynamo=False, opset_version=a.opset,
                          dynamic_axes={"sample": {0: "batch"}, "timestep": {0: "batch"},
                                        "noise_pred": {0: "batch"}})
    seconds = time.perf_counter() - t0
    write_json(stamp_path, stamp)
    return {"path": path, "exporter": a.onnx_exporter, "cached": False, "export_seconds": seconds,
            "mib": os.path.getsize(path) / 2**20}


# ---------------------------------------------------------------------------------------
# Children: one framework each

def forward_phase(a, forward, np, result):
    """Warm-up, then forward timings at n = 1 and n = 8 into result; `forward(x, t)` takes
    float32 numpy arrays [n,3,32,32] and [n] and returns a numpy array."""
    rng = np.random.default_rng(a.seed)
    ref = np.load(os.path.join(a.out, "reference.npz"))
    out = forward(ref["sample"], ref["timestep"])
    result["max_abs_diff_vs_pytorch"] = float(np.abs(out - ref["noise_pred"]).max())
    for n in (1, 8):
        x = rng.standard_normal((n, 3, 32, 32), dtype=np.float32)
        t = np.full((n,), FORWARD_T, dtype=np.float32)
        for _ in range(2 if n == 1 else 1):
            forward(x, t)
        runs = [s * 1000 / n for s in timed(lambda: forward(x, t), a.repeats)]
        result[f"forward_n{n}_ms_per_image"] = statistics.median(runs)
        result[f"forward_n{n}_runs"] = runs


def sample_phase(a, eps_fn, result, torch):
    """20-step DPM-Solver++ (2M) sample of n = 4 with diffusers' scheduler; `eps_fn(x, t)`
    takes a torch tensor [4,3,32,32] and the scheduler's int64 timestep."""
    from diffusers import DPMSolverMultistepScheduler
    config = DPMSolverMultistepScheduler.load_config(os.path.join(a.out, MODEL_NAME))
    scheduler = DPMSolverMultistepScheduler.from_config(config)
    # from_config takes timestep_spacing ("leading", steps_offset 0) from the saved DDPM config:
    # timesteps 940, 893, ..., 47 rather than DPMSolverMultistepScheduler's own "linspace".
    result["sampler"] = (f"{type(scheduler).__name__} {scheduler.config.algorithm_type} "
                         f"order {scheduler.config.solver_order}, {SAMPLE_STEPS} steps, "
                         f"timestep_spacing {scheduler.config.timestep_spacing}")
    scheduler.set_timesteps(SAMPLE_STEPS)
    result["sampler_timesteps"] = [int(t) for t in scheduler.timesteps]
    noise = torch.randn(SAMPLE_N, 3, 32, 32, generator=torch.Generator().manual_seed(SAMPLE_SEED))
    eps_fn(noise, torch.tensor(999))  # warm-up at n = 4
    final = {}

    def run():
        scheduler.set_timesteps(SAMPLE_STEPS)
        x = noise * scheduler.init_noise_sigma
        for t in scheduler.timesteps:
            x = scheduler.step(eps_fn(x, t), t, x).prev_sample
        final["x"] = x

    runs = timed(run, a.repeats)
    result["dpm_solver_20_n4_seconds"] = statistics.median(runs)
    result["dpm_solver_20_n4_runs"] = runs
    x = final["x"]
    result["sample_finite"] = bool(torch.isfinite(x).all())
    result["sample"] = [round(float(v), 6) for v in x.flatten().tolist()]


def child_pytorch(a):
    import numpy as np
    import torch
    from diffusers import UNet2DModel
    torch.set_num_threads(a.threads)
    result = {"framework": "pytorch", "threads": torch.get_num_threads()}

    # sgemm roofline on these threads: best of 10 before the model is loaded and 10 after
    # the workloads (the better of the two, so that a noisy moment does not lower it).
    def sgemm_rates():
        g = torch.Generator().manual_seed(0)
        A = torch.randn(GEMM_M, GEMM_K, generator=g)
        B = torch.randn(GEMM_K, GEMM_N, generator=g)
        An, Bn = A.numpy(), B.numpy()  # the same product through numpy's BLAS, for reference
        rates = []
        for fn in (lambda: torch.mm(A, B), lambda: An @ Bn):
            for _ in range(3):
                fn()
            rates.append(2 * GEMM_M * GEMM_K * GEMM_N / min(timed(fn, 10)) / 1e9)
        return rates

    before = sgemm_rates()

    t0 = time.perf_counter()
    unet = UNet2DModel.from_pretrained(os.path.join(a.out, MODEL_NAME)).eval()
    result["load_seconds"] = time.perf_counter() - t0

    def forward(x, t):
        with torch.inference_mode():
            return unet(torch.from_numpy(x), torch.from_numpy(t), return_dict=False)[0].numpy()

    forward_phase(a, forward, np, result)
    result["peak_rss_mib_forward"] = peak_rss_mib()
    if not a.skip_sample:
        def eps(x, t):
            with torch.inference_mode():
                return unet(x, t, return_dict=False)[0]
        sample_phase(a, eps, result, torch)
    after = sgemm_rates()
    result["sgemm_gflops"] = max(before[0], after[0])
    result["numpy_sgemm_gflops"] = max(before[1], after[1])
    result["peak_rss_mib"] = peak_rss_mib()  # the whole process: torch + diffusers are the runtime
    result["ru_maxrss_mib"] = ru_maxrss_mib()
    write_json(a.result, result)


def child_onnx_family(a, framework):
    import numpy as np
    onnx_path = os.path.join(a.out, "onnx", "unet2d.onnx")
    result = {"framework": framework}
    t0 = time.perf_counter()
    if framework == "onnxruntime":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        result["providers"] = session.get_providers()

        def forward(x, t):
            return session.run(["noise_pred"], {"sample": x, "timestep": t})[0]
    else:
        import openvino as ov
        core = ov.Core()
        # f32 explicitly: on CPUs with AVX512_BF16 or AMX OpenVINO's default precision is bf16.
        config = {"INFERENCE_NUM_THREADS": a.threads, "INFERENCE_PRECISION_HINT": "f32",
                  "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
        compiled = core.compile_model(core.read_model(onnx_path), "CPU", config)
        result["config"] = {k: str(compiled.get_property(k)) for k in config}
        request = compiled.create_infer_request()

        def forward(x, t):
            request.infer({"sample": x, "timestep": t})
            return request.get_output_tensor(0).data.copy()
    result["load_seconds"] = time.perf_counter() - t0

    forward_phase(a, forward, np, result)
    # Peak before torch and diffusers are imported for the scheduler: what a deployment of
    # this runtime needs (the sampler is borrowed from diffusers only to time it).
    result["peak_rss_mib"] = peak_rss_mib()
    result["ru_maxrss_mib"] = ru_maxrss_mib()
    if not a.skip_sample:
        import torch
        torch.set_num_threads(a.threads)

        def eps(x, t):
            n = x.shape[0]
            ts = np.full((n,), float(t), dtype=np.float32)
            return torch.from_numpy(forward(x.numpy().astype(np.float32, copy=False), ts))
        sample_phase(a, eps, result, torch)
        result["peak_rss_mib_with_sampler"] = peak_rss_mib()
    write_json(a.result, result)


# ---------------------------------------------------------------------------------------
# Parent

def run_child(a, mode, result_path, extra=()):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", mode, "--out", a.out,
           "--threads", str(a.threads), "--repeats", str(a.repeats), "--seed", str(a.seed),
           "--result", result_path, "--onnx-exporter", a.onnx_exporter, "--opset", str(a.opset),
           *extra]
    if a.skip_sample:
        cmd.append("--skip-sample")
    return run_process(a, cmd, result_path, child_env(a, blas_threads=a.threads))


def child_env(a, blas_threads):
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(blas_threads),
               OPENBLAS_NUM_THREADS=str(blas_threads), PYTHONHASHSEED="0",
               TF_CPP_MIN_LOG_LEVEL="3", OPENVINO_TELEMETRY_DISABLE="1")
    return env


def run_process(a, cmd, result_path, env):
    if os.path.exists(result_path):
        os.remove(result_path)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, env=env, capture_output=not a.verbose, text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {a.timeout} s"}, time.perf_counter() - t0
    except OSError as e:
        return {"error": str(e)}, time.perf_counter() - t0
    wall = time.perf_counter() - t0
    if p.returncode != 0 or not os.path.exists(result_path):
        tail = ((p.stderr or "") + (p.stdout or "")).strip().splitlines()[-8:]
        return {"error": f"exit {p.returncode}: " + " | ".join(tail)}, wall
    with open(result_path) as f:
        return json.load(f), wall


def run_scoreserve(a, result_path, model_dir=None):
    """`scoreserve bench --only unet2d` on `model_dir` (default this benchmark's model)."""
    if a.scoreserve.lower() == "none":
        return {"error": "skipped (--scoreserve none)"}, 0.0
    exe = a.scoreserve
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        return {"error": f"{exe}: no such executable"}, 0.0
    cmd = [exe, "bench", "--only", "unet2d", "--unet-model", model_dir or os.path.join(a.out, MODEL_NAME),
           "--threads", str(a.threads), "--repeats", str(a.repeats), "--json", result_path]
    # OpenBLAS on one thread: ScoreServe runs its own workers (as `scoreserve bench` does).
    res, wall = run_process(a, cmd, result_path, child_env(a, blas_threads=1))
    res = res.get("unet2d", res)   # the bench report holds the part under its name
    if "error" not in res:
        res["framework"] = "scoreserve"
        missing = [k for k in METRICS if not isinstance(res.get(k), (int, float))]
        if missing:
            res["missing"] = missing
    return res, wall


def summarize(values):
    values = [v for v in values if isinstance(v, (int, float))]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "rounds": values}


def fmt(s, digits, rounds):
    if s is None:
        return "n/a"
    text = f"{s['median']:.{digits}f}"
    if rounds > 1 and len(s["rounds"]) > 1:
        text += f" ({s['min']:.{digits}f}–{s['max']:.{digits}f})"
    return text


def ratio(base, s):
    if base is None or s is None or s["median"] <= 0:
        return "n/a"
    return f"{base['median'] / s['median']:.2f}"


def print_failures(runs, frameworks, labels):
    """Per framework, its first error and the metrics its JSON lacked, if any."""
    for f in frameworks:
        errs = [r["error"] for r in runs[f] if "error" in r]
        if errs:
            print(f"{labels[f]}: n/a ({errs[0]})")
        miss = sorted({m for r in runs[f] for m in r.get("missing", [])})
        if miss:
            print(f"{labels[f]}: its JSON lacks {', '.join(miss)}")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return platform.processor() or "unknown", []
    m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    flags = set(flags.group(1).split()) if flags else set()
    shown = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    return (m.group(1).strip() if m else "unknown"), shown


def versions():
    out = {"python": platform.python_version()}
    for pkg in ("torch", "diffusers", "onnxruntime", "openvino", "onnx", "onnxscript", "numpy",
                "safetensors"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        out["scoreserve_commit"] = (rev + ("+dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        out["scoreserve_commit"] = None
    return out


def max_rel_diff(a, b):
    if not a or not b or len(a) != len(b):
        return None
    scale = max(abs(v) for v in a) or 1.0
    return max(abs(x - y) for x, y in zip(a, b)) / scale


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def main_parent(a):
    a.out = os.path.abspath(a.out or os.path.join(REPO, ".build", "bench-unet2d"))
    if a.scoreserve is None:
        a.scoreserve = os.path.join(REPO, ".build", "release", "scoreserve")
    os.makedirs(os.path.join(a.out, "runs"), exist_ok=True)
    frameworks = [f for f in FRAMEWORKS
                  if not (f == "onnxruntime" and a.skip_onnx) and not (f == "openvino" and a.skip_openvino)]
    need_onnx = "onnxruntime" in frameworks or "openvino" in frameworks
    cpu, flags = cpu_model()
    log(f"unet2d bench: {cpu}, {a.threads} thread(s), {a.repeats} repeats, {a.rounds} round(s); out {a.out}")

    t0 = time.perf_counter()
    setup, wall = run_child(a, "setup", os.path.join(a.out, "runs", "setup.json"),
                            ["--export-onnx"] if need_onnx else [])
    if "error" in setup:
        log(f"setup failed: {setup['error']}")
        return 1
    onnx = setup.get("onnx")
    if onnx and "error" in onnx:
        export_note = "; " + onnx["error"]
    elif onnx:
        export_note = f"; ONNX {'reused' if onnx['cached'] else 'exported in %.1f s' % onnx['export_seconds']}"
    else:
        export_note = ""
    log(f"setup: model written to {setup['model_dir']} ({setup['parameters']:,} parameters, "
        f"{setup['gflop_per_image']:.2f} GFLOP/image){export_note} [{wall:.1f} s]")

    runs = {f: [] for f in frameworks}
    for r in range(1, a.rounds + 1):
        for f in frameworks:
            path = os.path.join(a.out, "runs", f"round{r}-{f}.json")
            if f in ("onnxruntime", "openvino") and onnx and "error" in onnx:
                res, wall = {"error": onnx["error"]}, 0.0
            elif f == "scoreserve":
                res, wall = run_scoreserve(a, path)
            else:
                res, wall = run_child(a, f, path)
            res["wall_seconds"] = wall
            runs[f].append(res)
            if "error" in res:
                log(f"round {r}/{a.rounds} {LABELS[f]:<12} n/a: {res['error']}")
            else:
                log(f"round {r}/{a.rounds} {LABELS[f]:<12} n=1 {res.get('forward_n1_ms_per_image', float('nan')):.1f} "
                    f"ms/img, n=8 {res.get('forward_n8_ms_per_image', float('nan')):.1f} ms/img, "
                    f"sample {res.get('dpm_solver_20_n4_seconds') or float('nan'):.2f} s, "
                    f"{res.get('peak_rss_mib', float('nan')):.0f} MiB [{wall:.1f} s]")

    summary = {f: {m: summarize([r.get(m) for r in runs[f] if "error" not in r]) for m in METRICS}
               for f in frameworks}
    gemm = summarize([r.get("sgemm_gflops") for r in runs.get("pytorch", []) if "error" not in r])
    np_gemm = summarize([r.get("numpy_sgemm_gflops") for r in runs.get("pytorch", []) if "error" not in r])
    gflop = setup["gflop_per_image"]
    roofline_ms = gflop / gemm["median"] * 1000 if gemm else None

    # Samples against PyTorch's (same noise, same scheduler): a check, not a timing.
    torch_sample = next((r.get("sample") for r in runs.get("pytorch", []) if r.get("sample")), None)
    checks = {}
    for f in frameworks:
        ok = [r for r in runs[f] if "error" not in r]
        if not ok:
            continue
        c = {}
        if "max_abs_diff_vs_pytorch" in ok[0]:
            c["forward_max_abs_diff"] = max(r["max_abs_diff_vs_pytorch"] for r in ok)
        if f != "pytorch" and ok[0].get("sample") and torch_sample:
            c["sample_max_rel_diff"] = max_rel_diff(torch_sample, ok[0]["sample"])
        if "sample_finite" in ok[0]:
            c["sample_finite"] = all(r.get("sample_finite", True) for r in ok)
        checks[f] = c
    for f in frameworks:
        for r in runs[f]:
            r.pop("sample", None)

    # Report
    vers = versions()
    print()
    print(f"UNet2DModel, google/ddpm-cifar10-32 configuration, random weights (seed {a.seed}): "
          f"{setup['parameters'] / 1e6:.2f} M parameters, {gflop:.2f} GFLOP per image and evaluation "
          f"(conv {setup['gflop_breakdown']['conv']:.2f}, linear {setup['gflop_breakdown']['linear']:.2f}, "
          f"attention {setup['gflop_breakdown']['attention']:.2f})")
    print(f"machine: {cpu} ({', '.join(flags) or 'no SIMD flags read'}), {os.cpu_count()} logical CPUs, "
          f"{a.threads} thread(s) per framework; {a.repeats} repeats × {a.rounds} round(s)")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items() if v))
    if gemm:
        print(f"sgemm roofline: torch.mm {GEMM_M}×{GEMM_K} · {GEMM_K}×{GEMM_N} on {a.threads} thread(s) in the "
              f"PyTorch process, best of 10 before and 10 after its workloads: {fmt(gemm, 1, a.rounds)} GFLOP/s "
              f"→ roofline ms/img = {gflop:.2f} GFLOP / {gemm['median']:.1f} GFLOP/s = {roofline_ms:.1f} ms"
              + (f" (numpy's BLAS on the same product: {fmt(np_gemm, 1, a.rounds)} GFLOP/s)" if np_gemm else ""))
    print()
    cols = [("framework", 13), ("fwd n=1 ms/img", 24), ("×PT", 5), ("fwd n=8 ms/img", 24), ("×PT", 5),
            (f"{SAMPLE_STEPS}-step n={SAMPLE_N} s", 22), ("×PT", 5), ("peak RSS MiB", 18), ("×PT", 5)]
    print("  ".join(name.ljust(w) for name, w in cols).rstrip())
    base = summary.get("pytorch", {})
    for f in frameworks:
        s = summary[f]
        cells = [LABELS[f], fmt(s["forward_n1_ms_per_image"], 1, a.rounds),
                 ratio(base.get("forward_n1_ms_per_image"), s["forward_n1_ms_per_image"]),
                 fmt(s["forward_n8_ms_per_image"], 1, a.rounds),
                 ratio(base.get("forward_n8_ms_per_image"), s["forward_n8_ms_per_image"]),
                 fmt(s["dpm_solver_20_n4_seconds"], 2, a.rounds),
                 ratio(base.get("dpm_solver_20_n4_seconds"), s["dpm_solver_20_n4_seconds"]),
                 fmt(s["peak_rss_mib"], 0, a.rounds),
                 ratio(base.get("peak_rss_mib"), s["peak_rss_mib"])]
        print("  ".join(c.ljust(w) for c, (_, w) in zip(cells, cols)).rstrip())
    print()
    print(f"×PT = PyTorch / framework (> 1: faster, or smaller, than PyTorch); median over rounds"
          + (" (min–max)" if a.rounds > 1 else "") + f", each the median of {a.repeats} repeats.")
    print(f"{SAMPLE_STEPS}-step: DPMSolverMultistepScheduler (dpmsolver++, order 2) from the DDPM config, "
          f"n = {SAMPLE_N}, total seconds; ONNX Runtime and OpenVINO drive diffusers' scheduler with their forward.")
    print("peak RSS: VmHWM of the framework's own process (PyTorch: whole run; ONNX Runtime, OpenVINO: "
          "before torch is imported for the scheduler; ScoreServe: as its bench reports).")
    if roofline_ms:
        fr = [f"{LABELS[f]} {roofline_ms / summary[f]['forward_n8_ms_per_image']['median']:.2f}"
              for f in frameworks if summary[f]["forward_n8_ms_per_image"]]
        print(f"fraction of the roofline at n=8 (roofline ms/img ÷ ms/img): " + ", ".join(fr))
    if checks:
        parts = []
        for f, c in checks.items():
            bits = []
            if "forward_max_abs_diff" in c and f != "pytorch":
                bits.append(f"forward max |Δ| {c['forward_max_abs_diff']:.1e}")
            if c.get("sample_max_rel_diff") is not None:
                bits.append(f"sample max rel Δ {c['sample_max_rel_diff']:.1e}")
            if c.get("sample_finite") is False:
                bits.append("sample NOT finite")
            if bits:
                parts.append(f"{LABELS[f]}: " + ", ".join(bits))
        if parts:
            print("against PyTorch: " + "; ".join(parts))
    print_failures(runs, frameworks, LABELS)

    if a.json:
        write_json(os.path.abspath(a.json), {
            "model": {"name": MODEL_NAME, "dir": setup["model_dir"], "seed": a.seed,
                      "unet_config": UNET_CONFIG, "scheduler_config": SCHEDULER_CONFIG,
                      "parameters": setup["parameters"], "gflop_per_image": gflop,
                      "gflop_breakdown": setup["gflop_breakdown"], "onnx": onnx},
            "machine": {"cpu": cpu, "flags": flags, "logical_cpus": os.cpu_count(),
                        "platform": platform.platform()},
            "settings": {"threads": a.threads, "repeats": a.repeats, "rounds": a.rounds,
                         "sample_n": SAMPLE_N, "sample_steps": SAMPLE_STEPS, "forward_timestep": FORWARD_T},
            "versions": vers,
            "roofline": {"sgemm_gflops": gemm, "numpy_sgemm_gflops": np_gemm, "shape": [GEMM_M, GEMM_K, GEMM_N],
                         "ms_per_image": roofline_ms},
            "summary": summary, "checks": checks, "runs": runs,
            "total_seconds": time.perf_counter() - t0,
        })
        log(f"wrote {os.path.abspath(a.json)}")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scoreserve", default=None,
                   help="scoreserve binary (default .build/release/scoreserve); 'none' to skip it")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds over the frameworks")
    p.add_argument("--out", default=None, help="working folder (default .build/bench-unet2d)")
    p.add_argument("--json", default=None, help="write every figure to this file")
    p.add_argument("--skip-onnx", action="store_true", help="leave out ONNX Runtime")
    p.add_argument("--skip-openvino", action="store_true", help="leave out OpenVINO")
    p.add_argument("--skip-sample", action="store_true",
                   help="leave out the Python frameworks' 20-step samples")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    p.add_argument("--onnx-exporter", choices=("dynamo", "torchscript"), default="dynamo")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--timeout", type=float, default=3600, help="seconds per child process")
    p.add_argument("--verbose", action="store_true", help="show the children's output")
    p.add_argument("--child", choices=("setup",) + FRAMEWORKS[1:], help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--export-onnx", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.threads < 1 or a.repeats < 1 or a.rounds < 1:
        p.error("--threads, --repeats and --rounds must be at least 1")
    if a.child == "setup":
        child_setup(a)
    elif a.child == "pytorch":
        child_pytorch(a)
    elif a.child in ("onnxruntime", "openvino"):
        child_onnx_family(a, a.child)
    else:
        sys.exit(main_parent(a))


if __name__ == "__main__":
    main()
