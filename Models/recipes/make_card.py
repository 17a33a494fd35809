#!/usr/bin/env python3
"""Writes a trained model's card (README.md) from its files and its evaluation.

Usage: python3 Models/recipes/make_card.py MODEL_DIR EVALUATION_TXT TRAIN_LOG

EVALUATION_TXT is the output of Models/recipes/evaluate.sh; TRAIN_LOG the output of the
`scoreserve train` run (its last line gives the time). Standard library only.
"""
import json, math, struct, sys, os

model, evaluation, log = sys.argv[1:4]
config = json.load(open(os.path.join(model, "config.json")))
with open(os.path.join(model, "model.safetensors"), "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    blob = f.read()
meta = header.pop("__metadata__")
# The weights' fingerprint: the tensor bytes in name order (the metadata records the
# command line, so the file's own hash would depend on how it was invoked).
import hashlib
fingerprint = hashlib.sha256(b"".join(blob[header[k]["data_offsets"][0]:header[k]["data_offsets"][1]]
                                      for k in sorted(header))).hexdigest()
ev = [l for l in open(evaluation).read().strip().splitlines() if not l.startswith("wrote")]
train_line = [l for l in open(log).read().splitlines() if l.startswith("trained")][-1]
heldout = [list(map(float, l.split(","))) for l in open(os.path.join(model, "held-out.csv")) if l.strip()]
ll_line = [l for l in ev if l.startswith("held-out log-likelihood")][0]
model_ll = float(ll_line.split(":")[1].split()[0])

def true_density(kind):
    """Mean exact log-density of the held-out points (FFJORD's generators)."""
    if kind == "8gaussians":
        r, s = 4 / 1.414, 0.5 / 1.414
        cs = [(r * math.cos(k * math.pi / 4), r * math.sin(k * math.pi / 4)) for k in range(8)]
        def lp(x, y):
            terms = [-((x - a) ** 2 + (y - b) ** 2) / (2 * s * s) for a, b in cs]
            m = max(terms)
            return m + math.log(sum(math.exp(t - m) for t in terms)) - math.log(8) - math.log(2 * math.pi * s * s)
        return sum(lp(x, y) for x, y in heldout) / len(heldout), \
            "an equal mixture of 8 Gaussians with std 0.5/1.414 centred on a circle of radius 4/1.414"
    if kind == "checkerboard":
        return -math.log(32), "uniform on the 8 black squares of a 4×4 board on [−4, 4]² (density 1/32)"
    return None, None

kind = meta["data"].split(":")[1].split()[0] if meta["data"].startswith("toy:") else None
truth, truth_text = true_density(kind) if kind else (None, None)
d = 1
for s in config["data"]["shape"]:
    d *= s
lines = [f"# {config['name']}", "", config["description"] + ".", "",
         "## How it was trained", "", "```sh", meta["command"], "```", "",
         f"- data: `{meta['data']}`; {meta['train_points']} training points, {meta['held_out_points']} held out (`held-out.csv`)",
         f"- SDE: `{json.dumps(config['sde'])}`; network: `{json.dumps(config['network'])}`",
         *([f"- data map: `{json.dumps(config['data'])}`: model space is "
            f"(logit(α + (1 − 2α)·x/{config['data']['levels']}) − shift)/scale with α = {config['data'].get('logit_alpha', 1e-4)}, "
            "so samples lie in the data range (`docs/model-format.md`)"]
           if config['data'].get('transform') == 'logit' else []),
         f"- objective {meta['objective']}, {meta['steps']} steps, batch {meta['batch_size']}"
         + (", likelihood weighting (t importance-sampled)" if meta.get('weighting', 'sigma') != 'sigma' else "")
         + (", dequantized by U[0, 1) per value each draw" if meta.get('dequantize') == 'true' else "")
         + f", Adam lr {meta['learning_rate']} "
         f"(warm-up {meta['warmup']}), gradient clip {meta['gradient_clip']}, EMA {meta['ema']}, seed {meta['seed']}",
         "- " + train_line.split(" → ")[0].replace("trained", "trained", 1).split(", final loss")[0]
         + f" on a 2-core machine; final loss {float(meta['final_loss']):.5f} (`loss.csv`)",
         f"- weights fingerprint (SHA-256 of the tensor bytes in name order): `{fingerprint}`; "
         "rerunning the command on the same machine reproduces them bit for bit",
         "", "## Evaluation", "", "```", *ev, "```", ""]
if truth is not None:
    gap = truth - model_ll
    lines += [f"The true density is known: {truth_text}. Its mean log-density on the held-out points is "
              f"{truth:.4f} nats/point ({-truth / (d * math.log(2)):.4f} bits/dim); the model is "
              f"{gap:.4f} nats/point below it.", ""]
lines += ["The log-likelihood is the probability-flow ODE's `log p_eps(x) + log π(z) − log p_T(z)` "
          "(exact trace; for models with levels averaged over 4 uniform dequantization draws, in units of the integer levels), "
          "as `docs/samplers.md` explains.", "",
          "![samples (left) next to held-out data (right)](samples.png)", "",
          "Samples: `scoreserve sample` with the default sampler, seed 1; plotted with `scoreserve plot --side-by-side`.", ""]
open(os.path.join(model, "README.md"), "w").write("\n".join(lines))
print("wrote", os.path.join(model, "README.md"))
