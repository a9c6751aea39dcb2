"""VoxelPose-style Shelf model trained on CPU from synthetic people in the Shelf space and
rig, evaluated (PCP) on the real Shelf fixture frames: real detections, real GT.

    python benchmarks/shelf_fixture_pcp.py [--smoke] [--fixtures DIR]

Writes a derived config (``configs/voxelpose_shelf.py`` at a CPU size: 400 x 304 input,
48 x 48 x 12 root cube, 24^3 person cubes, 3 epochs of 900 samples), trains it with
``tools/train.py`` (timed), evaluates the last checkpoint with ``PCPMetric`` on the
fixture frames, and writes benchmarks/results/shelf_fixture_pcp.json:
``{"PCP_per_actor", "PCP", "frames", "train_s", "config", ...}``. The pose source is the
fixture's ``panoptic_training_pose.pkl`` when it holds >= 100 poses, else the synthetic
world's people generator. For reference the same frames are also scored with the
training-free triangulation baseline (``triangulation_PCP``): it reads the same
detections, so it tells how far the detections and the GT agree on these frames.
``--smoke`` runs a tiny schedule and writes under the work dir only. Full run: about
12-15 min on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import glob
import math
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.common import machine, write_result  # noqa: E402

BASE_CONFIG = 'configs/voxelpose_shelf.py'
# CPU size (about voxelpose_synthetic's network) and the tiny smoke size
SIZES = dict(
    full=dict(input_size=(400, 304), heatmap_size=(100, 76), sigma=2.0, root=(48, 48, 12),
              pose=(24, 24, 24), mid=16, samples=900, epochs=3, milestone=2, batch=2),
    smoke=dict(input_size=(200, 152), heatmap_size=(50, 38), sigma=1.5, root=(16, 16, 4),
               pose=(8, 8, 8), mid=4, samples=4, epochs=1, milestone=1, batch=2),
)


def derived_config(size: dict, fixtures: str, frames, poses: dict) -> str:
    """The benchmark's config: ``configs/voxelpose_shelf.py`` with these overrides."""
    s = size
    return f'''_base_ = [{osp.join(ROOT, BASE_CONFIG)!r}]
pipeline = [
    dict(type='MultiViewResize', input_size={s['input_size']!r}),
    dict(type='MultiViewAffine'),
    dict(type='PackMultiViewInputs'),
]
train_dataloader = dict(batch_size={s['batch']}, num_workers=1, dataset=dict(
    data_root={fixtures!r}, num_samples={s['samples']}, pipeline=pipeline,
    poses=dict(_delete_=True, **{poses!r})))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(
    data_root={fixtures!r}, frame_ranges={frames!r}, pipeline=pipeline))
test_dataloader = val_dataloader
model = dict(
    input_size={s['input_size']!r}, heatmap_size={s['heatmap_size']!r},
    heatmap_input=dict(sigma={s['sigma']}),
    root_head=dict(cube_shape={s['root']!r}, mid_channels={s['mid']}, max_proposals=8),
    pose_head=dict(cube_shape={s['pose']!r}, mid_channels={s['mid']}),
    train_cfg=dict(pose_on_gt_roots=True))  # teacher forcing: short schedules
train_cfg = dict(max_epochs={s['epochs']}, val_interval={s['epochs']})
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [dict(type='MultiStepLR', milestones=[{s['milestone']}], gamma=0.1,
                        by_epoch=True)]
default_hooks = dict(logger=dict(interval=50))
'''


def triangulation_pcp(cfg) -> dict:
    """PCP of the triangulation baseline on the config's test frames."""
    from mmpose.registry import DATASETS, METRICS, MODELS

    from selfpose3d_mm.datasets import multiview_collate
    ds = DATASETS.build(cfg.test_dataloader.dataset)
    model = MODELS.build(dict(type='TriangulationBaseline'))
    metric = METRICS.build(cfg.test_evaluator)
    for i in range(len(ds)):  # a few fixture frames
        data = model.data_preprocessor(multiview_collate([ds[i]]), False)
        metric.process({}, model(**data, mode='predict'))
    return metric.evaluate(len(ds))


def _clean(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--smoke', action='store_true', help='tiny schedule (checks the script)')
    p.add_argument('--fixtures', default=osp.join(osp.dirname(ROOT), 'shared', 'fixtures',
                                                  'shelf'))
    p.add_argument('--work-dir', default=None)
    p.add_argument('--out', default='shelf_fixture_pcp.json')
    args = p.parse_args()
    work_dir = args.work_dir or osp.join(
        ROOT, 'work_dirs', 'bench_shelf_fixture_pcp' + ('_smoke' if args.smoke else ''))
    os.makedirs(work_dir, exist_ok=True)

    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import selfpose3d_mm  # noqa: F401
    from selfpose3d_mm.io import load_actors_gt, load_pose_bank
    init_default_scope('mmpose')
    fixtures = osp.abspath(args.fixtures)
    num_frames = load_actors_gt(osp.join(fixtures, 'actorsGT.mat'))[0].shape[1]
    frames = [(0, num_frames - 1)]
    bank = osp.join(fixtures, 'panoptic_training_pose.pkl')
    n_bank = len(load_pose_bank(bank)[0]) if osp.isfile(bank) else 0
    poses = dict(type='bank', path=bank) if n_bank >= 100 else dict(type='generator')

    size = SIZES['smoke' if args.smoke else 'full']
    cfg_path = osp.join(work_dir, 'shelf_fixture_pcp_config.py')
    with open(cfg_path, 'w') as f:
        f.write(derived_config(size, fixtures, frames, poses))

    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), cfg_path,
           '--work-dir', work_dir]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    t = time.perf_counter()
    with open(osp.join(work_dir, 'train.log'), 'w') as log:
        subprocess.run(cmd, check=True, env=env, stdout=log, stderr=subprocess.STDOUT)
    train_s = time.perf_counter() - t

    ckpts = sorted(glob.glob(osp.join(work_dir, 'epoch_*.pth')),
                   key=lambda q: int(osp.basename(q)[6:-4]))
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = osp.join(work_dir, 'test')
    cfg.load_from = ckpts[-1]
    metrics = Runner.from_cfg(cfg).test()
    actors = sorted(int(k[len('PCP_actor'):]) for k in metrics if k.startswith('PCP_actor'))
    tri = triangulation_pcp(cfg)
    res = dict(
        PCP_per_actor=[_clean(float(metrics[f'PCP_actor{a}'])) for a in actors],
        actors=actors,
        PCP=_clean(float(metrics['PCP'])),
        **{k: _clean(float(v)) for k, v in metrics.items()
           if k.startswith('PCP_') and not k.startswith('PCP_actor')},
        recall_500=_clean(float(metrics['Recall@500'])),
        frames=int(metrics['frames']),
        train_s=train_s,
        triangulation_PCP=_clean(float(tri['PCP'])),
        pose_source=poses['type'] + (f' ({n_bank} poses)' if poses['type'] == 'bank' else ''),
        schedule=dict(samples_per_epoch=size['samples'], epochs=size['epochs'],
                      batch_size=size['batch'], input_size=size['input_size'],
                      root_cube=size['root'], pose_cube=size['pose']),
        config=BASE_CONFIG,
        checkpoint=osp.relpath(ckpts[-1], ROOT),
        smoke=bool(args.smoke),
        machine=machine(),
    )
    print(res)
    out_dir = work_dir if args.smoke else None
    path = write_result(args.out, res, out_dir) if out_dir else write_result(args.out, res)
    print('written', path)


if __name__ == '__main__':
    main()
