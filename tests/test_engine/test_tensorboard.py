"""Logs of a tiny two-stage run: the stage hook's `stage` scalar reaches every visualizer
backend — mmengine's LocalVisBackend (scalars.json, read by tools/analyze_logs.py) and,
when tensorboard is installed, TensorboardVisBackend."""
import glob
import importlib.util
import os.path as osp

import pytest
from mmengine.runner import Runner

import selfpose3d_mm  # noqa: F401  (registers the model, datasets and the stage hook)
from tests.conftest import load_tool, tiny_staged_run_cfg

HAS_TENSORBOARD = importlib.util.find_spec('tensorboard') is not None
STAGES = [
    dict(name='root', epochs=1, train=['root_net'], lr=1e-3,
         losses=dict(loss_root_syn=100.0, loss_root_cons=1.0)),
    dict(name='pose', epochs=1, train=['pose_net', 'attention'], lr=1e-4,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1)),
]


def _cfg(work_dir, backends):
    return tiny_staged_run_cfg(
        work_dir, STAGES,
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1), checkpoint=None),
        # a name of its own: mmengine reuses a visualizer instance of the same name (runs
        # started in the same second share the default, timestamp-based one)
        visualizer=dict(type='Visualizer',
                        name=f'tensorboard_test_{osp.basename(str(work_dir))}',
                        vis_backends=[dict(type=b) for b in backends]))


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    """Two stages of one epoch of two iterations each, logged every iteration."""
    work = tmp_path_factory.mktemp('tb_run')
    backends = ['LocalVisBackend'] + (['TensorboardVisBackend'] if HAS_TENSORBOARD else [])
    Runner.from_cfg(_cfg(work, backends)).train()
    (run,) = glob.glob(str(work / '*' / 'vis_data'))
    return run


def test_stage_lines_in_the_local_log_give_the_stage_starts(tiny_run):
    analyze = load_tool('analyze_logs')
    curves = analyze.parse_curves(analyze.load_records(osp.join(tiny_run, 'scalars.json')))
    assert [(s.number, s.start_iter, s.start_epoch) for s in curves.stages] == \
        [(1, 0, 0), (2, 2, 1)]
    assert sorted(k for k in curves.losses if k != 'loss') == \
        ['loss_attn', 'loss_pose_hm', 'loss_root_cons', 'loss_root_syn']
    for key in STAGES[0]['losses']:  # first-stage losses stop at the boundary
        assert max(r.x.max() for r in curves.losses[key]) <= 2
    for key in STAGES[1]['losses']:
        assert min(r.x.min() for r in curves.losses[key]) > 2


@pytest.mark.skipif(not HAS_TENSORBOARD, reason='tensorboard is not installed')
def test_tensorboard_backend_gets_losses_and_the_stage(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    assert glob.glob(osp.join(tiny_run, 'events.out.tfevents.*'))
    events = EventAccumulator(tiny_run)
    events.Reload()
    tags = set(events.Tags()['scalars'])
    assert {'loss', 'lr', 'loss_root_syn', 'loss_pose_hm', 'stage'} <= tags
    assert [(e.step, e.value) for e in events.Scalars('stage')] == [(0, 1.0), (2, 2.0)]
    assert [e.step for e in events.Scalars('loss')] == [1, 2, 3, 4]
    assert [e.step for e in events.Scalars('loss_pose_hm')] == [3, 4]
    assert [round(e.value, 6) for e in events.Scalars('lr')] == [1e-3, 1e-3, 1e-4, 1e-4]
