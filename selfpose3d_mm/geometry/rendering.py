"""Differentiable Gaussian rendering: 2D joints → heatmaps, 3D points → volume targets.

mmpose's codecs (``MSRAHeatmap``) render in numpy, one instance at a time, at integer
centres; SelfPose3d's cross-view loss needs the gradient of the heatmap w.r.t. float
joint positions for whole batches, so the rendering is written here in torch.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from .voxel_grid import voxel_axes

__all__ = ['render_gaussian_heatmaps', 'gaussian_volume']


def render_gaussian_heatmaps(points: Tensor, visible: Optional[Tensor],
                             heatmap_size: Sequence[int], sigma: float = 3.0,
                             amplitude: Optional[Tensor] = None,
                             reduce: str = 'max') -> Tensor:
    """Render float 2D joints into Gaussian heatmaps, max (or clipped sum) over persons.

    Args:
        points: (*, P, J, 2) joint positions in heatmap pixels (sub-pixel, no rounding).
        visible: (*, P, J) bool/float weights (None: all visible).
        heatmap_size: (w, h).
        sigma: Gaussian std in heatmap pixels.
        amplitude: optional (*, P, J) peak values (e.g. detection scores).
        reduce: ``'max'`` over persons (the target convention), or ``'sum'`` clipped to
            [0, 1] (identical where people do not overlap): computed as one batched
            matrix product of the separable factors, without the (P, J, h, w) tensor,
            so it is the fast choice for predictions that need gradients.
    Returns:
        (*, J, h, w), differentiable w.r.t. ``points`` (and ``amplitude``).

    Example:
        >>> hm = render_gaussian_heatmaps(kpts_hm, vis, (240, 128))  # (B, C, P, J, 2) -> (B, C, J, 128, 240)
    """
    if points.dim() < 3 or points.shape[-1] != 2:
        raise ValueError(f'points must be (*, P, J, 2), got {tuple(points.shape)}')
    w, h = int(heatmap_size[0]), int(heatmap_size[1])
    *lead, P, J, _ = points.shape
    if P == 0:
        return points.new_zeros(*lead, J, h, w)
    xs = torch.arange(w, dtype=points.dtype, device=points.device)
    ys = torch.arange(h, dtype=points.dtype, device=points.device)
    # separable Gaussian: (…, P, J, h, 1) * (…, P, J, 1, w)
    gx = torch.exp(-(xs - points[..., 0:1]).square() / (2 * sigma**2))
    gy = torch.exp(-(ys - points[..., 1:2]).square() / (2 * sigma**2))
    weight = torch.ones_like(points[..., 0])
    if visible is not None:
        if visible.shape != points.shape[:-1]:
            raise ValueError(f'visible must be {tuple(points.shape[:-1])}, got '
                             f'{tuple(visible.shape)}')
        weight = weight * visible.to(points.dtype)
    if amplitude is not None:
        weight = weight * amplitude.to(points.dtype)
    gy = gy * weight.unsqueeze(-1)
    if reduce == 'sum':  # Σ_p gy[p, j, y] gx[p, j, x], a batched (h × P)(P × w) product
        return torch.einsum('...pjy,...pjx->...jyx', gy, gx).clamp(max=1.0)
    if reduce != 'max':
        raise ValueError(f"reduce must be 'max' or 'sum', got {reduce!r}")
    hm = gy.unsqueeze(-1) * gx.unsqueeze(-2)  # (*, P, J, h, w)
    return hm.amax(dim=-4)


def gaussian_volume(points: Tensor, visible: Optional[Tensor], space_center,
                    space_size: Sequence[float], shape: Sequence[int],
                    sigma: float = 200.0) -> Tensor:
    """3D Gaussian volume target (e.g. root likelihood): max over points, in [0, 1].

    Args:
        points: (*, P, 3) world mm.
        visible: (*, P) bool (None: all).
        space_center: (*, 3) or (3,) cube centre(s) in mm.
        space_size: (3,) mm. shape: (X, Y, Z).
        sigma: std in mm.
    Returns:
        (*, X, Y, Z).
    """
    if points.dim() < 2 or points.shape[-1] != 3:
        raise ValueError(f'points must be (*, P, 3), got {tuple(points.shape)}')
    center = torch.as_tensor(space_center, dtype=points.dtype, device=points.device)
    xs, ys, zs = voxel_axes(center, space_size, shape)  # (*, X) etc. or (X,)
    lead = points.shape[:-2]
    X, Y, Z = (int(n) for n in shape)
    if points.shape[-2] == 0:
        return points.new_zeros(*lead, X, Y, Z)

    def g(axis_vals, a):  # (…, P, n)
        d = axis_vals.unsqueeze(-2) - points[..., a:a + 1]
        return torch.exp(-d.square() / (2 * sigma**2))

    gx, gy, gz = g(xs, 0), g(ys, 1), g(zs, 2)
    if visible is not None:
        gx = gx * visible.to(points.dtype).unsqueeze(-1)
    vol = gx[..., :, None, None] * gy[..., None, :, None] * gz[..., None, None, :]
    return vol.amax(dim=-4).clamp(0, 1)
