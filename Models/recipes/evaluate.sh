#!/usr/bin/env bash
# Evaluates a trained model directory for its model card: held-out log-likelihood
# (nats and bits/dim; exact trace, with 4 dequantization draws for models with levels), and a PNG of samples next to the held-out data
# (for an analytic gmm model: samples next to its exact density).
# Usage: Models/recipes/evaluate.sh MODEL_DIR [N_SAMPLES]
set -euo pipefail
MODEL=$1
N=${2:-4000}
BIN=${SCORESERVE_BIN:-.build/release/scoreserve}
# An analytic model (gmm) has no held-out data: its figure is its samples beside its
# exact density.
if grep -q '"type": *"gmm"' "$MODEL/config.json"; then
  "$BIN" sample "$MODEL" --n "$N" --seed 1 --output /tmp/evaluate-samples.json
  "$BIN" plot --samples /tmp/evaluate-samples.json --density "$MODEL" --output "$MODEL/samples.png" >/dev/null
  echo "wrote $MODEL/samples.png"
  exit 0
fi
HELD="$MODEL/held-out.csv"
[ -f "$HELD" ] || { echo "no $HELD" >&2; exit 2; }
EXTRA=()
# Models of integer data: 4 uniform dequantization draws, with the exact trace (64 JVPs
# per evaluation for the digits): the Hutchinson estimate made some dequantized points'
# solves diverge (noted in the card).
if grep -q '"levels"' "$MODEL/config.json"; then EXTRA=(--dequantize 4 --estimator exact); fi
"$BIN" likelihood "$MODEL" --input "$HELD" --seed 0 "${EXTRA[@]}" --output /tmp/evaluate-ll.json
python3 - "$MODEL" <<'PY'
import json, sys
d = json.load(open('/tmp/evaluate-ll.json'))
ll, bpd = d['log_likelihood'], d['bits_per_dim']
n = len(ll); mean = sum(ll) / n
se = (sum((x - mean) ** 2 for x in ll) / (n - 1) / n) ** 0.5
print(f"held-out points: {n}")
print(f"held-out log-likelihood: {mean:.4f} ± {se:.4f} nats/point, {sum(bpd)/n:.4f} bits/dim")
print(f"mean nfe: {sum(d['nfe'])/n:.1f}")
print(f"lowest three: {', '.join(f'{x:.2f}' for x in sorted(ll)[:3])} nats/point; median {sorted(ll)[n // 2]:.2f}; "
      f"{sum(1 for x in ll if x == x and abs(x) != float('inf'))} of {n} finite")
# The first K points' mean, which the tests recompute (a point's log-likelihood does
# not depend on the other points of the request): K = 100, or 4 for models over 16-D.
dims = 1
for s in json.load(open(sys.argv[1] + '/config.json'))['data']['shape']:
    dims *= s
k = 100 if dims <= 16 else 4
print(f"spot check (first {k} held-out points): {sum(ll[:k]) / k:.6f} nats/point")
PY
# Integer data: the full-covariance Gaussian baseline (when the weights name a data file
# in Models/data), and how far the ode and pc samples stray outside −1…levels.
LEVELS=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['data'].get('levels', ''))" "$MODEL/config.json")
if [ -n "$LEVELS" ]; then
  DATA=$("$BIN" inspect "$MODEL" | tr ' ' '\n' | sed -n 's/^data=file://p' | head -1)
  if [ -n "$DATA" ] && [ -f "Models/data/$DATA" ]; then
    python3 Models/recipes/gaussian_baseline.py "Models/data/$DATA" "$HELD"
  fi
  for SAMPLER in ode pc; do
    "$BIN" sample "$MODEL" --n 1000 --seed 1 --sampler $SAMPLER --output /tmp/evaluate-range.json
    python3 - "$SAMPLER" "$LEVELS" <<'PY'
import json, sys
values = []
def walk(v):
    if isinstance(v, list):
        for u in v: walk(u)
    else:
        values.append(v)
walk(json.load(open('/tmp/evaluate-range.json'))['samples'])
hi = int(sys.argv[2])
out = sum(1 for v in values if v < -1 or v > hi)
print(f"{sys.argv[1]} samples (1000, seed 1): {100 * out / len(values):.2f}% of values outside -1…{hi} "
      f"(min {min(values):.4f}, max {max(values):.4f})")
PY
  done
fi
"$BIN" sample "$MODEL" --n "$N" --seed 1 --output /tmp/evaluate-samples.json
"$BIN" plot --samples /tmp/evaluate-samples.json --data "$HELD" --side-by-side --output "$MODEL/samples.png" >/dev/null
echo "wrote $MODEL/samples.png"
