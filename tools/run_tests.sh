#!/usr/bin/env bash
# Set-up (idempotent, see tools/setup_env.sh) + the whole test suite. CI runs this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # this checkout, even if another one shares the venv
# DeprecationWarnings, and two third-party UserWarnings by their message (mmengine's
# pkg_resources import, mmcv's conv-bias note); every other UserWarning is shown
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::DeprecationWarning,ignore:pkg_resources is deprecated as an API:UserWarning,ignore:Unnecessary conv bias before batch/instance norm:UserWarning}"
exec .venv/bin/python -m pytest tests -q --durations=10 "$@"
