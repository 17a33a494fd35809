#!/usr/bin/env python3
"""How digit-like a set of 28 x 28 samples is, against the held-out MNIST digits.

    python3 Models/recipes/digit_metrics.py SAMPLES [--label NAME]

SAMPLES: a `scoreserve sample` JSON answer or a .npy array, pixel values 0..255 (the
MNIST models' data space). Prints two lines, the figures of the MNIST cards:

- the share of the samples' intensity |x| in the 3-pixel border of the frame (|x| counts
  negative values as intensity too), beside the range of that share over batches of 8
  held-out digits;
- the mean RMS distance (pixels in [0, 1]) from each sample to its nearest neighbour among
  held-out digits 64...499, beside held-out digits 0...63's own (real digits' distance);
- with --spot K, both measures over the first K samples alone, which the card tests redraw.

Needs only NumPy; used by evaluate_scorenet.sh and sample_diffusers.py.
"""
import argparse
import json
import os

import numpy as np

HELD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist-heldout.npy")


def load_samples(path):
    if path.endswith(".npy"):
        return np.load(path).astype(np.float64).reshape(-1, 784)
    with open(path) as f:
        return np.array(json.load(f)["samples"], dtype=np.float64).reshape(-1, 784)


def border_share(images):
    frame = np.ones((28, 28), bool)
    frame[3:25, 3:25] = False
    frame = frame.reshape(-1)
    return np.abs(images[:, frame]).sum() / np.abs(images).sum()


def nearest_distance(images, reference):
    x, r = images / 255, reference / 255
    d2 = (x ** 2).sum(1)[:, None] + (r ** 2).sum(1)[None, :] - 2 * x @ r.T
    return np.sqrt(np.maximum(d2.min(1), 0) / 784).mean()


def report(samples, label, spot=0):
    held = np.load(HELD).astype(np.float64).reshape(-1, 784)
    batches = [border_share(held[i:i + 8]) for i in range(0, len(held) - 7, 8)]
    s, r = nearest_distance(samples, held[64:]), nearest_distance(held[:64], held[64:])
    lines = (f"border share of intensity |x| (3-pixel frame): {label} {100 * border_share(samples):.2f}%; "
             f"held-out digits {100 * min(batches):.2f}–{100 * max(batches):.2f}% over {len(batches)} batches of 8\n"
             f"nearest held-out digit (RMS, pixels in [0, 1]): {label} {s:.4f}, real digits {r:.4f} "
             f"(samples {100 * (s / r - 1):+.1f}%)")
    if spot:
        # A sample depends only on (seed, index), so a test can redraw the first few cheaply.
        first = samples[:spot]
        lines += (f"\nspot check (first {spot} samples): border share {100 * border_share(first):.4f}%, "
                  f"nearest held-out digit {nearest_distance(first, held[64:]):.6f}")
    return lines


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples")
    ap.add_argument("--label", default="ODE samples")
    ap.add_argument("--spot", type=int, default=0, help="also print both measures over the first SPOT samples")
    args = ap.parse_args()
    print(report(load_samples(args.samples), args.label, args.spot))
