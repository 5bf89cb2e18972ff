#!/usr/bin/env bash
# Distillery set-up: idempotent. Creates (once) a Python virtualenv holding PyTorch 2.11.0
# from PyPI, whose libtorch the `tch` crate links against, then builds the workspace.
#
#   ./setup.sh              # venv + `cargo build --release --workspace`
#   ./setup.sh --venv-only  # venv only; prints nothing but errors
#   ./setup.sh --print-env  # print the shell exports the build needs (for `eval`); also
#                           # DISTILLERY_TORCH_LIB, the libtorch folder (for test binaries)
#
# The virtualenv lives in a per-user cache keyed by the torch and Python versions, so fresh
# clones and CI runs on the same machine reuse the ~4.6 GB install:
#   ${DISTILLERY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/distillery/venv-torch-2.11.0-py3.N}
# Set DISTILLERY_VENV to put it elsewhere (e.g. `DISTILLERY_VENV=$PWD/.venv`, git-ignored).
set -euo pipefail

TORCH_VERSION="2.11.0"   # must match the tch pin in Cargo.toml (tch 0.24.0 <-> torch 2.11.0)
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "setup.sh: error: $*" >&2; exit 1; }

find_python() {
    local cand
    for cand in "${DISTILLERY_PYTHON:-}" python3 python3.13 python3.12 python3.11 python3.10 python; do
        [ -n "$cand" ] || continue
        command -v "$cand" >/dev/null 2>&1 || continue
        if "$cand" -c 'import sys; sys.exit(0 if (3,10) <= sys.version_info[:2] <= (3,14) else 1)' 2>/dev/null; then
            echo "$cand"; return 0
        fi
    done
    return 1
}

venv_dir() {
    if [ -n "${DISTILLERY_VENV:-}" ]; then echo "$DISTILLERY_VENV"; return; fi
    local py="$1" pyver
    pyver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    echo "${XDG_CACHE_HOME:-$HOME/.cache}/distillery/venv-torch-${TORCH_VERSION}-py${pyver}"
}

torch_ok() {  # $1 = venv dir
    [ -x "$1/bin/python" ] && "$1/bin/python" - "$TORCH_VERSION" <<'PY' 2>/dev/null
import sys, torch
sys.exit(0 if torch.__version__.split("+")[0] == sys.argv[1] else 1)
PY
}

# `safetensors` (Python) writes compressed sets in the layout `bench` imports
# (examples/python/save_distilled_set.py; run by tests/import_export.rs).
ensure_safetensors() {  # $1 = venv dir
    "$1/bin/python" -c 'import safetensors' >/dev/null 2>&1 && return 0
    echo "setup.sh: installing safetensors into $1" >&2
    "$1/bin/python" -m pip install -q "safetensors>=0.4" >&2 \
        || die "pip could not install safetensors into $1 (needed by examples/python and the import tests)"
}

# torchvision for the teacher-equivalence test (tests/large_image.rs): the release built for
# torch 2.11.0 (its wheel pins torch==2.11.0, so pip never replaces the venv's torch).
TORCHVISION_VERSION=0.26.0
ensure_torchvision() {  # $1 = venv dir
    "$1/bin/python" -c "import torchvision, sys; sys.exit(torchvision.__version__.split('+')[0] != '$TORCHVISION_VERSION')" >/dev/null 2>&1 && return 0
    echo "setup.sh: installing torchvision==$TORCHVISION_VERSION into $1" >&2
    "$1/bin/python" -m pip install -q "torchvision==$TORCHVISION_VERSION" >&2 \
        || die "pip could not install torchvision==$TORCHVISION_VERSION into $1 (needed by the teacher-equivalence test)"
}

# pyarrow writes the Parquet sets of the import tests (tests/import_export.rs), as the
# Hugging Face datasets library does. Pinned: 22.0.0 has manylinux wheels for CPython 3.10-3.14.
PYARROW_VERSION=22.0.0
ensure_pyarrow() {  # $1 = venv dir
    "$1/bin/python" -c "import pyarrow, sys; sys.exit(pyarrow.__version__ != '$PYARROW_VERSION')" >/dev/null 2>&1 && return 0
    echo "setup.sh: installing pyarrow==$PYARROW_VERSION into $1" >&2
    "$1/bin/python" -m pip install -q "pyarrow==$PYARROW_VERSION" >&2 \
        || die "pip could not install pyarrow==$PYARROW_VERSION into $1 (needed by the Parquet import test)"
}

ensure_venv() {
    local py venv
    py="$(find_python)" || die "no Python 3.10-3.14 found. Install one (Debian/Ubuntu: 'apt-get install python3 python3-venv'), or point DISTILLERY_PYTHON at it."
    venv="$(venv_dir "$py")"
    if torch_ok "$venv"; then ensure_safetensors "$venv"; ensure_torchvision "$venv"; ensure_pyarrow "$venv"; echo "$venv"; return 0; fi
    if [ -x "$venv/bin/python" ]; then
        local found
        found="$("$venv/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo none)"
        echo "setup.sh: $venv has torch '$found', need $TORCH_VERSION; (re)installing torch==$TORCH_VERSION" >&2
    else
        echo "setup.sh: creating virtualenv $venv (PyTorch $TORCH_VERSION from PyPI, ~4.6 GB, once per machine)" >&2
        mkdir -p "$(dirname "$venv")"
        "$py" -m venv "$venv" >&2 || die "'$py -m venv' failed. Install the venv module (Debian/Ubuntu: 'apt-get install python3-venv')."
    fi
    "$venv/bin/python" -m pip install -q --upgrade pip >&2 || true
    "$venv/bin/python" -m pip install "torch==$TORCH_VERSION" numpy >&2 \
        || die "pip could not install torch==$TORCH_VERSION into $venv. PyTorch $TORCH_VERSION needs Python 3.10-3.14 on x86-64/aarch64 Linux and access to PyPI."
    torch_ok "$venv" || die "torch in $venv does not report version $TORCH_VERSION after install"
    ensure_safetensors "$venv"
    ensure_torchvision "$venv"
    ensure_pyarrow "$venv"
    echo "$venv"
}

print_env() {
    local venv="$1" lib
    lib="$("$venv/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
    cat <<ENV
export VIRTUAL_ENV='$venv'
export PATH='$venv/bin':"\$PATH"
export LIBTORCH_USE_PYTORCH=1
export DISTILLERY_TORCH_LIB='$lib'
ENV
}

mode="${1:-build}"
venv="$(ensure_venv)"
case "$mode" in
    --venv-only) exit 0 ;;
    --print-env) print_env "$venv"; exit 0 ;;
    build|--build) ;;
    *) die "unknown option '$mode' (use --venv-only, --print-env or nothing)" ;;
esac

eval "$(print_env "$venv")"
command -v cargo >/dev/null 2>&1 || die "cargo not found. Install Rust with rustup (https://rustup.rs); rust-toolchain.toml selects the version."
cd "$here"
cargo build --release --workspace
