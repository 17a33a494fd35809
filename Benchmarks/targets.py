#!/usr/bin/env python3
"""The performance targets (issue 20, "Performance II"), read from one `make bench` run.

`make bench` writes each benchmark's figures to a folder (default .build/bench):
scoreserve.json (`scoreserve bench --json`), langevin.json (Benchmarks/langevin_bench.py),
ode.json (Benchmarks/ode_bench.py) and unet2d.json (Benchmarks/unet2d_bench.py). This
prints every target beside the figure that run measured and whether it holds; a missing
file or figure is printed as such. Exit status 0 either way: it is a report, not a gate.

    python Benchmarks/targets.py [.build/bench]
"""
import json
import os
import sys


def load(folder, name):
    try:
        with open(os.path.join(folder, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def row(rows, target, figure, holds):
    mark = "n/a" if holds is None else ("met" if holds else "NOT met")
    rows.append((target, figure, mark))


def spread(values, digits=2):
    return f"{min(values):.{digits}f}–{max(values):.{digits}f}" if values else "n/a"


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(".build", "bench")
    rows = []
    ss, lv, ode, unet = (load(folder, n) for n in ("scoreserve.json", "langevin.json", "ode.json", "unet2d.json"))

    # 1. langevin in parallel, ≥ 1.5× PyTorch on every thread count measured.
    for t, r in sorted((lv or {}).get("threads", {}).items()):
        row(rows, f"1  pc+langevin n=1000, {t} thr: ≥ 1.5× PyTorch",
            f"{r['ratio']:.2f}× (per repeat {spread(r['ratios'])})", r["ratio"] >= 1.5 and r["finite"])
    if not lv:
        row(rows, "1  pc+langevin: ≥ 1.5× PyTorch", "langevin.json missing", None)

    # 2. probability-flow ODE ≥ 1.5× torchdiffeq dopri5, median |x − x_torch| ≤ 2e-3.
    for t, r in sorted((ode or {}).get("threads", {}).items()):
        row(rows, f"2  ode rk45 n=10k, {t} thr: ≥ 1.5× torchdiffeq, median |Δx| ≤ 2e-3",
            f"{r['ratio']:.2f}× (per repeat {spread(r['ratios'])}), median |Δx| {r['median_abs_diff']:.1e}",
            r["ratio"] >= 1.5 and r["median_abs_diff"] <= 2e-3)
    if not ode:
        row(rows, "2  ode: ≥ 1.5× torchdiffeq", "ode.json missing", None)

    # 3. serving: W0 n = 1 over HTTP ≤ 10 ms; W6 ≥ 15,000 req/s with p99 ≤ 10 ms.
    http, w6 = (ss or {}).get("w0_http"), (ss or {}).get("w6")
    row(rows, "3  W0 n=1, 1000 steps, over HTTP: ≤ 10 ms median",
        f"{http['n1_ms']:.2f} ms" if http else "not measured", http["n1_ms"] <= 10 if http else None)
    row(rows, "3  W6 tiny requests: ≥ 15,000 req/s, p99 ≤ 10 ms",
        f"{w6['tiny_rps']:.0f} req/s, p99 {w6['tiny_p99_ms']:.2f} ms" if w6 else "not measured",
        (w6["tiny_rps"] >= 15_000 and w6["tiny_p99_ms"] <= 10) if w6 else None)

    # 4. W1, W4 at ≥ 0.75 of the roofline; 2-core speed-up ≥ 1.85 on W1–W5.
    by = {}
    for m in (ss or {}).get("workloads", []):
        by[(m["id"], m["threads"])] = m
    for w in ("W1", "W4"):
        for (i, t), m in sorted(by.items()):
            if i == w:
                row(rows, f"4  {w}, {t} thr: ≥ 0.75 of the sgemm roofline", f"{m['ratio']:.3f}", m["ratio"] >= 0.75)
    for w in ("W1", "W2", "W3", "W4", "W5"):
        one = by.get((w, 1))
        many = [m for (i, t), m in by.items() if i == w and t > 1]
        for m in many:
            up = one["seconds"] / m["seconds"] if one else None
            row(rows, f"4  {w}: speed-up on {m['threads']} threads ≥ 1.85",
                f"{up:.2f}" if up else "n/a", up >= 1.85 if up else None)
    if not by:
        row(rows, "4  W1–W5", "scoreserve.json missing", None)

    # 5. unet2d forward ≥ 1.5× PyTorch and ≥ 1.0× the faster of ONNX Runtime and OpenVINO;
    #    dpm_solver 20 steps at n = 4 ≥ 1.5× PyTorch.
    s = (unet or {}).get("summary", {})
    ours, pt = s.get("scoreserve") or {}, s.get("pytorch") or {}
    for key, label in (("forward_n1_ms_per_image", "forward n=1"), ("forward_n8_ms_per_image", "forward n=8"),
                       ("dpm_solver_20_n4_seconds", "dpm_solver 20 steps n=4")):
        o, p = ours.get(key), pt.get(key)
        if not (o and p):
            row(rows, f"5  unet2d {label}: ≥ 1.5× PyTorch", "not measured", None)
            continue
        r = p["median"] / o["median"]
        row(rows, f"5  unet2d {label}: ≥ 1.5× PyTorch",
            f"{r:.2f}× ({o['median']:.1f} vs {p['median']:.1f})", r >= 1.5)
        if key.startswith("forward"):
            others = [s[f][key]["median"] for f in ("onnxruntime", "openvino") if (s.get(f) or {}).get(key)]
            if others:
                best = min(others)
                row(rows, f"5  unet2d {label}: ≥ 1.0× the faster of ONNX Runtime and OpenVINO",
                    f"{best / o['median']:.2f}×", best / o["median"] >= 1.0)

    width = max(len(r[0]) for r in rows)
    fwidth = max(len(r[1]) for r in rows)
    print(f"\nissue 20's targets, this run ({folder}):")
    for target, figure, mark in rows:
        print(f"  {target.ljust(width)}  {figure.ljust(fwidth)}  {mark}")
    met = sum(r[2] == "met" for r in rows)
    print(f"  {met} of {len(rows)} met")


if __name__ == "__main__":
    main()
