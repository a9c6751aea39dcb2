"""An optimiser wrapper that never applies a step with a non-finite loss or gradient."""
from __future__ import annotations

from typing import Dict, Optional

import torch
from mmengine.optim import OptimWrapper
from mmpose.registry import OPTIM_WRAPPERS

__all__ = ['GuardedOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class GuardedOptimWrapper(OptimWrapper):
    """mmengine's ``OptimWrapper`` that skips the update when the loss or the gradient
    norm is not finite (the gradients are zeroed and the weights stay as they were).

    It counts the skips (``skipped_total``, ``skipped_in_row``, ``last_skipped``,
    ``last_reason``); ``NonFiniteGuardHook`` reads them, restores the buffers a skipped
    forward touched (BatchNorm statistics) and stops the run after too many in a row.
    Checking costs one host sync per step (the loss is read back for the log anyway).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.skipped_total = 0
        self.skipped_in_row = 0
        self.last_skipped = False
        self.last_reason: Optional[str] = None

    def _skip(self, reason: str, zero_kwargs: Dict) -> None:
        self.zero_grad(**zero_kwargs)
        self.skipped_total += 1
        self.skipped_in_row += 1
        self.last_skipped = True
        self.last_reason = reason

    def _grad_norm(self) -> torch.Tensor:
        grads = [p.grad for group in self.optimizer.param_groups for p in group['params']
                 if p.grad is not None]
        if not grads:
            return torch.zeros(())
        return torch.nn.utils.get_total_norm(grads, error_if_nonfinite=False)

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        step_kwargs = step_kwargs or {}
        zero_kwargs = zero_kwargs or {}
        if not bool(torch.isfinite(loss)):
            self._inner_count += 1  # the iteration happened, its update did not
            self._skip('loss', zero_kwargs)
            return
        self.backward(self.scale_loss(loss))
        if not self.should_update():
            return
        if not bool(torch.isfinite(self._grad_norm())):
            self._skip('gradient', zero_kwargs)
            return
        self.step(**step_kwargs)
        self.zero_grad(**zero_kwargs)
        self.skipped_in_row = 0
        self.last_skipped = False
        self.last_reason = None
