#!/usr/bin/env bash
# The figures of the MNIST models' cards (Models/mnist-scorenet, Models/mnist-unet2d), from a release build:
# seconds per image for each sampler on all cores, a PNG grid of ODE samples next to
# held-out digits, and the held-out bits/dim (Hutchinson–Skilling trace, one Rademacher
# probe, uniform dequantization, rk45 at rtol = atol = 1e-5).
# Usage: Models/recipes/evaluate_scorenet.sh [MODEL_DIR] [HELD_OUT_POINTS]
set -euo pipefail
MODEL=${1:-Models/mnist-scorenet}
HELD_N=${2:-500}
BIN=${SCORESERVE_BIN:-.build/release/scoreserve}
HELD=Models/data/mnist-heldout.npy
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"

sample() {  # name, n, options...
    local name=$1 n=$2; shift 2
    local start end
    start=$(date +%s.%N)
    "$BIN" sample "$MODEL" --n "$n" --seed 1 "$@" --output "$TMP/$name.json"
    end=$(date +%s.%N)
    python3 - "$TMP/$name.json" "$name" "$n" "$start" "$end" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[3]); seconds = float(sys.argv[5]) - float(sys.argv[4])
print(f"{sys.argv[2]:<28} n = {n:<3} mean NFE {sum(d['nfe']) / n:7.1f}   {seconds / n:.3f} s per image ({seconds:.1f} s)")
PY
}
sample "ode (rk45, 1e-5)" 64 --sampler ode
sample "dpm_solver (order 3, 20)" 64 --sampler dpm_solver --steps 20
sample "pc (1000 steps)" 16 --sampler pc --steps 1000
sample "euler_maruyama (500 steps)" 16 --sampler euler_maruyama --steps 500

"$BIN" plot --samples "$TMP/ode (rk45, 1e-5).json" --data "$HELD" --shape 1,28,28 --range 0,255 --columns 8 \
    --scale 2 --max-images 64 --title "$(basename "$MODEL"): ODE samples | held-out digits" \
    --output "$MODEL/samples.png" >/dev/null
echo "wrote $MODEL/samples.png"

# How digit-like the 64 ODE samples are, against the held-out digits the model never saw:
# the share of their intensity |x| in the 3-pixel border of the frame (real digits: the
# range over batches of 8; |x| counts a sample's negative values as intensity too), and the mean RMS distance (pixels in [0, 1]) from
# each image to its nearest neighbour among held-out digits 64…499, for the samples and
# for held-out digits 0…63 (real digits' own distance).
python3 - "$TMP/ode (rk45, 1e-5).json" "$HELD" <<'PY'
import json, sys, numpy as np
samples = np.array(json.load(open(sys.argv[1]))['samples'], dtype=np.float64).reshape(-1, 784)
held = np.load(sys.argv[2]).astype(np.float64).reshape(-1, 784)
frame = np.ones((28, 28), bool); frame[3:25, 3:25] = False; frame = frame.reshape(-1)
def border(images): return np.abs(images[:, frame]).sum() / np.abs(images).sum()
real_batches = [border(held[i:i + 8]) for i in range(0, len(held) - 7, 8)]
reference = held[64:] / 255
def nearest(images):
    x = images / 255
    d2 = (x ** 2).sum(1)[:, None] + (reference ** 2).sum(1)[None, :] - 2 * x @ reference.T
    return np.sqrt(np.maximum(d2.min(1), 0) / 784).mean()
s, r = nearest(samples), nearest(held[:64])
print(f"border share of intensity |x| (3-pixel frame): ODE samples {100 * border(samples):.2f}%; "
      f"held-out digits {100 * min(real_batches):.2f}–{100 * max(real_batches):.2f}% over {len(real_batches)} batches of 8")
print(f"nearest held-out digit (RMS, pixels in [0, 1]): ODE samples {s:.4f}, real digits {r:.4f} "
      f"(samples {100 * (s / r - 1):+.1f}%)")
PY

python3 - "$HELD" "$HELD_N" "$TMP/held.npy" <<'PY'
import sys, numpy as np
np.save(sys.argv[3], np.load(sys.argv[1])[: int(sys.argv[2])])
PY
start=$(date +%s)
"$BIN" likelihood "$MODEL" --input "$TMP/held.npy" --seed 0 --estimator hutchinson --dequantize 1 \
    --output "$TMP/ll.json"
end=$(date +%s)
python3 - "$TMP/ll.json" $((end - start)) <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
bpd = d['bits_per_dim']; n = len(bpd); mean = sum(bpd) / n
se = math.sqrt(sum((b - mean) ** 2 for b in bpd) / (n - 1) / n)
print(f"held-out digits: {n}; bits/dim {mean:.4f} ± {se:.4f} (mean ± s.e.), finite {sum(math.isfinite(b) for b in bpd)}")
# A point's log-likelihood does not depend on the other points of the request, so the
# tests recompute the first two.
print(f"spot check (first 2 held-out digits): {sum(d['log_likelihood'][:2]) / 2:.6f} nats/point")
print(f"mean NFE {sum(d['nfe']) / n:.1f}; {int(sys.argv[2])} s for all on all cores")
PY
