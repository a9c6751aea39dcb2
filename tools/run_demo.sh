#!/usr/bin/env bash
# Set-up (idempotent) + the main job on the embedded synthetic world.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # this checkout, even if another one shares the venv
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::DeprecationWarning,ignore::UserWarning}"
exec .venv/bin/python tools/browse_dataset.py configs/synthetic_world.py \
    --out work_dirs/browse_synthetic --num 3 "$@"
