"""PCK of multi-person 2D heatmaps against known people (evaluation only).

A bottom-up heatmap holds one channel per joint for every person of the view; it has no
person assignment. :func:`heatmap_pck` reads it the way a top-down evaluation reads a
crop: for each ground-truth person, the peak of each joint channel *inside that person's
box* (the box of its visible joints, grown by ``box_margin`` of its larger side) is the
prediction; it is correct when it lies within ``thr`` x the box's larger side of the
true joint (mmpose's PCK normalisation: ``keypoint_pck_accuracy`` with the bbox size).
Written here because mmpose's PCK functions take per-person predictions, which a
multi-person heatmap does not have until a person box picks them out.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

__all__ = ['heatmap_pck']


def heatmap_pck(heatmaps: Tensor, keypoints: Tensor, visible: Tensor, thr: float = 0.1,
                box_margin: float = 0.1, min_box: float = 2.0) -> Tuple[Tensor, Tensor]:
    """Per-joint hits of the heatmaps' peaks inside each known person's box.

    Args:
        heatmaps: (N, J, h, w) heatmaps of N images.
        keypoints: (N, P, J, 2) true joints of P people per image, heatmap px.
        visible: (N, P, J) bool: joints to evaluate (inside the image, a real person).
        thr: PCK threshold, fraction of the person box's larger side.
        box_margin: the search box grows by this fraction of its larger side per edge.
        min_box: people whose box's larger side is below this (heatmap px) are skipped.

    Returns:
        ``hits`` (N, P, J) bool and ``counted`` (N, P, J) bool: PCK is
        ``hits.sum() / counted.sum()``.
    """
    N, J, h, w = heatmaps.shape
    if keypoints.shape[:1] != (N,) or keypoints.shape[2:] != (J, 2):
        raise ValueError(f'heatmap_pck: keypoints must be (N={N}, P, J={J}, 2), got '
                         f'{tuple(keypoints.shape)}')
    vis = visible.bool()
    big = torch.finfo(keypoints.dtype).max
    lo = torch.where(vis[..., None], keypoints, keypoints.new_tensor(big)).amin(2)
    hi = torch.where(vis[..., None], keypoints, keypoints.new_tensor(-big)).amax(2)
    size = (hi - lo).amax(-1).clamp(min=0)                             # (N, P)
    counted = vis & (size >= min_box)[..., None]
    pad = (box_margin * size)[..., None]
    lo, hi = lo - pad, hi + pad                                       # (N, P, 2)
    xs = torch.arange(w, dtype=keypoints.dtype, device=keypoints.device)
    ys = torch.arange(h, dtype=keypoints.dtype, device=keypoints.device)
    inside_x = (xs >= lo[..., 0:1]) & (xs <= hi[..., 0:1])            # (N, P, w)
    inside_y = (ys >= lo[..., 1:2]) & (ys <= hi[..., 1:2])            # (N, P, h)
    box = inside_y[..., :, None] & inside_x[..., None, :]              # (N, P, h, w)
    masked = torch.where(box[:, :, None], heatmaps[:, None],
                         heatmaps.new_tensor(float('-inf')))            # (N, P, J, h, w)
    flat = masked.flatten(-2).argmax(-1)                                # (N, P, J)
    peak = torch.stack([flat % w, flat // w], -1).to(keypoints.dtype)
    err = (peak - keypoints).norm(dim=-1)
    hits = counted & (err <= thr * size[..., None])
    return hits, counted
