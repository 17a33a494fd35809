#!/usr/bin/env python3
"""Generate the `mlp` fixture model directories used by the Swift tests.

Each fixture directory holds `config.json`, `model.safetensors` (random F32
weights in the layout of docs/spec "Networks / mlp") and `expected.json`:
7 data-space points `x`, times `t` and the model-space scores `score`,
computed in float64 from the float32 weights (the reference values).

Usage:  python3 Tests/Fixtures/make_mlp_fixtures.py   (needs numpy, safetensors)
Output is deterministic (fixed seeds), so reruns reproduce the same files.
"""
import json
import os
import struct

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
TIMES = [1e-5, 1e-3, 0.01, 0.1, 0.5, 0.9, 1.0]

# name, (D, H, L, E), sde, data, network, prefix, metadata, description
FIXTURES = [
    ("mlp-vp", (3, 32, 2, 16),
     {"type": "vp", "beta_min": 0.1, "beta_max": 20},
     {"shape": [3], "shift": [0.5, -1.0, 0.0], "scale": [2.0, 0.5, 1.0]},
     {"type": "mlp", "hidden": 32, "blocks": 2, "embed_dim": 16},
     "", None,
     "random residual MLP, VP SDE, per-dimension shift/scale"),
    ("mlp-ve-module", (2, 16, 3, 8),
     {"type": "ve", "sigma_min": 0.01, "sigma_max": 50},
     {"shape": [2], "shift": 0.25, "scale": 3.0},
     {"type": "mlp"},
     "module.", {"format": "pt", "exporter": "make_mlp_fixtures.py"},
     "random residual MLP, VE SDE, DataParallel 'module.' names, sizes inferred"),
    ("mlp-subvp", (4, 24, 1, 8),
     {"type": "subvp", "beta_min": 0.1, "beta_max": 20},
     {"shape": [2, 2], "shift": 0.0, "scale": 1.0},
     {"type": "mlp", "hidden": 24, "blocks": 1, "embed_dim": 8},
     "", None,
     "random residual MLP, sub-VP SDE, 2x2 data shape"),
    ("mlp-vepower", (2, 8, 2, 4),
     {"type": "ve_power", "sigma": 25},
     {"shape": [2]},
     {"type": "mlp", "blocks": 2},
     "", None,
     "random residual MLP, ve_power SDE (tutorial), default shift/scale"),
]


def make_weights(rng, D, H, L, E):
    """Random F32 weights: W ~ N(0, 1/fan_in), b ~ N(0, 0.1^2), embed.0.W ~ N(0, 16^2)."""
    def linear(name, out, inp):
        return {f"{name}.weight": rng.normal(0, 1 / np.sqrt(inp), (out, inp)),
                f"{name}.bias": rng.normal(0, 0.1, (out,))}
    w = {"embed.0.W": rng.normal(0, 16.0, (E // 2,))}
    w |= linear("embed.1", E, E)
    w |= linear("proj_in", H, D)
    for i in range(L):
        w |= linear(f"blocks.{i}.temb", H, E)
        w |= linear(f"blocks.{i}.dense", H, H)
    w |= linear("proj_out", D, H)
    return {k: v.astype(np.float32) for k, v in w.items()}


def sigma(sde, t):
    """Marginal std sigma_t (T = 1), float64, expm1 where the spec says so."""
    t = np.asarray(t, dtype=np.float64)
    kind = sde["type"]
    if kind in ("vp", "subvp"):
        b0, b1 = sde.get("beta_min", 0.1), sde.get("beta_max", 20.0)
        m = -t**2 * (b1 - b0) / 4 - t * b0 / 2
        v = -np.expm1(2 * m)
        return np.sqrt(v) if kind == "vp" else v
    if kind == "ve":
        lo, hi = sde.get("sigma_min", 0.01), sde.get("sigma_max", 50.0)
        return lo * (hi / lo) ** t
    if kind == "ve_power":
        ls = np.log(sde.get("sigma", 25.0))
        return np.sqrt(np.expm1(2 * t * ls) / (2 * ls))
    raise ValueError(kind)


def forward(w, x, t, sig, dtype=np.float64):
    """mlp score in model space: x [B, D], t [B], sig = sigma_t [B]."""
    w = {k: v.astype(dtype) for k, v in w.items()}
    x, t, sig = (np.asarray(a, dtype=dtype) for a in (x, t, sig))
    silu = lambda z: z / (1 + np.exp(-z))
    lin = lambda name, z: z @ w[f"{name}.weight"].T + w[f"{name}.bias"]
    arg = dtype(2 * np.pi) * t[:, None] * w["embed.0.W"][None, :]
    e = silu(lin("embed.1", np.concatenate([np.sin(arg), np.cos(arg)], axis=1)))
    h = lin("proj_in", x)
    L = sum(1 for k in w if k.endswith(".dense.weight"))
    for i in range(L):
        h = h + lin(f"blocks.{i}.dense", silu(h + lin(f"blocks.{i}.temb", e)))
    return lin("proj_out", silu(h)) / sig[:, None]


def to_model(data, x):
    shift = np.asarray(data.get("shift", 0.0), dtype=np.float64)
    scale = np.asarray(data.get("scale", 1.0), dtype=np.float64)
    return (x - shift) / scale


def save(tensors, path, metadata):
    """safetensors.numpy.save_file, then sort the metadata keys in the header
    (the Rust writer emits them in random HashMap order) so reruns are
    byte-identical; the header keeps its length, so the file stays valid."""
    save_file(tensors, path, metadata=metadata)
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        if "__metadata__" in header:
            header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":")).encode()
        assert len(text) <= n
        f.seek(8)
        f.write(text.ljust(n, b" "))
    os.chmod(path, 0o644)


def main():
    for n, (name, (D, H, L, E), sde, data, net, prefix, meta, desc) in enumerate(FIXTURES):
        rng = np.random.default_rng(1234 + n)
        w = make_weights(rng, D, H, L, E)
        x = rng.normal(0, 2.0, (len(TIMES), D))
        score = forward(w, to_model(data, x), TIMES, sigma(sde, TIMES))

        out = os.path.join(HERE, name)
        os.makedirs(out, exist_ok=True)
        config = {"name": name, "description": desc, "data": data, "sde": sde,
                  "network": net, "weights": "model.safetensors"}
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        save({prefix + k: v for k, v in w.items()},
             os.path.join(out, "model.safetensors"), meta)
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump({"x": x.tolist(), "t": TIMES, "score": score.tolist()}, f)
            f.write("\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
