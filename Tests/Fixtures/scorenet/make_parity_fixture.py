#!/usr/bin/env python3
"""PyTorch reference scores and JVPs of a ScoreNet model directory, for the Swift parity test.

    python3 Tests/Fixtures/scorenet/make_parity_fixture.py Models/mnist-scorenet \
        > Tests/Fixtures/scorenet/parity.json

Loads the directory's model.safetensors into the recipe's PyTorch ScoreNet
(Models/recipes/train_scorenet.py, the tutorial's network), evaluates it in float64 at
fixed model-space images and times, and prints JSON: the model path (relative to the
repository), the weights' SHA-256, and for each case x, t, the score s(x, t), a
tangent v and the Jacobian-vector product ds/dx · v (torch.func.jvp). Float64 makes the
reference exact to well below the 1e-4 relative tolerance of the Swift network.
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "Models", "recipes"))
from train_scorenet import ScoreNet  # noqa: E402


def main():
    directory = sys.argv[1]
    weights = os.path.join(directory, "model.safetensors")
    model = ScoreNet()
    model.load_state_dict(load_file(weights))
    model = model.double().eval()
    rng = np.random.default_rng(2024)
    held = os.path.join(ROOT, "Models", "data", "mnist-heldout.npy")
    digit = np.load(held)[0] / 255.0 if os.path.exists(held) else rng.uniform(0, 1, 784)
    cases = [(digit + 0.05 * rng.standard_normal(784), 0.02),   # a digit, slightly noisy, early time
             (digit + 2.0 * rng.standard_normal(784), 0.45),    # mid-way
             (12.0 * rng.standard_normal(784), 0.97)]           # near the prior (sigma_1 = 25)
    out = {"model": os.path.relpath(os.path.abspath(directory), ROOT),
           "sha256": hashlib.sha256(open(weights, "rb").read()).hexdigest(), "cases": []}
    for x, t in cases:
        xt = torch.tensor(x, dtype=torch.float64).reshape(1, 1, 28, 28)
        tt = torch.tensor([t], dtype=torch.float64)
        v = torch.tensor(rng.choice([-1.0, 1.0], 784), dtype=torch.float64).reshape(1, 1, 28, 28)
        score, jv = torch.func.jvp(lambda y: model(y, tt), (xt,), (v,))
        out["cases"].append({"t": t, "x": [float(f"{a:.9g}") for a in xt.flatten().tolist()],
                             "score": score.flatten().tolist(), "v": v.flatten().tolist(),
                             "jv": jv.flatten().tolist()})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
