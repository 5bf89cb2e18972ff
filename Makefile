# The two commands of the README. Both run ./setup.sh first (idempotent: a virtualenv with
# PyTorch 2.11.0 in ~/.cache/distillery, then `cargo build --release --workspace`).
SHELL := /bin/bash
.PHONY: bench test setup check

setup:
	./setup.sh

## Main job: the hard-label protocol on the embedded mnist-5k dataset, default methods.
bench: setup
	./target/release/bench --protocol hard-label $(ARGS)

## The test suite (what CI runs): unit tests, end-to-end CLI tests, plugin checks.
## `bench` needs no LD_LIBRARY_PATH (it has a RUNPATH; the CLI tests run it without one), but
## the unit-test binaries cargo makes for plugin crates link libtorch without one.
test: setup
	eval "$$(./setup.sh --print-env)" && LD_LIBRARY_PATH="$$DISTILLERY_TORCH_LIB$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}" cargo test --release --workspace --no-fail-fast

## Formatting and lints (run before committing).
check: setup
	eval "$$(./setup.sh --print-env)" && cargo fmt --all --check && cargo clippy --release --workspace --all-targets -- -D warnings
