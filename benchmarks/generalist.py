"""The generalist (one model, many synthetic rigs) on rigs it has never seen: zero-shot,
after a short self-supervised fine-tuning, against a rig-specific self-supervised model
trained with the same budget, and against triangulation.

    python benchmarks/generalist.py [--settings heldout studio_ring5 outdoor3 dome8]
        [--rows ...] [--weights selfpose3d_mm/model_zoo/generalist_cpu.pth]
        [--test-seeds 0 1] [--reuse]

Settings (the test world; the realistic 2D detector profile everywhere):
  heldout       random rigs of the randomised world's *test* stream: every test sequence
                has its own rig (3-8 cameras, any layout) and capture space, none of them
                seen in training (configs/_base_/datasets/synthetic_rigs.py)
  studio_ring5  the named layouts (selfpose3d_mm/datasets/synthetic/rig_config.py), each a
  outdoor3      fixed rig with its own capture space, 1-5 people
  dome8
Rows (``_refine``: the same model with test-time refinement by the 2D poses):
  zero_shot[_refine]        the generalist as it ships (``--weights``), no training
  finetuned[_refine]        the generalist after configs/selfpose3d_finetune_rig.py's
                            schedule on the setting's unlabelled training split
  rig_specific[_refine]     the same architecture, stages and iterations from random
                            weights (learning rates: SCRATCH_LR)
  triangulation             configs/triangulation_synthetic.py on the same 2D poses
(the fine-tuned and rig-specific rows need a fixed rig: named layouts only.)
Every row of a setting is tested on the same held-out split (``TEST_FRAMES`` frames per
``--test-seeds`` seed: the seed of people, motion and detections). Writes
benchmarks/results/generalist.json (merged with what is there).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.common import (METRIC_KEYS, RESULTS_DIR, machine, set_row_refinement,  # noqa: E402
                               test_with_runner, train_with_tool, write_result)

OUT = 'generalist.json'
GENERALIST = 'configs/selfpose3d_generalist.py'
FINETUNE = 'configs/selfpose3d_finetune_rig.py'
TRIANGULATION = 'configs/triangulation_synthetic.py'
TEST_FRAMES = 100
TRAIN_FRAMES = 150  # unlabelled frames of the fine-tuning / rig-specific runs
SETTINGS = {
    'heldout': dict(rig=None),  # the generalist config's own random-rig world
    'studio_ring5': dict(rig=dict(type='layout', name='studio_ring5')),
    'outdoor3': dict(rig=dict(type='layout', name='outdoor3')),
    'dome8': dict(rig=dict(type='layout', name='dome8')),
}
ROWS = dict(zero_shot=('zero_shot', False), zero_shot_refine=('zero_shot', True),
            finetuned=('finetuned', False), finetuned_refine=('finetuned', True),
            rig_specific=('rig_specific', False),
            rig_specific_refine=('rig_specific', True),
            triangulation=('triangulation', False))


def _world(setting: str) -> dict:
    """The setting's dataset keys: they *replace* the config's (no merge of the rig)."""
    rig = SETTINGS[setting]['rig']
    return {} if rig is None else dict(rig=rig)


def _replace(ds, keys: dict) -> None:
    for k, v in keys.items():  # assignment: a ConfigDict update would merge the rig dicts
        ds[k] = copy.deepcopy(v)


# learning rates of the rig-specific model (from random weights, the main job's): the same
# stages and iterations as the fine-tuning schedule, whose rates suit a trained start
SCRATCH_LR = dict(root_net=1e-3, pose_l2_l1=1e-3, hard_labels=5e-4)


def _schedule(kind: str) -> dict:
    """The fine-tuning config's schedule (stages, epochs), shared by both trained rows;
    the rig-specific model takes :data:`SCRATCH_LR`."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, FINETUNE))
    hooks = copy.deepcopy(cfg.custom_hooks)
    if kind == 'rig_specific':
        for stage in hooks[0]['stages']:
            stage['lr'] = SCRATCH_LR[stage['name']]
    return dict(custom_hooks=hooks, train_cfg=cfg.train_cfg)


def train(kind: str, setting: str, weights: str, reuse: bool) -> dict:
    """Fine-tune the generalist (``kind='finetuned'``) or train from random weights
    (``'rig_specific'``) on the setting's training split, with tools/train.py."""
    work = osp.join(ROOT, 'work_dirs', f'bench_generalist_{kind}_{setting}')
    os.makedirs(work, exist_ok=True)
    sched = _schedule(kind)
    rig = dict(SETTINGS[setting]['rig'], _delete_=True)  # replaces the random rig
    config = osp.join(work, f'{kind}_{setting}.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = [{osp.join(ROOT, GENERALIST)!r}]\n"
                f"train_dataloader = dict(dataset=dict(rig={rig!r}, "
                f"num_samples={TRAIN_FRAMES}))\n"
                f"val_dataloader = dict(dataset=dict(rig={rig!r}))\n"
                f"test_dataloader = dict(dataset=dict(rig={rig!r}))\n"
                f"custom_hooks = {sched['custom_hooks']!r}\n"
                f"train_cfg = {dict(sched['train_cfg'], val_interval=10**6)!r}\n"
                f"load_from = {weights if kind == 'finetuned' else None!r}\n")
    return train_with_tool(config, work, extra_args=['--no-validate'], reuse=reuse)


def test(config: str, checkpoint, setting: str, seed: int, refine: bool) -> dict:
    from mmengine.config import Config

    from selfpose3d_mm.apis.config_links import apply_linked_settings
    cfg = apply_linked_settings(Config.fromfile(osp.join(ROOT, config)))
    if config == TRIANGULATION:  # the same test world as the generalist's
        world = copy.deepcopy(Config.fromfile(osp.join(ROOT, GENERALIST))
                              .test_dataloader.dataset)
        world.pop('pipeline', None)
        _replace(cfg.test_dataloader.dataset, world)
        cfg.test_dataloader.batch_size = 1
    _replace(cfg.test_dataloader.dataset,
             dict(_world(setting), seed=seed, num_samples=TEST_FRAMES))
    set_row_refinement(cfg, refine)
    if cfg.model.get('type') == 'SelfPose3D':
        cfg.model.objective = None  # predicts only (the weights carry no attention net)
    m = test_with_runner(cfg, osp.join(ROOT, checkpoint) if checkpoint else None,
                         osp.join(ROOT, 'work_dirs', 'bench_generalist_test'))
    out = {k: m[k] for k in METRIC_KEYS}
    out['infer_ms_per_frame'] = 1000.0 * m['test_s'] / TEST_FRAMES
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--settings', nargs='+', default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument('--rows', nargs='+', default=list(ROWS), choices=list(ROWS))
    p.add_argument('--weights', default='selfpose3d_mm/model_zoo/generalist_cpu.pth',
                   help='the generalist to test (relative to the repository root)')
    p.add_argument('--test-seeds', nargs='+', type=int, default=[0, 1])
    p.add_argument('--reuse', action='store_true',
                   help='reuse models this script trained before (their record files)')
    args = p.parse_args()
    import selfpose3d_mm  # noqa: F401
    path = osp.join(RESULTS_DIR, OUT)
    result = json.load(open(path)) if osp.exists(path) else {}
    result.update(machine=machine(), profile='realistic', test_frames=TEST_FRAMES,
                  train_frames=TRAIN_FRAMES, generalist=args.weights,
                  generalist_config=GENERALIST, finetune_config=FINETUNE,
                  settings={k: v['rig'] or f'{GENERALIST} (random rigs, test stream)'
                            for k, v in SETTINGS.items()})
    weights = osp.join(ROOT, args.weights)
    trained = {}  # (kind, setting) -> record: a row and its _refine share one model
    for setting in args.settings:
        rows = result.setdefault(setting, {})
        for row in args.rows:
            kind, refine = ROWS[row]
            if setting == 'heldout' and kind in ('finetuned', 'rig_specific'):
                continue  # one rig per sequence: nothing rig-specific to train
            if kind == 'triangulation':
                info = dict(config=TRIANGULATION, checkpoint=None, train_s=0.0)
            elif kind == 'zero_shot':
                info = dict(config=GENERALIST, checkpoint=args.weights, train_s=0.0)
            else:
                if (kind, setting) not in trained:
                    trained[kind, setting] = train(kind, setting, weights, args.reuse)
                info = dict(trained[kind, setting], config=GENERALIST)
            entry = {}
            for i, seed in enumerate(args.test_seeds):
                m = test(info['config'], info['checkpoint'], setting, seed, refine)
                if i == 0:
                    entry.update(m, test_seed=seed)
                else:
                    entry[f'test_seed_{seed}'] = m
            entry.update(info, refine=refine)
            rows[row] = entry
            print(setting, row, json.dumps(entry), flush=True)
            write_result(OUT, result)
    print(write_result(OUT, result))


if __name__ == '__main__':
    main()
