"""Joint loss with Hungarian matching and hard view attention
(docs/method.md#joint-loss-with-hard-view-attention).

Shapes: B frames, C views, P predicted (projected) persons, Q pseudo persons, J joints.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import numpy as np
import torch
from mmpose.registry import MODELS
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

__all__ = ['HungarianL1Loss', 'HungarianMatch']


class HungarianMatch(NamedTuple):
    """Result of :meth:`HungarianL1Loss.match`.

    Attributes:
        cost: (B, C, P, Q) differentiable pair costs (0 where not matchable).
        matchable: (B, C, P, Q) bool, True where the pair shares ≥ 1 jointly valid joint.
        indices: (M, 4) long rows ``(b, c, p, q)`` of the matched pairs, on ``pred``'s
            device, sorted by (b, c).
    """
    cost: Tensor
    matchable: Tensor
    indices: Tensor

    def pairs(self, b: int, c: int) -> list:
        """Matched ``(p, q)`` pairs of sample ``b``, view ``c``, sorted by ``p``."""
        sel = (self.indices[:, 0] == b) & (self.indices[:, 1] == c)
        return sorted((int(p), int(q)) for p, q in self.indices[sel, 2:].tolist())


@MODELS.register_module()
class HungarianL1Loss(nn.Module):
    """L1 between projected 3D poses and pseudo 2D poses after Hungarian matching, with
    hard view attention.

    Per (sample b, view c): ``cost[p, q]`` = mean over the joints valid in both persons of
    the mean absolute x/y error (after dividing x by w and y by h when a norm size is
    given). Pairs without a jointly valid joint are not matchable (persons with no valid
    joint thus never match). ``scipy.optimize.linear_sum_assignment`` on the detached
    costs picks the most matchable pairs first (min(P', Q') when possible) and among those
    the cheapest; unmatched persons on either side are not penalised. The view's loss is
    the mean differentiable cost of its matched pairs; views without a pair have none.

    Hard view attention: per sample, among the views that have a loss, the
    ``drop_worst_views`` largest are dropped (only when at least ``drop_worst_views + 1``
    such views exist) and the rest averaged. The batch loss is the mean over samples that
    have a loss, times ``loss_weight``; with no match at all it is a zero still connected
    to ``pred``.

    Note: the authors sum the matched costs of a view and drop the single worst (view,
    sample) of the whole batch; this class follows the design brief (mean per view,
    per-sample dropping), which does not depend on the batch composition.

    Args:
        loss_weight: weight (paper λ = 0.01).
        drop_worst_views: views dropped per sample (paper 1; 0 disables it).
        norm_size: default (w, h) normalisation (network input size in pixels), or None
            (costs in pixels). A ``norm_size`` given to :meth:`forward` overrides it.

    Shapes:
        pred: (B, C, P, J, 2) pixels; pred_valid: (B, C, P, J) bool.
        target: (B, C, Q, J, 2) pixels; target_valid: (B, C, Q, J) bool.
        output: scalar.
    """

    def __init__(self, loss_weight: float = 0.01, drop_worst_views: int = 1,
                 norm_size: Optional[Sequence[float]] = None):
        super().__init__()
        if int(drop_worst_views) < 0:
            raise ValueError(f'drop_worst_views must be ≥ 0, got {drop_worst_views}')
        self.loss_weight = float(loss_weight)
        self.drop_worst_views = int(drop_worst_views)
        self.norm_size = self._check_norm(norm_size)

    @staticmethod
    def _check_norm(norm_size):
        if norm_size is None:
            return None
        if len(norm_size) != 2 or min(float(v) for v in norm_size) <= 0:
            raise ValueError(f'norm_size must be a positive (w, h), got {norm_size!r}')
        return (float(norm_size[0]), float(norm_size[1]))

    @staticmethod
    def _check_shapes(pred, pred_valid, target, target_valid):
        if pred.dim() != 5 or pred.shape[-1] != 2:
            raise ValueError(f'pred must be (B, C, P, J, 2), got {tuple(pred.shape)}')
        B, C, P, J, _ = pred.shape
        if pred_valid.shape != (B, C, P, J):
            raise ValueError(f'pred_valid must be ({B}, {C}, {P}, {J}), got '
                             f'{tuple(pred_valid.shape)}')
        if target.dim() != 5 or target.shape[:2] != (B, C) or target.shape[3:] != (J, 2):
            raise ValueError(f'target must be ({B}, {C}, Q, {J}, 2), got '
                             f'{tuple(target.shape)}')
        if target_valid.shape != target.shape[:4]:
            raise ValueError(f'target_valid must be {tuple(target.shape[:4])}, got '
                             f'{tuple(target_valid.shape)}')

    def _costs(self, pred, pred_valid, target, target_valid, norm_size):
        """Masked, normalised inputs → (cost (B, C, P, Q), matchable (B, C, P, Q), masked
        pred (connected to ``pred``))."""
        self._check_shapes(pred, pred_valid, target, target_valid)
        norm = self._check_norm(norm_size) if norm_size is not None else self.norm_size
        pv, tv = pred_valid.bool(), target_valid.bool()
        # zero the invalid entries first so NaN/inf there can reach neither loss nor grad
        pred = torch.where(pv[..., None], pred, pred.new_zeros(()))
        target = torch.where(tv[..., None], target.to(pred.dtype), pred.new_zeros(()))
        if norm is not None:
            scale = pred.new_tensor(norm)
            pred, target = pred / scale, target / scale
        err = (pred[:, :, :, None] - target[:, :, None]).abs().mean(-1)   # (B, C, P, Q, J)
        both = pv[:, :, :, None] & tv[:, :, None]                         # (B, C, P, Q, J)
        n = both.sum(-1)                                                  # (B, C, P, Q)
        cost = (err * both).sum(-1) / n.clamp(min=1)
        return cost, n > 0, pred

    @torch.no_grad()
    def _assign(self, cost: Tensor, matchable: Tensor) -> Tensor:
        """Hungarian matching per (b, c) on detached costs → (M, 4) long (b, c, p, q)."""
        B, C, P, Q = cost.shape
        cost_np = cost.detach().float().cpu().numpy()
        ok_np = matchable.cpu().numpy()
        rows = []
        for b, c in zip(*np.nonzero(ok_np.any(axis=(2, 3)))):
            ok = ok_np[b, c]
            ps, qs = np.nonzero(ok.any(1))[0], np.nonzero(ok.any(0))[0]   # P', Q'
            sub, sub_ok = cost_np[b, c][np.ix_(ps, qs)], ok[np.ix_(ps, qs)]
            # a cost larger than any full assignment of real pairs: the solver first
            # maximises the number of matchable pairs, then minimises their cost
            big = (float(sub[sub_ok].max()) + 1.0) * (min(len(ps), len(qs)) + 1)
            r, k = linear_sum_assignment(np.where(sub_ok, sub, big))
            keep = sub_ok[r, k]
            for p, q in zip(ps[r[keep]], qs[k[keep]]):
                rows.append((b, c, p, q))
        idx = torch.as_tensor(np.asarray(rows, dtype=np.int64).reshape(-1, 4))
        return idx.to(cost.device)

    def match(self, pred: Tensor, pred_valid: Tensor, target: Tensor, target_valid: Tensor,
              norm_size: Optional[Sequence[float]] = None) -> HungarianMatch:
        """Pair costs and the Hungarian matches of every (sample, view)."""
        cost, matchable, _ = self._costs(pred, pred_valid, target, target_valid, norm_size)
        return HungarianMatch(cost, matchable, self._assign(cost, matchable))

    def forward(self, pred: Tensor, pred_valid: Tensor, target: Tensor,
                target_valid: Tensor, norm_size: Optional[Sequence[float]] = None) -> Tensor:
        cost, matchable, pred_masked = self._costs(pred, pred_valid, target, target_valid,
                                                   norm_size)
        B, C = cost.shape[:2]
        idx = self._assign(cost, matchable)
        if idx.shape[0] == 0:
            return pred_masked.sum() * 0
        b, c, p, q = idx.unbind(1)
        pair = cost[b, c, p, q]                                           # (M, )
        view = b * C + c
        v_sum = cost.new_zeros(B * C).index_add(0, view, pair).view(B, C)
        v_cnt = cost.new_zeros(B * C).index_add(0, view, torch.ones_like(pair)).view(B, C)
        has = v_cnt > 0                                                   # (B, C)
        v_loss = v_sum / v_cnt.clamp(min=1)
        # hard view attention: rank each sample's views by loss (views without a loss last)
        n_views = has.sum(1, keepdim=True)                                # (B, 1)
        drop = torch.where(n_views > self.drop_worst_views,
                           torch.full_like(n_views, self.drop_worst_views),
                           torch.zeros_like(n_views))
        key = torch.where(has, v_loss.detach(), v_loss.new_full((), -float('inf')))
        order = key.argsort(dim=1, descending=True, stable=True)
        rank = torch.empty_like(order).scatter_(
            1, order, torch.arange(C, device=order.device).expand(B, C).contiguous())
        keep = has & (rank >= drop)
        s_loss = (v_loss * keep).sum(1) / keep.sum(1).clamp(min=1)       # (B, )
        s_has = n_views[:, 0] > 0
        loss = (s_loss * s_has).sum() / s_has.sum().clamp(min=1)
        return self.loss_weight * loss
