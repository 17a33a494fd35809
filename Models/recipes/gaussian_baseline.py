#!/usr/bin/env python3
"""The full-covariance Gaussian baseline of a model card: a Gaussian fitted to the
uniformly dequantized training points, scored on the held-out points.

Usage: gaussian_baseline.py DATA.csv HELD_OUT.csv

The training points are DATA.csv's rows less HELD_OUT.csv's (as a multiset: what
`scoreserve train --hold-out` keeps). The fit is by maximum likelihood on x + u,
u ~ U[0, 1)^D, in closed form: mean m + ½, covariance S + I/12 (m, S the integer points'
mean and biased covariance). The held-out figure is the expected dequantized
log-density E_u log N(x + u), also in closed form:
log N(x + ½) − tr(Σ⁻¹)/24, so it needs no random draws. Plain Python, no NumPy.
"""
import csv
import math
import sys
from collections import Counter


def rows(path):
    with open(path) as f:
        return [tuple(float(v) for v in r) for r in csv.reader(f) if r]


def cholesky(a):
    n = len(a)
    l = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = a[i][j] - sum(l[i][k] * l[j][k] for k in range(j))
            l[i][j] = math.sqrt(s) if i == j else s / l[j][j]
    return l


def solve_lower(l, b):
    y = []
    for i in range(len(b)):
        y.append((b[i] - sum(l[i][k] * y[k] for k in range(i))) / l[i][i])
    return y


def main():
    data, held = rows(sys.argv[1]), rows(sys.argv[2])
    remaining = Counter(held)
    train = []
    for r in data:
        if remaining[r] > 0:
            remaining[r] -= 1
        else:
            train.append(r)
    assert sum(remaining.values()) == 0, "held-out rows missing from the data"
    n, d = len(train), len(train[0])
    mean = [sum(r[j] for r in train) / n + 0.5 for j in range(d)]
    cov = [[0.0] * d for _ in range(d)]
    for r in train:
        c = [r[j] + 0.5 - mean[j] for j in range(d)]
        for i in range(d):
            for j in range(i + 1):
                cov[i][j] += c[i] * c[j] / n
    for i in range(d):
        cov[i][i] += 1 / 12
        for j in range(i):
            cov[j][i] = cov[i][j]
    l = cholesky(cov)
    log_det = 2 * sum(math.log(l[i][i]) for i in range(d))
    # tr(Σ⁻¹) = ||L⁻¹||_F², column by column.
    trace_inv = 0.0
    for k in range(d):
        e = [1.0 if i == k else 0.0 for i in range(d)]
        trace_inv += sum(v * v for v in solve_lower(l, e))
    total = 0.0
    for r in held:
        z = solve_lower(l, [r[j] + 0.5 - mean[j] for j in range(d)])
        total += -0.5 * (d * math.log(2 * math.pi) + log_det + sum(v * v for v in z)) - trace_inv / 24
    ll = total / len(held)
    print(f"full-covariance Gaussian ({n} training points, {len(held)} held out): "
          f"{ll:.4f} nats/point, {-ll / (d * math.log(2)):.4f} bits/dim")


if __name__ == "__main__":
    main()
