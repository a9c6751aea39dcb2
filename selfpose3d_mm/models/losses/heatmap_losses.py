"""Heatmap loss with soft (pixel-wise) attention and its regulariser
(docs/method.md#cross-view-rendering-and-the-heatmap-loss-with-soft-attention).

Shapes: B frames, C views, J joints, h × w heatmap pixels.
"""
from __future__ import annotations

from typing import Optional

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn

__all__ = ['AttentiveHeatmapLoss', 'AttentionRegularizer']


@MODELS.register_module()
class AttentiveHeatmapLoss(nn.Module):
    """``loss_weight × mean(A ⊙ (pred − target)²)``.

    The attention ``A`` is *not* detached: this loss pushes it down where the rendered
    and pseudo heatmaps disagree, :class:`AttentionRegularizer` pulls it back to 1.

    Args:
        loss_weight: weight of the loss.

    Shapes:
        pred, target: (B, C, J, h, w).
        attention: (B, C, J, h, w), or (B, C, 1, h, w) shared by the joints, or None
            (plain MSE).
        weight: optional (B, C, J) per-heatmap weight (bool or float). The loss is then
            ``Σ_bcj weight_bcj · mean_hw(A (pred − target)²) / Σ_bcj weight_bcj``, i.e.
            for a 0/1 weight the mean over the unmasked heatmaps; a zero-valued loss
            still connected to ``pred`` when every weight is 0.
        output: scalar.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, pred: Tensor, target: Tensor, attention: Optional[Tensor] = None,
                weight: Optional[Tensor] = None) -> Tensor:
        if pred.dim() != 5:
            raise ValueError(f'pred must be (B, C, J, h, w), got {tuple(pred.shape)}')
        if target.shape != pred.shape:
            raise ValueError(f'target shape {tuple(target.shape)} != pred shape '
                             f'{tuple(pred.shape)}')
        B, C, J, h, w = pred.shape
        sq = (pred - target) ** 2
        if attention is not None:
            if attention.dim() != 5 or attention.shape[2] not in (1, J) or \
                    attention.shape[:2] != (B, C) or attention.shape[3:] != (h, w):
                raise ValueError(f'attention must be ({B}, {C}, {J} or 1, {h}, {w}), got '
                                 f'{tuple(attention.shape)}')
            sq = attention * sq
        if weight is None:
            return self.loss_weight * sq.mean()
        if weight.shape != (B, C, J):
            raise ValueError(f'weight must be ({B}, {C}, {J}), got {tuple(weight.shape)}')
        weight = weight.to(sq.dtype)
        per_map = sq.flatten(3).mean(-1)                                  # (B, C, J)
        total = weight.sum()
        loss = (per_map * weight).sum() / total.clamp(min=torch.finfo(sq.dtype).tiny)
        return self.loss_weight * loss


@MODELS.register_module()
class AttentionRegularizer(nn.Module):
    """``loss_weight × mean((A − 1)²)``: keeps the soft attention from collapsing to 0.

    Args:
        loss_weight: weight (paper σ = 0.1).

    Shapes:
        attention: (B, C, J, h, w) (any (..., h, w) tensor with ≥ 3 dims is accepted,
            e.g. (N, J, h, w) straight from :class:`SoftAttentionNet`).
        output: scalar.
    """

    def __init__(self, loss_weight: float = 0.1):
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, attention: Tensor) -> Tensor:
        if attention.dim() < 3 or attention.numel() == 0:
            raise ValueError('attention must be a non-empty (B, C, J, h, w) tensor, got '
                             f'{tuple(attention.shape)}')
        return self.loss_weight * ((attention - 1) ** 2).mean()
