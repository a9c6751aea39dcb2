"""Voxel grids of world points (VoxelPose convention: endpoints included)."""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['voxel_axes', 'make_voxel_grid', 'voxel_size']


def _t(x, ref: Tensor = None, dtype=torch.float32):
    device = ref.device if ref is not None else None
    return torch.as_tensor(x, dtype=dtype, device=device)


def voxel_size(space_size: Sequence[float], shape: Sequence[int]) -> Tensor:
    """(3,) spacing in mm between neighbouring voxel centres: ``S / (N - 1)``."""
    S, N = _t(space_size), _t(shape)
    return S / (N - 1).clamp(min=1)


def voxel_axes(center, space_size: Sequence[float], shape: Sequence[int]
               ) -> Tuple[Tensor, Tensor, Tensor]:
    """1-D voxel centre coordinates per axis: ``linspace(-S/2, S/2, N) + c``.

    Args:
        center: (*, 3) cube centres (mm).
    Returns:
        three tensors (*, X), (*, Y), (*, Z).
    """
    center = center if isinstance(center, Tensor) else _t(center)
    out = []
    for a in range(3):
        base = torch.linspace(-space_size[a] / 2, space_size[a] / 2, int(shape[a]),
                              dtype=center.dtype, device=center.device)
        out.append(base + center[..., a:a + 1])
    return tuple(out)


def make_voxel_grid(center, space_size: Sequence[float], shape: Sequence[int]) -> Tensor:
    """World coordinates of every voxel centre.

    Args:
        center: (*, 3) cube centres in mm (e.g. (B, N, 3) proposals).
        space_size: cube edge lengths (3,) in mm. shape: voxels per axis (X, Y, Z).
    Returns:
        (*, X, Y, Z, 3), ``ij`` order (x-major when flattened).
    """
    center = center if isinstance(center, Tensor) else _t(center)
    if center.shape[-1] != 3:
        raise ValueError(f'center must be (*, 3), got {tuple(center.shape)}')
    xs, ys, zs = voxel_axes(center, space_size, shape)
    X, Y, Z = (int(n) for n in shape)
    lead = center.shape[:-1]
    gx = xs.reshape(*lead, X, 1, 1).expand(*lead, X, Y, Z)
    gy = ys.reshape(*lead, 1, Y, 1).expand(*lead, X, Y, Z)
    gz = zs.reshape(*lead, 1, 1, Z).expand(*lead, X, Y, Z)
    return torch.stack([gx, gy, gz], -1)
