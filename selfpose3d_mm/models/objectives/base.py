"""What every training objective shares: its loss names, weights and stage switch.

An objective is the *only* place a model's training signal comes from. It declares the
losses it can compute (``LOSSES``), their default weights (one level: the stage hook
replaces the active set and weights, nothing else scales them) and its ``gt_policy``:
whether the data preprocessor must put the 3D ground truth into the training batch
(``'required'``) or refuse any training sample that carries it (``'forbidden'``).
"""
from __future__ import annotations

from typing import Dict, Sequence, Set

import torch
from mmengine.model import BaseModule
from torch import Tensor

__all__ = ['BaseObjective']


class BaseObjective(BaseModule):
    """Base of the training objectives (``SelfPose3dObjective``, ``VoxelPoseObjective``).

    Args:
        loss_weights: weights of the losses computed when no stage schedule says
            otherwise (names from ``LOSSES``; missing names take ``DEFAULT_WEIGHTS``).
    """

    LOSSES: tuple = ()
    DEFAULT_WEIGHTS: Dict[str, float] = {}
    LABEL_SETS = ('soft', 'hard')
    gt_policy = 'forbidden'

    def __init__(self, loss_weights: Dict[str, float] = None, init_cfg=None):
        super().__init__(init_cfg)
        self.loss_weights = self._check_losses({**self.DEFAULT_WEIGHTS, **(loss_weights or {})},
                                               'loss_weights')
        self.active = dict(self.loss_weights)
        self.label_set = 'soft'
        # the objective's own random stream (synthetic roots, jitter, noise): seeded by the
        # run's seed, saved in every checkpoint (extra state), so a resumed run draws
        # exactly what the uninterrupted one would have drawn
        self.generator = torch.Generator().manual_seed(torch.initial_seed() ^ 0x5E1F)

    def get_extra_state(self) -> Tensor:
        # a tensor, not a dict: mmengine broadcasts every state_dict entry as a tensor
        # when a distributed run starts (Runner._init_model_weights)
        return self.generator.get_state()

    def set_extra_state(self, state) -> None:
        # checkpoints of earlier releases hold dict(generator=state)
        self.generator.set_state(state['generator'] if isinstance(state, dict) else state)

    def rand(self, shape: Sequence[int], like: Tensor) -> Tensor:
        """U(0, 1) of ``shape`` from the objective's stream (drawn on the CPU)."""
        return torch.rand(tuple(shape), generator=self.generator).to(like.device, like.dtype)

    def randn(self, shape: Sequence[int], like: Tensor) -> Tensor:
        """N(0, 1) of ``shape`` from the objective's stream (drawn on the CPU)."""
        return torch.randn(tuple(shape), generator=self.generator).to(like.device, like.dtype)

    def _check_losses(self, losses: Dict[str, float], where: str) -> Dict[str, float]:
        unknown = set(losses) - set(self.LOSSES)
        if unknown:
            raise KeyError(f'{type(self).__name__} {where}: unknown losses {sorted(unknown)}; '
                           f'this objective computes {list(self.LOSSES)}')
        return {k: float(v) for k, v in losses.items()}

    def bind(self, net) -> None:
        """Build what depends on the network (called once by the model)."""

    def set_stage(self, losses: Dict[str, float], labels: str = 'soft') -> None:
        """The losses of the current stage (name → weight; others off) and its label set."""
        if labels not in self.LABEL_SETS:
            raise ValueError(f"labels must be one of {self.LABEL_SETS}, got {labels!r}")
        self.active = self._check_losses(dict(losses), 'stage losses')
        self.label_set = labels

    def compute(self, net, batch, on: Set[str]) -> Dict[str, Tensor]:
        """Unweighted losses named in ``on`` (a subset of ``LOSSES``)."""
        raise NotImplementedError

    def forward(self, net, batch) -> Dict[str, Tensor]:
        """The active losses, weighted."""
        on = {k for k, w in self.active.items() if w > 0}
        losses = self.compute(net, batch, on)
        return {k: v * self.active[k] for k, v in losses.items() if k in on}
