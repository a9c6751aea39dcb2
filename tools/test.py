"""Evaluate a checkpoint (mmengine Runner), mmpose-style.

    python tools/test.py CONFIG [CHECKPOINT] [--work-dir DIR] [--out results.pkl]
                         [--cfg-options k=v ...] [--launcher ...]

CHECKPOINT may be omitted only for models without parameters (e.g. the triangulation
baseline, ``configs/triangulation_synthetic.py``).
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args():
    p = argparse.ArgumentParser(description='Test (and evaluate) a selfpose3d_mm model')
    p.add_argument('config', help='test config file path')
    p.add_argument('checkpoint', nargs='?', default=None,
                   help='checkpoint file (omit for models without parameters)')
    p.add_argument('--work-dir', help='the dir to save evaluation results')
    p.add_argument('--out', help='dump predictions to a pickle file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override settings in the config, key=value')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.out:
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(cfg.test_evaluator, dict) \
            else list(cfg.test_evaluator)
        cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))
    runner = Runner.from_cfg(cfg)
    if args.checkpoint is None:
        n_params = sum(p.numel() for p in runner.model.parameters())
        if n_params:
            raise SystemExit(
                f'tools/test.py: no CHECKPOINT given, but the model '
                f'{type(runner.model).__name__} has {n_params} parameters; pass the '
                'checkpoint to evaluate (only parameter-free models run without one)')
    runner.test()


if __name__ == '__main__':
    main()
