"""Self-supervised vs supervised vs triangulation on the synthetic world with the
'realistic' 2D detector profile (the default world), with and without the test-time
refinement by the pseudo poses, on the default setting and on a hard one.

    python benchmarks/synthetic_realistic.py [--rows ...] [--settings default hard]
        [--test-seeds 0 1] [--train-seed 0] [--reuse]

Settings (the test world; models are trained on the world of their setting):
  default  the synthetic world of configs/_base_/datasets/synthetic_world.py: a 5-camera
           ring, 1-5 people, bystanders, profile 'realistic'
  hard     6-10 people and a 3-camera ring, same profile (``--train-hard`` trains the
           learned rows on the hard world too; otherwise the default-world models are
           tested there, which the JSON records under ``trained_on``)
Rows: selfsup, selfsup_refine, supervised, supervised_refine, triangulation (the default);
selfsup_long, selfsup_long_refine: the main job with three times its pose stages (1620
pose iterations, the supervised row's 1500), to measure what the schedule's length buys.
Every row is tested on the same held-out test split (300 frames, ``--test-seeds``: the
split's seed of people, motion and detections; the rig is fixed). The first test seed's
metrics are the row's keys; the others are under ``test_seed_<n>``.
``--train-seed N`` (N ≠ 0) trains the learned rows again with ``randomness.seed=N`` (work
dirs ``..._seed<N>``) and records them under the row's ``train_seed_<N>``: the run-to-run
spread of training.
``infer_ms_per_frame``: wall time of the whole test run (data loading in one worker,
model, metric) divided by the number of frames, on this machine.
Writes benchmarks/results/synthetic_realistic.json (merged with what is there).
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.common import (METRIC_KEYS, RESULTS_DIR, machine, set_row_refinement,  # noqa: E402
                               test_with_runner, train_with_tool, write_result)

OUT = 'synthetic_realistic.json'
MODELS = dict(selfsup='configs/selfpose3d_synthetic.py',
              supervised='configs/voxelpose_synthetic.py',
              selfsup_long='configs/ablations/selfpose3d_synthetic_long.py')
ROWS = dict(selfsup=('selfsup', False), selfsup_refine=('selfsup', True),
            supervised=('supervised', False), supervised_refine=('supervised', True),
            triangulation=(None, False), selfsup_long=('selfsup_long', False),
            selfsup_long_refine=('selfsup_long', True))
DEFAULT_ROWS = ['selfsup', 'selfsup_refine', 'supervised', 'supervised_refine',
                'triangulation']
TRIANGULATION = 'configs/triangulation_synthetic.py'
# the world of each setting: overrides of every split's dataset (and of the model)
SETTINGS = dict(
    default=dict(world={}, model={}),
    hard=dict(world=dict(num_people=(6, 10),
                         rig=dict(type='ring', num_views=3, image_size=(1920, 1080))),
              # the most people a frame holds sets the proposals kept and the synthetic
              # roots the root net learns from (max_people - 1 of them: the default world
              # has 1-5 people and the config 6)
              model=dict(root_head=dict(max_proposals=12),
                         objective=dict(root_syn=dict(max_people=11)))),
)
TEST_FRAMES = 300


def train(name: str, setting: str, reuse: bool, seed: int = 0) -> dict:
    """Train model ``name`` on the world of ``setting`` with tools/train.py (the user's
    command, :func:`train_with_tool`; training seed ``seed``); returns train_s, the
    checkpoint, the config."""
    work = osp.join(ROOT, 'work_dirs', f'bench_realistic_{name}_{setting}'
                    + (f'_seed{seed}' if seed else ''))
    config = osp.join(ROOT, MODELS[name])
    if SETTINGS[setting]['world'] or SETTINGS[setting]['model']:
        os.makedirs(work, exist_ok=True)
        config = osp.join(work, f'{name}_{setting}.py')  # the model's config, other world
        world = repr(SETTINGS[setting]['world'])
        with open(config, 'w') as f:
            f.write(f"_base_ = [{osp.join(ROOT, MODELS[name])!r}]\n"
                    + ''.join(f'{s}_dataloader = dict(dataset=dict(**{world}))\n'
                              for s in ('train', 'val', 'test'))
                    + f"model = dict(**{SETTINGS[setting]['model']!r})\n")
    info = train_with_tool(config, work, reuse=reuse,
                           cfg_options=[f'randomness.seed={seed}'] if seed else ())
    return dict(info, config=osp.relpath(config, ROOT), trained_on=setting,
                train_seed=seed)


def test(config: str, checkpoint, setting: str, seed: int, refine: bool) -> dict:
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, config))
    ds = cfg.test_dataloader.dataset
    ds.update(SETTINGS[setting]['world'], seed=seed, num_samples=TEST_FRAMES)
    if cfg.model.get('type') != 'TriangulationBaseline':
        for k, v in SETTINGS[setting]['model'].items():
            cfg.model[k].update(v)
    set_row_refinement(cfg, refine)
    metrics = test_with_runner(cfg, osp.join(ROOT, checkpoint) if checkpoint else None,
                               osp.join(ROOT, 'work_dirs', 'bench_realistic_test'))
    out = {k: float(metrics[k]) for k in METRIC_KEYS}
    out['infer_ms_per_frame'] = 1000.0 * metrics['test_s'] / TEST_FRAMES
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rows', nargs='+', default=DEFAULT_ROWS, choices=list(ROWS))
    p.add_argument('--settings', nargs='+', default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument('--test-seeds', nargs='+', type=int, default=[0, 1])
    p.add_argument('--train-hard', action='store_true',
                   help='train the learned rows on the hard world for the hard setting')
    p.add_argument('--train-seed', type=int, default=0,
                   help='training seed of the learned rows (not 0: kept under the row\'s '
                        'train_seed_<n>)')
    p.add_argument('--reuse', action='store_true',
                   help='reuse models this script trained before (their record file)')
    args = p.parse_args()
    import selfpose3d_mm  # noqa: F401
    path = osp.join(RESULTS_DIR, OUT)
    result = json.load(open(path)) if osp.exists(path) else {}
    result['machine'] = machine()
    result['profile'] = 'realistic'
    result['test_frames'] = TEST_FRAMES
    result['settings'] = {k: v['world'] or 'configs/_base_/datasets/synthetic_world.py'
                          for k, v in SETTINGS.items()}
    trained = {}
    for setting in args.settings:
        rows = result.setdefault(setting, {})
        for row in args.rows:
            model, refine = ROWS[row]
            if model is None:
                info = dict(train_s=0.0, checkpoint=None, config=TRIANGULATION,
                            trained_on=None)
            else:  # one training per model and world: its rows with and without
                # refinement test the same checkpoint
                world = setting if (setting == 'default' or args.train_hard) else 'default'
                if (model, world) not in trained:
                    trained[model, world] = train(model, world, args.reuse, args.train_seed)
                info = trained[model, world]
            entry = {}
            for i, seed in enumerate(args.test_seeds):
                m = test(info['config'], info['checkpoint'], setting, seed, refine)
                if i == 0:
                    entry.update(m, test_seed=seed)
                else:
                    entry[f'test_seed_{seed}'] = m
            entry.update({k: v for k, v in info.items() if k != 'command'})
            entry['refine'] = refine
            if model is not None and args.train_seed:
                rows.setdefault(row, {})[f'train_seed_{args.train_seed}'] = entry
            else:  # a new seed-0 model: the spread of an older one is dropped with it;
                # the same model tested again (--reuse) keeps its other training seeds'
                old = rows.get(row, {})
                if args.reuse and old.get('checkpoint') == entry.get('checkpoint'):
                    entry.update({k: v for k, v in old.items()
                                  if k.startswith('train_seed_')})
                rows[row] = entry
            print(setting, row, json.dumps(entry), flush=True)
            write_result(OUT, result)
    print(write_result(OUT, result))


if __name__ == '__main__':
    main()
