"""The stage hook drives trainable modules, losses, labels and lr by epoch, across resume."""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from selfpose3d_mm.engine import TrainingStageHook
from tests.conftest import tiny_staged_run_cfg

STAGES = [
    dict(name='root', epochs=1, train=['root_net'], lr=1e-3,
         losses=dict(loss_root_syn=100.0, loss_root_cons=1.0)),
    dict(name='pose', epochs=2, train=['pose_net', 'attention'], lr=1e-3, lr_steps=[1],
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1)),
    dict(name='hard', epochs=1, train=['pose_net'], lr=5e-4, labels='hard',
         losses=dict(loss_pose_hm=1.0, loss_pose_l1=0.01)),
]


class Probe(Hook):
    """Records what the model trains with at each iteration (after the stage hook ran)."""
    priority = 'LOWEST'

    def __init__(self):
        self.log = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        m = runner.model
        self.log[runner.epoch] = dict(
            losses=dict(m.objective.active), labels=m.objective.label_set,
            lr=runner.optim_wrapper.param_groups[0]['lr'],
            root_grad=all(p.requires_grad for p in m.root_head.parameters()),
            pose_grad=all(p.requires_grad for p in m.pose_head.parameters()),
            attn_grad=all(p.requires_grad for p in m.objective.attention_net.parameters()),
            root_training=m.root_head.training, pose_training=m.pose_head.training,
            logged=sorted(k[len('train/'):] for k in runner.message_hub.log_scalars
                          if k.startswith('train/loss_')))


def _cfg(work_dir, stages=STAGES):
    return tiny_staged_run_cfg(work_dir, stages)


def _expected(epoch):
    return [dict(losses=STAGES[0]['losses'], labels='soft', lr=1e-3, root_grad=True,
                 pose_grad=False, attn_grad=False, root_training=True, pose_training=False),
            dict(losses=STAGES[1]['losses'], labels='soft', lr=1e-3, root_grad=False,
                 pose_grad=True, attn_grad=True, root_training=False, pose_training=True),
            dict(losses=STAGES[1]['losses'], labels='soft', lr=1e-4, root_grad=False,
                 pose_grad=True, attn_grad=True, root_training=False, pose_training=True),
            dict(losses=STAGES[2]['losses'], labels='hard', lr=5e-4, root_grad=False,
                 pose_grad=True, attn_grad=False, root_training=False, pose_training=True),
            ][epoch]


def _check(log, epoch):
    got, want = log[epoch], _expected(epoch)
    # only the losses of the current stage are in the logs (none of an earlier stage)
    assert set(got.pop('logged')) <= set(want['losses']), epoch
    assert got.pop('lr') == pytest.approx(want.pop('lr')), epoch
    assert got == want, epoch


def test_stages_switch_at_the_right_epochs_and_after_resume(tmp_path):
    probe = Probe()
    runner = Runner.from_cfg(_cfg(tmp_path / 'run'))
    runner.register_hook(probe)
    runner.train()
    assert sorted(probe.log) == [0, 1, 2, 3]
    for e in range(4):
        _check(probe.log, e)
    # resume in the middle of the 'pose' stage (after its first epoch)
    cfg = _cfg(tmp_path / 'resumed')
    cfg.update(resume=True, load_from=str(tmp_path / 'run' / 'epoch_2.pth'))
    probe2 = Probe()
    runner2 = Runner.from_cfg(cfg)
    runner2.register_hook(probe2)
    runner2.train()
    assert sorted(probe2.log) == [2, 3]
    for e in (2, 3):
        _check(probe2.log, e)


def test_bad_stage_lists_fail_clearly(tmp_path):
    with pytest.raises(KeyError, match='missing `losses`'):
        TrainingStageHook([dict(epochs=1, train=['pose_net'])])
    with pytest.raises(ValueError, match="'soft' or 'hard'"):
        TrainingStageHook([dict(epochs=1, train=[], losses={}, labels='medium')])
    runner = Runner.from_cfg(_cfg(tmp_path, stages=STAGES[:1]))
    runner.train_loop._max_epochs = 3
    with pytest.raises(ValueError, match='add up to 1 epochs'):
        runner.train()
    bad = [dict(STAGES[0], train=['no_such_net'])]
    with pytest.raises(KeyError, match='no_such_net'):
        Runner.from_cfg(_cfg(tmp_path / 'b', stages=bad)).train()


def test_stage_lookup_and_lr_schedule():
    hook = TrainingStageHook(STAGES)
    assert hook.total_epochs == 4
    assert [hook.stage_at(e)[0] for e in range(4)] == [0, 1, 1, 2]
    assert [hook.lr_at(e) for e in range(4)] == pytest.approx([1e-3, 1e-3, 1e-4, 5e-4])
