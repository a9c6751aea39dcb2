#!/usr/bin/env bash
# Distributed training through torchrun + mmengine's launcher (docs/distributed.md):
#   bash tools/dist_train.sh CONFIG NPROC [train.py options]
# NPROC processes on this machine (one per GPU; without a GPU, CPU processes on gloo).
# Several machines: NNODES, NODE_RANK, MASTER_ADDR, PORT (default 29500) in the environment.
if [ "$#" -lt 2 ]; then
    echo "usage: bash tools/dist_train.sh CONFIG NPROC [tools/train.py options]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
# PYTHON: the interpreter (default: `python` of the activated environment)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
"${PYTHON:-python}" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
