#!/usr/bin/env python3
"""Generate the `unet2d` parity fixtures (diffusers `UNet2DModel` directories).

Each fixture is a tiny diffusers `UNet2DModel` (random init, then EVERY
parameter tensor perturbed, GroupNorm weights/biases included, so a swapped or
skipped tensor cannot pass), written exactly as diffusers writes it, together
with a diffusers scheduler config, plus an `expected.json` of float64
reference values computed by diffusers itself.

Covered across the fixtures (see README.md for the per-fixture table):
  * block types DownBlock2D / AttnDownBlock2D / UpBlock2D / AttnUpBlock2D,
    2 and 3 levels, layers_per_block 1 and 2;
  * attention_head_dim null (one head) and integer (several heads);
    mid block with attention, with add_attention=false, with
    mid_block_scale_factor != 1;
  * flip_sin_to_cos true/false, freq_shift 0/1, explicit time_embedding_dim,
    downsample_padding 0/1, center_input_sample, norm_eps 1e-5/1e-6,
    in=out channels 1 and 3, square and non-square sample_size;
  * weight dtypes F32, F16, BF16, F64;
  * layouts: plain model dir (config.json + diffusion_pytorch_model.safetensors
    + scheduler_config.json) and DDPMPipeline dir (model_index.json, unet/,
    scheduler/); one copy of a plain fixture with the OLD attention tensor
    names (query/key/value/proj_attn);
  * schedulers: DDPMScheduler linear / scaled_linear / squaredcos_cap_v2,
    DPMSolverMultistepScheduler with trained_betas (writes
    `lambda_min_clipped: -Infinity`), DDIMScheduler; prediction types
    epsilon / sample / v_prediction; num_train_timesteps 1000, 500, 200, 50;
    ScoreSdeVeScheduler (the VE SDE) with `time_embedding_type: fourier`;
  * diffusers' NCSN++ blocks SkipDownBlock2D / AttnSkipDownBlock2D / SkipUpBlock2D /
    AttnSkipUpBlock2D (FIR resampling, skip pyramids, norm_num_groups null) on the VE SDE
    (Fourier) and on a DDPM schedule (positional).

expected.json: the continuous VP SDE of DPM-Solver's
NoiseScheduleVP('discrete', alphas_cumprod): t_n = (n+1)/N, log a_n =
0.5 log(abar_n) (betas and abar in float64), log alpha(t) piecewise linear,
sigma = sqrt(1 - alpha^2); the network timestep is N*t - 1 (fractional).
Per case: x, v (float32-representable), raw network output, score and
jvp = d score/dx . v, all evaluated in float64 from the weights read back
from the saved safetensors file (so F16/BF16 rounding is included), with the
sinusoidal timestep embedding patched to run in float64 too.

Run from the repository root (deterministic: fixed seeds; rewrites only the
fixture directories listed in FIXTURES, or those named on the command line):

    /work/pyenv/bin/python Tests/Fixtures/unet2d/make_unet2d_fixtures.py [NAME ...]

Needs: pip install torch diffusers safetensors numpy
(generated with torch 2.13.0+cpu, diffusers 0.42.1).
"""
import contextlib
import json
import math
import os
import re
import shutil
import sys

import numpy as np
import torch

import diffusers
import diffusers.models.embeddings as dm_embeddings
from diffusers import (DDIMScheduler, DDPMPipeline, DDPMScheduler,
                       DPMSolverMultistepScheduler, ScoreSdeVeScheduler,
                       UNet2DModel)
from diffusers.models.attention_processor import (Attention, AttnProcessor,
                                                  AttnProcessor2_0)
from safetensors import safe_open
from safetensors.torch import save_file

torch.set_num_threads(1)
diffusers.utils.logging.set_verbosity_error()

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = "diffusion_pytorch_model.safetensors"
DTYPES = {"F32": torch.float32, "F16": torch.float16,
          "BF16": torch.bfloat16, "F64": torch.float64}

# Trained betas for the N = 50 fixture: an irregular increasing curve, rounded
# to float32 so that the JSON value, diffusers' float32 tensor and a float64
# reading all agree exactly.
TRAINED_BETAS_50 = [
    float(np.float32(0.0008 + 0.25 * (i / 49.0) ** 1.7 + 0.002 * math.sin(1.3 * i)))
    for i in range(50)
]

FIXTURES = [
    dict(
        name="plain_f32_ddpm_linear_eps",
        layout="plain", dtype="F32", seed=101,
        unet=dict(
            sample_size=8, in_channels=3, out_channels=3,
            down_block_types=["DownBlock2D", "AttnDownBlock2D"],
            up_block_types=["AttnUpBlock2D", "UpBlock2D"],
            block_out_channels=[8, 16], layers_per_block=2,
            attention_head_dim=4, norm_num_groups=4, norm_eps=1e-5,
            flip_sin_to_cos=True, freq_shift=0, downsample_padding=1,
        ),
        scheduler=(DDPMScheduler, dict(
            num_train_timesteps=1000, beta_schedule="linear",
            beta_start=0.0001, beta_end=0.02, prediction_type="epsilon")),
        oldkeys_copy="plain_f32_ddpm_linear_eps_oldkeys",
    ),
    dict(
        name="pipeline_f16_ddpm_scaledlinear_vpred",
        layout="pipeline", dtype="F16", seed=202,
        unet=dict(
            sample_size=[8, 16], in_channels=1, out_channels=1,
            down_block_types=["DownBlock2D", "AttnDownBlock2D", "DownBlock2D"],
            up_block_types=["UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
            block_out_channels=[8, 16, 24], layers_per_block=1,
            attention_head_dim=None, add_attention=False,
            norm_num_groups=4, norm_eps=1e-6,
            flip_sin_to_cos=False, freq_shift=1, downsample_padding=0,
            center_input_sample=True,
        ),
        scheduler=(DDPMScheduler, dict(
            num_train_timesteps=1000, beta_schedule="scaled_linear",
            beta_start=0.00085, beta_end=0.012,
            prediction_type="v_prediction")),
    ),
    dict(
        name="plain_bf16_ddpm_cosine_sample",
        layout="plain", dtype="BF16", seed=303,
        unet=dict(
            sample_size=16, in_channels=1, out_channels=1,
            down_block_types=["AttnDownBlock2D", "AttnDownBlock2D"],
            up_block_types=["AttnUpBlock2D", "AttnUpBlock2D"],
            block_out_channels=[16, 32], layers_per_block=1,
            attention_head_dim=4, mid_block_scale_factor=1.41421356,
            time_embedding_dim=48, norm_num_groups=2, norm_eps=1e-6,
            flip_sin_to_cos=True, freq_shift=1, downsample_padding=1,
        ),
        scheduler=(DDPMScheduler, dict(
            num_train_timesteps=500, beta_schedule="squaredcos_cap_v2",
            prediction_type="sample")),
    ),
    dict(
        name="plain_f64_dpmsolver_trained_eps",
        layout="plain", dtype="F64", seed=404,
        unet=dict(
            sample_size=8, in_channels=3, out_channels=3,
            down_block_types=["DownBlock2D", "DownBlock2D", "AttnDownBlock2D"],
            up_block_types=["AttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
            block_out_channels=[8, 8, 16], layers_per_block=1,
            attention_head_dim=4, norm_num_groups=4, norm_eps=1e-5,
            flip_sin_to_cos=False, freq_shift=0, downsample_padding=0,
        ),
        scheduler=(DPMSolverMultistepScheduler, dict(
            num_train_timesteps=50, trained_betas=TRAINED_BETAS_50,
            prediction_type="epsilon")),
    ),
    dict(
        name="pipeline_f32_ddim_linear_vpred",
        layout="pipeline", dtype="F32", seed=505,
        unet=dict(
            sample_size=8, in_channels=3, out_channels=3,
            down_block_types=["AttnDownBlock2D", "DownBlock2D"],
            up_block_types=["UpBlock2D", "AttnUpBlock2D"],
            block_out_channels=[16, 16], layers_per_block=1,
            attention_head_dim=None, norm_num_groups=8, norm_eps=1e-5,
            flip_sin_to_cos=True, freq_shift=0, downsample_padding=1,
        ),
        scheduler=(DDIMScheduler, dict(
            num_train_timesteps=200, beta_schedule="linear",
            beta_start=0.0005, beta_end=0.03,
            prediction_type="v_prediction")),
    ),
    dict(
        name="plain_f32_scoresdeve_fourier",
        layout="plain", dtype="F32", seed=606,
        unet=dict(
            sample_size=8, in_channels=3, out_channels=3,
            down_block_types=["DownBlock2D", "AttnDownBlock2D"],
            up_block_types=["AttnUpBlock2D", "UpBlock2D"],
            block_out_channels=[8, 16], layers_per_block=1,
            attention_head_dim=4, norm_num_groups=4, norm_eps=1e-6,
            time_embedding_type="fourier", flip_sin_to_cos=True,
        ),
        scheduler=(ScoreSdeVeScheduler, dict(
            num_train_timesteps=2000, sigma_min=0.01, sigma_max=50.0,
            snr=0.16, sampling_eps=1e-5)),
    ),
    # diffusers' NCSN++ skip blocks (score_sde's output_skip / input_skip pyramids with FIR
    # resampling). Their attention GroupNorm has 32 groups (channels a multiple of 32), and
    # AttnSkipUpBlock2D's resnet groups are min(resnet_in + res_skip // 4, 32) (operator
    # precedence): [32, 32, 16] gives 24 groups over 48 channels there, where
    # SkipUpBlock2D has 12; the skip convolutions are hard-wired to 3 image channels.
    # These are the smallest channel counts diffusers runs with these blocks, and the
    # files are ~1.4 MB and ~1.1 MB, not the usual few hundred kB.
    dict(
        name="plain_f16_scoresdeve_ncsnpp",
        layout="plain", dtype="F16", seed=707,
        unet=dict(
            sample_size=8, in_channels=3, out_channels=3,
            down_block_types=["SkipDownBlock2D", "AttnSkipDownBlock2D", "SkipDownBlock2D"],
            up_block_types=["SkipUpBlock2D", "AttnSkipUpBlock2D", "SkipUpBlock2D"],
            block_out_channels=[32, 32, 16], layers_per_block=1,
            attention_head_dim=None, norm_num_groups=None, norm_eps=1e-6,
            mid_block_scale_factor=math.sqrt(2.0), time_embedding_type="fourier",
            flip_sin_to_cos=True, freq_shift=0,
        ),
        scheduler=(ScoreSdeVeScheduler, dict(
            num_train_timesteps=2000, sigma_min=0.01, sigma_max=50.0,
            snr=0.16, sampling_eps=1e-5)),
    ),
    dict(
        name="plain_f16_ddpm_skip_positional",
        layout="plain", dtype="F16", seed=808,
        unet=dict(
            sample_size=8, in_channels=3, out_channels=3,
            down_block_types=["AttnSkipDownBlock2D", "SkipDownBlock2D"],
            up_block_types=["SkipUpBlock2D", "AttnSkipUpBlock2D"],
            block_out_channels=[32, 16], layers_per_block=2,
            attention_head_dim=8, norm_num_groups=None, norm_eps=1e-6,
            flip_sin_to_cos=True, freq_shift=0,
        ),
        scheduler=(DDPMScheduler, dict(
            num_train_timesteps=1000, beta_schedule="linear",
            beta_start=0.0001, beta_end=0.02, prediction_type="epsilon")),
    ),
]

# Case times (besides t = 1/N and t = 1): chosen off the knots (n+1)/N.
CASE_TIMES = [0.0123, 0.3047, 0.55551, 0.77]
SCHEDULE_TIMES = [0.0101, 0.0523, 0.1, 0.25, 0.33333, 0.5, 0.61803, 0.9, 0.99999]


# --------------------------------------------------------------------------
# float64 noise schedule (betas exactly as diffusers defines them, in float64)

def betas_float64(cfg):
    n = cfg["num_train_timesteps"]
    if cfg.get("trained_betas") is not None:
        return np.asarray(cfg["trained_betas"], dtype=np.float64)
    sched = cfg["beta_schedule"]
    if sched == "linear":
        return np.linspace(cfg["beta_start"], cfg["beta_end"], n, dtype=np.float64)
    if sched == "scaled_linear":
        return np.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, n,
                           dtype=np.float64) ** 2
    if sched == "squaredcos_cap_v2":
        def abar(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return np.array([min(1 - abar((i + 1) / n) / abar(i / n), 0.999)
                         for i in range(n)], dtype=np.float64)
    raise ValueError(sched)


class VPSchedule:
    def __init__(self, sched_cfg):
        self.N = int(sched_cfg["num_train_timesteps"])
        betas = betas_float64(sched_cfg)
        assert betas.shape == (self.N,)
        self.alphas_cumprod = np.cumprod(1.0 - betas)
        self.t_knots = np.array([(n + 1) / self.N for n in range(self.N)])
        self.log_alpha_knots = 0.5 * np.log(self.alphas_cumprod)

    def log_alpha(self, t):
        assert 1.0 / self.N - 1e-15 <= t <= 1.0 + 1e-15, t
        return float(np.interp(t, self.t_knots, self.log_alpha_knots))

    def alpha_sigma(self, t):
        la = self.log_alpha(t)
        return math.exp(la), math.sqrt(-math.expm1(2.0 * la))


class VESchedule:
    """score_sde's VE SDE as ScoreSdeVeScheduler parametrises it: sigma(t) =
    sigma_min (sigma_max/sigma_min)^t on [sampling_eps, 1]; the network's input is
    sigma(t) and its output (divided by sigma inside UNet2DModel with Fourier
    features) is the score."""

    def __init__(self, sched_cfg):
        self.N = int(sched_cfg["num_train_timesteps"])
        self.sigma_min = float(sched_cfg["sigma_min"])
        self.sigma_max = float(sched_cfg["sigma_max"])
        self.eps = float(sched_cfg["sampling_eps"])

    def sigma(self, t):
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def alpha_sigma(self, t):
        return 1.0, self.sigma(t)


# --------------------------------------------------------------------------
# float64 timestep embedding (diffusers' formula, but without the float32 casts)

_ORIG_GET_TIMESTEP_EMBEDDING = dm_embeddings.get_timestep_embedding


def get_timestep_embedding_f64(timesteps, embedding_dim, flip_sin_to_cos=False,
                               downscale_freq_shift=1, scale=1, max_period=10000):
    assert len(timesteps.shape) == 1
    half_dim = embedding_dim // 2
    exponent = -math.log(max_period) * torch.arange(0, half_dim, dtype=torch.float64,
                                                     device=timesteps.device)
    exponent = exponent / (half_dim - downscale_freq_shift)
    emb = torch.exp(exponent)
    emb = timesteps[:, None].to(torch.float64) * emb[None, :]
    emb = scale * emb
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half_dim:], emb[:, :half_dim]], dim=-1)
    if embedding_dim % 2 == 1:
        emb = torch.nn.functional.pad(emb, (0, 1, 0, 0))
    return emb


@contextlib.contextmanager
def float64_embedding():
    # Timesteps.forward looks the function up in the embeddings module globals.
    dm_embeddings.get_timestep_embedding = get_timestep_embedding_f64
    try:
        yield
    finally:
        dm_embeddings.get_timestep_embedding = _ORIG_GET_TIMESTEP_EMBEDDING


# --------------------------------------------------------------------------

def perturb_(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            a = torch.randn(p.shape, generator=g, dtype=torch.float32)
            b = torch.randn(p.shape, generator=g, dtype=torch.float32)
            p.mul_(1 + 0.3 * a).add_(0.1 * b)


def unet_dir(fx, root):
    return os.path.join(root, "unet") if fx["layout"] == "pipeline" else root


def load_unet(fx, root, dtype):
    kw = dict(subfolder="unet") if fx["layout"] == "pipeline" else {}
    m = UNet2DModel.from_pretrained(root, **kw).to(dtype)
    m.eval()
    return m


def file_tensors(path):
    out = {}
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
        for k in f.keys():
            out[k] = f.get_tensor(k)
    return out, meta


def check_loaded_equals_file(model, path, dtype):
    tensors, _ = file_tensors(path)
    sd = model.state_dict()
    assert set(sd) == set(tensors), (set(sd) ^ set(tensors))
    for k, v in tensors.items():
        assert v.dtype == dtype, (k, v.dtype)
        assert torch.equal(sd[k], v.to(sd[k].dtype)), k


def attention_processors(model):
    return sorted({type(m.processor).__name__ for m in model.modules() if isinstance(m, Attention)})


def set_attention_processor(model, cls):
    for m in model.modules():
        if isinstance(m, Attention):
            m.set_processor(cls())


def net_output(model, x, timestep):
    """x: [C,H,W] tensor in the model dtype; timestep: python float."""
    ts = torch.tensor([timestep], dtype=torch.float64)
    return model(x[None], ts).sample[0]


def score_from_output(o, x, alpha, sigma, pred):
    if pred == "score":   # the VE models' output (already divided by sigma) is the score
        return o
    if pred == "epsilon":
        return -o / sigma
    if pred == "sample":
        return (alpha * o - x) / sigma ** 2
    if pred == "v_prediction":
        return -(sigma * x + alpha * o) / sigma
    raise ValueError(pred)


def fmt_list(a):
    return "[" + ",".join(repr(float(v)) for v in np.asarray(a, dtype=np.float64).ravel()) + "]"


def dump_expected(path, obj):
    """JSON with the big float arrays kept on one line each."""
    lines = ["{"]
    items = list(obj.items())
    for i, (k, v) in enumerate(items):
        sep = "," if i + 1 < len(items) else ""
        if k == "cases":
            lines.append(' "cases": [')
            for j, c in enumerate(v):
                lines.append("  {")
                citems = list(c.items())
                for m, (ck, cv) in enumerate(citems):
                    csep = "," if m + 1 < len(citems) else ""
                    val = fmt_list(cv) if isinstance(cv, (list, np.ndarray)) else json.dumps(cv)
                    lines.append(f"   {json.dumps(ck)}: {val}{csep}")
                lines.append("  }" + ("," if j + 1 < len(v) else ""))
            lines.append(" ]" + sep)
        else:
            lines.append(f" {json.dumps(k)}: {json.dumps(v)}{sep}")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # well-formed
    with open(path, "w") as f:
        f.write(text)


def rel_err(a, b):
    return float((a - b).abs().max() / b.abs().max())


def make_fixture(fx):
    root = os.path.join(HERE, fx["name"])
    if os.path.exists(root):
        shutil.rmtree(root)
    dtype = DTYPES[fx["dtype"]]

    # ---- build, perturb, save
    torch.manual_seed(fx["seed"])
    unet = UNet2DModel(**fx["unet"])
    perturb_(unet, fx["seed"] + 1)
    n_params = sum(p.numel() for p in unet.parameters())
    assert len(list(unet.buffers())) == 0
    sched_cls, sched_kw = fx["scheduler"]
    scheduler = sched_cls(**sched_kw)
    unet = unet.to(dtype)
    if fx["layout"] == "plain":
        unet.save_pretrained(root)
        scheduler.save_pretrained(root)
        sched_cfg_path = os.path.join(root, "scheduler_config.json")
    else:
        DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(root)
        sched_cfg_path = os.path.join(root, "scheduler", "scheduler_config.json")
    wpath = os.path.join(unet_dir(fx, root), WEIGHTS)

    # the scheduler config as written (the SDE is derived from it)
    with open(sched_cfg_path) as f:
        sched_cfg = json.load(f)
    ve = sched_cls is ScoreSdeVeScheduler
    if ve:
        sched = VESchedule(sched_cfg)
        # cross-check against diffusers' own sigmas (float32) at its discretisation
        d = sched_cls.from_pretrained(os.path.dirname(sched_cfg_path))
        d.set_sigmas(sched.N)
        ref = np.array([sched.sigma(float(t)) for t in d.timesteps.double().numpy()])
        ac_rel = float(np.max(np.abs(d.sigmas.double().numpy() - ref) / ref))
        pred = "score"
    else:
        sched = VPSchedule(sched_cfg)
        # cross-check against diffusers' own (float32) alphas_cumprod
        ac32 = sched_cls.from_pretrained(os.path.dirname(sched_cfg_path)).alphas_cumprod.double().numpy()
        ac_rel = float(np.max(np.abs(ac32 - sched.alphas_cumprod) / sched.alphas_cumprod))
        pred = sched_cfg["prediction_type"]
    N = sched.N

    # ---- reference model (float64) and float32 comparison model, both from the file
    m64 = load_unet(fx, root, torch.float64)
    m32 = load_unet(fx, root, torch.float32)
    check_loaded_equals_file(m64, wpath, dtype)
    check_loaded_equals_file(m32, wpath, dtype)
    procs = attention_processors(m64)

    emb_dtypes = []
    hook = m64.time_proj.register_forward_hook(lambda mod, inp, out: emb_dtypes.append(out.dtype))
    hook2 = m64.time_embedding.register_forward_hook(lambda mod, inp, out: emb_dtypes.append(inp[0].dtype))

    C = fx["unet"]["in_channels"]
    ss = fx["unet"]["sample_size"]
    H, W = (ss, ss) if isinstance(ss, int) else ss
    first = sched.eps if ve else 1.0 / N
    times = [first] + [t for t in CASE_TIMES if t > first] + [1.0]
    g = torch.Generator().manual_seed(fx["seed"] + 2)

    cases, stats = [], []
    for t in times:
        timestep = sched.sigma(t) if ve else N * t - 1.0
        alpha, sigma = sched.alpha_sigma(t)
        x32 = torch.randn((C, H, W), generator=g, dtype=torch.float32)
        v32 = torch.randn((C, H, W), generator=g, dtype=torch.float32)
        x, v = x32.double(), v32.double()

        with float64_embedding():
            emb_dtypes.clear()
            with torch.no_grad():
                out = net_output(m64, x, timestep)
            assert out.dtype == torch.float64
            assert emb_dtypes == [torch.float64, torch.float64], emb_dtypes

            def score_fn(xx):
                o = net_output(m64, xx, timestep)
                return score_from_output(o, xx, alpha, sigma, pred)

            with torch.no_grad():
                score = score_fn(x)
                h = 1e-4
                fd = (score_fn(x + h * v) - score_fn(x - h * v)) / (2 * h)

            # The default AttnProcessor2_0 (F.scaled_dot_product_attention) picks the CPU
            # flash kernel, which has no forward-mode AD; the classic AttnProcessor
            # (baddbmm + softmax) does. Check that it gives the same output, then use
            # it for the JVP.
            # Also, GroupNorm's forward-AD formula .view()s the tangent, which fails on
            # the non-contiguous tangent left by the attention's transpose; a
            # (numerically neutral) .contiguous() pre-hook on every GroupNorm fixes it.
            # NB: the classic processor honours `upcast_softmax=True` (set by every UNet2D
            # attention block) with `.float()`, i.e. it would DOWN-cast float64 scores to
            # float32; switch that off so the softmax stays float64.
            if procs:
                set_attention_processor(m64, AttnProcessor)
                for m in m64.modules():
                    if isinstance(m, Attention):
                        assert m.upcast_softmax and not m.upcast_attention
                        m.upcast_softmax = False
            gn_hooks = [m.register_forward_pre_hook(lambda mod, inp: (inp[0].contiguous(),))
                        for m in m64.modules() if isinstance(m, torch.nn.GroupNorm)]
            with torch.no_grad():
                out_classic = net_output(m64, x, timestep)
                score_c, jvp = torch.func.jvp(score_fn, (x,), (v,))
            for hk in gn_hooks:
                hk.remove()
            if procs:
                set_attention_processor(m64, AttnProcessor2_0)
                for m in m64.modules():
                    if isinstance(m, Attention):
                        m.upcast_softmax = True
            attn_diff = rel_err(out_classic, out)
            assert attn_diff < 1e-13, attn_diff
            assert rel_err(score_c, score) < 1e-13
            jvp_fd = rel_err(fd, jvp)

        # float32 model, stock diffusers path (float32 embedding)
        with torch.no_grad():
            out32 = net_output(m32, x32, timestep).double()
        f32_rel = rel_err(out32, out)

        # score formula cross-check against the definitions
        if pred == "score":
            ref = out
        elif pred == "epsilon":
            ref = -out / sigma
        elif pred == "sample":
            ref = -(x - alpha * out) / sigma ** 2
        else:  # v = alpha*eps - sigma*x0, x = alpha*x0 + sigma*eps  =>  eps = sigma*x + alpha*v
            ref = -(sigma * x + alpha * out) / sigma
        assert torch.allclose(score, ref, rtol=1e-13, atol=0)

        cases.append(dict(
            t=t, timestep=timestep, alpha=alpha, sigma=sigma,
            x=x.numpy().ravel(), v=v.numpy().ravel(),
            output=out.numpy().ravel(), score=score.numpy().ravel(),
            jvp=jvp.numpy().ravel()))
        stats.append((t, timestep, f32_rel, jvp_fd, attn_diff,
                      float(out.abs().max()), float(score.abs().max())))
    hook.remove()
    hook2.remove()

    # x and v must be exactly float32-representable
    for c in cases:
        for key in ("x", "v"):
            assert np.array_equal(c[key].astype(np.float32).astype(np.float64), c[key])

    sched_times = [first] + [t for t in SCHEDULE_TIMES if t > first] + [1.0]
    if ve:
        schedule = {"t": sched_times, "sigma": [sched.sigma(t) for t in sched_times]}
        ends = {"sigma_min": sched.sigma_min, "sigma_max": sched.sigma_max, "sampling_eps": sched.eps}
    else:
        schedule = {"t": sched_times, "log_alpha": [sched.log_alpha(t) for t in sched_times]}
        ends = {"alphas_cumprod_first": float(sched.alphas_cumprod[0]),
                "alphas_cumprod_last": float(sched.alphas_cumprod[-1])}
    expected = {
        "fixture": fx["name"],
        "layout": fx["layout"],
        "weights_dtype": fx["dtype"],
        "scheduler_class": sched_cls.__name__,
        "num_train_timesteps": N,
        "prediction_type": pred,
        "sample_shape": [C, H, W],
        **ends,
        "schedule": schedule,
        "cases": cases,
    }
    dump_expected(os.path.join(root, "expected.json"), expected)

    # ---- summary
    sizes = {os.path.relpath(os.path.join(d, f), root): os.path.getsize(os.path.join(d, f))
             for d, _, fs in os.walk(root) for f in fs}
    print(f"== {fx['name']}: {n_params} params, weights {fx['dtype']}, layout {fx['layout']}, "
          f"{sched_cls.__name__} N={N} {pred}")
    print(f"   attention processors (float64 model): {procs or 'none'}")
    print(f"   diffusers float32 {'sigmas' if ve else 'alphas_cumprod'} vs float64: max rel {ac_rel:.2e}")
    for (t, ts, f32r, jfd, ad, omax, smax) in stats:
        print(f"   t={t:<9.6g} timestep={ts:<10.6g} f32-vs-f64 out rel {f32r:.2e}  "
              f"jvp-vs-FD rel {jfd:.2e}  SDPA-vs-classic rel {ad:.2e}  |o|max {omax:.3g}  |s|max {smax:.3g}")
    for k in sorted(sizes):
        print(f"   {k}: {sizes[k]} bytes")

    if fx.get("oldkeys_copy"):
        make_oldkeys_copy(fx, root, m64, cases, (C, H, W))
    return stats


OLD_NAMES = [("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn")]


def old_key(k):
    m = re.match(r"^(.*\.attentions\.\d+)\.(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$", k)
    if not m:
        return k
    return f"{m.group(1)}.{dict(OLD_NAMES)[m.group(2)]}.{m.group(3)}"


def make_oldkeys_copy(fx, root, m64_ref, cases, shape):
    assert fx["layout"] == "plain"
    dst = os.path.join(HERE, fx["oldkeys_copy"])
    if os.path.exists(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    for f in ("config.json", "scheduler_config.json", "expected.json"):
        shutil.copyfile(os.path.join(root, f), os.path.join(dst, f))
    tensors, meta = file_tensors(os.path.join(root, WEIGHTS))
    renamed = {old_key(k): v.contiguous() for k, v in tensors.items()}
    n_renamed = sum(1 for k in tensors if old_key(k) != k)
    assert n_renamed > 0 and len(renamed) == len(tensors)
    save_file(renamed, os.path.join(dst, WEIGHTS), metadata=meta)

    # diffusers itself must load the old names back to the same model
    m_old = UNet2DModel.from_pretrained(dst).to(torch.float64).eval()
    sd_old, sd_ref = m_old.state_dict(), m64_ref.state_dict()
    assert all(torch.equal(sd_old[k], sd_ref[k]) for k in sd_ref)
    c = cases[1]
    with float64_embedding(), torch.no_grad():
        o = net_output(m_old, torch.from_numpy(c["x"]).reshape(shape), c["timestep"])
    assert torch.equal(o.reshape(-1), torch.from_numpy(c["output"]))
    print(f"== {fx['oldkeys_copy']}: copy of {fx['name']} with {n_renamed} attention tensors "
          f"renamed to query/key/value/proj_attn; diffusers loads it to the identical model")


def main():
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}")
    only = set(sys.argv[1:])   # fixture names to rewrite; all when none are given
    for fx in FIXTURES:
        if not only or fx["name"] in only:
            make_fixture(fx)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(HERE) for f in fs)
    print(f"total size of {os.path.relpath(HERE)}: {total} bytes")


if __name__ == "__main__":
    main()
