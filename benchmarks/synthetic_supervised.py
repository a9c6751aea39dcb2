"""Fully-supervised VoxelPose trained on the synthetic default on CPU, evaluated on the
held-out test split (fixed seeds).

    python benchmarks/synthetic_supervised.py [--config configs/voxelpose_synthetic.py]

Runs ``tools/train.py CONFIG`` (timed), then evaluates the last checkpoint on the test
split, and writes benchmarks/results/synthetic_supervised.json:
{"AP25", ..., "AP150", "Recall@500", "MPJPE", "train_s", "config"}.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.common import machine, train_and_test, write_result  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/voxelpose_synthetic.py')
    p.add_argument('--work-dir', default='work_dirs/bench_synthetic_supervised')
    p.add_argument('--out', default='synthetic_supervised.json')
    args = p.parse_args()
    import selfpose3d_mm  # noqa: F401
    res = train_and_test(args.config, args.work_dir)
    res.update(config=args.config, machine=machine())
    print(res)
    print('written', write_result(args.out, res))


if __name__ == '__main__':
    main()
