#!/usr/bin/env python3
"""Generate Tests/Fixtures/unet2d/wide_8x8/: a UNet2DModel configuration wide enough
(256 channels at 8 × 8) that ScoreServe puts several images into each of its 8 × 8
Winograd GEMMs, without its 42 MB of weights: `config.json` and `scheduler_config.json`
as diffusers writes them, and `tensors.json`, the state_dict's names and shapes in
order. The test (UNet2DTests, "wide") fills the tensors with seeded random values,
writes the safetensors file itself and checks that an image's scores do not depend on
its batch. Run from the repository root (deterministic):

    /work/pyenv/bin/python Tests/Fixtures/unet2d/make_wide_shapes.py

Needs: pip install torch diffusers (generated with torch 2.13.0+cpu, diffusers 0.42.1).
"""
import json
import os

from diffusers import DDPMScheduler, UNet2DModel

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wide_8x8")

unet = UNet2DModel(sample_size=8, in_channels=3, out_channels=3, block_out_channels=(256,),
                   layers_per_block=1, down_block_types=("DownBlock2D",), up_block_types=("UpBlock2D",),
                   norm_num_groups=32, add_attention=False)
os.makedirs(OUT, exist_ok=True)
unet.save_config(OUT)
DDPMScheduler(num_train_timesteps=1000).save_config(OUT)
with open(os.path.join(OUT, "tensors.json"), "w") as f:
    json.dump({name: list(t.shape) for name, t in unet.state_dict().items()}, f, indent=0)
    f.write("\n")
