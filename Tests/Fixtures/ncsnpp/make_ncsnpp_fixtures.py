#!/usr/bin/env python3
"""Generate the `ncsnpp` parity fixtures: tiny score_sde_pytorch NCSN++ / DDPM++ models,
converted by Models/recipes/convert_score_sde.py, with float64 references computed by
score_sde_pytorch's own code.

Run from the repository root (deterministic: fixed seeds, one thread; rewrites only the
fixture directories in FIXTURES, or those named on the command line):

    git clone https://github.com/yang-song/score_sde_pytorch /tmp/score_sde_pytorch
    /work/pyenv/bin/python Tests/Fixtures/ncsnpp/make_ncsnpp_fixtures.py --score-sde /tmp/score_sde_pytorch [NAME ...]

Needs torch, safetensors, numpy (generated with torch 2.13.0+cpu, score_sde_pytorch
cb1f359f4aadf0ff9a5e122fe8fffc9451fd6e44); ml_collections optionally, to check the
converter's config table against score_sde's configs/*.py.

score_sde is imported at run time from the checkout, never copied. Its `op` package
compiles CUDA kernels at import (`torch.utils.cpp_extension.load` in op/upfirdn2d.py and
op/fused_act.py). This script replaces `torch.utils.cpp_extension.load` by a stub returning
an empty namespace before the import: on CPU tensors `op.upfirdn2d.upfirdn2d` calls
`upfirdn2d_native` (plain PyTorch) and never the compiled op, and NCSN++ does not use
fused_act at all.

Per fixture:
 1. score_sde's NCSNpp (models/ncsnpp.py) is built from a config namespace with the
    fixture's options (the converter's table entry for a real config name, plus size
    overrides and `--set` overrides), seeded; one Adam step on random gradients (so the
    optimizer state is real), then EVERY parameter is perturbed, p*(1+0.3 n1) + 0.1 n2
    (GroupNorm affine, biases, NIN W/b, Dense biases and the Fourier W included).
 2. A real checkpoint {'model': nn.DataParallel(model).state_dict() ('module.' names),
    'ema': models/ema.py ExponentialMovingAverage(model.parameters(), 0.999).state_dict()
    with the shadow params perturbed again (so EMA != model), 'optimizer': the Adam
    state_dict, 'step': 1234} is torch.save'd as checkpoint_1.pth in a temporary directory
    and converted by the converter (a subprocess) into Tests/Fixtures/ncsnpp/<fixture>/
    (config.json, model.safetensors). The written tensors are checked against the EMA
    weights and config.json against the options.
 3. expected.json: float64 references from score_sde's own code. The EMA weights are
    loaded (ema.copy_to), model.double().eval(), and two float32 leaks are patched:
    models.layers.get_timestep_embedding (float32 arange and timesteps.float()) by the same
    formula in float64, and models.up_or_down_sampling.upfirdn2d, whose FIR kernel
    `torch.tensor(np.float32 array)` is cast to the input's dtype (the kernel values
    k k^T / sum^2 * gain are dyadic rationals for the kernels used, so this is exact; in
    stock score_sde a float64 input with fir=True fails in F.conv2d). A TorchFunctionMode
    then asserts that every op in the forward and score (except `torch.tensor` constant
    creation) yields float64 (or integer) tensors. The score is
    models.utils.get_score_fn(sde, model, train=False, continuous=True) with the
    sde_lib SDE (VPSDE / subVPSDE / VESDE, N = num_scales); `jvp` = J_x score . v by
    torch.func.jvp (checked against a central difference). `score_f32` is the same score
    from the float32 model (model.float(), stock score_sde code, float32 x and t).
 4. Crash grid: score_sde's NCSNpp forward over resblock_type x fir x progressive x
    progressive_input x progressive_combine x resamp_with_conv, with the rule that predicts
    which combinations raise verified on all 144.
 5. The converter's refusals (unknown / discrete config name, truncated checkpoint, nf or
    ch_mult disagreeing with the config, wrong number of shadow params, ...) must exit 1 with
    one line naming the problem.
"""
import argparse
import contextlib
import copy
import importlib.util
import io
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
CONVERTER = os.path.join(REPO, "Models", "recipes", "convert_score_sde.py")
STEP = 1234
CKPT_NAME = "checkpoint_1.pth"

# name, config (a real name from the converter's table), sizes (converter size flags),
# sets (converter --set overrides), seed, what it covers (README).
FIXTURES = [
    dict(name="vp_ddpmpp", config="vp/cifar10_ddpmpp_continuous", seed=11,
         sizes=dict(image_size=8, nf=8, ch_mult=[1, 2, 1], num_res_blocks=1, attn_resolutions=[4]),
         sets={}),
    dict(name="subvp_ncsnpp_fir", config="subvp/cifar10_ncsnpp_continuous", seed=22,
         sizes=dict(image_size=8, nf=8, ch_mult=[1, 1], num_res_blocks=2, attn_resolutions=[4]),
         sets={}),
    dict(name="ve_ncsnpp_gray16", config="ve/cifar10_ncsnpp_continuous", seed=33,
         sizes=dict(image_size=16, nf=8, ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[8]),
         sets=dict(num_channels=1)),
    dict(name="ve_ncsnpp_outskip", config="ve/church_ncsnpp_continuous", seed=44,
         sizes=dict(image_size=8, nf=8, ch_mult=[1, 1, 1], num_res_blocks=1, attn_resolutions=[2]),
         sets={}),
    dict(name="subvp_ddpm_fir_cat", config="subvp/cifar10_ncsnpp_continuous", seed=55,
         sizes=dict(image_size=8, nf=8, ch_mult=[1, 1], num_res_blocks=2, attn_resolutions=[8]),
         sets=dict(resblock_type="ddpm", resamp_with_conv=False, progressive_input="input_skip",
                   progressive_combine="cat", skip_rescale=False)),
    dict(name="ve_ddpm_fir121_uncond", config="ve/cifar10_ncsnpp_continuous", seed=66,
         sizes=dict(image_size=8, nf=8, ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[]),
         sets=dict(resblock_type="ddpm", resamp_with_conv=False, fir_kernel=[1, 2, 1],
                   embedding_type="positional", conditional=False, progressive="output_skip",
                   progressive_input="input_skip", progressive_combine="cat", sigma_max=37.5)),
    dict(name="vp_fourier_uncond", config="vp/cifar10_ddpmpp_continuous", seed=77,
         sizes=dict(image_size=8, nf=8, ch_mult=[1, 1], num_res_blocks=1, attn_resolutions=[4]),
         sets=dict(embedding_type="fourier", conditional=False, centered=False,
                   progressive_input="residual")),
    dict(name="vp_ncsnpp_fir121_sbs", config="vp/cifar10_ncsnpp_continuous", seed=88,
         sizes=dict(image_size=8, nf=8, ch_mult=[1, 1, 2], num_res_blocks=1, attn_resolutions=[8]),
         sets=dict(fir_kernel=[1, 2, 1], scale_by_sigma=True, skip_rescale=False,
                   progressive="output_skip")),
    dict(name="subvp_biggan_inskip", config="subvp/cifar10_ddpmpp_continuous", seed=99,
         sizes=dict(image_size=8, nf=8, ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[4]),
         sets=dict(progressive_input="input_skip", centered=False, resamp_with_conv=False)),
    dict(name="vp_one_level_nf16_gray", config="vp/cifar10_ddpmpp_continuous", seed=110,
         sizes=dict(image_size=8, nf=16, ch_mult=[1], num_res_blocks=1, attn_resolutions=[8]),
         sets=dict(num_channels=1)),
    # one level: no up-sampling, so score_sde runs the options it cannot run otherwise
    # (ddpm blocks without fir, progressive residual; the residual pyramid's GroupNorm and
    # conv are computed at the lowest level but never reach the output)
    dict(name="vp_one_level_ddpm_residual", config="vp/cifar10_ddpmpp_continuous", seed=121,
         sizes=dict(image_size=8, nf=8, ch_mult=[1], num_res_blocks=2, attn_resolutions=[]),
         sets=dict(resblock_type="ddpm", progressive="residual", progressive_input="residual")),
]

VP_TIMES = [1e-3, 0.1, 0.5, 1.0]
VE_TIMES = [1e-5, 0.1, 0.5, 1.0]


# ---------------------------------------------------------------------------------------
# imports

def load_converter():
    spec = importlib.util.spec_from_file_location("convert_score_sde", CONVERTER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class ScoreSde:
    """score_sde_pytorch modules imported from a checkout, with the CUDA build stubbed."""

    def __init__(self, path):
        import torch.utils.cpp_extension as cpp_extension
        path = os.path.abspath(path)
        if not os.path.isfile(os.path.join(path, "models", "ncsnpp.py")):
            sys.exit(f"--score-sde {path}: not a score_sde_pytorch checkout (no models/ncsnpp.py)")
        self.path = path
        orig_load = cpp_extension.load
        cpp_extension.load = lambda *a, **k: types.SimpleNamespace()
        sys.path.insert(0, path)
        try:
            import op.upfirdn2d  # noqa: F401  (op/__init__ also imports fused_act)
            from models import ema, layers, ncsnpp, up_or_down_sampling
            from models import utils as mutils
            import sde_lib
        finally:
            cpp_extension.load = orig_load
        self.ncsnpp, self.layers, self.uds, self.mutils = ncsnpp, layers, up_or_down_sampling, mutils
        self.ema, self.sde_lib = ema, sde_lib
        self.orig_embedding = layers.get_timestep_embedding
        self.orig_upfirdn2d = up_or_down_sampling.upfirdn2d
        try:
            self.commit = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True,
                                         text=True).stdout.strip() or "unknown"
        except OSError:
            self.commit = "unknown"

    @contextlib.contextmanager
    def float64_patches(self):
        layers, uds, orig_up = self.layers, self.uds, self.orig_upfirdn2d

        def get_timestep_embedding_f64(timesteps, embedding_dim, max_positions=10000):
            # score_sde's formula (models/layers.py), in float64 instead of float32
            assert len(timesteps.shape) == 1
            half_dim = embedding_dim // 2
            emb = math.log(max_positions) / (half_dim - 1)
            emb = torch.exp(torch.arange(half_dim, dtype=torch.float64, device=timesteps.device) * -emb)
            emb = timesteps.to(torch.float64)[:, None] * emb[None, :]
            emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=1)
            if embedding_dim % 2 == 1:
                emb = torch.nn.functional.pad(emb, (0, 1), mode="constant")
            return emb

        def upfirdn2d_same_dtype(input, kernel, up=1, down=1, pad=(0, 0)):
            return orig_up(input, kernel.to(input.dtype), up=up, down=down, pad=pad)

        layers.get_timestep_embedding = get_timestep_embedding_f64
        uds.upfirdn2d = upfirdn2d_same_dtype
        try:
            yield
        finally:
            layers.get_timestep_embedding = self.orig_embedding
            uds.upfirdn2d = orig_up

    def make_config(self, o):
        model = types.SimpleNamespace(
            name="ncsnpp", nf=o["nf"], ch_mult=tuple(o["ch_mult"]), num_res_blocks=o["num_res_blocks"],
            attn_resolutions=tuple(o["attn_resolutions"]), dropout=0.1, resamp_with_conv=o["resamp_with_conv"],
            conditional=o["conditional"], fir=o["fir"], fir_kernel=list(o["fir_kernel"]),
            skip_rescale=o["skip_rescale"], resblock_type=o["resblock_type"], progressive=o["progressive"],
            progressive_input=o["progressive_input"], progressive_combine=o["progressive_combine"],
            embedding_type=o["embedding_type"], init_scale=0.0, fourier_scale=16,
            scale_by_sigma=o["scale_by_sigma"], sigma_min=o["sigma_min"], sigma_max=o["sigma_max"],
            num_scales=o["num_scales"], beta_min=o["beta_min"], beta_max=o["beta_max"],
            nonlinearity=o["nonlinearity"])
        data = types.SimpleNamespace(image_size=o["image_size"], num_channels=o["num_channels"],
                                     centered=o["centered"])
        training = types.SimpleNamespace(continuous=True, sde=o["sde"])
        return types.SimpleNamespace(model=model, data=data, training=training, device="cpu")

    def make_sde(self, o):
        s = self.sde_lib
        if o["sde"] == "vpsde":
            return s.VPSDE(beta_min=o["beta_min"], beta_max=o["beta_max"], N=o["num_scales"])
        if o["sde"] == "subvpsde":
            return s.subVPSDE(beta_min=o["beta_min"], beta_max=o["beta_max"], N=o["num_scales"])
        return s.VESDE(sigma_min=o["sigma_min"], sigma_max=o["sigma_max"], N=o["num_scales"])


class Float64Guard(TorchFunctionMode):
    """Records every torch op whose result has a floating dtype other than float64."""

    def __init__(self):
        super().__init__()
        self.leaks = []

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", str(func))
        if name != "tensor":
            for t in (out if isinstance(out, (tuple, list)) else [out]):
                if torch.is_tensor(t) and t.is_floating_point() and t.dtype != torch.float64:
                    self.leaks.append((name, t.dtype))
        return out


# ---------------------------------------------------------------------------------------
# helpers

def perturb_(tensors, gen, a=0.3, b=0.1):
    with torch.no_grad():
        for p in tensors:
            n1 = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            n2 = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            p.mul_(1 + a * n1).add_(b * n2)


def dump_expected(path, obj):
    """expected.json as the unet2d fixtures write it (one line per big array)."""
    spec = importlib.util.spec_from_file_location(
        "make_unet2d_fixtures", os.path.join(HERE, "..", "unet2d", "make_unet2d_fixtures.py"))
    unet2d = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(unet2d)
    unet2d.dump_expected(path, obj)


def rel_err(a, b):
    return float((a - b).abs().max() / b.abs().max())


def run_converter(ckpt, config, out, sizes=None, sets=None, extra=()):
    cmd = [sys.executable, CONVERTER, ckpt, "--config", config, "--out", out]
    for k, v in (sizes or {}).items():
        flag = "--" + k.replace("_", "-")
        cmd += [flag, ",".join(map(str, v)) if isinstance(v, list) else str(v)]
    for k, v in (sets or {}).items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, list):
            v = ",".join(map(str, v))
        cmd += ["--set", f"{k}={v}"]
    cmd += list(extra)
    return subprocess.run(cmd, capture_output=True, text=True), cmd


def resolved_options(conv, fx):
    o = json.loads(json.dumps(conv.CONFIGS[fx["config"]]))
    o.update(fx["sets"])
    o.update(fx["sizes"])
    return o


def sde_block(o):
    if o["sde"] in ("vpsde", "subvpsde"):
        return {"type": "vp" if o["sde"] == "vpsde" else "subvp", "beta_min": o["beta_min"],
                "beta_max": o["beta_max"], "N": o["num_scales"]}
    return {"type": "ve", "sigma_min": o["sigma_min"], "sigma_max": o["sigma_max"], "N": o["num_scales"]}


def build_model(ss, o, seed):
    torch.manual_seed(seed)
    model = ss.ncsnpp.NCSNpp(ss.make_config(o))
    return model


# ---------------------------------------------------------------------------------------
# one fixture

def make_fixture(ss, conv, fx, tmp):
    o = resolved_options(conv, fx)
    root = os.path.join(HERE, fx["name"])
    if os.path.exists(root):
        shutil.rmtree(root)
    C, S = o["num_channels"], o["image_size"]
    fourier = o["embedding_type"] == "fourier"

    # ---- 1. model, Adam step, perturbation
    model = build_model(ss, o, fx["seed"])
    gen = torch.Generator().manual_seed(fx["seed"] + 1)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.9, 0.999), eps=1e-8)
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.randn(p.shape, generator=gen)
    opt.step()
    opt.zero_grad(set_to_none=True)
    perturb_([p for _, p in model.named_parameters()], gen)
    params = dict(model.named_parameters())
    assert all(p.requires_grad for k, p in params.items() if k != "all_modules.0.W")
    assert [k for k, p in params.items() if not p.requires_grad] == (["all_modules.0.W"] if fourier else [])
    assert [k for k, _ in model.named_buffers()] == ["sigmas"]

    # ---- 2. checkpoint with a perturbed EMA, converted
    ema = ss.ema.ExponentialMovingAverage(model.parameters(), decay=0.999)
    perturb_(ema.shadow_params, gen, a=0.05, b=0.02)
    ckpt = {"model": torch.nn.DataParallel(model).state_dict(), "ema": ema.state_dict(),
            "optimizer": opt.state_dict(), "step": STEP}
    assert all(k.startswith("module.") for k in ckpt["model"])
    ckpt_path = os.path.join(tmp, fx["name"], CKPT_NAME)
    os.makedirs(os.path.dirname(ckpt_path))
    torch.save(ckpt, ckpt_path)
    r, cmd = run_converter(ckpt_path, fx["config"], root, fx["sizes"], fx["sets"], ["--name", fx["name"]])
    if r.returncode != 0:
        sys.exit(f"converter failed for {fx['name']}: {' '.join(cmd)}\n{r.stdout}{r.stderr}")

    # the EMA weights, as score_sde samples with them
    ema.copy_to(model.parameters())
    from safetensors.torch import load_file
    written = load_file(os.path.join(root, "model.safetensors"))
    sd = model.state_dict()
    assert set(written) == set(sd) - {"sigmas"}, set(written) ^ (set(sd) - {"sigmas"})
    for k, v in written.items():
        assert v.dtype == torch.float32 and torch.equal(v, sd[k]), k
    with open(os.path.join(root, "config.json")) as f:
        cfg = json.load(f)
    for k, v in cfg["network"].items():
        if k != "type":
            assert o[k] == v, (k, o[k], v)
    assert cfg["data"]["shape"] == [C, S, S]
    n_params = sum(v.numel() for v in written.values())

    # ---- 3. references
    sde = ss.make_sde(o)
    ve = o["sde"] == "vesde"
    times = VE_TIMES if ve else VP_TIMES
    m64 = copy.deepcopy(model).double().eval()
    m32 = copy.deepcopy(model).float().eval()
    score64 = ss.mutils.get_score_fn(sde, m64, train=False, continuous=True)
    score32 = ss.mutils.get_score_fn(sde, m32, train=False, continuous=True)
    model_fn64 = ss.mutils.get_model_fn(m64, train=False)
    gen = torch.Generator().manual_seed(fx["seed"] + 2)
    lo, hi = (-1.0, 1.0) if o["centered"] else (0.0, 1.0)
    cases, stats = [], []
    for t_val in times:
        t = torch.tensor([t_val], dtype=torch.float64)
        x0 = lo + (hi - lo) * torch.rand((1, C, S, S), generator=gen, dtype=torch.float64)
        z = torch.randn((1, C, S, S), generator=gen, dtype=torch.float64)
        v = torch.randn((1, C, S, S), generator=gen, dtype=torch.float32).double()
        mean, std = sde.marginal_prob(x0, t)
        x = (mean + std[:, None, None, None] * z).float().double()  # float32-representable
        label = (sde.marginal_prob(torch.zeros_like(x), t)[1] if ve else t * 999)
        if t_val == times[0] and not o["fir"]:
            # the guard does see score_sde's float32 leaks when unpatched
            # (stock score_sde in float64 with a positional embedding then fails in the
            # first Dense layer, float32 input against float64 weights, when conditional)
            guard = Float64Guard()
            unpatched_error = None
            try:
                with torch.no_grad(), guard:
                    model_fn64(x, label)
            except RuntimeError as e:
                unpatched_error = f"{type(e).__name__}: {e}"
            assert guard.leaks if o["embedding_type"] == "positional" else not guard.leaks, guard.leaks
            unpatched_leaks = sorted(set(n for n, _ in guard.leaks))
            if unpatched_error:
                unpatched_leaks.append(f"then {unpatched_error}")
        with ss.float64_patches():
            guard = Float64Guard()
            with torch.no_grad(), guard:
                out = model_fn64(x, label)
                score = score64(x, t)
            assert not guard.leaks, (fx["name"], sorted(set(guard.leaks)))
            assert out.dtype == score.dtype == torch.float64
            # GroupNorm's forward-AD formula .view()s the tangent, which fails on the
            # non-contiguous tangents some paths leave (e.g. after the NIN permutes); a
            # numerically neutral .contiguous() pre-hook on every GroupNorm avoids it.
            hooks = [m.register_forward_pre_hook(lambda mod, inp: (inp[0].contiguous(),))
                     for m in m64.modules() if isinstance(m, torch.nn.GroupNorm)]
            with torch.no_grad():
                score_j, jvp = torch.func.jvp(lambda xx: score64(xx, t), (x,), (v,))
            for hk in hooks:
                hk.remove()
            with torch.no_grad():
                h = 1e-5 * float(x.abs().max())
                fd = (score64(x + h * v, t) - score64(x - h * v, t)) / (2 * h)
        assert rel_err(score_j, score) < 1e-13, rel_err(score_j, score)
        std_v = std if ve else sde.marginal_prob(torch.zeros_like(x), t)[1]
        ref = out if ve else -out / std_v[:, None, None, None]
        assert torch.equal(ref, score), fx["name"]
        with torch.no_grad():
            s32 = score32(x.float(), t.float()).double()
            o32 = ss.mutils.get_model_fn(m32, train=False)(x.float(), label.float()).double()
        cases.append(dict(
            t=t_val, label=float(label[0]), std=float(std_v[0]),
            x=x.numpy().ravel(), v=v.numpy().ravel(), output=out.numpy().ravel(),
            score=score.numpy().ravel(), jvp=jvp.numpy().ravel(), score_f32=s32.numpy().ravel()))
        stats.append(dict(t=t_val, label=float(label[0]), f32=rel_err(s32, score), o32=rel_err(o32, out),
                          fd=rel_err(fd, jvp), omax=float(out.abs().max()), smax=float(score.abs().max())))

    expected = {
        "fixture": fx["name"],
        "config_name": fx["config"],
        "options": {k: o[k] for k in conv.KEYS},
        "sde": sde_block(o),
        "sample_shape": [C, S, S],
        "cases": cases,
    }
    dump_expected(os.path.join(root, "expected.json"), expected)

    sizes = {f: os.path.getsize(os.path.join(root, f)) for f in sorted(os.listdir(root))}
    print(f"== {fx['name']}: {fx['config']} {n_params} params, {len(written)} tensors, "
          f"{len(model.all_modules)} modules; {r.stdout.strip()}")
    for s in stats:
        print(f"   t={s['t']:<6g} label={s['label']:<10.6g} score_f32 vs f64 rel {s['f32']:.2e} "
              f"(network output alone {s['o32']:.2e})  "
              f"jvp vs FD rel {s['fd']:.1e}  |out|max {s['omax']:.3g}  |score|max {s['smax']:.3g}")
    print("   " + ", ".join(f"{k} {v} B" for k, v in sizes.items()) + f" (total {sum(sizes.values())})")
    if "unpatched_leaks" in locals():
        print(f"   unpatched, the float64 forward has float32 results from: {', '.join(unpatched_leaks) or 'none'}")
    return dict(name=fx["name"], ckpt=ckpt_path, o=o, f32=max(s["f32"] for s in stats),
                o32=max(s["o32"] for s in stats),
                size=sum(sizes.values()), params=n_params)


# ---------------------------------------------------------------------------------------
# crash grid

def crash_rule(rb, fir, prog, pin, comb, rwc):
    """layerspp.Upsample(with_conv, fir) fails unless fir and not with_conv; it is used by
    ddpm blocks (with_conv = resamp_with_conv), output_skip (False) and residual (True)."""
    upsamplers = ([rwc] if rb == "ddpm" else []) + {"none": [], "output_skip": [False],
                                                     "residual": [True]}[prog]
    rule = any(conv or not fir for conv in upsamplers)
    flat = (prog == "residual" or (not fir and (rb == "ddpm" or prog == "output_skip"))
            or (rb == "ddpm" and rwc))
    assert rule == flat
    return rule


def crash_grid(ss, conv):
    rows = run_grid(ss, conv, [1, 2])
    one = run_grid(ss, conv, [1])
    print(f"   with one level (ch_mult [1]: no up-sampling) all {len(one)} combinations run "
          f"({sum(r[-1] for r in one)} raise), and the converter accepts them all")
    return rows


def run_grid(ss, conv, ch_mult):
    base = json.loads(json.dumps(conv.CONFIGS["vp/cifar10_ddpmpp_continuous"]))
    base.update(image_size=8, nf=8, ch_mult=ch_mult, num_res_blocks=1, attn_resolutions=[4])
    levels = len(ch_mult)
    rows, mismatches, messages = [], [], {}
    grid = itertools.product(["ddpm", "biggan"], [True, False], ["none", "output_skip", "residual"],
                             ["none", "input_skip", "residual"], ["sum", "cat"], [True, False])
    for rb, fir, prog, pin, comb, rwc in grid:
        o = dict(base, resblock_type=rb, fir=fir, progressive=prog, progressive_input=pin,
                 progressive_combine=comb, resamp_with_conv=rwc)
        err = None
        try:
            model = build_model(ss, o, 0).eval()
            x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
            with torch.no_grad():
                y = model(x, torch.tensor([500.0]))
            assert y.shape == x.shape
        except Exception as e:  # noqa: BLE001  (recording what score_sde raises)
            err = f"{type(e).__name__}: {e}"
        crashed = err is not None
        if crashed:
            messages[err] = messages.get(err, 0) + 1
        if (conv.unrunnable_reason(o) is not None) != crashed:
            mismatches.append(("converter's unrunnable_reason disagrees", rb, fir, prog, pin, comb, rwc, err))
        if crashed != (levels > 1 and crash_rule(rb, fir, prog, pin, comb, rwc)):
            mismatches.append((rb, fir, prog, pin, comb, rwc, err))
        rows.append((rb, fir, prog, pin, comb, rwc, crashed))
    if mismatches:
        for m in mismatches:
            print("   mismatch:", m)
        sys.exit("crash rule does not hold")
    if levels == 1:
        return rows
    n_crash = sum(r[-1] for r in rows)
    print(f"== crash grid ({levels} levels): {len(rows)} combinations of resblock_type x fir x progressive x "
          f"progressive_input x progressive_combine x resamp_with_conv, {n_crash} raise")
    for m, n in sorted(messages.items()):
        print(f"   {n:3d} x {m}")
    # compact table: per (resblock_type, fir, resamp_with_conv) which progressive values crash
    print("   resblock fir   rwc   | progressive values that raise (for every progressive_input/combine)")
    for rb, fir, rwc in itertools.product(["ddpm", "biggan"], [True, False], [True, False]):
        sel = [r for r in rows if r[0] == rb and r[1] == fir and r[5] == rwc]
        bad = sorted({r[2] for r in sel if r[-1]})
        uniform = all(r[-1] == any(s[-1] for s in sel if s[2] == r[2]) for r in sel)
        print(f"   {rb:8s} {str(fir):5s} {str(rwc):5s} | {', '.join(bad) or '-'}"
              f"{'' if uniform else '  (depends on progressive_input/combine!)'}")
    print("   rule: raises iff progressive == 'residual' or (not fir and (resblock_type == 'ddpm' or "
          "progressive == 'output_skip')) or (resblock_type == 'ddpm' and resamp_with_conv): "
          f"verified on all {len(rows)}, and the converter refuses exactly these")
    return rows


# ---------------------------------------------------------------------------------------
# converter refusals

def check_refusals(made, tmp):
    fx = next((m for m in made if m["name"] == "vp_ddpmpp"), None)
    if fx is None:
        print("== converter refusals: skipped (they use the vp_ddpmpp fixture's checkpoint)")
        return
    ck, o = fx["ckpt"], fx["o"]
    out = os.path.join(tmp, "refused")
    sizes = dict(image_size=o["image_size"], nf=o["nf"], ch_mult=o["ch_mult"],
                 num_res_blocks=o["num_res_blocks"], attn_resolutions=o["attn_resolutions"])
    config = "vp/cifar10_ddpmpp_continuous"

    def save_variant(name, mutate):
        c = torch.load(ck, map_location="cpu", weights_only=True)
        c = mutate(c)
        p = os.path.join(tmp, name)
        torch.save(c, p)
        return p

    trunc = os.path.join(tmp, "truncated.pth")
    with open(ck, "rb") as f:
        data = f.read()
    with open(trunc, "wb") as f:
        f.write(data[: len(data) // 2])

    def drop_last_shadow(c):
        c["ema"]["shadow_params"] = c["ema"]["shadow_params"][:-1]
        return c

    def swap_shadow(c):
        sp = c["ema"]["shadow_params"]
        sp[3], sp[4] = sp[4], sp[3]
        return c

    cases = [
        ("unknown config name", [ck, "vp/cifar10_ddpmpp_continous", sizes, {}], ["unknown config name", "vp/cifar10_ddpmpp_continuous"]),
        ("discrete config", [ck, "vp/cifar10_ddpmpp", sizes, {}], ["training.continuous = False"]),
        ("non-ncsnpp config", [ck, "vp/ddpm/cifar10_continuous", sizes, {}], ["model.name is 'ddpm'"]),
        ("missing file", [os.path.join(tmp, "nope.pth"), config, sizes, {}], ["no such file"]),
        ("truncated checkpoint", [trunc, config, sizes, {}], ["not a complete PyTorch checkpoint"]),
        ("dict without model", [save_variant("nomodel.pth", lambda c: {"ema": c["ema"], "step": 1}), config, sizes, {}], ["no 'model' entry"]),
        ("nf disagrees (config's nf=128)", [ck, config, {}, {}], ["nf=128"]),
        ("ch_mult[0] disagrees", [ck, config, dict(sizes, ch_mult=[2, 2, 2]), {}], ["Conv_0.weight is [8, 8, 3, 3]", "ch_mult[0]=2", "[16, 8, 3, 3]"]),
        ("num_res_blocks disagrees", [ck, config, dict(sizes, num_res_blocks=2), {}], ["modules", "num_res_blocks=2"]),
        ("num_channels disagrees", [ck, config, sizes, dict(num_channels=1)], ["num_channels=1"]),
        ("embedding_type disagrees", [ck, config, sizes, dict(embedding_type="fourier")], ["embedding_type=fourier"]),
        ("sigmas table disagrees", [ck, config, sizes, dict(num_scales=2000)], ["num_scales=2000"]),
        ("shadow_params one short", [save_variant("short.pth", drop_last_shadow), config, sizes, {}], ["ema.shadow_params has", "require grad"]),
        ("shadow_params out of order", [save_variant("swapped.pth", swap_shadow), config, sizes, {}], ["ema.shadow_params[3] is"]),
        ("no ema", [save_variant("noema.pth", lambda c: {"model": c["model"], "step": 1}), config, sizes, {}], ["no 'ema' entry", "--no-ema"]),
        ("fir + progressive residual", [ck, config, sizes, dict(fir=True, progressive="residual")], ["cannot run"]),
    ]
    print("== converter refusals (exit status 1, one line on stderr):")
    for what, (path, name, sz, sets), needles in cases:
        r, cmd = run_converter(path, name, out, sz, sets)
        lines = r.stderr.strip().splitlines()
        ok = (r.returncode == 1 and len(lines) == 1 and "Traceback" not in r.stderr
              and all(n in r.stderr for n in needles))
        print(f"   {what}: {r.stderr.strip().replace(tmp, '$TMP')}")
        if not ok:
            sys.exit(f"refusal check '{what}' failed: rc {r.returncode}, needles {needles}\n"
                     f"{' '.join(cmd)}\n{r.stdout}{r.stderr}")
    # and the raw weights convert (--no-ema), differing from the EMA ones
    r, _ = run_converter(ck, config, out, sizes, {}, ["--no-ema"])
    assert r.returncode == 0 and "raw weights" in r.stdout, r.stderr
    with open(os.path.join(out, "config.json")) as f:
        assert "raw weights" in json.load(f)["description"]
    print(f"   --no-ema: {r.stdout.strip().replace(tmp, '$TMP')}")


# ---------------------------------------------------------------------------------------
# the converter's table against score_sde's configs

def check_config_table(ss, conv):
    try:
        import ml_collections  # noqa: F401
    except ImportError:
        print("== config table: ml_collections not installed, not checked against configs/*.py")
        return
    import glob
    import importlib
    found = {}
    for p in sorted(glob.glob(os.path.join(ss.path, "configs", "**", "*.py"), recursive=True)):
        rel = os.path.relpath(p, os.path.join(ss.path, "configs"))[:-3]
        if rel.startswith("default_") or "/" not in rel:
            continue
        try:
            c = importlib.import_module("configs." + rel.replace("/", ".")).get_config()
        except Exception as e:  # noqa: BLE001
            print(f"   (cannot import configs/{rel}.py: {type(e).__name__})")
            continue
        found[rel] = c
    bad = []
    for rel, c in found.items():
        m = c.model
        if m.name == "ncsnpp" and c.training.continuous:
            if rel not in conv.CONFIGS:
                bad.append(f"{rel} missing from CONFIGS")
                continue
            e = conv.CONFIGS[rel]
            want = dict(sde=c.training.sde, centered=c.data.centered, image_size=c.data.image_size,
                        num_channels=c.data.num_channels)
            for k in conv.KEYS:
                if k not in want:
                    val = m.get(k, None)
                    want[k] = list(val) if isinstance(val, tuple) else val
            for k in conv.KEYS:
                if want[k] != e[k]:
                    bad.append(f"{rel}: {k} = {want[k]!r} in configs, {e[k]!r} in CONFIGS")
        elif rel not in conv.REFUSED:
            bad.append(f"{rel} (model {m.name}, continuous {c.training.continuous}) not in REFUSED")
    for rel in list(conv.CONFIGS) + list(conv.REFUSED):
        if rel not in found:
            bad.append(f"{rel} is not a config in the checkout")
    if bad:
        sys.exit("converter table disagrees with score_sde's configs:\n  " + "\n  ".join(bad))
    print(f"== config table: the converter's {len(conv.CONFIGS)} entries equal score_sde's "
          f"configs/*.py; the other {len(conv.REFUSED)} configs are refused by name")


# ---------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--score-sde", required=True, help="a score_sde_pytorch checkout")
    ap.add_argument("names", nargs="*", help="fixtures to rewrite (default: all)")
    args = ap.parse_args()
    ss = ScoreSde(args.score_sde)
    conv = load_converter()
    print(f"torch {torch.__version__}, score_sde_pytorch {ss.commit}")
    unknown = set(args.names) - {fx["name"] for fx in FIXTURES}
    if unknown:
        sys.exit(f"unknown fixture names: {', '.join(sorted(unknown))}")
    check_config_table(ss, conv)
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        for fx in FIXTURES:
            if not args.names or fx["name"] in args.names:
                made.append(make_fixture(ss, conv, fx, tmp))
        crash_grid(ss, conv)
        if made:
            check_refusals(made, tmp)
    print("== summary: fixture, params, bytes, max over cases of max|score_f32 - score| / max|score| "
          "(and of the raw network output alone)")
    for m in made:
        print(f"   {m['name']:26s} {m['params']:6d} {m['size']:7d}  {m['f32']:.2e}  ({m['o32']:.2e})")
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(HERE) for f in fs)
    print(f"total size of {os.path.relpath(HERE, REPO)}: {total} bytes")


if __name__ == "__main__":
    main()
