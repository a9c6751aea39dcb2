"""Canonical 3D poses: root-relative and turned about the vertical axis to a fixed facing.

The regression target of MCSS's canonical-pose head and the pose distance of its
hard-negative rule (:mod:`selfpose3d_mm.models.losses.contrastive`): two poses that only
differ by where the person stands and which way they face have the same canonical pose.

Convention (the package's world: z up). The person's *across* vector is the horizontal
part of ``(left_hip - right_hip) + (left_shoulder - right_shoulder)``; the facing
direction is ``across x up``. The canonical pose has the root (mid-hip) at the origin,
faces +y and has its left side towards -x; heights (z) are untouched. A pose whose
across vector is (nearly) vertical or missing keeps its yaw (no rotation, only the
root subtracted). Pure torch, batched over any leading dimensions, differentiable.

Pose distance (:func:`canonical_pose_distance`): the MPJPE between canonical poses, in
their unit, or — ``limbs`` given — in units of each pose's mean bone length (poses first
scaled to a unit mean bone length: a scale-free distance; an adult's Panoptic-15 mean
bone is about 0.29 m, so 0.3 bone lengths ≈ 9 cm).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from selfpose3d_mm.skeleton import (PANOPTIC15_LIMBS, PANOPTIC15_NAMES,
                                    PANOPTIC15_ROOT_INDEX, side_pair)

__all__ = ['PANOPTIC15_ACROSS_PAIRS', 'PANOPTIC15_BONES', 'facing_yaw', 'yaw_rotation',
           'canonicalize_poses', 'unit_bone_scale', 'canonical_pose_distance']

#: (left, right) joint pairs whose differences give the across-body vector (hips, shoulders)
PANOPTIC15_ACROSS_PAIRS = (side_pair(PANOPTIC15_NAMES, 'hip'),
                           side_pair(PANOPTIC15_NAMES, 'shoulder'))
#: the bones of the scale-free pose distance (the skeleton's limbs)
PANOPTIC15_BONES = PANOPTIC15_LIMBS

_EPS = 1e-6


def _across(poses: Tensor, pairs: Sequence[Tuple[int, int]]) -> Tensor:
    """(..., 2) horizontal across-body vector (left minus right, summed over pairs)."""
    left = torch.as_tensor([p[0] for p in pairs], device=poses.device)
    right = torch.as_tensor([p[1] for p in pairs], device=poses.device)
    d = poses[..., left, :2] - poses[..., right, :2]  # (..., K, 2)
    return torch.nan_to_num(d).sum(-2)


def facing_yaw(poses: Tensor, pairs: Sequence[Tuple[int, int]] = PANOPTIC15_ACROSS_PAIRS
               ) -> Tuple[Tensor, Tensor]:
    """Yaw of each pose's facing direction and whether it is defined.

    Args:
        poses: (..., J, 3) world poses (z up).
        pairs: (left, right) joint pairs of the across vector.
    Returns:
        yaw (...,): angle of the facing direction from +x (radians; 0 where undefined),
        defined (...,) bool: the across vector is not degenerate.
    """
    a = _across(poses, pairs)
    norm = a.norm(dim=-1)
    # facing = across x up = (a_y, -a_x, 0)
    yaw = torch.atan2(-a[..., 0], a[..., 1])
    defined = norm > _EPS * (1.0 + poses.detach().abs().amax((-2, -1)).nan_to_num())
    return torch.where(defined, yaw, torch.zeros_like(yaw)), defined


def yaw_rotation(angle: Tensor) -> Tensor:
    """(..., 3, 3) rotations by ``angle`` (radians) about +z (counter-clockwise seen from
    above)."""
    c, s = torch.cos(angle), torch.sin(angle)
    z, o = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([torch.stack([c, -s, z], -1), torch.stack([s, c, z], -1),
                        torch.stack([z, z, o], -1)], -2)


def canonicalize_poses(poses: Tensor, root_index: int = PANOPTIC15_ROOT_INDEX,
                       pairs: Sequence[Tuple[int, int]] = PANOPTIC15_ACROSS_PAIRS,
                       scale: float = 1.0) -> Tensor:
    """Root-relative poses turned about the vertical to face +y (module docstring).

    Args:
        poses: (..., J, 3) world poses, z up (any unit).
        root_index: the joint moved to the origin (mid-hip).
        pairs: (left, right) joint pairs of the across vector.
        scale: multiplies the result (e.g. ``1e-3``: mm → m).
    Returns:
        (..., J, 3) canonical poses, the dtype of ``poses``. Invariant to a rotation of
        the input about any vertical axis and to any translation.
    """
    poses = torch.as_tensor(poses)
    if poses.dim() < 2 or poses.shape[-1] != 3:
        raise ValueError(f'canonicalize_poses: (..., J, 3) poses expected, got '
                         f'{tuple(poses.shape)}')
    rel = poses - poses[..., root_index:root_index + 1, :]
    yaw, defined = facing_yaw(rel, pairs)
    # the facing direction onto +y; no rotation where it is undefined
    R = yaw_rotation(torch.where(defined, torch.pi / 2 - yaw, torch.zeros_like(yaw)))
    return torch.einsum('...ij,...kj->...ki', R, rel) * scale


def unit_bone_scale(poses: Tensor, limbs: Sequence[Tuple[int, int]]) -> Tensor:
    """``poses`` (..., J, 3) divided by their mean bone length over ``limbs`` (bones with
    a NaN end are skipped; a pose with no measurable bone is left as it is)."""
    lb = torch.as_tensor(limbs, dtype=torch.long, device=poses.device).view(-1, 2)
    length = (poses[..., lb[:, 0], :] - poses[..., lb[:, 1], :]).norm(dim=-1)
    ok = torch.isfinite(length) & (length > 0)
    n = ok.sum(-1)
    mean = torch.where(ok, length, torch.zeros_like(length)).sum(-1) / n.clamp(min=1)
    mean = torch.where((n > 0) & (mean > _EPS), mean, torch.ones_like(mean))
    return poses / mean[..., None, None]


def canonical_pose_distance(a: Tensor, b: Optional[Tensor] = None,
                            visible_a: Optional[Tensor] = None,
                            visible_b: Optional[Tensor] = None,
                            limbs: Optional[Sequence[Tuple[int, int]]] = None) -> Tensor:
    """(N, M) mean per-joint distance (MPJPE) between canonical poses ``a`` (N, J, 3) and
    ``b`` (M, J, 3) (default ``a``), over the joints visible in both (NaN joints count
    as not visible; pairs with no common joint: +inf). With ``limbs`` every pose is
    first scaled to a unit mean bone length (:func:`unit_bone_scale`)."""
    b = a if b is None else b
    if limbs is not None:
        a, b = unit_bone_scale(a, limbs), unit_bone_scale(b, limbs)
    va = torch.isfinite(a).all(-1) if visible_a is None else visible_a.bool() & \
        torch.isfinite(a).all(-1)
    vb = torch.isfinite(b).all(-1) if visible_b is None else visible_b.bool() & \
        torch.isfinite(b).all(-1)
    d = (torch.nan_to_num(a).unsqueeze(1) - torch.nan_to_num(b).unsqueeze(0)).norm(dim=-1)
    m = (va.unsqueeze(1) & vb.unsqueeze(0)).to(d.dtype)  # (N, M, J)
    n = m.sum(-1)
    mean = (d * m).sum(-1) / n.clamp(min=1)
    return torch.where(n > 0, mean, torch.full_like(mean, float('inf')))
