"""The `mlp` network of docs/model-format.md in PyTorch, loaded from a model directory's
model.safetensors, for the benchmarks' PyTorch sides (never used by the service).

    score = load_score("Models/moons-vp")   # score(x [B, D], t [B]) -> [B, D], VP SDE
"""
import json
import math
import os


def load_score(model_dir, beta_min=None, beta_max=None):
    """The model's score function s(x, t) = proj_out(silu(h)) / σ_t (VP SDE, float32)."""
    import torch
    import torch.nn.functional as F
    from safetensors.torch import load_file
    w = load_file(os.path.join(model_dir, "model.safetensors"))
    with open(os.path.join(model_dir, "config.json")) as f:
        sde = json.load(f)["sde"]
    assert sde["type"] == "vp", "the benchmarks' PyTorch side handles the vp SDE"
    b0 = beta_min if beta_min is not None else sde.get("beta_min", 0.1)
    b1 = beta_max if beta_max is not None else sde.get("beta_max", 20.0)
    blocks = len([k for k in w if k.startswith("blocks.") and k.endswith(".dense.weight")])

    def std(t):
        log_mean = -0.25 * t ** 2 * (b1 - b0) - 0.5 * t * b0
        return torch.sqrt(-torch.expm1(2 * log_mean))

    def score(x, t):
        proj = 2 * math.pi * t[:, None] * w["embed.0.W"][None, :]
        e = F.silu(F.linear(torch.cat([proj.sin(), proj.cos()], 1), w["embed.1.weight"], w["embed.1.bias"]))
        h = F.linear(x, w["proj_in.weight"], w["proj_in.bias"])
        for i in range(blocks):
            u = F.silu(h + F.linear(e, w[f"blocks.{i}.temb.weight"], w[f"blocks.{i}.temb.bias"]))
            h = h + F.linear(u, w[f"blocks.{i}.dense.weight"], w[f"blocks.{i}.dense.bias"])
        return F.linear(F.silu(h), w["proj_out.weight"], w["proj_out.bias"]) / std(t)[:, None]

    score.beta = lambda t: b0 + t * (b1 - b0)
    return score
