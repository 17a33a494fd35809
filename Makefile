# ScoreServe: `make serve` serves the shipped models, `make test` runs every test.
# Both install the system libraries they need first (Debian/Ubuntu, as root or via sudo).

SWIFT      ?= swift
MODELS     ?= Models
HOST       ?= 127.0.0.1
PORT       ?= 8080
APT_PACKAGES := libmicrohttpd-dev libjansson-dev libopenblas-dev pkg-config
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build release test serve clean

all: build

# Install the C libraries only when pkg-config cannot find them.
deps:
	@if pkg-config --exists libmicrohttpd jansson openblas 2>/dev/null; then \
		echo "deps: libmicrohttpd, jansson and OpenBLAS found"; \
	else \
		echo "deps: installing $(APT_PACKAGES)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

serve: release
	.build/release/scoreserve serve --models $(MODELS) --host $(HOST) --port $(PORT)

clean:
	rm -rf .build
