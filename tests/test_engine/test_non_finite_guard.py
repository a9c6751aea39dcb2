"""Non-finite losses are skipped and counted; too many in a row stop the run; checkpoints
stay finite."""
import glob

import pytest
import torch
from mmengine.runner import Runner
from mmpose.registry import MODELS

from selfpose3d_mm.models.objectives import VoxelPoseObjective

SPACE = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))


@MODELS.register_module(force=True)
class _NaNAfterObjective(VoxelPoseObjective):
    """VoxelPose's losses, made NaN on the calls listed in ``nan_calls`` (0-based)."""

    def __init__(self, nan_calls=(), **kwargs):
        super().__init__(**kwargs)
        self.nan_calls, self.calls = set(nan_calls), 0

    def forward(self, net, batch):
        losses = super().forward(net, batch)
        if self.calls in self.nan_calls:
            losses = {k: v * float('nan') for k, v in losses.items()}
        self.calls += 1
        return losses


def _cfg(work_dir, nan_calls, max_consecutive=3):
    pipeline = [dict(type='MultiViewResize', input_size=(160, 96)),
                dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs')]
    return dict(
        model=dict(type='SelfPose3D', input_size=(160, 96), heatmap_size=(40, 24),
                   root_channels='all',
                   root_head=dict(cube_shape=(8, 8, 4), mid_channels=4, **SPACE),
                   pose_head=dict(cube_shape=(8, 8, 8), mid_channels=4),
                   objective=dict(type='_NaNAfterObjective', nan_calls=nan_calls)),
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='multiview_collate'),
            dataset=dict(type='SyntheticMultiViewDataset', num_samples=3, num_people=(1, 2),
                         pipeline=pipeline, **SPACE)),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(type='GuardedOptimWrapper', optimizer=dict(type='Adam', lr=1e-3)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1),
                           non_finite=dict(type='NonFiniteGuardHook',
                                           max_consecutive=max_consecutive)),
        default_scope='mmpose', randomness=dict(seed=0), log_level='WARNING')


def _finite(model):
    return all(torch.isfinite(t).all() for t in model.state_dict().values()
               if torch.is_tensor(t) and t.is_floating_point())


def test_a_non_finite_step_is_skipped_and_counted(tmp_path):
    runner = Runner.from_cfg(_cfg(tmp_path, nan_calls=(1, 4)))
    runner.train()
    assert runner.optim_wrapper.skipped_total == 2
    assert _finite(runner.model)  # BatchNorm statistics restored too
    assert runner.message_hub.get_scalar('train/skipped_steps').current() == 2


def test_too_many_in_a_row_stop_the_run_and_keep_good_checkpoints(tmp_path):
    runner = Runner.from_cfg(_cfg(tmp_path, nan_calls=range(3, 100), max_consecutive=3))
    with pytest.raises(RuntimeError, match='3 consecutive training steps had a non-finite'):
        runner.train()
    ckpts = glob.glob(str(tmp_path / 'epoch_*.pth'))
    assert ckpts == [str(tmp_path / 'epoch_1.pth')]  # written before the failures
    state = torch.load(ckpts[0], map_location='cpu')['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values()
               if torch.is_tensor(v) and v.is_floating_point())
    assert _finite(runner.model)
