"""N-view weighted DLT triangulation.

kornia's ``triangulate_points`` handles exactly two views without weights; the
multi-person association (:mod:`.association`) and the tests need C views with per-view
confidences and distortion, so it is written here.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .camera import MultiViewCameras

__all__ = ['triangulate_dlt', 'triangulate_points']


def triangulate_dlt(points2d: Tensor, proj: Tensor,
                    weights: Optional[Tensor] = None) -> Tensor:
    """Linear triangulation from C views.

    Args:
        points2d: (*, C, N, 2) image points (in the frame ``proj`` maps to).
        proj: (*, C, 3, 4) projection matrices.
        weights: (*, C, N) per-view weights (0 drops a view); None = all 1.
    Returns:
        (*, N, 3). Points seen (weight > 0) by fewer than 2 views come out as NaN.
    """
    if points2d.shape[-1] != 2 or proj.shape[-2:] != (3, 4):
        raise ValueError(f'points2d (*, C, N, 2) and proj (*, C, 3, 4) expected, got '
                         f'{tuple(points2d.shape)} and {tuple(proj.shape)}')
    dtype = points2d.dtype
    x = points2d.double()
    P = proj.double().unsqueeze(-3)  # (*, C, 1, 3, 4)
    if weights is None:
        weights = torch.ones_like(x[..., 0])
    w = weights.double()
    rows_x = x[..., 0:1] * P[..., 2, :] - P[..., 0, :]  # (*, C, N, 4)
    rows_y = x[..., 1:2] * P[..., 2, :] - P[..., 1, :]
    A = torch.stack([rows_x, rows_y], -2)  # (*, C, N, 2, 4)
    A = A / A.norm(dim=-1, keepdim=True).clamp(min=1e-12)  # row conditioning
    A = A * w[..., None, None]
    A = A.movedim(-4, -3).flatten(-3, -2)  # (*, N, 2C, 4)
    _, _, Vh = torch.linalg.svd(A, full_matrices=False)
    Xh = Vh[..., -1, :]
    X = Xh[..., :3] / Xh[..., 3:4]
    n_views = (w > 0).sum(-2)  # (*, N)
    X = torch.where((n_views >= 2).unsqueeze(-1), X, torch.full_like(X, float('nan')))
    return X.to(dtype)


def triangulate_points(cameras: MultiViewCameras, uv: Tensor,
                       weights: Optional[Tensor] = None) -> Tensor:
    """Triangulate distorted pixel observations of a rig.

    Args:
        cameras: C views (unbatched or batched like ``uv``).
        uv: (*, C, N, 2) distorted pixels.
        weights: (*, C, N).
    Returns:
        (*, N, 3) world mm.
    """
    cams = cameras.double()
    xn = cams.undistort_points(uv.double())
    Rt = torch.cat([cams.R, cams.t.unsqueeze(-1)], -1)
    return triangulate_dlt(xn, Rt, weights).to(uv.dtype)
