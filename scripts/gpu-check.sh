#!/usr/bin/env bash
# The prepared GPU check: `scripts/gpu-check.sh [--dry-run] [--out DIR] [options]`.
#
# Runs the prebuilt target/release/bench (plugins next to it) on a GPU machine that has python3
# with torch 2.11 but no Rust toolchain, in under 5 minutes, and writes DIR/gpu-check-results.md
# and .json (default DIR: gpu-check-out). `--dry-run` (or DRY_RUN=1): the same steps on the CPU
# with tiny sizes (what CI runs through tests/gpu_check.rs). All options: --help. README, "GPU".
#
# Environment: PYTHON (an interpreter with torch; default: $VIRTUAL_ENV/bin/python, else
# python3), BENCH (default target/release/bench). LD_LIBRARY_PATH gets torch's lib folder put
# in front (the binary's RUNPATH points at the venv of the machine that built it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then PYTHON="$VIRTUAL_ENV/bin/python"; else PYTHON=python3; fi
fi
TORCH_LIB="$("$PYTHON" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')" || {
  echo "gpu-check: $PYTHON cannot import torch; set PYTHON to an interpreter with torch 2.11" >&2; exit 2; }
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHON
BENCH="${BENCH:-target/release/bench}"
[ -x "$BENCH" ] || { echo "gpu-check: no bench binary at $BENCH (build with ./setup.sh, or set BENCH)" >&2; exit 2; }
export BENCH
exec "$PYTHON" scripts/gpu-check/check.py "$@"
