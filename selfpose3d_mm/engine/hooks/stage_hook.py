"""The training schedule of SelfPose3d as one run: a list of stages in the config.

    custom_hooks = [dict(type='TrainingStageHook', stages=[
        dict(name='root', epochs=1, train=['root_net'],
             losses=dict(loss_root_syn=100.0, loss_root_cons=1.0), lr=1e-4),
        dict(name='pose_l2', epochs=5, train=['pose_net', 'attention'],
             losses=dict(loss_pose_hm=1.0, loss_attn=0.1), lr=1e-4, lr_steps=[4]),
        dict(name='pose_l1', epochs=3, train=['pose_net', 'attention'],
             losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=0.01), lr=5e-5),
        dict(name='hard', epochs=2, ..., labels='hard'),
    ])]

At the start of every epoch (and before training, so a resumed run lands in the right
stage) the hook finds the stage that epoch belongs to and sets, on the model, which
modules train (the rest are frozen: ``requires_grad=False`` and kept in eval mode);
on the model's objective, which of *its own* losses are on with which weights and which
pseudo-label set is used (a loss the objective does not compute is an error, so a stage
list can never switch a self-supervised objective to ground truth); and on the optimiser, the learning rate (the stage's ``lr`` × ``gamma`` per passed ``lr_steps``,
epochs counted from the stage start).

The learning rate is set here rather than by mmengine param schedulers because each stage
restarts its own schedule, which a run-wide scheduler cannot express; configs using this
hook declare no ``param_scheduler``. The stage is a pure function of the epoch, so
``--resume`` needs no extra state. Without this hook (e.g. a child config that replaces
``custom_hooks``) the objective trains its full loss set with its ``loss_weights``.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS

__all__ = ['TrainingStageHook']

_STAGE_KEYS = {'name', 'epochs', 'train', 'losses', 'labels', 'lr', 'lr_steps', 'gamma'}


def _check_stage(i: int, stage: dict) -> dict:
    unknown = set(stage) - _STAGE_KEYS
    if unknown:
        raise KeyError(f'stages[{i}]: unknown keys {sorted(unknown)}; allowed: '
                       f'{sorted(_STAGE_KEYS)}')
    for key in ('epochs', 'train', 'losses'):
        if key not in stage:
            raise KeyError(f'stages[{i}] ({stage.get("name", "?")}): missing `{key}`')
    s = {**dict(name=f'stage{i}', labels='soft', lr=None, lr_steps=(), gamma=0.1), **stage}
    if int(s['epochs']) < 1:
        raise ValueError(f'stages[{i}] ({s["name"]}): epochs must be >= 1')
    if s['labels'] not in ('soft', 'hard'):
        raise ValueError(f"stages[{i}] ({s['name']}): labels must be 'soft' or 'hard', "
                         f"got {s['labels']!r}")
    s['epochs'] = int(s['epochs'])
    s['train'] = list(s['train'])
    s['losses'] = {k: float(v) for k, v in s['losses'].items()}
    s['lr_steps'] = sorted(int(e) for e in s['lr_steps'])
    return s


@HOOKS.register_module()
class TrainingStageHook(Hook):
    """Drives a multi-stage schedule from ``stages`` (see the module docstring).

    Each stage: ``name``, ``epochs``, ``train`` (module paths of the model, or group names
    the model resolves: ``'heatmap_net_2d'``, ``'root_net'``, ``'pose_net'``,
    ``'attention'``), ``losses`` (the objective's loss names → weight; losses not listed
    are off), ``labels`` (``'soft'``/``'hard'``), ``lr`` (None keeps the
    optimiser's), ``lr_steps`` (epochs from the stage start) and ``gamma``.
    """

    priority = 'VERY_HIGH'  # before anything that reads the model's trainable state

    def __init__(self, stages: Sequence[dict]):
        if not stages:
            raise ValueError('TrainingStageHook needs at least one stage')
        self.stages: List[dict] = [_check_stage(i, dict(s)) for i, s in enumerate(stages)]
        self.current: Optional[int] = None

    @property
    def total_epochs(self) -> int:
        return sum(s['epochs'] for s in self.stages)

    def stage_at(self, epoch: int):
        """(index, stage, epoch within the stage) of a 0-based training epoch."""
        start = 0
        for i, s in enumerate(self.stages):
            if epoch < start + s['epochs']:
                return i, s, epoch - start
            start += s['epochs']
        return len(self.stages) - 1, self.stages[-1], epoch - start + self.stages[-1]['epochs']

    def lr_at(self, epoch: int) -> Optional[float]:
        _, s, e = self.stage_at(epoch)
        if s['lr'] is None:
            return None
        return s['lr'] * s['gamma'] ** sum(e >= step for step in s['lr_steps'])

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train(self, runner) -> None:
        max_epochs = runner.train_loop.max_epochs
        if max_epochs != self.total_epochs:
            raise ValueError(f'train_cfg.max_epochs={max_epochs} but the stages add up to '
                             f'{self.total_epochs} epochs: '
                             + ', '.join(f"{s['name']}={s['epochs']}" for s in self.stages))
        model = self._model(runner)
        if not hasattr(model, 'set_stage'):
            raise TypeError(f'{type(model).__name__} has no set_stage(); TrainingStageHook '
                            'drives SelfPose3D-style models')
        self.apply(runner, runner.epoch)

    def before_train_epoch(self, runner) -> None:
        self.apply(runner, runner.epoch)

    def apply(self, runner, epoch: int) -> None:
        i, s, e = self.stage_at(epoch)
        self._model(runner).set_stage(train=s['train'], losses=s['losses'],
                                      labels=s['labels'])
        lr = self.lr_at(epoch)
        if lr is not None:
            for group in runner.optim_wrapper.param_groups:
                group['lr'] = lr
        if i != self.current:
            # the logs show the losses of this stage only: drop the last values of the
            # losses an earlier stage computed (they would be printed forever otherwise)
            scalars = runner.message_hub.log_scalars
            for key in [k for k in scalars if k.startswith('train/loss_')
                        and k[len('train/'):] not in s['losses']]:
                del scalars[key]
            runner.logger.info(
                f"stage {i + 1}/{len(self.stages)} '{s['name']}' from epoch {epoch + 1} "
                f"(epoch {e + 1}/{s['epochs']} of the stage): train {s['train']}, losses "
                f"{s['losses']}, {s['labels']} labels, lr {lr}")
            # the stage number (1 = the first, as in the line above) as a `stage` scalar at
            # the iteration count where it starts, for every visualizer backend
            # (scalars.json → tools/analyze_logs.py, TensorBoard)
            runner.visualizer.add_scalars({'stage': i + 1}, step=runner.iter)
            self.current = i
