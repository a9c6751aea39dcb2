#!/usr/bin/env bash
# GPU readiness check of the paper-scale model (configs/selfpose3d_panoptic.py), <= 8 min
# on one GPU: frames/s at batch 1 and the largest batch that fits, a training step of
# every stage, peak memory, AMP off/on, batched vs looped unprojection
# (benchmarks/gpu_check.py says what each number is).
#
#   bash benchmarks/gpu_check.sh [gpu_check.py options]   # -> benchmarks/results/gpu.json
#   bash benchmarks/gpu_check.sh --cpu-smoke --out /tmp/gpu_smoke.json   # tiny, on CPU
#
# The Python part stops starting sections after --budget-s (default 420 s) and writes its
# JSON after every section; `timeout` ends a run that still hangs at 8 minutes.
# PYTHON: the interpreter (default: `python` of the activated environment).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if command -v nvidia-smi > /dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
timeout --signal=INT --kill-after=20 "${GPU_CHECK_TIMEOUT:-480}" \
    "${PYTHON:-python}" "$ROOT/benchmarks/gpu_check.py" "$@"
