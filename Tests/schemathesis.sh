#!/usr/bin/env bash
# Property-based API test: schemathesis fuzzes a live `scoreserve serve` from its own
# /openapi.json, with every check, and must find no 5xx and no answer that breaks the
# document. `make test` runs it after `swift test`; it builds nothing (run `swift build`
# first) and needs schemathesis (4.x), which `make test` installs: into $PYTHON's
# packages, or into the venv .build/schemathesis-venv where pip refuses.
#
# Two passes, the server running with tight limits so that every schema-valid request
# is cheap:
#  1. the live /openapi.json exactly as served, without authentication;
#  2. with an API key (so `ignored_auth` and the documented 401s are exercised), against
#     the served document narrowed to the loaded models: the `name` parameter becomes
#     the enum of model names and the `Point` schema the models' data shape. The served
#     document cannot say either (shapes differ per model), so in pass 1 most generated
#     points have the wrong shape and are 400s; narrowed, the generated requests reach the
#     samplers, ODE solvers and likelihoods with valid, extreme inputs, and the answers'
#     points are checked against the exact shape. Nothing else in the document changes.
#
# Environment:
#   SCORESERVE_BIN   the server (default .build/debug/scoreserve)
#   SCHEMATHESIS     the command to run (default: the venv's, else
#                    `$PYTHON -m schemathesis.cli`, else `schemathesis` on PATH)
#   PYTHON           default python3
#   ST_MAX_EXAMPLES  test cases per operation and phase (default 30)
#   ST_SEED          default fixed, so `make test` is reproducible; `random` to explore
#   ST_TIMEOUT       seconds per pass (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BIN=${SCORESERVE_BIN:-$ROOT/.build/debug/scoreserve}
PYTHON=${PYTHON:-python3}
if [ -n "${SCHEMATHESIS:-}" ]; then
    read -r -a ST <<< "$SCHEMATHESIS"
elif [ -x "$ROOT/.build/schemathesis-venv/bin/schemathesis" ]; then
    ST=("$ROOT/.build/schemathesis-venv/bin/schemathesis")
elif "$PYTHON" -c 'import schemathesis, sys; sys.exit(not schemathesis.__version__.startswith("4."))' 2>/dev/null; then
    ST=("$PYTHON" -m schemathesis.cli)
elif command -v schemathesis >/dev/null; then
    ST=(schemathesis)
else
    echo "schemathesis.sh: schemathesis not found (make test installs it: $PYTHON -m pip install schemathesis)" >&2
    exit 2
fi
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-30}
SEED=${ST_SEED:-20261130}
PASS_TIMEOUT=${ST_TIMEOUT:-300}

[ -x "$BIN" ] || { echo "schemathesis.sh: $BIN not found; run swift build first" >&2; exit 2; }
echo "schemathesis.sh: ${ST[*]}: $("${ST[@]}" --version | sed 's/.*version /version /')"

# Schemathesis writes its example database and cache into the working directory:
# keep them under .build (git-ignored), where `st replay` can still find them.
WORK=$ROOT/.build/schemathesis
mkdir -p "$WORK"
LOGDIR=$(mktemp -d)
# The server runs on the analytic gmm-demo model alone: its answers are cheap under
# any schema-valid request, and the narrowed pass needs a single data shape (the
# trained models are exercised by the Swift tests and their cards).
MODELS2D=$LOGDIR/models
mkdir -p "$MODELS2D"
ln -s "$ROOT/Models/gmm-demo" "$MODELS2D/gmm-demo"
SERVER_PID=
STOP_FAILED=0

stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "schemathesis.sh: the server did not stop within 10 s of SIGTERM" >&2
            kill -KILL "$SERVER_PID" 2>/dev/null || true
            STOP_FAILED=1
        fi
        local code=0
        wait "$SERVER_PID" 2>/dev/null || code=$?
        if [ "$code" != 0 ] && [ "${STOP_FAILED:-0}" = 0 ]; then
            echo "schemathesis.sh: the server exited with status $code after SIGTERM (expected 0)" >&2
            STOP_FAILED=1
        fi
    fi
    SERVER_PID=
}
cleanup() { stop_server; rm -rf "$LOGDIR"; }
trap cleanup EXIT

# Configuration of the checks (schemathesis.toml).
#
# positive_data_acceptance: a request that matches the document may still be a 400 by
# the contract, because the document cannot express rules that depend on the model or
# on several fields together: a point's shape is the model's data shape (the document
# only says "nested arrays of numbers"), `n` must equal the number of `latents`,
# `offset` is a 400 with `latents` or `corrector: langevin`, `denoise: true` with
# `log_likelihood` is a 400, a sampler must be valid for the model's SDE, and a request
# larger than the work limit is a 400. The contract also answers a schema-valid request
# with 422 when the computation turns non-finite (e.g. the ancestral sampler with very
# few steps, or points near 1e300) and with 504 when `timeout_ms` (minimum 1) passes.
# These statuses are added to the check's defaults; 5xx other than 504 stay errors
# through not_a_server_error, and every answer must still match the document.
#
# not_a_server_error: 504 (the request's own `timeout_ms` passed) is a contract answer,
# documented for every POST; any other 5xx fails (503 cannot occur: nothing drains).
cat > "$LOGDIR/schemathesis.toml" <<'EOF'
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "404", "422", "429", "504"]

[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "504"]
EOF

start_server() { # extra environment as NAME=VALUE words
    local out=$LOGDIR/server.out
    : > "$out"
    env "$@" "$BIN" serve --host 127.0.0.1 --port 0 --models "$MODELS2D" \
        --max-n 8 --max-steps 200 --max-points 16 --max-work 200000 \
        --default-timeout-ms 20000 --max-timeout-ms 20000 --grace-seconds 5 --log-level warning \
        > "$out" 2> "$LOGDIR/server.err" &
    SERVER_PID=$!
    PORT=
    for _ in $(seq 300); do
        PORT=$(sed -n 's/^scoreserve listening on .*:\([0-9][0-9]*\) with .*/\1/p' "$out")
        [ -n "$PORT" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$PORT" ]; then
        echo "schemathesis.sh: the server did not start" >&2
        cat "$LOGDIR/server.err" >&2
        exit 1
    fi
    for _ in $(seq 100); do
        "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
            "http://127.0.0.1:$PORT/readyz" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "schemathesis.sh: /readyz never answered 200" >&2
    exit 1
}

run_pass() { # name, schema location, extra schemathesis arguments...
    local name=$1 location=$2; shift 2
    local seed_args=()
    [ "$SEED" = random ] || seed_args=(--seed "$SEED")
    echo "== schemathesis ($name): $location"
    # Hypothesis' too_slow and filter_too_much health checks judge the generator's speed
    # on this machine, not the server: on a loaded 2-core runner they would fail runs.
    local status=0
    (cd "$WORK" && timeout --kill-after=10 "$PASS_TIMEOUT" \
        "${ST[@]}" --config-file "$LOGDIR/schemathesis.toml" run \
        --checks all --max-examples "$MAX_EXAMPLES" --workers 2 "${seed_args[@]}" \
        --request-timeout 30 --no-color --suppress-health-check too_slow,filter_too_much \
        "$@" "$location") || status=$?
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "schemathesis.sh: the server died during the $name pass" >&2
        cat "$LOGDIR/server.err" >&2
        status=1
    fi
    [ "$status" = 124 ] && echo "schemathesis.sh: the $name pass ran past ${PASS_TIMEOUT}s" >&2
    return "$status"
}

# Writes the served document narrowed to the loaded models to $1 (see above); fails when
# the models do not share one data shape.
narrow_document() {
    "$PYTHON" - "http://127.0.0.1:$PORT" "$1" "$2" <<'PY'
import json, sys, urllib.request
base, path, token = sys.argv[1], sys.argv[2], sys.argv[3]
def get(route):
    req = urllib.request.Request(base + route, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)
doc = get("/openapi.json")
models = get("/v1/models")["models"]
shapes = {tuple(m["data_shape"]) for m in models}
if len(shapes) != 1:
    sys.exit("models with different data shapes: %s" % sorted(shapes))
def nested(shape):
    inner = {"type": "number"} if len(shape) == 1 else nested(shape[1:])
    return {"type": "array", "minItems": shape[0], "maxItems": shape[0], "items": inner}
point = nested(list(shapes.pop()))
point["description"] = doc["components"]["schemas"]["Point"].get("description", "")
doc["components"]["schemas"]["Point"] = point
doc["components"]["parameters"]["ModelName"]["schema"] = {"type": "string", "enum": sorted(m["name"] for m in models)}
with open(path, "w") as f:
    json.dump(doc, f)
PY
}

overall=0
start_server
run_pass "served document, no authentication" "http://127.0.0.1:$PORT/openapi.json" || overall=$?
stop_server

start_server SCORESERVE_API_KEY=schemathesis-key
narrow_document "$LOGDIR/openapi-narrowed.json" schemathesis-key
run_pass "document narrowed to the models, bearer token" "$LOGDIR/openapi-narrowed.json" \
    --url "http://127.0.0.1:$PORT" -H "Authorization: Bearer schemathesis-key" \
    || { s=$?; [ "$overall" = 0 ] && overall=$s; }
stop_server

[ "$STOP_FAILED" = 0 ] || { [ "$overall" = 0 ] && overall=1; }
exit "$overall"
