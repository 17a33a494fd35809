#!/usr/bin/env python3
"""Generate Tests/Fixtures/fir/upfirdn.json: diffusers' own `upfirdn2d_native`
(diffusers.models.upsampling), the FIR resampling of NCSN++ / DDPM++, evaluated in
float64 on seeded random planes, for the (up, down, pad) settings its callers use:
upsample_2d and downsample_2d with fir_kernel (1, 3, 3, 1) and the default (1, 1),
FirUpsample2D's and FirDownsample2D's conv variants (whose pads can be negative), odd
and even sides, and asymmetric taps (so the kernel's flip shows). Each case stores the input plane, the 2-D kernel as diffusers builds it
(outer product / sum², times gain·factor² or gain) and the output. Run from the
repository root (deterministic):

    /work/pyenv/bin/python Tests/Fixtures/fir/make_fir_fixtures.py

Needs: pip install torch diffusers (generated with torch 2.13.0+cpu, diffusers 0.42.1).
"""
import json
import os

import torch
from diffusers.models.upsampling import upfirdn2d_native

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "upfirdn.json")


def kernel2d(taps, gain):
    k = torch.tensor(taps, dtype=torch.float64)
    k = torch.outer(k, k)
    return k / k.sum() * gain


g = torch.Generator().manual_seed(2021)
cases = []
# (name, taps, gain, up, down, pad, h, w)
for name, taps, gain, up, down, pad, h, w in [
    ("upsample_2d fir", [1, 3, 3, 1], 4, 2, 1, (2, 1), 5, 6),          # p = 2: ((p+1)//2 + 1, p//2)
    ("upsample_2d default", [1, 1], 4, 2, 1, (1, 0), 4, 3),             # p = 0
    ("downsample_2d fir", [1, 3, 3, 1], 1, 1, 2, (1, 1), 8, 7),         # p = 2: ((p+1)//2, p//2)
    ("downsample_2d default", [1, 1], 1, 1, 2, (0, 0), 6, 6),
    ("FirUpsample2D conv", [1, 3, 3, 1], 4, 1, 1, (1, 1), 9, 9),        # after the transposed conv
    ("FirDownsample2D conv", [1, 3, 3, 1], 1, 1, 1, (2, 2), 7, 5),      # before the stride-2 conv
    ("negative pad", [1, 3, 3, 1], 4, 2, 1, (0, -1), 4, 5),
    ("asymmetric taps, up and down", [1, 2, 5, 3], 4, 2, 2, (2, 1), 5, 4),   # the kernel's flip shows
]:
    x = torch.randn((1, 1, h, w), generator=g, dtype=torch.float32).double()
    k = kernel2d(taps, gain)
    y = upfirdn2d_native(x, k, up=up, down=down, pad=pad)
    cases.append(dict(name=name, taps=taps, gain=gain, up=up, down=down, pad=list(pad), height=h, width=w,
                      x=x.flatten().tolist(), kernel=k.flatten().tolist(),
                      out_height=y.shape[2], out_width=y.shape[3], out=y.flatten().tolist()))
with open(OUT, "w") as f:
    json.dump({"generator": "diffusers.models.upsampling.upfirdn2d_native, float64", "cases": cases}, f)
    f.write("\n")
print(f"wrote {OUT}: {len(cases)} cases")
