#!/usr/bin/env bash
# Set-up (idempotent) + the main job: self-supervised SelfPose3d on the embedded synthetic
# world (no 2D or 3D ground truth in training), then its evaluation on the held-out test
# split (AP@25..150, Recall@500, MPJPE). Extra arguments go to tools/train.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # this checkout, even if another one shares the venv
# DeprecationWarnings, and two third-party UserWarnings by their message (mmengine's
# pkg_resources import, mmcv's conv-bias note); every other UserWarning is shown
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::DeprecationWarning,ignore:pkg_resources is deprecated as an API:UserWarning,ignore:Unnecessary conv bias before batch/instance norm:UserWarning}"
CONFIG=configs/selfpose3d_synthetic.py
WORK=work_dirs/selfpose3d_synthetic
.venv/bin/python tools/train.py "$CONFIG" --work-dir "$WORK" "$@"
CKPT="$(cat "$WORK/last_checkpoint")"
.venv/bin/python tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK/test"
