"""MCSS's metric-learning loss (Mitra et al., "Multiview-Consistent Semi-Supervised
Learning for 3D Human Pose Estimation"): a view-invariant pose embedding.

A batch holds N pairs (anchor ``a_i``, positive ``p_i``): the same person at the same
instant seen by two views, embedded to L2-normalised vectors. For pair ``i``

    d_pos(i) = |a_i - p_i|
    d_neg(i) = min over allowed j != i of min(|a_i - a_j|, |a_i - p_j|, |p_i - a_j|,
                                              |p_i - p_j|)        (the hardest negative)
    loss(i)  = max(0, margin + d_pos(i) - d_neg(i))

averaged over the pairs that have an allowed negative (HardNet's in-batch hardest
negative, over both embeddings of every other pair): ``form='triplet'``, the default, zero
exactly when every positive is closer than its hardest negative by the margin.
``form='contrastive'`` is the decoupled (Hadsell et al.) form ``d_pos(i)² + max(0,
margin - d_neg(i))²``: zero only for exact positives. Pair ``j`` is an *allowed* negative
of ``i`` when its pose is at least ``beta`` away from the pose of pair ``i`` (the
anchor's and the positive's pose are the same 3D pose), so that a near-identical pose
(the same person a few frames later, two people doing the same thing) is never pushed
away; and, when identities are given, when it is not the same person-instant.

Pose distance, the unit of ``beta``: the MPJPE between the two canonical poses
(:func:`selfpose3d_mm.geometry.canonical_pose.canonicalize_poses`: root-relative, turned
to face +y) over the joints present in both, each pose scaled to a unit mean bone
length (``pose_unit='bone'``, the default: scale-free; 0.3 ≈ 9 cm for an adult, the
nearest ~5-10 % of the other poses of a recording) or as given (``pose_unit='input'``,
e.g. metres). A plain 0.3 m would exclude ~90 % of the negatives of a recording (the
canonical poses of people moving about are a median 0.17-0.19 m apart), which is why the
default is scale-free. Any other (N, N) pose-distance matrix can be passed instead.
Defaults: ``margin = 0.6``, ``beta = 0.3`` (the paper's α and β). Vectorised over the
batch: one (2N, 2N) distance matrix.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn

from selfpose3d_mm.geometry.canonical_pose import PANOPTIC15_BONES, canonical_pose_distance

__all__ = ['LOSS_FORMS', 'allowed_negatives', 'hardest_negative_loss', 'MCSSContrastiveLoss']

LOSS_FORMS = ('triplet', 'contrastive')


def allowed_negatives(num: int, pose_distance: Optional[Tensor] = None, beta: float = 0.3,
                      identity: Optional[Tensor] = None, device=None) -> Tensor:
    """(N, N) bool: pair ``j`` may serve as a negative of pair ``i``.

    Never ``j == i``; not when ``pose_distance[i, j] < beta`` (NaN distances count as
    near); not when ``identity[i] == identity[j]`` (the same person-instant twice).
    """
    eye = torch.eye(num, dtype=torch.bool, device=device)
    ok = ~eye
    if pose_distance is not None:
        if pose_distance.shape != (num, num):
            raise ValueError(f'pose_distance must be ({num}, {num}), got '
                             f'{tuple(pose_distance.shape)}')
        ok = ok & (pose_distance.to(device) >= beta)  # NaN compares False: not allowed
    if identity is not None:
        ident = identity.to(device).view(-1)
        ok = ok & (ident.view(-1, 1) != ident.view(1, -1))
    return ok


def hardest_negative_loss(anchor: Tensor, positive: Tensor, allowed: Tensor,
                          margin: float = 0.6, form: str = 'triplet'
                          ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per-pair margin loss with the hardest allowed in-batch negative.

    Args:
        anchor, positive: (N, D) embeddings (L2-normalised by the caller).
        allowed: (N, N) bool from :func:`allowed_negatives`.
        margin: the margin ``alpha``.
        form: ``'triplet'`` or ``'contrastive'`` (module docstring).
    Returns:
        loss (N,) (0 where no negative is allowed), d_pos (N,), d_neg (N,) (+inf where
        none), has_negative (N,) bool.
    """
    if anchor.shape != positive.shape or anchor.dim() != 2:
        raise ValueError(f'anchor and positive must both be (N, D), got '
                         f'{tuple(anchor.shape)} and {tuple(positive.shape)}')
    N = anchor.shape[0]
    emb = torch.cat([anchor, positive], 0)  # (2N, D)
    # the exact norm of differences (cdist's matmul path loses precision near 0)
    D = (emb.unsqueeze(1) - emb.unsqueeze(0)).pow(2).sum(-1).clamp(min=1e-12).sqrt()
    D = D.view(2, N, 2, N).permute(1, 3, 0, 2).reshape(N, N, 4)  # (i, j, 4 combos)
    nearest = D.min(-1).values  # (N, N) closest embedding of pair j to either of pair i
    inf = torch.full_like(nearest, float('inf'))
    d_neg = torch.where(allowed, nearest, inf).min(1).values
    d_pos = (anchor - positive).pow(2).sum(-1).clamp(min=1e-12).sqrt()
    has = allowed.any(1)
    if form == 'triplet':
        per = torch.relu(margin + d_pos - d_neg.clamp(max=1e6))
    else:
        per = d_pos.pow(2) + torch.relu(margin - d_neg.clamp(max=1e6)).pow(2)
    return torch.where(has, per, torch.zeros_like(d_pos)), d_pos, d_neg, has


@MODELS.register_module()
class MCSSContrastiveLoss(nn.Module):
    """The MCSS loss of the module docstring.

    Args:
        margin: ``alpha``, the margin between the positive and the hardest negative
            distance (L2-normalised embeddings: distances in [0, 2]).
        beta: minimal pose distance of an allowed negative (unit: see the module
            docstring; 0 disables the rule).
        form: ``'triplet'`` or ``'contrastive'`` (module docstring).
        pose_unit: ``'bone'`` (poses scaled to a unit mean bone length over ``limbs``)
            or ``'input'`` (the poses' own unit).
        limbs: the skeleton's bones for ``'bone'`` (Panoptic-15's by default).
        loss_weight: multiplies the loss.

    Shapes:
        anchor, positive: (N, D) L2-normalised embeddings.
        poses: optional (N, J, 3) canonical poses (NaN joints ignored; a pose with no
            joint at all is never excluded): the pose distances of the beta rule; or
            ``pose_distance`` (N, N) directly. Neither: every other pair is allowed.
        identity: optional (N,) ints; equal ids are never negatives of each other.
        output: scalar (mean over the pairs that have an allowed negative; 0 when none).
    """

    def __init__(self, margin: float = 0.6, beta: float = 0.3, form: str = 'triplet',
                 pose_unit: str = 'bone',
                 limbs: Sequence[Tuple[int, int]] = PANOPTIC15_BONES,
                 loss_weight: float = 1.0):
        super().__init__()
        if not margin > 0:
            raise ValueError(f'MCSSContrastiveLoss: margin must be > 0, got {margin}')
        if pose_unit not in ('bone', 'input'):
            raise ValueError(f"MCSSContrastiveLoss: pose_unit must be 'bone' or 'input', "
                             f'got {pose_unit!r}')
        if form not in LOSS_FORMS:
            raise ValueError(f'MCSSContrastiveLoss: form must be one of {LOSS_FORMS}, got '
                             f'{form!r}')
        self.margin, self.beta, self.form = float(margin), float(beta), form
        self.pose_unit, self.limbs = pose_unit, tuple(tuple(map(int, b)) for b in limbs)
        self.loss_weight = float(loss_weight)

    def pose_distance(self, poses: Tensor) -> Tensor:
        """(N, N) pose distances of the beta rule between canonical poses (N, J, 3)."""
        with torch.no_grad():
            return canonical_pose_distance(
                poses.float(), limbs=self.limbs if self.pose_unit == 'bone' else None)

    def pair_terms(self, anchor: Tensor, positive: Tensor, poses: Optional[Tensor] = None,
                   pose_distance: Optional[Tensor] = None,
                   identity: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """:func:`hardest_negative_loss` of the batch under this loss's beta rule."""
        if pose_distance is None and poses is not None:
            pose_distance = self.pose_distance(poses)
        allowed = allowed_negatives(anchor.shape[0], pose_distance, self.beta, identity,
                                    device=anchor.device)
        return hardest_negative_loss(anchor, positive, allowed, self.margin, self.form)

    def forward(self, anchor: Tensor, positive: Tensor, poses: Optional[Tensor] = None,
                pose_distance: Optional[Tensor] = None,
                identity: Optional[Tensor] = None) -> Tensor:
        loss, _, _, has = self.pair_terms(anchor, positive, poses, pose_distance, identity)
        n = has.sum()
        return self.loss_weight * loss.sum() / n.clamp(min=1)
