#!/usr/bin/env python3
"""Convert a score_sde_pytorch NCSN++ / DDPM++ checkpoint into a ScoreServe model directory.

Run by hand, once per checkpoint (PyTorch on CPU; never at serve time):

    python3 Models/recipes/convert_score_sde.py CHECKPOINT --config NAME --out DIR
        [--image-size N] [--nf N] [--ch-mult 1,2,2,2] [--num-res-blocks N]
        [--attn-resolutions 16[,8]] [--no-ema] [--name NAME] [--trust-pickle]
        [--set KEY=VALUE ...]

Example (the VP DDPM++ CIFAR-10 model of Song et al. 2021, "checkpoint_8.pth"):

    pip install torch safetensors
    python3 Models/recipes/convert_score_sde.py exp/vp/cifar10_ddpmpp_continuous/checkpoints/checkpoint_8.pth \\
        --config vp/cifar10_ddpmpp_continuous --out Models/cifar10-ddpmpp-vp
    scoreserve inspect Models/cifar10-ddpmpp-vp

CHECKPOINT is what score_sde_pytorch's run_lib.py saves (`checkpoint_N.pth`, or the
preemption copy `checkpoint.pth`): torch.save of a dict with
  model      the state_dict of nn.DataParallel(NCSNpp) (names prefixed `module.`),
  ema        models/ema.py ExponentialMovingAverage.state_dict(): `decay`, `num_updates`
             and `shadow_params`, an unnamed list of the parameters that require grad, in
             model.parameters() order,
  optimizer  (ignored), step (reported in the description).
It is read with torch.load(weights_only=True), which cannot run code from the file. A
checkpoint that pickles other Python objects is refused; --trust-pickle reads it with
weights_only=False (only for files you trust).

--config NAME is a score_sde config name (configs/<NAME>.py). The converter does not import
score_sde: CONFIGS below is a table of every config whose model.name is 'ncsnpp' and whose
training.continuous is True, with the values read from score_sde_pytorch's configs/*.py and
configs/default_*_configs.py (commit cb1f359f4aadf0ff9a5e122fe8fffc9451fd6e44). Discrete
configs (training.continuous False, e.g. vp/cifar10_ddpmpp, ve/cifar10_ncsnpp) and the
other model families (ddpm, ncsn, ncsnv2) are refused by name with the reason.

The image size cannot be read from the weights, and a checkpoint trained from a modified
config needs its sizes: --image-size, --nf, --ch-mult, --num-res-blocks and
--attn-resolutions override the config's values.

Advanced: `--set KEY=VALUE` (repeatable) overrides any entry of the table, for a checkpoint
trained from an edited config: sde (vpsde|subvpsde|vesde), beta_min, beta_max, sigma_min,
sigma_max, num_scales, centered, image_size, num_channels, nf, ch_mult, num_res_blocks,
attn_resolutions, resblock_type (ddpm|biggan), fir, fir_kernel, skip_rescale, progressive
(none|output_skip|residual), progressive_input (none|input_skip|residual),
progressive_combine (sum|cat), embedding_type (positional|fourier), scale_by_sigma,
conditional, resamp_with_conv, nonlinearity. Booleans are true/false, lists are
comma-separated (`--set fir_kernel=1,2,1`, `--set attn_resolutions=` for none). The test
fixtures (Tests/Fixtures/ncsnpp) use it for option combinations no shipped config has.
Combinations that score_sde_pytorch itself cannot run (so no checkpoint can have been
trained with them) are refused: with more than one resolution, its forward raises iff
progressive == residual, or not fir and (resblock_type == ddpm or progressive ==
output_skip), or resblock_type == ddpm and resamp_with_conv (see unrunnable_reason and
Tests/Fixtures/ncsnpp/README.md).

Weights: by default the EMA weights (what score_sde samples with): `ema.shadow_params`,
matched in order to the `model` state_dict's parameters that require grad, i.e. every key
except the `sigmas` buffer and, when embedding_type is fourier, the Gaussian Fourier
projection's fixed `all_modules.0.W` (requires_grad=False; it is taken from `model`). The
count and every shape are checked. --no-ema takes `model` as it is.

A small consistency check of the tensors against the (overridden) config: the embedding
modules (Fourier W, the two Dense layers of a conditional model), the input convolution
[nf, C, 3, 3], the first ResNet block's Conv_0 [nf*ch_mult[0], nf, 3, 3], the number of
`all_modules` entries the config implies, and the `sigmas` buffer's length and ends
(num_scales, sigma_max, sigma_min). A mismatch names the option. ScoreServe's loader checks
every tensor's shape.

Writes DIR/ (created if needed):
  model.safetensors  every model parameter, float32, contiguous, named as in the state_dict
                     without `module.` (e.g. `all_modules.3.Conv_0.weight`; NIN weights
                     `...NIN_0.W` stay in score_sde's [in, out] layout); not `sigmas`.
  config.json        {"name", "description", "data": {"shape": [C, H, W], "levels": 256,
                     "shift", "scale"}, "sde": {...}, "network": {"type": "ncsnpp", ...},
                     "weights": "model.safetensors"}. Centered data (model space [-1, 1]):
                     shift 127.5, scale 127.5; otherwise ([0, 1]) shift 0, scale 255.
                     network.sigma_min/sigma_max/num_scales are config.model's, for
                     score_sde's `sigmas` table (positional embedding with scale_by_sigma).

If the environment variable SCORESERVE names the scoreserve binary, `$SCORESERVE inspect
DIR` is run at the end: ScoreServe loads the directory, checking every tensor's shape.

Errors (a missing or truncated file, a dict without `model`, an unknown or refused config
name, an EMA list that does not match, tensors that do not match the config) print one line
and exit with status 1.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys

# ---------------------------------------------------------------------------------------
# score_sde_pytorch configs (commit cb1f359). Values of config.training.sde, config.model.*
# (beta/sigma/num_scales and the NCSN++ options) and config.data.{centered, image_size,
# num_channels}. ve/{celebahq,ffhq}_ncsnpp_continuous (1024 px) define no beta_min/beta_max.

KEYS = ["sde", "beta_min", "beta_max", "sigma_min", "sigma_max", "num_scales", "centered",
        "image_size", "num_channels", "nf", "ch_mult", "num_res_blocks", "attn_resolutions",
        "resblock_type", "fir", "fir_kernel", "skip_rescale", "progressive",
        "progressive_input", "progressive_combine", "embedding_type", "scale_by_sigma",
        "conditional", "resamp_with_conv", "nonlinearity"]


def _c(sde, beta_min, beta_max, sigma_min, sigma_max, num_scales, centered, image_size,
       num_channels, nf, ch_mult, num_res_blocks, attn_resolutions, resblock_type, fir,
       fir_kernel, skip_rescale, progressive, progressive_input, progressive_combine,
       embedding_type, scale_by_sigma, conditional, resamp_with_conv, nonlinearity):
    return dict(locals())


#                                 sde          beta_min beta_max sig_min sig_max N     centered size C  nf   ch_mult                    nrb attn  resblock  fir    fir_kernel    skip  progressive    prog_input    comb   embedding     sbs    cond  rwc   act
CONFIGS = {
    "vp/cifar10_ddpmpp_continuous":         _c("vpsde",    0.1,  20.0,  0.01,  50.0,  1000, True,  32,   3, 128, [1, 2, 2, 2],              4, [16], "biggan", False, [1, 3, 3, 1], True, "none",        "none",       "sum", "positional", False, True, True, "swish"),
    "vp/cifar10_ddpmpp_deep_continuous":    _c("vpsde",    0.1,  20.0,  0.01,  50.0,  1000, True,  32,   3, 128, [1, 2, 2, 2],              8, [16], "biggan", False, [1, 3, 3, 1], True, "none",        "none",       "sum", "positional", False, True, True, "swish"),
    "vp/cifar10_ncsnpp_continuous":         _c("vpsde",    0.1,  20.0,  0.01,  50.0,  1000, True,  32,   3, 128, [1, 2, 2, 2],              4, [16], "biggan", True,  [1, 3, 3, 1], True, "none",        "residual",   "sum", "positional", False, True, True, "swish"),
    "vp/cifar10_ncsnpp_deep_continuous":    _c("vpsde",    0.1,  20.0,  0.01,  50.0,  1000, True,  32,   3, 128, [1, 2, 2, 2],              8, [16], "biggan", True,  [1, 3, 3, 1], True, "none",        "residual",   "sum", "positional", False, True, True, "swish"),
    "subvp/cifar10_ddpmpp_continuous":      _c("subvpsde", 0.1,  20.0,  0.01,  50.0,  1000, True,  32,   3, 128, [1, 2, 2, 2],              4, [16], "biggan", False, [1, 3, 3, 1], True, "none",        "none",       "sum", "positional", False, True, True, "swish"),
    "subvp/cifar10_ddpmpp_deep_continuous": _c("subvpsde", 0.1,  20.0,  0.01,  50.0,  1000, True,  32,   3, 128, [1, 2, 2, 2],              8, [16], "biggan", False, [1, 3, 3, 1], True, "none",        "none",       "sum", "positional", False, True, True, "swish"),
    "subvp/cifar10_ncsnpp_continuous":      _c("subvpsde", 0.1,  20.0,  0.01,  50.0,  1000, True,  32,   3, 128, [1, 2, 2, 2],              4, [16], "biggan", True,  [1, 3, 3, 1], True, "none",        "residual",   "sum", "positional", False, True, True, "swish"),
    "subvp/cifar10_ncsnpp_deep_continuous": _c("subvpsde", 0.1,  20.0,  0.01,  50.0,  1000, True,  32,   3, 128, [1, 2, 2, 2],              8, [16], "biggan", True,  [1, 3, 3, 1], True, "none",        "residual",   "sum", "positional", False, True, True, "swish"),
    "ve/cifar10_ncsnpp_continuous":         _c("vesde",    0.1,  20.0,  0.01,  50.0,  1000, False, 32,   3, 128, [1, 2, 2, 2],              4, [16], "biggan", True,  [1, 3, 3, 1], True, "none",        "residual",   "sum", "fourier",    True,  True, True, "swish"),
    "ve/cifar10_ncsnpp_deep_continuous":    _c("vesde",    0.1,  20.0,  0.01,  50.0,  1000, False, 32,   3, 128, [1, 2, 2, 2],              8, [16], "biggan", True,  [1, 3, 3, 1], True, "none",        "residual",   "sum", "fourier",    True,  True, True, "swish"),
    "ve/bedroom_ncsnpp_continuous":         _c("vesde",    0.1,  20.0,  0.01,  378.0, 2000, False, 256,  3, 128, [1, 1, 2, 2, 2, 2, 2],     2, [16], "biggan", True,  [1, 3, 3, 1], True, "output_skip", "input_skip", "sum", "fourier",    True,  True, True, "swish"),
    "ve/church_ncsnpp_continuous":          _c("vesde",    0.1,  20.0,  0.01,  380.0, 2000, False, 256,  3, 128, [1, 1, 2, 2, 2, 2, 2],     2, [16], "biggan", True,  [1, 3, 3, 1], True, "output_skip", "input_skip", "sum", "fourier",    True,  True, True, "swish"),
    "ve/celebahq_256_ncsnpp_continuous":    _c("vesde",    0.1,  20.0,  0.01,  348.0, 2000, False, 256,  3, 128, [1, 1, 2, 2, 2, 2, 2],     2, [16], "biggan", True,  [1, 3, 3, 1], True, "output_skip", "input_skip", "sum", "fourier",    True,  True, True, "swish"),
    "ve/ffhq_256_ncsnpp_continuous":        _c("vesde",    0.1,  20.0,  0.01,  348.0, 2000, False, 256,  3, 128, [1, 1, 2, 2, 2, 2, 2],     2, [16], "biggan", True,  [1, 3, 3, 1], True, "output_skip", "input_skip", "sum", "fourier",    True,  True, True, "swish"),
    "ve/celebahq_ncsnpp_continuous":        _c("vesde",    None, None,  0.01, 1348.0, 2000, False, 1024, 3, 16,  [1, 2, 4, 8, 16, 32, 32, 32], 1, [16], "biggan", True,  [1, 3, 3, 1], True, "output_skip", "input_skip", "sum", "fourier",    True,  True, True, "swish"),
    "ve/ffhq_ncsnpp_continuous":            _c("vesde",    None, None,  0.01, 1348.0, 2000, False, 1024, 3, 16,  [1, 2, 4, 8, 16, 32, 32, 32], 1, [16], "biggan", True,  [1, 3, 3, 1], True, "output_skip", "input_skip", "sum", "fourier",    True,  True, True, "swish"),
}

# The other configs in score_sde_pytorch's configs/, refused with the reason.
_DISCRETE = ("trained with training.continuous = False: its network takes a discrete step "
             "index (the DDPM/SMLD timestep), not the continuous 999*t or sigma(t) that this "
             "converter's SDEs feed it; only the *_continuous NCSN++/DDPM++ configs are supported")


def _other_model(name):
    return (f"model.name is '{name}', not 'ncsnpp' (NCSN++/DDPM++); only NCSN++/DDPM++ "
            "checkpoints are supported")


REFUSED = {
    "vp/cifar10_ddpmpp": _DISCRETE,
    "vp/cifar10_ncsnpp": _DISCRETE,
    "ve/cifar10_ncsnpp": _DISCRETE,
    "ve/celeba_ncsnpp": _DISCRETE,
    "subvp/cifar10_ddpm_continuous": _other_model("ddpm"),
    "ve/cifar10_ddpm": _other_model("ddpm") + " (and it is discrete)",
    **{f"vp/ddpm/{n}": _other_model("ddpm") + ("" if n == "cifar10_continuous" else " (and it is discrete)")
       for n in ["bedroom", "celebahq", "church", "cifar10", "cifar10_continuous", "cifar10_unconditional"]},
    **{f"ve/ncsn/{n}": _other_model("ncsn") + " (and it is discrete)"
       for n in ["celeba", "celeba_124", "celeba_1245", "celeba_5", "cifar10", "cifar10_124",
                 "cifar10_1245", "cifar10_5"]},
    "ve/ncsnv2/bedroom": _other_model("ncsnv2_128"),
    "ve/ncsnv2/celeba": _other_model("ncsnv2_64") + " (and it is discrete)",
    "ve/ncsnv2/cifar10": _other_model("ncsnv2_64") + " (and it is discrete)",
}

CHOICES = {
    "sde": ["vpsde", "subvpsde", "vesde"],
    "resblock_type": ["ddpm", "biggan"],
    "progressive": ["none", "output_skip", "residual"],
    "progressive_input": ["none", "input_skip", "residual"],
    "progressive_combine": ["sum", "cat"],
    "embedding_type": ["positional", "fourier"],
    "nonlinearity": ["swish", "elu", "relu", "lrelu"],
}
BOOLS = {"centered", "fir", "skip_rescale", "scale_by_sigma", "conditional", "resamp_with_conv"}
INTS = {"num_scales", "image_size", "num_channels", "nf", "num_res_blocks"}
INT_LISTS = {"ch_mult", "attn_resolutions", "fir_kernel"}
FLOATS = {"beta_min", "beta_max", "sigma_min", "sigma_max"}


class ConvertError(Exception):
    pass


def fail(msg):
    raise ConvertError(msg)


# ---------------------------------------------------------------------------------------
# options

def parse_int_list(text, what):
    text = text.strip().strip("[]")
    if text == "":
        return []
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        fail(f"{what}: expected comma-separated integers, got '{text}'")


def parse_set(item):
    if "=" not in item:
        fail(f"--set {item}: expected KEY=VALUE")
    key, value = item.split("=", 1)
    key = key.strip().replace("-", "_")
    v = value.strip()
    what = f"--set {key}"
    if key not in KEYS:
        fail(f"{what}: unknown key; known: {', '.join(KEYS)}")
    if key in BOOLS:
        if v.lower() not in ("true", "false", "1", "0"):
            fail(f"{what}: expected true or false, got '{v}'")
        return key, v.lower() in ("true", "1")
    if key in INTS:
        try:
            return key, int(v)
        except ValueError:
            fail(f"{what}: expected an integer, got '{v}'")
    if key in INT_LISTS:
        return key, parse_int_list(v, what)
    if key in FLOATS:
        try:
            return key, float(v)
        except ValueError:
            fail(f"{what}: expected a number, got '{v}'")
    return key, v.lower()


def resolve_config(args):
    name = args.config
    if name.endswith(".py"):
        name = name[:-3]
    name = name.replace("configs/", "", 1) if name.startswith("configs/") else name
    if name in REFUSED:
        fail(f"--config {name}: not supported: {REFUSED[name]}")
    if name not in CONFIGS:
        fail(f"--config {name}: unknown config name; known: {', '.join(sorted(CONFIGS))}")
    o = json.loads(json.dumps(CONFIGS[name]))  # deep copy
    for item in args.set or []:
        k, v = parse_set(item)
        o[k] = v
    if args.image_size is not None:
        o["image_size"] = args.image_size
    if args.nf is not None:
        o["nf"] = args.nf
    if args.ch_mult is not None:
        o["ch_mult"] = parse_int_list(args.ch_mult, "--ch-mult")
    if args.num_res_blocks is not None:
        o["num_res_blocks"] = args.num_res_blocks
    if args.attn_resolutions is not None:
        o["attn_resolutions"] = parse_int_list(args.attn_resolutions, "--attn-resolutions")
    validate_options(o)
    return name, o


def validate_options(o):
    for k, allowed in CHOICES.items():
        if o[k] not in allowed:
            fail(f"{k}: '{o[k]}' is not one of {', '.join(allowed)}")
    for k in ("image_size", "num_channels", "nf", "num_res_blocks", "num_scales"):
        if o[k] < 1:
            fail(f"{k}: must be positive, got {o[k]}")
    if not o["ch_mult"] or any(m < 1 for m in o["ch_mult"]):
        fail(f"ch_mult: expected positive integers, got {o['ch_mult']}")
    levels = len(o["ch_mult"])
    if o["image_size"] % (2 ** (levels - 1)):
        fail(f"image_size {o['image_size']} is not divisible by 2^{levels - 1} "
             f"(ch_mult {o['ch_mult']} has {levels} levels)")
    if o["fir"] and (not o["fir_kernel"] or any(k < 0 for k in o["fir_kernel"]) or sum(o["fir_kernel"]) == 0):
        fail(f"fir_kernel: expected non-negative taps with a non-zero sum, got {o['fir_kernel']}")
    if o["sde"] in ("vpsde", "subvpsde"):
        if o["beta_min"] is None or o["beta_max"] is None:
            fail("beta_min/beta_max: the config has none; give them with --set")
    if not (0 < o["sigma_min"] < o["sigma_max"]):
        fail(f"sigma_min/sigma_max: expected 0 < sigma_min < sigma_max, got {o['sigma_min']}, {o['sigma_max']}")
    reason = unrunnable_reason(o)
    if reason:
        fail(f"{reason}: score_sde_pytorch cannot run this network, so no checkpoint can have been "
             "trained with it (see Tests/Fixtures/ncsnpp/README.md)")


def unrunnable_reason(o):
    """Option combinations whose forward raises in score_sde_pytorch (any PyTorch version).

    Every up-sampling goes through layerspp.Upsample, which fails in both of its
    with_conv/fir branches that these combinations reach: without fir it calls
    F.interpolate(x, (2H, 2W), 'nearest'), passing 'nearest' as scale_factor (ValueError:
    only one of size or scale_factor should be defined); with fir and a convolution it calls
    up_or_down_sampling.upsample_conv_2d, whose w[..., ::-1, ::-1] PyTorch rejects
    (ValueError: step must be greater than zero). Upsample is used by resblock_type=ddpm
    (with_conv=resamp_with_conv), progressive=output_skip (with_conv=False) and
    progressive=residual (with_conv=True); biggan blocks and fir without a convolution work.
    Verified over the whole option grid by Tests/Fixtures/ncsnpp/make_ncsnpp_fixtures.py.
    """
    if len(o["ch_mult"]) < 2:
        return None  # no up-sampling at all
    if o["progressive"] == "residual":
        return ("progressive=residual" + (" with fir (FIR up-sampling convolution)" if o["fir"]
                                          else " without fir (nearest up-sampling by F.interpolate)"))
    if not o["fir"] and o["resblock_type"] == "ddpm":
        return "resblock_type=ddpm without fir (its Upsample calls F.interpolate with 'nearest' as scale_factor)"
    if not o["fir"] and o["progressive"] == "output_skip":
        return "progressive=output_skip without fir (its Upsample calls F.interpolate with 'nearest' as scale_factor)"
    if o["resblock_type"] == "ddpm" and o["resamp_with_conv"]:
        return "resblock_type=ddpm with fir and resamp_with_conv (FIR up-sampling convolution)"
    return None


# ---------------------------------------------------------------------------------------
# the module list score_sde's NCSNpp.__init__ builds (only kinds, to count and locate)

def module_layout(o):
    L = len(o["ch_mult"])
    res = [o["image_size"] // (2 ** i) for i in range(L)]
    attn = set(o["attn_resolutions"])
    ddpm = o["resblock_type"] == "ddpm"
    mods = []
    if o["embedding_type"] == "fourier":
        mods.append("fourier")
    if o["conditional"]:
        mods += ["dense", "dense"]
    mods.append("conv_in")
    for i in range(L):
        for _ in range(o["num_res_blocks"]):
            mods.append("resnet")
            if res[i] in attn:
                mods.append("attn")
        if i != L - 1:
            mods.append("downsample" if ddpm else "resnet_down")
            if o["progressive_input"] == "input_skip":
                mods.append("combine")
            elif o["progressive_input"] == "residual":
                mods.append("pyramid_downsample")
    mods += ["resnet", "attn", "resnet"]
    for i in reversed(range(L)):
        for _ in range(o["num_res_blocks"] + 1):
            mods.append("resnet")
        if res[i] in attn:
            mods.append("attn")
        if o["progressive"] != "none":
            if i == L - 1 or o["progressive"] == "output_skip":
                mods += ["pyramid_norm", "pyramid_conv"]
            else:
                mods.append("pyramid_upsample")
        if i != 0:
            mods.append("upsample" if ddpm else "resnet_up")
    if o["progressive"] != "output_skip":
        mods += ["norm_out", "conv_out"]
    return mods


def shape_str(shape):
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def check_against_config(sd, o, config_name):
    """A few tensors that pin the config; sd has `module.` stripped."""
    nf, C = o["nf"], o["num_channels"]
    mods = module_layout(o)
    idx = {}
    for i, kind in enumerate(mods):
        idx.setdefault(kind, i)

    def get(key):
        return sd[key].shape if key in sd else None

    fourier = o["embedding_type"] == "fourier"
    w = get("all_modules.0.W")
    if fourier and w is None:
        fail(f"no all_modules.0.W (the Gaussian Fourier projection); config {config_name} has "
             "embedding_type=fourier (a positional-embedding checkpoint?)")
    if not fourier and w is not None:
        fail(f"all_modules.0.W is present (a Gaussian Fourier projection); config {config_name} has "
             "embedding_type=positional")
    if fourier and tuple(w) != (nf,):
        fail(f"all_modules.0.W is {shape_str(w)}; config nf={nf} implies [{nf}]")
    if o["conditional"]:
        i = idx["dense"]
        d = get(f"all_modules.{i}.weight")
        emb = 2 * nf if fourier else nf
        if d is None or len(d) != 2:
            fail(f"all_modules.{i}.weight is {'missing' if d is None else shape_str(d)}; config "
                 f"conditional=true implies a Dense layer [{4 * nf}, {emb}] there")
        if tuple(d) != (4 * nf, emb):
            fail(f"all_modules.{i}.weight is {shape_str(d)}; config nf={nf}, "
                 f"embedding_type={o['embedding_type']} implies [{4 * nf}, {emb}]")
    i = idx["conv_in"]
    c = get(f"all_modules.{i}.weight")
    if c is None or len(c) != 4:
        hint = ""
        if c is not None and len(c) == 2:
            hint = " (a Dense layer: the checkpoint is conditional, config has conditional=false)"
        elif c is None and not o["conditional"] and get(f"all_modules.{i + 2}.weight") is not None:
            hint = " (config has conditional=false; the checkpoint looks conditional)"
        fail(f"all_modules.{i}.weight is {'missing' if c is None else shape_str(c)}; the input "
             f"convolution [{nf}, {C}, 3, 3] is expected there{hint}")
    if tuple(c) != (nf, C, 3, 3):
        opts = []
        if c[0] != nf:
            opts.append(f"nf={nf}")
        if c[1] != C:
            opts.append(f"num_channels={C}")
        if not opts:
            opts = [f"nf={nf}", f"num_channels={C}"]
        fail(f"all_modules.{i}.weight is {shape_str(c)}; config {', '.join(opts)} implies "
             f"[{nf}, {C}, 3, 3]")
    i = idx["resnet"]
    r = get(f"all_modules.{i}.Conv_0.weight")
    want = (nf * o["ch_mult"][0], nf, 3, 3)
    if r is None:
        fail(f"all_modules.{i}.Conv_0.weight is missing; config implies the first ResNet block there")
    if tuple(r) != want:
        fail(f"all_modules.{i}.Conv_0.weight is {shape_str(r)}; config nf={nf}, "
             f"ch_mult[0]={o['ch_mult'][0]} implies {shape_str(want)}")
    present = {int(m.group(1)) for k in sd for m in [re.match(r"^all_modules\.(\d+)\.", k)] if m}
    n = max(present) + 1 if present else 0
    if n != len(mods):
        fail(f"the checkpoint has {n} modules (all_modules.0 ... all_modules.{n - 1}); config "
             f"{config_name} with num_res_blocks={o['num_res_blocks']}, ch_mult={o['ch_mult']}, "
             f"attn_resolutions={o['attn_resolutions']} at image_size={o['image_size']}, "
             f"progressive={o['progressive']}, progressive_input={o['progressive_input']}, "
             f"resblock_type={o['resblock_type']} implies {len(mods)}")
    s = sd.get("sigmas")
    if s is not None:
        if tuple(s.shape) != (o["num_scales"],):
            fail(f"sigmas has {shape_str(s.shape)} entries; config num_scales={o['num_scales']} "
                 f"implies [{o['num_scales']}]")
        s0, s1 = float(s[0]), float(s[-1])
        if abs(s0 - o["sigma_max"]) > 1e-5 * o["sigma_max"]:
            fail(f"sigmas[0] is {s0:.7g}; config sigma_max={o['sigma_max']:g} disagrees")
        if abs(s1 - o["sigma_min"]) > 1e-5 * o["sigma_min"]:
            fail(f"sigmas[-1] is {s1:.7g}; config sigma_min={o['sigma_min']:g} disagrees")


# ---------------------------------------------------------------------------------------
# checkpoint

def load_checkpoint(path, trust_pickle):
    import pickle
    import torch
    if not os.path.exists(path):
        fail(f"{path}: no such file")
    if not os.path.isfile(path):
        fail(f"{path}: not a file")
    with open(path, "rb") as f:
        head = f.read(4)
    if len(head) == 0:
        fail(f"{path}: not a complete PyTorch checkpoint (the file is empty)")
    if not (head.startswith(b"PK") or head.startswith(b"\x80")):
        fail(f"{path}: not a PyTorch checkpoint (neither torch.save's zip archive nor its legacy pickle)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as e:
        text = str(e)
        if "Unsupported global" in text:
            what = re.search(r"Unsupported global: GLOBAL (\S+)", text)
            fail(f"{path}: pickles Python objects ({what.group(1) if what else 'a class'}) that "
                 "torch.load(weights_only=True) will not load; rerun with --trust-pickle if you "
                 "trust the file")
        detail = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\n|$)", text, re.S)
        msg = detail.group(1).strip() if detail else (text.strip().splitlines() or [type(e).__name__])[0]
        fail(f"{path}: not a complete PyTorch checkpoint ({msg})")
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError, TypeError,
            AttributeError, ImportError, MemoryError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        msg = msg.split(". ")[0].rstrip(".")  # torch appends paragraphs of advice
        fail(f"{path}: not a complete PyTorch checkpoint ({msg})")
    if not isinstance(ckpt, dict):
        fail(f"{path}: holds a {type(ckpt).__name__}, not a dict; expected score_sde's "
             "{'model', 'ema', 'optimizer', 'step'}")
    if "model" not in ckpt:
        fail(f"{path}: no 'model' entry (keys: {', '.join(map(str, ckpt.keys())) or 'none'}); "
             "expected score_sde's {'model', 'ema', 'optimizer', 'step'}")
    model = ckpt["model"]
    if not isinstance(model, dict) or not all(torch.is_tensor(v) for v in model.values()):
        fail(f"{path}: 'model' is not a state_dict of tensors")
    return ckpt


def strip_module(model):
    out = {}
    for k, v in model.items():
        name = k[len("module."):] if k.startswith("module.") else k
        if name in out:
            fail(f"tensor {name} appears twice (with and without 'module.')")
        out[name] = v
    return out


def select_weights(path, ckpt, sd, o, use_ema):
    import torch
    fourier = o["embedding_type"] == "fourier"
    names = [k for k in sd if k != "sigmas"]
    for k in names:
        if not torch.is_floating_point(sd[k]):
            fail(f"model tensor {k} has dtype {sd[k].dtype}; expected floating point")
    if not use_ema:
        return {k: sd[k] for k in names}, "raw"
    if "ema" not in ckpt:
        fail(f"{path}: no 'ema' entry; use --no-ema to convert the raw 'model' weights")
    ema = ckpt["ema"]
    if not isinstance(ema, dict) or "shadow_params" not in ema:
        fail(f"{path}: 'ema' has no 'shadow_params' (not a models/ema.py ExponentialMovingAverage "
             "state_dict); use --no-ema to convert the raw 'model' weights")
    shadow = ema["shadow_params"]
    if not isinstance(shadow, (list, tuple)) or not all(torch.is_tensor(s) for s in shadow):
        fail(f"{path}: ema.shadow_params is not a list of tensors")
    trainable = [k for k in names if not (fourier and k == "all_modules.0.W")]
    fixed = "module.sigmas" + (" and the Fourier all_modules.0.W" if fourier else "")
    if len(shadow) != len(trainable):
        fail(f"ema.shadow_params has {len(shadow)} tensors; the model has {len(trainable)} "
             f"parameters that require grad (all keys except {fixed})")
    out = {}
    for i, (k, s) in enumerate(zip(trainable, shadow)):
        if tuple(s.shape) != tuple(sd[k].shape):
            fail(f"ema.shadow_params[{i}] is {shape_str(s.shape)}; the model parameter in that "
                 f"position, {k}, is {shape_str(sd[k].shape)}")
        if not torch.is_floating_point(s):
            fail(f"ema.shadow_params[{i}] has dtype {s.dtype}; expected floating point")
        out[k] = s
    for k in names:  # keep the state_dict order
        if k not in out:
            out[k] = sd[k]
    return {k: out[k] for k in names}, "EMA"


# ---------------------------------------------------------------------------------------
# output

def config_json(name, description, o):
    C, S = o["num_channels"], o["image_size"]
    data = {"shape": [C, S, S], "levels": 256}
    if o["centered"]:
        data.update(shift=127.5, scale=127.5)
    else:
        data.update(shift=0, scale=255)
    if o["sde"] in ("vpsde", "subvpsde"):
        sde = {"type": "vp" if o["sde"] == "vpsde" else "subvp", "beta_min": o["beta_min"],
               "beta_max": o["beta_max"], "sampling_eps": 1e-3, "likelihood_eps": 1e-5}
    else:
        sde = {"type": "ve", "sigma_min": o["sigma_min"], "sigma_max": o["sigma_max"],
               "sampling_eps": 1e-5, "likelihood_eps": 1e-5}
    network = {"type": "ncsnpp"}
    for k in ["nf", "ch_mult", "num_res_blocks", "attn_resolutions", "resblock_type", "fir",
              "fir_kernel", "skip_rescale", "progressive", "progressive_input",
              "progressive_combine", "embedding_type", "scale_by_sigma", "conditional",
              "resamp_with_conv", "nonlinearity", "centered", "sigma_min", "sigma_max",
              "num_scales"]:
        network[k] = o[k]
    return {"name": name, "description": description, "data": data, "sde": sde,
            "network": network, "weights": "model.safetensors"}


def dump_config(cfg):
    """json, one line per top-level key (sub-objects on one line)."""
    items = [f'  {json.dumps(k)}: {json.dumps(v)}' for k, v in cfg.items()]
    return "{\n" + ",\n".join(items) + "\n}\n"


def run_scoreserve_check(out_dir):
    """`$SCORESERVE inspect DIR`: ScoreServe loads the directory, checking every tensor's
    shape against the options, and names what disagrees."""
    exe = os.environ.get("SCORESERVE")
    if not exe:
        return
    try:
        r = subprocess.run([exe, "inspect", out_dir], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as e:
        fail(f"SCORESERVE={exe} does not run ({e})")
    if r.returncode != 0:
        fail(f"{exe} inspect {out_dir}: " + (r.stderr.strip().splitlines() or ["exit status %d" % r.returncode])[0])
    print(f"checked: {exe} inspect {out_dir} loads it", file=sys.stderr)


def convert(args):
    config_name, o = resolve_config(args)
    out_dir = args.out
    name = args.name or os.path.basename(os.path.normpath(os.path.abspath(out_dir)))
    if not re.fullmatch(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*", name):
        fail(f"--name '{name}': a model name has letters, digits, '-', '_', '.', not starting with '.'")

    try:
        import torch
        from safetensors.torch import save_file
    except ImportError as e:
        fail(f"needs torch and safetensors ({e}); pip install torch safetensors")

    ckpt = load_checkpoint(args.checkpoint, args.trust_pickle)
    sd = strip_module(ckpt["model"])
    check_against_config(sd, o, config_name)
    weights, kind = select_weights(args.checkpoint, ckpt, sd, o, not args.no_ema)
    tensors = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in weights.items()}
    for k, v in tensors.items():
        if not torch.isfinite(v).all():
            fail(f"{'ema.shadow_params for ' if kind == 'EMA' else ''}{k} has non-finite values")

    step = ckpt.get("step")
    step_text = f"step {int(step)}" if isinstance(step, (int, float)) or (
        torch.is_tensor(step) and step.numel() == 1) else "step unknown"
    description = (f"score_sde {config_name} {os.path.basename(args.checkpoint)} "
                   f"({step_text}, {kind} weights)")
    cfg = config_json(name, description, o)

    try:
        os.makedirs(out_dir, exist_ok=True)
        save_file(tensors, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            f.write(dump_config(cfg))
    except OSError as e:
        fail(f"{out_dir}: cannot write ({e.strerror or e})")
    n_params = sum(v.numel() for v in tensors.values())
    print(f"wrote {out_dir}: {len(tensors)} tensors, {n_params} parameters ({kind} weights, "
          f"{step_text}), config {config_name}")
    run_scoreserve_check(out_dir)


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Convert a score_sde_pytorch NCSN++/DDPM++ checkpoint into a ScoreServe model "
                    "directory (see the module docstring).")
    p.add_argument("checkpoint", help="checkpoint_N.pth or checkpoint.pth from score_sde_pytorch")
    p.add_argument("--config", required=True, help="score_sde config name, e.g. vp/cifar10_ddpmpp_continuous")
    p.add_argument("--out", required=True, help="output model directory (created)")
    p.add_argument("--image-size", type=int)
    p.add_argument("--nf", type=int)
    p.add_argument("--ch-mult", help="comma-separated, e.g. 1,2,2,2")
    p.add_argument("--num-res-blocks", type=int)
    p.add_argument("--attn-resolutions", help="comma-separated, e.g. 16 or 16,8 (empty for none)")
    p.add_argument("--no-ema", action="store_true", help="convert the raw 'model' weights, not the EMA")
    p.add_argument("--name", help="model name in config.json (default: DIR's base name)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="torch.load with weights_only=False (runs code from the file)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="advanced: override a config table entry (see the docstring)")
    args = p.parse_args(argv)
    try:
        convert(args)
    except ConvertError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
