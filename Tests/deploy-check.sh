#!/usr/bin/env bash
# Lints the deployment files (run by `make test`, which installs the tools first):
#   hadolint on deploy/Dockerfile, kubernetes-validate --strict on every manifest in
#   deploy/k8s/ (against Kubernetes 1.29 and 1.37), the kustomization's list, the compose
#   file parsed as YAML, and `systemd-analyze verify` on the unit where systemd exists.
# Any finding fails: systemd-analyze exits 0 on unknown keys and bad values, so its
# output must be empty.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${DEPLOY_VENV:-$ROOT/.build/deploy-venv}"
[[ "$VENV" = /* ]] || VENV="$ROOT/$VENV"
cd "$ROOT"

echo "deploy-check: hadolint deploy/Dockerfile"
"$VENV/bin/hadolint" --failure-threshold info deploy/Dockerfile

# Every manifest but the kustomization (not a Kubernetes API object; checked below).
manifests=$(ls deploy/k8s/*.yaml | grep -v '/kustomization.yaml$')
for version in 1.29.0 1.37.0; do
    echo "deploy-check: kubernetes-validate --strict (Kubernetes $version)" $manifests
    "$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" $manifests
done

echo "deploy-check: deploy/k8s/kustomization.yaml lists every serving manifest"
"$VENV/bin/python" - <<'PY'
import glob, os, yaml
listed = yaml.safe_load(open("deploy/k8s/kustomization.yaml"))["resources"]
present = {os.path.basename(p) for p in glob.glob("deploy/k8s/*.yaml")} - {"kustomization.yaml", "batch-job.yaml"}
assert set(listed) == present, f"kustomization lists {sorted(listed)}, the serving manifests are {sorted(present)}"
PY

echo "deploy-check: deploy/compose.yaml"
"$VENV/bin/python" - <<'PY'
import yaml
compose = yaml.safe_load(open("deploy/compose.yaml"))
service = compose["services"]["scoreserve"]
assert service["build"]["dockerfile"] == "deploy/Dockerfile", service["build"]
assert "8080:8080" in service["ports"], service["ports"]
PY

if command -v systemd-analyze >/dev/null; then
    echo "deploy-check: systemd-analyze verify deploy/systemd/scoreserve.service"
    # verify wants ExecStart's program to exist: point it at this checkout's build.
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    program=$(ls "$ROOT"/.build/debug/scoreserve "$ROOT"/.build/release/scoreserve 2>/dev/null | head -1 || true)
    [ -n "$program" ] || program=/bin/true
    sed "s|^ExecStart=/usr/local/bin/scoreserve|ExecStart=$program|" deploy/systemd/scoreserve.service > "$tmp/scoreserve.service"
    findings=$(systemd-analyze verify "$tmp/scoreserve.service" 2>&1 || echo "systemd-analyze exited $?")
    if [ -n "$findings" ]; then
        echo "$findings"
        echo "deploy-check: FAILED: systemd-analyze verify reported the above"
        exit 1
    fi
else
    echo "deploy-check: systemd-analyze not installed; unit not verified"
fi
echo "deploy-check: passed"
