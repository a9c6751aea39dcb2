"""Stop a run that keeps producing non-finite losses or gradients, and never save one."""
from __future__ import annotations

from typing import List

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS

__all__ = ['NonFiniteGuardHook']


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Works with :class:`GuardedOptimWrapper` (which skips such steps).

    * A skipped step also leaves the model's floating buffers (BatchNorm statistics) as
      they were before its forward pass.
    * Each skip is logged and counted (``train/skipped_steps`` in the logs).
    * After ``max_consecutive`` skips in a row the run stops with a ``RuntimeError`` (the
      process exits non-zero); the checkpoints already written hold finite weights.
    * A checkpoint is never written with a non-finite parameter or buffer.

    Args:
        max_consecutive: skipped steps in a row that stop the run.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, max_consecutive: int = 5):
        if int(max_consecutive) < 1:
            raise ValueError(f'max_consecutive must be >= 1, got {max_consecutive}')
        self.max_consecutive = int(max_consecutive)
        self._buffers: List[torch.Tensor] = []
        self._saved: List[torch.Tensor] = []
        self.active = True

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_train(self, runner) -> None:
        wrapper = runner.optim_wrapper
        self.active = hasattr(wrapper, 'skipped_in_row')
        if not self.active:  # e.g. --amp: GradScaler skips non-finite steps itself
            runner.logger.warning(
                f'NonFiniteGuardHook: {type(wrapper).__name__} does not count skipped steps '
                "(use optim_wrapper=dict(type='GuardedOptimWrapper')); only checkpoints are "
                'checked for non-finite weights')
        self._buffers = [b for b in self._model(runner).buffers() if b.is_floating_point()]

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.active and self._buffers:
            self._saved = [b.detach().clone() for b in self._buffers]

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        wrapper = runner.optim_wrapper
        if not self.active:
            return
        runner.message_hub.update_scalar('train/skipped_steps', wrapper.skipped_total)
        if not wrapper.last_skipped:
            return
        with torch.no_grad():
            for buf, saved in zip(self._buffers, self._saved):
                buf.copy_(saved)
        runner.logger.warning(
            f'iteration {runner.iter + 1}: non-finite {wrapper.last_reason}, step skipped '
            f'({wrapper.skipped_in_row} in a row, {wrapper.skipped_total} in total)')
        if wrapper.skipped_in_row >= self.max_consecutive:
            raise RuntimeError(
                f'stopping: {wrapper.skipped_in_row} consecutive training steps had a '
                f'non-finite {wrapper.last_reason} (NonFiniteGuardHook.max_consecutive='
                f'{self.max_consecutive}); the weights were not updated by them, and the '
                f'checkpoints in {runner.work_dir} hold the last good weights')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        bad = [k for k, v in checkpoint.get('state_dict', {}).items()
               if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise RuntimeError(f'refusing to save a checkpoint with non-finite tensors: '
                               f'{bad[:5]}{" ..." if len(bad) > 5 else ""}')
