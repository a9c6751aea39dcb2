"""Cuboid proposal head (the root net): V2V over the whole-space volume → root
likelihood; targets are 3D Gaussians at the roots; proposals by 3D max-pool NMS."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor

from selfpose3d_mm.geometry import gaussian_volume, voxel_size

from .v2v import run_v2v

__all__ = ['CuboidProposalHead']


@MODELS.register_module()
class CuboidProposalHead(BaseModule):
    """Root net over the whole capture space.

    Args:
        space_center, space_size: capture space (mm).
        cube_shape: voxels (X, Y, Z), each divisible by 4 (paper 80×80×20).
        in_channels: 1 (SelfPose3d: root heatmap channel only) or J (VoxelPose).
        mid_channels: width of mmpose's ``V2VNet`` (paper 32).
        max_proposals: top-K proposals per frame (paper 10).
        threshold: proposal score threshold (paper 0.3).
        target_sigma: std of the 3D Gaussian target in mm (paper 200).
    """

    def __init__(self, space_center: Sequence[float], space_size: Sequence[float],
                 cube_shape: Sequence[int] = (80, 80, 20), in_channels: int = 1,
                 mid_channels: int = 32, max_proposals: int = 10, threshold: float = 0.3,
                 nms_kernel: int = 3, target_sigma: float = 200.0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if any(int(n) % 4 for n in cube_shape):
            raise ValueError(f'cube_shape {tuple(cube_shape)}: every axis must be divisible '
                             'by 4 (two V2V poolings)')
        self.space_center = tuple(float(v) for v in space_center)
        self.space_size = tuple(float(v) for v in space_size)
        self.cube_shape = tuple(int(v) for v in cube_shape)
        self.in_channels = int(in_channels)
        self.max_proposals = int(max_proposals)
        self.threshold = float(threshold)
        self.nms_kernel = int(nms_kernel)
        self.target_sigma = float(target_sigma)
        self.net = MODELS.build(dict(type='V2VNet', input_channels=self.in_channels,
                                     output_channels=1, mid_channels=mid_channels))

    def forward(self, volumes: Tensor) -> Tensor:
        """(B, in_channels, X, Y, Z) → root likelihood (B, X, Y, Z)."""
        if volumes.shape[1:] != (self.in_channels, ) + self.cube_shape:
            raise ValueError(f'root volumes must be (B, {self.in_channels}, '
                             f'{self.cube_shape}), got {tuple(volumes.shape)}')
        return run_v2v(self.net, volumes)[:, 0]

    def encode(self, roots: Tensor, mask: Optional[Tensor]) -> Tensor:
        """3D Gaussian target (B, X, Y, Z) from roots (B, P, 3) mm and mask (B, P)."""
        return gaussian_volume(roots, mask, self.space_center, self.space_size,
                               self.cube_shape, self.target_sigma)

    def voxel_to_world(self, index: Tensor) -> Tensor:
        """Integer voxel indices (..., 3) → world mm (..., 3)."""
        c = torch.tensor(self.space_center, device=index.device)
        s = torch.tensor(self.space_size, device=index.device)
        n = torch.tensor(self.cube_shape, device=index.device)
        return index.float() / (n - 1) * s + c - s / 2

    @torch.no_grad()
    def decode(self, root_volume: Tensor) -> Tuple[Tensor, Tensor]:
        """Top-K local maxima (3D max-pool NMS), sorted by score.

        Returns:
            centers (B, K, 3) world mm and scores (B, K); proposals with score >
            ``threshold`` are the valid ones (the first ones, as scores are sorted).
        """
        v = root_volume.detach()
        k = self.nms_kernel
        pooled = F.max_pool3d(v.unsqueeze(1), k, stride=1, padding=k // 2)[:, 0]
        v = torch.where(v == pooled, v, torch.zeros_like(v))
        K = min(self.max_proposals, v[0].numel())
        scores, flat = v.flatten(1).topk(K, dim=1)
        X, Y, Z = self.cube_shape
        idx = torch.stack([flat // (Y * Z), (flat // Z) % Y, flat % Z], -1)
        return self.voxel_to_world(idx), scores

    @property
    def voxel_size(self) -> Tensor:
        return voxel_size(self.space_size, self.cube_shape)

    def loss(self, root_volume: Tensor, target: Tensor) -> Tensor:
        """MSE to the target (unweighted: the objective weights its losses)."""
        return F.mse_loss(root_volume, target)
