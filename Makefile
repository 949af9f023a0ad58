# Tessera: the two commands a newcomer runs (see README.md).
#   make run    install what is missing, build in release mode, open the demo study
#   make test   install what is missing, run the whole test suite
#   make package  the .deb and the portable tar.xz into target/packages/ (packaging/README.md)
SHELL := /bin/bash
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: run test setup build bench-load lint package install-test

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --locked

# `make run` opens the demo study; `make run ARGS="open DIR"` opens DIR, ARGS= the start screen.
ARGS ?= open
run: build
	@scripts/run-gui.sh target/release/tessera $(ARGS)

# Snapshot tests are pinned to Vulkan (Mesa's lavapipe on machines without a GPU).
test: setup
	WGPU_BACKEND=vulkan $(CARGO) test --locked

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

# Linux packages into target/packages/: .deb (cargo-deb, installed once) and tar.xz bundle.
package: setup
	@CARGO=$(CARGO) scripts/package.sh

# Installs what `make package` built into scratch folders and runs it (CI adds --dpkg:
# a real dpkg -i / dpkg -r, as root).
install-test:
	@scripts/install-test.sh
