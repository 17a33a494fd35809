#!/usr/bin/env bash
# Requests per second through HAProxy (deploy/haproxy/haproxy.cfg) with one and with two
# `scoreserve serve` replicas on this machine, under wrk (64 connections). With one
# replica both of the config's server lines name it. Usage (after `make release`):
#   Benchmarks/haproxy-throughput.sh [SECONDS] [REQUEST_JSON]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${1:-10}
BODY=${2:-'{"n":4,"seed":1,"sampler":"euler_maruyama","steps":200}'}
BIN=${SCORESERVE_BIN:-.build/release/scoreserve}
THREADS=$(nproc)
command -v wrk >/dev/null && command -v haproxy >/dev/null || { echo "needs wrk and haproxy (apt-get install wrk haproxy)"; exit 2; }
lua=$(mktemp); trap 'rm -f "$lua"; kill $(jobs -p) 2>/dev/null || true' EXIT
printf 'wrk.method = "POST"\nwrk.body = [[%s]]\nwrk.headers["Content-Type"] = "application/json"\n' "$BODY" > "$lua"

wait_ready() { for _ in $(seq 200); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.05; done; exit 1; }

measure() {  # replicas, threads per replica
    local replicas=$1 threads=$2 pids=() ports=()
    for i in $(seq "$replicas"); do
        ports+=($((18600 + i)))
        OPENBLAS_NUM_THREADS=1 "$BIN" serve --port "${ports[-1]}" --threads "$threads" >/dev/null 2>&1 &
        pids+=($!)
        wait_ready "${ports[-1]}"
    done
    SCORESERVE_BIND=127.0.0.1:18600 SCORESERVE_STATS_BIND=127.0.0.1:18610 \
    SCORESERVE_REPLICA_1=127.0.0.1:${ports[0]} SCORESERVE_REPLICA_2=127.0.0.1:${ports[-1]} \
        haproxy -db -f deploy/haproxy/haproxy.cfg >/dev/null 2>&1 &
    local hap=$!
    wait_ready 18600
    local out
    out=$(wrk -t1 -c64 -d"${SECONDS_RUN}s" --latency -s "$lua" http://127.0.0.1:18600/v1/models/moons-vp/sample)
    printf '%d replica(s) × %d thread(s): %s requests/s, p50 %s, p99 %s, non-2xx: %s\n' "$replicas" "$threads" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
        "$(awk '$1 == "99%" {print $2}' <<<"$out")" "$(grep -o 'Non-2xx or 3xx responses: [0-9]*' <<<"$out" | awk '{print $NF}' || echo 0)"
    kill "$hap" "${pids[@]}"; wait "$hap" "${pids[@]}" 2>/dev/null || true
}
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $THREADS cores; request $BODY"
measure 1 "$THREADS"
measure 2 $(( THREADS / 2 > 0 ? THREADS / 2 : 1 ))
measure 2 "$THREADS"
