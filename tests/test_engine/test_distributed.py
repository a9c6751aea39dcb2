"""Distributed runs on a CPU machine: ``tools/dist_train.sh`` starts two gloo processes
(DDP), the ranks train on disjoint samples and end with identical weights, and
``tools/dist_test.sh`` on an uneven split (5 frames over 2 ranks) gives the predictions
and metrics of the single-process ``tools/test.py``."""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import load_tool

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which('bash') is None, reason='needs bash')

# the main job's config, made tiny (model, cubes, samples); everything else as the user
# runs it (TrainingStageHook stages, validation at the end, checkpoints)
TINY = ['model.input_size=(160,96)', 'model.heatmap_size=(40,24)',
        'model.root_head.cube_shape=(16,16,4)', 'model.root_head.mid_channels=4',
        'model.root_head.max_proposals=2', 'model.pose_head.cube_shape=(8,8,8)',
        'model.pose_head.mid_channels=4', 'model.test_cfg.threshold=0.0']
for split, n in (('train', 4), ('val', 5), ('test', 5)):
    TINY += [f'{split}_dataloader.dataset.num_samples={n}',
             f'{split}_dataloader.batch_size=1', f'{split}_dataloader.num_workers=0',
             f'{split}_dataloader.persistent_workers=False',
             f'{split}_dataloader.dataset.pipeline.0.input_size=(160,96)']
# thresholds an untrained model reaches, so that AP / MPJPE are non-trivial numbers
METRIC = ['test_evaluator.thresholds=(1000,2000,4000)', 'test_evaluator.mpjpe_threshold=4000']


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run(script, *args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT=str(_free_port()), CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run(['bash', str(ROOT / 'tools' / script), *map(str, args)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    assert proc.returncode == 0, proc.stdout.decode()[-4000:]
    return proc.stdout.decode()


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU (gloo) path')
def test_two_rank_training_and_evaluation(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f"_base_ = ['{(ROOT / 'configs' / 'selfpose3d_synthetic.py').as_posix()}']\n"
                   "custom_imports = dict(imports=['selfpose3d_mm', "
                   "'tests.test_engine.dist_probe'], allow_failed_imports=False)\n")
    probe = tmp_path / 'probe'
    probe.mkdir()
    work = tmp_path / 'train'
    log = _run('dist_train.sh', cfg, 2, '--work-dir', work, '--cfg-options', *TINY,
               'default_hooks.rank_probe.type=RankStateProbe',
               f'default_hooks.rank_probe.out_dir={probe}')
    ranks = [json.loads((probe / f'rank{r}.json').read_text()) for r in (0, 1)]
    for r in ranks:
        assert r['world_size'] == 2 and r['ddp'] and r['backend'] == 'gloo'
    assert 'Epoch(val)' in log  # the evaluation at the end of training ran
    # each epoch the 4 samples are split between the ranks: different data per rank...
    iters = ranks[0]['iters']
    assert iters == ranks[1]['iters'] and iters >= 4
    for e in range(0, iters, 2):
        a, b = ranks[0]['indices'][e:e + 2], ranks[1]['indices'][e:e + 2]
        assert sorted(a + b) == [0, 1, 2, 3], (a, b)
    # ...yet the same weights after every step: the gradients were averaged (and the
    # initial weights were the same, broadcast from rank 0)
    assert ranks[0]['initial'] == ranks[1]['initial']
    assert ranks[0]['final'] == ranks[1]['final']
    assert ranks[0]['final'] != ranks[0]['initial']  # it trained

    # the checkpoint evaluated on 5 frames: 1 process vs 2 ranks (3 + 3 frames, one of
    # them padding that the collection drops)
    ckpt = Path((work / 'last_checkpoint').read_text().strip())
    opts = ['--cfg-options', *TINY, *METRIC]
    single = load_tool('test').main([str(cfg), str(ckpt), '--work-dir',
                                     str(tmp_path / 't1'), '--out',
                                     str(tmp_path / 'one.npz'), *opts])
    _run('dist_test.sh', cfg, ckpt, 2, '--work-dir', tmp_path / 't2', '--out',
         tmp_path / 'two.npz', *opts)
    dumps = list((tmp_path / 't2').glob('*/*.json'))
    assert len(dumps) == 1, dumps
    dist_metrics = json.loads(dumps[0].read_text())
    keys = [k for k in single if not k.startswith('dump')]
    assert {'AP1000', 'mAP', 'MPJPE'} <= set(keys)
    assert 0 < single['AP4000'] and np.isfinite(single['MPJPE'])  # non-trivial numbers
    for k in keys:
        assert dist_metrics[k] == pytest.approx(single[k], rel=1e-6, abs=1e-9), k

    one, two = np.load(tmp_path / 'one.npz'), np.load(tmp_path / 'two.npz')
    assert list(two['frame_ids']) == list(one['frame_ids']) and len(one['frame_ids']) == 5
    for k in ('keypoints_3d', 'scores', 'root_centers', 'num_persons'):
        np.testing.assert_allclose(two[k], one[k], rtol=0, atol=1e-4, err_msg=k)
