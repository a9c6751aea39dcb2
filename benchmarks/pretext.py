"""The two pretexts that learn from unlabelled synchronized footage, on rendered synthetic
sequences (held-out sequences *and* a held-out rig), CPU-sized.

    python benchmarks/pretext.py [--parts sync retrieval association] [--reuse]

Parts (each one command of the user, a subprocess, then a test on the held-out data):
  sync          configs/pretext/sync_flip_synthetic.py trained with background removal /
                substitution (``mix``, the paper's) and without (``none``); pretext
                accuracies (sync, flip) on the test split of another rig (rig_seed 1)
  retrieval     configs/pretext/mcss_synthetic.py trained; cross-view retrieval
                Mean-PA-MPJPE@{1,10,20} (mm, 3D GT of the held-out frames: evaluation only)
                of the learned embedding vs the same network with random weights vs the
                oracle (retrieval by the true pose)
  association   the triangulation baseline on the realistic hard setting (6-10 people,
                3 cameras, rendered images) with its epipolar association (default) and
                with the MCSS embedding of ``retrieval`` in the association step
Not here yet: the 2D heatmap net fine-tuned from each pretrained backbone (issue #18 (b)).
Writes benchmarks/results/pretext.json (merged with what is there).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.common import (METRIC_KEYS, RESULTS_DIR, machine,  # noqa: E402
                               test_with_runner, train_with_tool, write_result)

OUT = 'pretext.json'
SYNC = 'configs/pretext/sync_flip_synthetic.py'
MCSS = 'configs/pretext/mcss_synthetic.py'
TRIANGULATION = 'configs/triangulation_synthetic.py'
HELD_OUT_RIG = 1   # rig_seed of the test footage (training: 0)
HARD = dict(num_people=(6, 10), with_images=True,
            rig=dict(type='ring', num_views=3, image_size=(1920, 1080)))
HARD_FRAMES = 60


def _train(config: str, name: str, options=(), reuse: bool = False) -> dict:
    return train_with_tool(osp.join(ROOT, config),
                           osp.join(ROOT, 'work_dirs', f'bench_pretext_{name}'),
                           cfg_options=options, reuse=reuse, pattern='iter_*.pth')


def _test(config: str, checkpoint, update) -> dict:
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, config))
    update(cfg)
    return test_with_runner(cfg, osp.join(ROOT, checkpoint) if checkpoint else None,
                            osp.join(ROOT, 'work_dirs', 'bench_pretext_test'))


def _held_out_pairs(background: str):
    def update(cfg):
        ds = cfg.test_dataloader.dataset
        ds.background = background
        ds.dataset.update(split='test', rig_seed=HELD_OUT_RIG)
    return update


def part_sync(reuse: bool) -> dict:
    out = {}
    for background in ('mix', 'none'):
        info = _train(SYNC, f'sync_{background}',
                      [f'train_dataloader.dataset.background={background}'], reuse)
        out[f'background_{background}'] = dict(
            _test(SYNC, info['checkpoint'], _held_out_pairs(background)), **info)
    return out


def _held_out_views(cfg):
    cfg.test_dataloader.dataset.dataset.update(split='test', rig_seed=HELD_OUT_RIG)


def part_retrieval(reuse: bool) -> dict:
    import torch
    info = _train(MCSS, 'mcss', (), reuse)
    learned = _test(MCSS, info['checkpoint'], _held_out_views)
    torch.manual_seed(0)
    random_init = _test(MCSS, None, _held_out_views)
    return dict(mcss=dict(learned, **info), random_init=random_init)


def part_association(checkpoint: str) -> dict:
    from mmengine.config import Config
    mcss = Config.fromfile(osp.join(ROOT, MCSS)).model
    mcss.pop('data_preprocessor', None)
    rows = dict(default=None,
                embedding_gate=dict(mode='gate', embedding_threshold=1.0),
                embedding_sum=dict(mode='sum', weight=0.3, embedding_threshold=1.0))
    out = {}
    for name, assoc in rows.items():
        def update(cfg, assoc=assoc):
            cfg.test_dataloader.dataset.update(HARD, num_samples=HARD_FRAMES)
            cfg.test_dataloader.num_workers = 0
            cfg.test_dataloader.persistent_workers = False
            if assoc is not None:
                cfg.model.update(embedder=mcss, embedder_checkpoint=osp.join(ROOT, checkpoint),
                                 embedding_crop=dict(crop_size=64))
                cfg.model.triangulation = dict(cfg.model.get('triangulation') or {},
                                               embedding_association=assoc)
        m = _test(TRIANGULATION, None, update)
        out[name] = dict({k: m[k] for k in METRIC_KEYS}, association=assoc,
                         ms_per_frame=1000 * m['test_s'] / HARD_FRAMES)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--parts', nargs='+', default=['sync', 'retrieval', 'association'],
                   choices=['sync', 'retrieval', 'association'])
    p.add_argument('--reuse', action='store_true', help='reuse the models trained before')
    args = p.parse_args()
    import selfpose3d_mm  # noqa: F401
    path = osp.join(RESULTS_DIR, OUT)
    result = json.load(open(path)) if osp.exists(path) else {}
    result.update(machine=machine(), held_out_rig_seed=HELD_OUT_RIG)
    if 'sync' in args.parts:
        result['sync'] = part_sync(args.reuse)
        write_result(OUT, result)
    if 'retrieval' in args.parts or 'association' in args.parts:
        if 'retrieval' in args.parts:
            result['retrieval'] = part_retrieval(args.reuse)
            write_result(OUT, result)
        if 'association' in args.parts:
            ckpt = result['retrieval']['mcss']['checkpoint']
            result['association'] = dict(part_association(ckpt), hard=HARD,
                                         frames=HARD_FRAMES)
    print(write_result(OUT, result))


if __name__ == '__main__':
    main()
