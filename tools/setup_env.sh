#!/usr/bin/env bash
# One idempotent set-up for selfpose3d_mm on a fresh x86_64 Linux machine (CPython 3.11).
#
#   bash tools/setup_env.sh            # creates/reuses the venv, links it as ./.venv
#
# The venv lives in a cache folder keyed by the hash of requirements/*.txt and this script,
# so a second run (or a fresh clone on the same machine, e.g. CI) finishes in seconds.
# mmcv 2.1.0 has no wheel on PyPI: it is built once from its sdist *with ops* (mmpose's
# models import mmcv.ops) against the pinned torch and kept in a wheelhouse keyed by the
# mmcv and torch versions, never in pip's cache (whose key ignores the torch version).
#
# Environment knobs: PYTHON (interpreter, default python3), SELFPOSE3D_CACHE (default
# ~/.cache/selfpose3d_mm), SELFPOSE3D_VENV (explicit venv path).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
CACHE="${SELFPOSE3D_CACHE:-$HOME/.cache/selfpose3d_mm}"
KEY="$(cat requirements/*.txt tools/setup_env.sh | sha1sum | cut -c1-12)"
VENV="${SELFPOSE3D_VENV:-$CACHE/venv-$KEY}"
TORCH_VER="$(sed -n 's/^torch==//p' requirements/torch.txt)"
MMCV_VER=2.1.0
MMPOSE_VER=1.3.2
XTCOCO_VER=1.14.3
WHEELHOUSE="$CACHE/wheels/mmcv-$MMCV_VER-torch-$TORCH_VER-py$("$PY" -c 'import sys;print(f"{sys.version_info[0]}{sys.version_info[1]}")')-$(uname -m)"
STAMP="$VENV/.selfpose3d_complete"
T0=$SECONDS

log() { echo "[setup_env $(( SECONDS - T0 ))s] $*" >&2; }

if [ ! -f "$STAMP" ]; then
    log "creating venv $VENV"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PY" -m venv "$VENV"
    PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
    export PIP_PROGRESS_BAR=off
    "${PIP[@]}" install -q -r requirements/build.txt
    log "installing torch ($TORCH_VER)"
    "${PIP[@]}" install -q -c requirements/constraints.txt -r requirements/torch.txt

    if ! ls "$WHEELHOUSE"/mmcv-$MMCV_VER-*.whl >/dev/null 2>&1; then
        log "building mmcv $MMCV_VER with ops against torch $TORCH_VER (~10 min on 2 cores)"
        BUILD="$(mktemp -d)"
        trap 'rm -rf "$BUILD"' EXIT
        # The sdist's setup.py needs pkg_resources + torch, hence no build isolation.
        "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation \
            "mmcv==$MMCV_VER" -d "$BUILD"
        tar -xzf "$BUILD"/mmcv-$MMCV_VER.tar.gz -C "$BUILD"
        # torch>=2.14 headers require C++20; mmcv hard-codes -std=c++17 after CXXFLAGS.
        sed -i 's/-std=c++17/-std=c++20/g' "$BUILD/mmcv-$MMCV_VER/setup.py"
        MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="$(nproc)" "${PIP[@]}" wheel -q --no-deps \
            --no-build-isolation "$BUILD/mmcv-$MMCV_VER" -w "$BUILD/wheel"
        mkdir -p "$(dirname "$WHEELHOUSE")"
        rm -rf "$WHEELHOUSE.tmp" && mv "$BUILD/wheel" "$WHEELHOUSE.tmp" && mv "$WHEELHOUSE.tmp" "$WHEELHOUSE"
    fi
    log "installing the OpenMMLab stack and its dependencies"
    "${PIP[@]}" install -q -c requirements/constraints.txt -r requirements/runtime.txt \
        -r requirements/tests.txt
    # openmim (`mim train/test selfpose3d_mm`) without its opendatalab requirement, which
    # would downgrade setuptools and filelock; its other dependencies are in tests.txt
    "${PIP[@]}" install -q --no-deps -c requirements/constraints.txt openmim
    log "installing mmcv from $WHEELHOUSE"
    "${PIP[@]}" install -q --no-deps "$WHEELHOUSE"/mmcv-$MMCV_VER-*.whl
    # The PyPI xtcocotools wheel is built against numpy 1 and fails to import with numpy 2.
    "${PIP[@]}" install -q --no-binary xtcocotools "xtcocotools==$XTCOCO_VER"
    # chumpy (an mmpose requirement) does not build on py3.11 and no mmpose module imports it.
    "${PIP[@]}" install -q --no-deps "mmpose==$MMPOSE_VER"
    "$VENV/bin/python" -W ignore -c "import mmcv.ops, mmdet.models, mmpose.models, mmpose.apis, xtcocotools.coco"
    touch "$STAMP"
    log "venv complete"
fi

ln -sfn "$VENV" "$ROOT/.venv"
# The project itself, editable, so the venv always imports *this* checkout. Paths reach
# python as arguments (sys.argv), never pasted into its code: a checkout path with a quote
# in it must not become code.
EDITABLE_CHECK='import os, sys, selfpose3d_mm as m; sys.exit(os.path.dirname(m.__path__[0]) != sys.argv[1])'
if ! (cd / && "$VENV/bin/python" -c "$EDITABLE_CHECK" "$ROOT" 2>/dev/null); then
    log "installing selfpose3d_mm (editable) from $ROOT"
    "$VENV/bin/python" -m pip --disable-pip-version-check install -q --no-deps --no-build-isolation -e "$ROOT"
fi
log "ready: $ROOT/.venv -> $VENV"
