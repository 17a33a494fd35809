#!/usr/bin/env python3
"""Samples drawn by diffusers itself from a DDPMPipeline directory: the picture and figures
of Models/mnist-unet2d's "Samples drawn by diffusers" section.

    pip install torch diffusers safetensors numpy     # never needed at serve time or in CI
    python3 Models/recipes/sample_diffusers.py Models/mnist-unet2d

Loads the directory with `DDPMPipeline.from_pretrained` (what a diffusers user gets),
draws --n samples with its own ancestral loop (--steps steps, CPU,
`torch.Generator().manual_seed(--seed)`), and writes DIR/samples-diffusers.png: left the
samples, right the first --n held-out digits, 2x nearest-neighbour for viewing. Prints
the time, the samples' border share and nearest-held-out-digit distance as
digit_metrics.py measures them (pixel values 0..255 after diffusers' own clipping to
[0, 1]), and the PNG's SHA-256, which the card test compares with the shipped file.
train_unet2d_mnist.py calls this after training.
"""
import argparse
import hashlib
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digit_metrics  # noqa: E402


def write_png(path, image):
    """image: uint8 [H, W] grayscale, written with zlib alone (byte-stable across Pillow versions)."""
    import struct
    import zlib
    h, w = image.shape
    raw = b"".join(b"\x00" + image[r].tobytes() for r in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def grid(images, rows, cols, pad=2):
    """images: uint8 [rows*cols, 28, 28] -> uint8 block with `pad` black pixels between tiles."""
    h = rows * 28 + (rows - 1) * pad
    w = cols * 28 + (cols - 1) * pad
    out = np.zeros((h, w), dtype=np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        out[r * (28 + pad):r * (28 + pad) + 28, c * (28 + pad):c * (28 + pad) + 28] = img
    return out


def draw(directory, n=16, seed=1, steps=1000):
    """Draws n samples with diffusers' DDPMPipeline from `directory`, writes the PNG, prints the figures."""
    import torch
    from diffusers import DDPMPipeline
    pipeline = DDPMPipeline.from_pretrained(directory)
    pipeline.set_progress_bar_config(disable=True)
    started = time.time()
    out = pipeline(batch_size=n, generator=torch.Generator().manual_seed(seed), num_inference_steps=steps,
                   output_type="np").images  # [n, 28, 28, 1] in [0, 1]
    samples = out[..., 0].astype(np.float64) * 255
    print(f"DDPMPipeline: {n} samples, {steps} steps, seed {seed}, {time.time() - started:.0f} s (CPU, "
          f"{torch.get_num_threads()} threads)", flush=True)
    print(digit_metrics.report(samples.reshape(n, 784), "diffusers' samples"))
    held = np.load(digit_metrics.HELD).reshape(-1, 28, 28)[:n].round().astype(np.uint8)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    left = grid(np.clip(samples, 0, 255).round().astype(np.uint8).reshape(n, 28, 28), rows, cols)
    right = grid(held, rows, cols)
    gap = 8
    canvas = np.full((left.shape[0] + 2 * gap, left.shape[1] * 2 + 3 * gap), 128, dtype=np.uint8)
    canvas[gap:gap + left.shape[0], gap:gap + left.shape[1]] = left
    canvas[gap:gap + right.shape[0], 2 * gap + left.shape[1]:2 * gap + 2 * left.shape[1]] = right
    canvas = np.kron(canvas, np.ones((2, 2), dtype=np.uint8))
    path = os.path.join(directory, "samples-diffusers.png")
    write_png(path, canvas)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    print(f"wrote {path} (SHA-256 {digest})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("directory", nargs="?", default="Models/mnist-unet2d")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    draw(args.directory, args.n, args.seed, args.steps)
