"""Unprojection of multi-view 2D heatmaps into 3D voxel volumes (VoxelPose's P_unproj).

Each voxel centre is projected into every view (full camera model with distortion), taken
through the view's 2×3 affine to heatmap pixels, the view's heatmaps are sampled there
bilinearly, and the samples are averaged over the views whose *original image* contains
the point, then clamped to [0, 1]. All batch items, views, cubes and joints go through a
single ``grid_sample``; the sampling grid of a fixed rig is cached under a key the
caller gives.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .affine import apply_affine, compose_affine
from .camera import MultiViewCameras
from .voxel_grid import make_voxel_grid

__all__ = ['projection_sampling_grid', 'sample_views', 'unproject_heatmaps',
           'RootGridCache']


def projection_sampling_grid(cameras: MultiViewCameras, affines: Tensor, points: Tensor,
                             heatmap_size: Sequence[int]) -> Tuple[Tensor, Tensor]:
    """Where each world point falls in each view's heatmap.

    Args:
        cameras: rig of C views, unbatched or batched (B, C).
        affines: (B, C, 2, 3) or (C, 2, 3): original pixel → heatmap pixel.
        points: (B, M, 3) world mm.
        heatmap_size: (w, h).
    Returns:
        grid: (B, C, M, 2) in ``grid_sample`` coordinates (align_corners=True), clamped
        to [-1.1, 1.1]; mask: (B, C, M) float, 1 where the point projects inside the
        original image, in front of the camera and inside the distortion model's range.
    """
    if points.dim() != 3 or points.shape[-1] != 3:
        raise ValueError(f'points must be (B, M, 3), got {tuple(points.shape)}')
    C = cameras.num_views
    if affines.shape[-3:] != (C, 2, 3):
        raise ValueError(f'affines must be (B, {C}, 2, 3), got {tuple(affines.shape)}')
    uv, valid = cameras.project(points, return_valid=True)  # (B, C, M, 2)
    mask = (valid & cameras.in_image(uv)).to(points.dtype)
    w, h = heatmap_size
    to_grid = uv.new_tensor([[2.0 / max(w - 1, 1), 0.0, -1.0],
                             [0.0, 2.0 / max(h - 1, 1), -1.0]])
    # original px → heatmap px → grid_sample coordinates, one affine per view
    G = compose_affine(to_grid.expand_as(affines), affines.to(uv.dtype))
    grid = apply_affine(uv, G).clamp(-1.1, 1.1)
    return grid, mask


def sample_views(heatmaps: Tensor, grid: Tensor, mask: Tensor) -> Tensor:
    """Sample every view at ``grid`` and average over the views in ``mask``.

    Args:
        heatmaps: (B, C, J, h, w). grid: (B, C, M, 2). mask: (B, C, M).
    Returns:
        (B, J, M) in [0, 1].
    """
    B, C, J, h, w = heatmaps.shape
    M = grid.shape[2]
    if grid.shape[:2] != (B, C) or mask.shape != (B, C, M):
        raise ValueError(f'heatmaps {tuple(heatmaps.shape)}, grid {tuple(grid.shape)} '
                         f'and mask {tuple(mask.shape)} disagree on (B, C, M)')
    # points outside a view are sent outside its heatmap, where the zero padding
    # samples 0: the masked sum over views is then a plain sum
    grid = torch.where(mask.unsqueeze(-1) > 0, grid, grid.new_full((), 2.0))
    samples = F.grid_sample(
        heatmaps.reshape(B * C, J, h, w), grid.reshape(B * C, M, 1, 2).to(heatmaps.dtype),
        mode='bilinear', padding_mode='zeros', align_corners=True)
    fused = samples.view(B, C, J, M).sum(1)
    fused = fused / (mask.to(heatmaps.dtype).sum(1, keepdim=True) + 1e-6)
    return fused.clamp(0.0, 1.0)


#: voxels per block on the CPU: the block's samples (B·C·J·block floats) stay in cache,
#: which makes the CPU several times faster than one pass over millions of voxels
#: (benchmarks/unprojection.py); on a GPU everything goes in one block.
CPU_BLOCK_VOXELS = 1 << 15


def unproject_heatmaps(heatmaps: Tensor, cameras: MultiViewCameras, affines: Tensor,
                       grids: Tensor, block_voxels: Optional[int] = None) -> Tensor:
    """Heatmaps of all views into volumes on arbitrary voxel grids.

    Args:
        heatmaps: (B, C, J, h, w).
        cameras: C views (unbatched or (B, C)).
        affines: (B, C, 2, 3) original pixel → heatmap pixel.
        grids: (B, N, X, Y, Z, 3) world centres of N cubes per batch item.
        block_voxels: voxels (per batch item, all cubes together) per block; every block
            is one projection + one ``grid_sample`` over all views, cubes and joints.
            None: :data:`CPU_BLOCK_VOXELS` on the CPU, all at once on a GPU.
    Returns:
        (B, N, J, X, Y, Z) volumes in [0, 1].

    Example:
        >>> grids = make_voxel_grid(proposals, (2000,) * 3, (64,) * 3)  # (B, N, 64, 64, 64, 3)
        >>> cubes = unproject_heatmaps(hm, cams, affines, grids)       # (B, N, J, 64, 64, 64)
    """
    if heatmaps.dim() != 5:
        raise ValueError(f'heatmaps must be (B, C, J, h, w), got {tuple(heatmaps.shape)}')
    if grids.dim() != 6 or grids.shape[-1] != 3:
        raise ValueError(f'grids must be (B, N, X, Y, Z, 3), got {tuple(grids.shape)}')
    B, C, J, h, w = heatmaps.shape
    _, N, X, Y, Z, _ = grids.shape
    pts = grids.reshape(B, -1, 3)
    M = pts.shape[1]
    if block_voxels is None:
        block_voxels = M if heatmaps.is_cuda else CPU_BLOCK_VOXELS
    blocks = []
    for s in range(0, M, max(int(block_voxels), 1)):  # memory blocks, not views or persons
        grid, mask = projection_sampling_grid(cameras, affines, pts[:, s:s + block_voxels],
                                              (w, h))
        blocks.append(sample_views(heatmaps, grid, mask))  # (B, J, block)
    vol = blocks[0] if len(blocks) == 1 else torch.cat(blocks, -1)
    return vol.view(B, J, N, X, Y, Z).transpose(1, 2)


class RootGridCache:
    """LRU cache of the whole-space sampling grid, keyed by the caller and the space.

    The root cube is the same world grid for every frame of a space, so for a fixed rig
    and fixed (un-augmented) affines its projection into the views never changes: compute
    it once and reuse it. The caller names what the grid depends on with a key (the
    batch's rig id and the view-set's affines, see ``MultiViewDataPreprocessor``), so no
    tensor is hashed or read back from the device here; the space (centre, size, shape),
    the device and the heatmap size are added to it, so a grid is never served for
    another space.

    Args:
        space_center: (3,) mm. space_size: (3,) mm. shape: (X, Y, Z) voxels: the default
            space (a call may name another one, ``space=(center, size, shape)``).
        max_entries: cached (rig, affine, space) combinations kept.
        max_bytes: total size of the cached grids and masks kept (oldest dropped first;
            a grid larger than this is not cached). Whole-space grids of large capture
            spaces weigh C × X·Y·Z × 12 bytes: 8 views of 204 × 204 × 44 voxels are
            168 MiB.
    """

    def __init__(self, space_center: Sequence[float], space_size: Sequence[float],
                 shape: Sequence[int], max_entries: int = 8, max_bytes: int = 512 << 20):
        self.space_center = tuple(float(v) for v in space_center)
        self.space_size = tuple(float(v) for v in space_size)
        self.shape = tuple(int(v) for v in shape)
        self.max_entries = max_entries
        self.max_bytes = int(max_bytes)
        self._cache: 'OrderedDict[tuple, Tuple[Tensor, Tensor]]' = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _space(self, space) -> Tuple[tuple, tuple, tuple]:
        """``(center, size, shape)`` as plain tuples (the default space when None)."""
        if space is None:
            return self.space_center, self.space_size, self.shape
        center, size, shape = space
        return (tuple(float(v) for v in center), tuple(float(v) for v in size),
                tuple(int(v) for v in shape))

    @property
    def nbytes(self) -> int:
        """Bytes of the cached grids and masks."""
        return sum(g.numel() * g.element_size() + m.numel() * m.element_size()
                   for g, m in self._cache.values())

    def points(self, device=None, dtype=torch.float32, space=None) -> Tensor:
        """(X·Y·Z, 3) world voxel centres of ``space`` (default: the cache's)."""
        center, size, shape = self._space(space)
        c = torch.tensor(center, dtype=dtype, device=device)
        return make_voxel_grid(c, size, shape).reshape(-1, 3)

    def grid(self, cameras: MultiViewCameras, affines: Tensor, heatmap_size: Sequence[int],
             key: str, space=None) -> Tuple[Tensor, Tensor]:
        """Sampling grid (C, M, 2) and mask (C, M) of one unbatched rig + its affines
        (C, 2, 3) over ``space`` (default: the cache's), cached under ``key`` + space."""
        if len(cameras.batch_shape):
            raise ValueError('RootGridCache.grid expects an unbatched rig')
        space = self._space(space)
        full_key = (key, space, tuple(int(v) for v in heatmap_size), str(affines.device))
        hit = self._cache.get(full_key)
        if hit is not None:
            self.hits += 1
            self._cache.move_to_end(full_key)
            return hit
        self.misses += 1
        pts = self.points(affines.device, cameras.dtype, space)[None]
        grid, mask = projection_sampling_grid(cameras, affines[None], pts, heatmap_size)
        hit = (grid[0], mask[0])
        if sum(t.numel() * t.element_size() for t in hit) <= self.max_bytes:
            self._cache[full_key] = hit
            while len(self._cache) > self.max_entries or self.nbytes > self.max_bytes:
                self._cache.popitem(last=False)  # never the new one: it fits alone
        return hit

    def unproject(self, heatmaps: Tensor, cameras: MultiViewCameras, affines: Tensor,
                  key: Optional[str] = None, space=None) -> Tensor:
        """Whole-space volumes (B, J, X, Y, Z) from heatmaps (B, C, J, h, w).

        Args:
            cameras: unbatched rig (shared by the batch) or batched (B, C).
            affines: (B, C, 2, 3) original pixel → heatmap pixel.
            key: names the shared rig + affines of the whole batch (then the grid is
                cached); None for per-frame rigs or random per-frame affines.
            space: ``(center, size, shape)`` of the volume (a ``RootSpace``); None: the
                cache's own space.
        """
        B, C, J, h, w = heatmaps.shape
        space = self._space(space)
        if key is not None and not len(cameras.batch_shape):
            g, m = self.grid(cameras, affines[0], (w, h), key, space)
            grid, mask = g.expand(B, *g.shape), m.expand(B, *m.shape)
        else:
            pts = self.points(heatmaps.device, cameras.dtype, space)[None].expand(B, -1, -1)
            grid, mask = projection_sampling_grid(cameras, affines, pts, (w, h))
        vol = sample_views(heatmaps, grid, mask)
        return vol.view(B, J, *space[2])
