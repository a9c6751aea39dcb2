"""Train a model (mmengine Runner), mmpose-style.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from selfpose3d_mm.apis.config_links import apply_linked_settings
from selfpose3d_mm.engine import find_resume_checkpoint
from selfpose3d_mm.engine.distributed import configure_distributed
from selfpose3d_mm.model_zoo import PRETRAINED_MODELS, pretrained_model


def parse_args():
    p = argparse.ArgumentParser(description='Train a selfpose3d_mm model')
    p.add_argument('config', help='train config file path')
    p.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    p.add_argument('--resume', nargs='?', type=str, const='auto',
                   help='resume from the given checkpoint, or from the latest checkpoint in '
                   'the work dir when no path is given')
    p.add_argument('--amp', action='store_true', help='automatic mixed precision')
    p.add_argument('--no-validate', action='store_true', help='skip validation in training')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override settings in the config, key=value')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        # the newest *complete* checkpoint: an empty or dangling `last_checkpoint`, or a
        # file truncated by a kill, falls back to the one before (with a warning)
        ckpt = find_resume_checkpoint(cfg.work_dir) if osp.isdir(cfg.work_dir) else None
        cfg.resume = ckpt is not None
        cfg.load_from = ckpt
        if ckpt is None:
            print(f'--resume: no complete checkpoint in {cfg.work_dir}; starting afresh')
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if not cfg.get('resume') and cfg.get('load_from') in PRETRAINED_MODELS:
        # `load_from = 'generalist'`: the weights of a model that ships with the package
        # (the fine-tuning configs start from it; its training-only modules start afresh)
        cfg.load_from = pretrained_model(cfg.load_from)[1]
    return cfg


def main():
    args = parse_args()
    # linked settings: a child config's data_root / space reach the datasets and the model
    cfg = apply_linked_settings(merge_args(Config.fromfile(args.config), args))
    configure_distributed(cfg, training=True)  # no GPU: gloo (docs/distributed.md)
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
