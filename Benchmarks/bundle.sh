#!/usr/bin/env bash
# Packs the static-stdlib release build of scoreserve (`make static`) with every shared
# library it loads (glibc included) into .device/sb.tar.xz, to run benchmarks on a
# machine without a Swift toolchain or these libraries. The binary's interpreter and RPATH point at
# /tmp/sb, so unpack it there:
#   mkdir -p /tmp/sb && tar xJf .device/sb.tar.xz -C /tmp/sb
#   OPENBLAS_NUM_THREADS=1 /tmp/sb/scoreserve bench --only W1,W2 --scaling 1,2,4,8,16
# (Children of the bench are the same binary, so they find the libraries too.)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v patchelf >/dev/null || apt-get install -y -qq patchelf
[ -x .build-static/release/scoreserve ] || { echo "bundle: run make static first (make bench-bundle does)"; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp .build-static/release/scoreserve "$stage/"
ldd .build-static/release/scoreserve | awk '/=>/ { print $3 } /ld-linux/ { print $1 }' |
    while read -r lib; do cp -L "$lib" "$stage/"; done
strip "$stage/scoreserve"
patchelf --set-interpreter /tmp/sb/ld-linux-x86-64.so.2 --force-rpath --set-rpath /tmp/sb "$stage/scoreserve"
mkdir -p .device
tar cJf .device/sb.tar.xz -C "$stage" .
ls -l .device/sb.tar.xz
