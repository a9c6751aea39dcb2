"""Self-supervised SelfPose3d vs the fully-supervised upper bound vs a triangulation
baseline, plus ablations — all on the synthetic default, one held-out test split, fixed
seeds (the paper's Tables 1, 4, 5, 6 in miniature).

    python benchmarks/synthetic_selfsup.py [--rows selfsup supervised triangulation ablations]

Rows:
  selfsup        configs/selfpose3d_synthetic.py (the README's main job)
  supervised     configs/voxelpose_synthetic.py (reused from synthetic_supervised.json when
                 that file exists, as it is the same run on the same split)
  triangulation  configs/triangulation_synthetic.py (no training)
  ablations      configs/ablations/*.py on a shorter schedule, each against
                 "selfsup_short", the full method on that same shorter schedule.
Writes benchmarks/results/synthetic_selfsup.json.
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.common import (METRIC_KEYS, RESULTS_DIR, machine,  # noqa: E402
                               train_and_test, write_result)

ABLATIONS = dict(
    selfsup_short='configs/ablations/selfpose3d_synthetic_short.py',
    no_cross_affine='configs/ablations/selfpose3d_synthetic_no_cross_affine.py',
    no_attention='configs/ablations/selfpose3d_synthetic_no_attention.py',
    l2_only='configs/ablations/selfpose3d_synthetic_l2_only.py',
)


def run_test_only(config: str, work_dir: str) -> dict:
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    metrics = Runner.from_cfg(cfg).test()
    return {**{k: float(metrics[k]) for k in METRIC_KEYS}, 'train_s': 0.0, 'config': config}


def run(config: str, name: str) -> dict:
    # the networks compared, without the test-time refinement the main job's config has
    res = train_and_test(config, osp.join(ROOT, 'work_dirs', f'bench_{name}'),
                         test_options=('model.test_cfg.refine=None', ))
    res['config'] = config
    print(name, json.dumps(res), flush=True)
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rows', nargs='+',
                   default=['selfsup', 'supervised', 'triangulation', 'ablations'])
    p.add_argument('--out', default='synthetic_selfsup.json')
    args = p.parse_args()
    import selfpose3d_mm  # noqa: F401
    path = osp.join(RESULTS_DIR, args.out)
    result = json.load(open(path)) if osp.exists(path) else {}
    result['machine'] = machine()
    if 'selfsup' in args.rows:
        result['selfsup'] = run('configs/selfpose3d_synthetic.py', 'selfsup')
    if 'supervised' in args.rows:
        sup = osp.join(RESULTS_DIR, 'synthetic_supervised.json')
        if osp.exists(sup):
            result['supervised'] = {k: v for k, v in json.load(open(sup)).items()
                                    if k != 'machine'}
        else:
            result['supervised'] = run('configs/voxelpose_synthetic.py', 'supervised')
    if 'triangulation' in args.rows:
        result['triangulation'] = run_test_only(
            'configs/triangulation_synthetic.py',
            osp.join(ROOT, 'work_dirs', 'bench_triangulation'))
    if 'ablations' in args.rows:
        result['ablations'] = {name: run(cfg, name) for name, cfg in ABLATIONS.items()}
        result['ablations']['note'] = (
            'shorter schedule than the main rows (see configs/ablations/); compare each '
            'ablation with selfsup_short, trained on the same schedule')
    print('written', write_result(args.out, result))


if __name__ == '__main__':
    main()
