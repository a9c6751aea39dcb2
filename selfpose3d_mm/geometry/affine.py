"""2×3 image affines as batched torch matrices (pixel coordinates, x right, y down).

The chain used everywhere: original pixel --A_input--> network-input pixel
--A_heatmap--> heatmap pixel. ``A_input`` = random rotation/scale about the input centre
∘ keep-aspect resize; composing them with the camera projection keeps 3D ↔ augmented 2D
exact. Conventions match OpenCV (``cv2.getRotationMatrix2D``, ``cv2.warpAffine``), and
heatmap pixel ``i`` sits at input pixel ``i * stride`` (``align_corners=True`` sampling).
"""
from __future__ import annotations

import math
from typing import Sequence, Union

import torch
from torch import Tensor

__all__ = [
    'to_homogeneous_affine', 'invert_affine', 'compose_affine', 'apply_affine',
    'rotation_scale_affine', 'resize_affine', 'heatmap_affine', 'identity_affine'
]


def _check(A: Tensor, name='A'):
    if A.shape[-2:] != (2, 3):
        raise ValueError(f'`{name}` must be (*, 2, 3), got {tuple(A.shape)}')


def to_homogeneous_affine(A: Tensor) -> Tensor:
    """(*, 2, 3) → (*, 3, 3) with last row (0, 0, 1)."""
    _check(A)
    last = torch.zeros(*A.shape[:-2], 1, 3, dtype=A.dtype, device=A.device)
    last[..., 0, 2] = 1
    return torch.cat([A, last], -2)


def identity_affine(*shape, dtype=torch.float32, device=None) -> Tensor:
    """(*shape, 2, 3) identities."""
    eye = torch.eye(2, 3, dtype=dtype, device=device)
    return eye.expand(*shape, 2, 3).clone()


def invert_affine(A: Tensor) -> Tensor:
    """Inverse of (*, 2, 3) affines: ``apply_affine(apply_affine(p, A), invert_affine(A)) == p``."""
    _check(A)
    L, b = A[..., :2], A[..., 2:]
    Li = torch.linalg.inv(L)
    return torch.cat([Li, -Li @ b], -1)


def compose_affine(second: Tensor, first: Tensor) -> Tensor:
    """``second ∘ first``: the affine that applies ``first``, then ``second``. (*, 2, 3)."""
    _check(second, 'second')
    _check(first, 'first')
    dtype = torch.promote_types(second.dtype, first.dtype)
    return (to_homogeneous_affine(second.to(dtype)) @
            to_homogeneous_affine(first.to(dtype)))[..., :2, :]


def apply_affine(points: Tensor, A: Tensor) -> Tensor:
    """Points (*, N, 2) through affines (*, 2, 3) → (*, N, 2). Differentiable in both."""
    _check(A)
    if points.shape[-1] != 2:
        raise ValueError(f'points must be (*, N, 2), got {tuple(points.shape)}')
    A = A.to(points.dtype)
    return points @ A[..., :2].transpose(-1, -2) + A[..., 2].unsqueeze(-2)


def rotation_scale_affine(center: Tensor, angle_deg: Union[Tensor, float],
                          scale: Union[Tensor, float]) -> Tensor:
    """Rotation by ``angle_deg`` (counter-clockwise on screen, as
    ``cv2.getRotationMatrix2D``) and zoom ``scale`` (> 1 enlarges) about ``center``.

    Args:
        center: (*, 2) pixels. angle_deg, scale: (*,) or scalars.
    Returns:
        (*, 2, 3).
    """
    center = torch.as_tensor(center, dtype=torch.float32) if not isinstance(
        center, Tensor) else center
    angle = torch.as_tensor(angle_deg, dtype=center.dtype, device=center.device)
    scale = torch.as_tensor(scale, dtype=center.dtype, device=center.device)
    angle, scale = torch.broadcast_tensors(angle * (math.pi / 180.0), scale)
    a, b = scale * torch.cos(angle), scale * torch.sin(angle)
    cx, cy = center[..., 0], center[..., 1]
    a, b, cx, cy = torch.broadcast_tensors(a, b, cx, cy)
    row0 = torch.stack([a, b, (1 - a) * cx - b * cy], -1)
    row1 = torch.stack([-b, a, b * cx + (1 - a) * cy], -1)
    return torch.stack([row0, row1], -2)


def resize_affine(src_size: Tensor, dst_size: Sequence[float],
                  keep_aspect: bool = True) -> Tensor:
    """Resize an image of ``src_size`` (*, 2) = (W, H) to ``dst_size`` (w, h).

    With ``keep_aspect`` the scale is uniform (the smaller ratio) and the image is
    centred with padding on the other axis (what VoxelPose's ``get_scale`` does).
    Pixel *edges* map to edges: ``x' = s·(x + 0.5) − 0.5 + offset``.
    """
    src = torch.as_tensor(src_size, dtype=torch.float32) if not isinstance(
        src_size, Tensor) else src_size
    if not src.is_floating_point():
        src = src.float()
    dst = torch.as_tensor(dst_size, dtype=src.dtype, device=src.device)
    ratio = dst / src
    if keep_aspect:
        s = ratio.min(-1, keepdim=True).values.expand_as(ratio)
    else:
        s = ratio
    # centre-aligned: the source centre (W/2, H/2) lands on the destination centre.
    offset = dst / 2 - s * src / 2
    shift = offset + 0.5 * s - 0.5
    zeros = torch.zeros_like(s[..., 0])
    row0 = torch.stack([s[..., 0], zeros, shift[..., 0]], -1)
    row1 = torch.stack([zeros, s[..., 1], shift[..., 1]], -1)
    return torch.stack([row0, row1], -2)


def heatmap_affine(input_size: Sequence[float], heatmap_size: Sequence[float],
                   dtype=torch.float32, device=None) -> Tensor:
    """Network-input pixel → heatmap pixel: ``x_h = x · (w_h / w_in)`` (2, 3).

    The stride convention of mmpose's ``MSRAHeatmap`` codec and VoxelPose: heatmap
    pixel ``i`` is input pixel ``i · stride``.
    """
    sx = heatmap_size[0] / input_size[0]
    sy = heatmap_size[1] / input_size[1]
    return torch.tensor([[sx, 0., 0.], [0., sy, 0.]], dtype=dtype, device=device)
