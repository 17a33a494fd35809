#!/usr/bin/env python3
"""Writes the 8x8 handwritten digits as plain CSV for ScoreServe's trainer.

Source: the 1,797 test-set images of the UCI "Optical Recognition of Handwritten
Digits" data set (Alpaydin & Kaynak, 1998), as bundled with scikit-learn in
sklearn/datasets/data/digits.csv.gz and read by sklearn.datasets.load_digits()
(no network access is needed).

Outputs (relative to the repository root, or to --out):
  Models/data/digits.csv         1797 lines, 64 integer pixels 0..16 each (row-major 8x8)
  Models/data/digits-labels.csv  1797 lines, the digit 0..9 of the image on the same line

Usage: python3 -m pip install scikit-learn && python3 Models/recipes/fetch_digits.py
Needs only the standard library and scikit-learn.
"""
import argparse
import hashlib
import os
import sys

from sklearn.datasets import load_digits


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(here, "..", "data"),
                        help="output directory (default: Models/data)")
    args = parser.parse_args()

    digits = load_digits()
    images, labels = digits.data, digits.target
    if images.shape != (1797, 64) or labels.shape != (1797,):
        sys.exit(f"unexpected shapes {images.shape}, {labels.shape}")

    rows = []
    for row in images:
        values = [int(v) for v in row]
        if any(v != x for v, x in zip(values, row)) or min(values) < 0 or max(values) > 16:
            sys.exit("pixel values are not integers in 0..16")
        rows.append(",".join(str(v) for v in values))
    data = ("\n".join(rows) + "\n").encode("ascii")
    label_text = ("\n".join(str(int(y)) for y in labels) + "\n").encode("ascii")

    os.makedirs(args.out, exist_ok=True)
    paths = {"digits.csv": data, "digits-labels.csv": label_text}
    for name, content in paths.items():
        path = os.path.join(args.out, name)
        with open(path, "wb") as f:
            f.write(content)
        print(f"{os.path.normpath(path)}  sha256 {hashlib.sha256(content).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
