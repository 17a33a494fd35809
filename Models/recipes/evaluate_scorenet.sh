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

# How digit-like the 64 ODE samples are, against the held-out digits the model never saw
# (border share of |x| and nearest-held-out-digit distance; see digit_metrics.py), and both
# over the first 4 samples, which the card tests redraw.
python3 "$(dirname "$0")/digit_metrics.py" "$TMP/ode (rk45, 1e-5).json" --spot 4

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
