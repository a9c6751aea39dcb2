"""Explicit joint mappings between the skeletons of :mod:`.joints` (COCO-17, Panoptic-15,
Shelf-14).

All functions are numpy, vectorised over any leading axes, and never modify their input.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .joints import COCO17_NAMES, PANOPTIC15_NAMES, SHELF14_HIPS, SHELF14_NAMES

__all__ = ['COCO17_TO_PANOPTIC15', 'PANOPTIC15_TO_SHELF14', 'coco17_to_panoptic15',
           'panoptic15_to_shelf14', 'coco17_to_shelf14', 'shelf14_root']

# Panoptic-15 joint j <- COCO-17 joint COCO17_TO_PANOPTIC15[j]; -1: derived (neck from the
# shoulders, mid-hip from the hips).
COCO17_TO_PANOPTIC15 = tuple(
    COCO17_NAMES.index(n) if n in COCO17_NAMES else -1 for n in PANOPTIC15_NAMES)
# Shelf-14 body joints 0..11 <- Panoptic-15 joints (the head pair is estimated).
PANOPTIC15_TO_SHELF14 = tuple(PANOPTIC15_NAMES.index(n) for n in SHELF14_NAMES[:12])
_COCO17_TO_SHELF14 = tuple(COCO17_NAMES.index(n) for n in SHELF14_NAMES[:12])


def _mean_of_valid(a: np.ndarray, b: np.ndarray, va: np.ndarray, vb: np.ndarray):
    """Mean of two joints where both are valid, else the valid one, else zeros."""
    wa, wb = va[..., None].astype(a.dtype), vb[..., None].astype(a.dtype)
    n = np.maximum(wa + wb, 1)
    return (a * wa + b * wb) / n, va | vb


def coco17_to_panoptic15(keypoints: np.ndarray, valid: Optional[np.ndarray] = None
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """COCO-17 → Panoptic-15 (2D or 3D, with or without a score column).

    The neck is the mean of the valid shoulders (the valid one if only one is, zeros and
    invalid if none); the mid-hip likewise from the hips; every other Panoptic joint is
    the COCO joint of the same name (eyes and ears are dropped). Any trailing columns
    (e.g. a score) are averaged the same way.

    Args:
        keypoints: (..., 17, K).
        valid: (..., 17) bool; all valid when None.

    Returns:
        (keypoints (..., 15, K), valid (..., 15) bool).
    """
    keypoints = np.asarray(keypoints)
    if keypoints.ndim < 2 or keypoints.shape[-2] != 17:
        raise ValueError(f'coco17_to_panoptic15: expected (..., 17, K), got '
                         f'{keypoints.shape}')
    if valid is None:
        valid = np.ones(keypoints.shape[:-1], bool)
    valid = np.asarray(valid, bool)
    idx = np.array([max(i, 0) for i in COCO17_TO_PANOPTIC15])
    out = keypoints[..., idx, :].copy()
    out_valid = valid[..., idx].copy()
    c, n = COCO17_NAMES.index, PANOPTIC15_NAMES.index
    for j, (a, b) in ((n('neck'), (c('left_shoulder'), c('right_shoulder'))),
                      (n('mid_hip'), (c('left_hip'), c('right_hip')))):
        out[..., j, :], out_valid[..., j] = _mean_of_valid(
            keypoints[..., a, :], keypoints[..., b, :], valid[..., a], valid[..., b])
    out[~out_valid] = 0
    return out, out_valid


def _head_from(shoulder_mid: np.ndarray, nose: np.ndarray, head_center: np.ndarray,
               variant: str) -> Tuple[np.ndarray, np.ndarray]:
    """Bottom- and top-of-head estimates of the Shelf/Campus protocol (3D, mm).

    Campus: bottom = mean(shoulder-mid, head-centre), top = bottom + 2 (head-centre −
    bottom). Shelf: bottom = shoulder-mid + ½ (nose − shoulder-mid) and top = shoulder-mid
    + (nose − shoulder-mid) · (0.75, 0.75, 1.5), each blended 0.75 / 0.25 with the Campus
    estimates.
    """
    bottom = (shoulder_mid + head_center) / 2
    top = bottom + 2 * (head_center - bottom)
    if variant == 'campus':
        return bottom, top
    if variant != 'shelf':
        raise ValueError(f"head variant must be 'shelf' or 'campus', got {variant!r}")
    d = nose - shoulder_mid
    alpha = 0.75
    s_bottom = shoulder_mid + 0.5 * d
    s_top = shoulder_mid + d * np.array([0.75, 0.75, 1.5], dtype=d.dtype)
    return alpha * s_bottom + (1 - alpha) * bottom, alpha * s_top + (1 - alpha) * top


def panoptic15_to_shelf14(poses: np.ndarray, variant: str = 'shelf') -> np.ndarray:
    """Panoptic-15 3D poses → Shelf-14, for the PCP protocol.

    The 12 body joints are copied by name; the head pair is estimated from the shoulders
    and the nose (``_head_from``; the nose stands in for the ear centre, which Panoptic-15
    lacks).

    Args:
        poses: (..., 15, 3+) world mm (extra columns are ignored).
        variant: 'shelf' or 'campus' (the head estimate of that dataset's protocol).

    Returns:
        (..., 14, 3).
    """
    poses = np.asarray(poses, np.float64)
    if poses.ndim < 2 or poses.shape[-2] != 15 or poses.shape[-1] < 3:
        raise ValueError(f'panoptic15_to_shelf14: expected (..., 15, 3), got {poses.shape}')
    p = poses[..., :3]
    n = PANOPTIC15_NAMES.index
    sho = (p[..., n('left_shoulder'), :] + p[..., n('right_shoulder'), :]) / 2
    nose = p[..., n('nose'), :]
    bottom, top = _head_from(sho, nose, nose, variant)
    return np.concatenate([p[..., PANOPTIC15_TO_SHELF14, :], bottom[..., None, :],
                           top[..., None, :]], axis=-2)


def coco17_to_shelf14(poses: np.ndarray, variant: str = 'shelf') -> np.ndarray:
    """COCO-17 3D poses → Shelf-14 (VoxelPose's protocol; the head from shoulders, nose
    and the ear centre). ``poses``: (..., 17, 3+) → (..., 14, 3)."""
    poses = np.asarray(poses, np.float64)
    if poses.ndim < 2 or poses.shape[-2] != 17 or poses.shape[-1] < 3:
        raise ValueError(f'coco17_to_shelf14: expected (..., 17, 3), got {poses.shape}')
    p = poses[..., :3]
    c = COCO17_NAMES.index
    sho = (p[..., c('left_shoulder'), :] + p[..., c('right_shoulder'), :]) / 2
    ear = (p[..., c('left_ear'), :] + p[..., c('right_ear'), :]) / 2
    bottom, top = _head_from(sho, p[..., c('nose'), :], ear, variant)
    return np.concatenate([p[..., _COCO17_TO_SHELF14, :], bottom[..., None, :],
                           top[..., None, :]], axis=-2)


def shelf14_root(poses: np.ndarray) -> np.ndarray:
    """Root (hip centre, mean of the two hips) of Shelf-14 poses: (..., 14, 3) → (..., 3)."""
    poses = np.asarray(poses)
    a, b = SHELF14_HIPS
    return (poses[..., a, :3] + poses[..., b, :3]) / 2
