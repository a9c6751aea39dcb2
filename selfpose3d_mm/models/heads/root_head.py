"""Cuboid proposal head (the root net): V2V over the whole-space volume → root
likelihood; targets are 3D Gaussians at the roots; proposals by 3D max-pool NMS.

The space the volume covers is a :class:`~.root_space.RootSpace`: the configured cube
(``space_from='config'``), or each batch's capture space at the configured voxel size
(``space_from='frame'``, see ``docs/architecture.md#capture-space-at-test-time``).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpose.models.backbones.v2v_net import Pool3DBlock
from mmpose.registry import MODELS
from torch import Tensor, nn

from selfpose3d_mm.geometry import gaussian_volume, voxel_size

from .root_space import V2V_MULTIPLE, RootSpace, fit_root_space, root_space
from .v2v import run_v2v

__all__ = ['CuboidProposalHead', 'SPACE_FROM', 'check_fully_convolutional']

#: where the root volume's space comes from
SPACE_FROM = ('config', 'frame')
#: the layers a root net may hold to run on volumes of any shape (multiples of 4):
#: mmpose's ``V2VNet`` has exactly these (``Sequential()`` is its identity skip)
SHAPE_FREE_LAYERS = (nn.Conv3d, nn.ConvTranspose3d, nn.BatchNorm3d, nn.ReLU, nn.Identity,
                     nn.Sequential, nn.MaxPool3d, Pool3DBlock)


def check_fully_convolutional(net: nn.Module) -> None:
    """Raise when ``net`` holds a layer that ties it to one input shape (a linear layer,
    an adaptive pooling, a fixed-size upsampling...): only :data:`SHAPE_FREE_LAYERS`."""
    for name, m in net.named_modules():
        if not any(True for _ in m.children()) and not isinstance(m, SHAPE_FREE_LAYERS):
            raise ValueError(
                f"root_head.space_from='frame' runs the root net on volumes of any shape, "
                f'which needs a fully convolutional net; its layer {name!r} is a '
                f'{type(m).__name__} (allowed: '
                f'{", ".join(t.__name__ for t in SHAPE_FREE_LAYERS)})')


@MODELS.register_module()
class CuboidProposalHead(BaseModule):
    """Root net over the whole capture space.

    Args:
        space_center, space_size: capture space (mm); with ``cube_shape`` they define
            the root voxel size the net is trained at, ``space_size / (cube_shape − 1)``.
        cube_shape: voxels (X, Y, Z), each divisible by 4 (paper 80×80×20).
        in_channels: 1 (SelfPose3d: root heatmap channel only) or J (VoxelPose).
        mid_channels: width of mmpose's ``V2VNet`` (paper 32).
        max_proposals: top-K proposals per frame (paper 10).
        threshold: proposal score threshold (paper 0.3).
        target_sigma: std of the 3D Gaussian target in mm (paper 200).
        space_from: ``'config'`` (the default): the volume always covers the configured
            space with ``cube_shape`` voxels. ``'frame'``: it covers the capture space of
            each batch (the frames' ``space_center``/``space_size`` metainfo, which the
            frames of a batch must share) at the configured voxel size
            (:func:`~.root_space.fit_root_space`). Same parameters either way: a
            checkpoint runs in both modes.
        max_voxels: ``'frame'`` mode refuses a capture space whose volume has more
            voxels (None: no limit). The default allows 20 × 20 × 4 m at 100 mm voxels.
    """

    def __init__(self, space_center: Sequence[float], space_size: Sequence[float],
                 cube_shape: Sequence[int] = (80, 80, 20), in_channels: int = 1,
                 mid_channels: int = 32, max_proposals: int = 10, threshold: float = 0.3,
                 nms_kernel: int = 3, target_sigma: float = 200.0,
                 space_from: str = 'config', max_voxels: Optional[int] = 2_000_000,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if any(int(n) % V2V_MULTIPLE for n in cube_shape):
            raise ValueError(f'cube_shape {tuple(cube_shape)}: every axis must be divisible '
                             f'by {V2V_MULTIPLE} (two V2V poolings)')
        if space_from not in SPACE_FROM:
            raise ValueError(f'root_head.space_from must be one of {SPACE_FROM}, got '
                             f'{space_from!r}')
        self.space_center = tuple(float(v) for v in space_center)
        self.space_size = tuple(float(v) for v in space_size)
        self.cube_shape = tuple(int(v) for v in cube_shape)
        self.config_space = root_space(self.space_center, self.space_size, self.cube_shape)
        self.space_from = space_from
        self.max_voxels = None if max_voxels is None else int(max_voxels)
        self.in_channels = int(in_channels)
        self.mid_channels = int(mid_channels)
        self.max_proposals = int(max_proposals)
        self.threshold = float(threshold)
        self.nms_kernel = int(nms_kernel)
        self.target_sigma = float(target_sigma)
        self.net = MODELS.build(dict(type='V2VNet', input_channels=self.in_channels,
                                     output_channels=1, mid_channels=mid_channels))
        if space_from == 'frame':
            check_fully_convolutional(self.net)

    # ------------------------------------------------------------------ space
    @property
    def trained_voxel(self) -> Tuple[float, float, float]:
        """The root voxel size (mm) of the configured space: what the net is trained at."""
        return self.config_space.voxel

    def root_space(self, capture: Optional[Tuple[Sequence[float], Sequence[float]]] = None
                   ) -> RootSpace:
        """The grid of the root volume: the configured one (``'config'``: ``capture`` is
        ignored), or the capture space ``(center, size)`` fitted at the trained voxel
        size (``'frame'``; raises beyond ``max_voxels``)."""
        if self.space_from == 'config':
            return self.config_space
        if capture is None:
            raise ValueError("root_head.space_from='frame' needs the batch's capture space "
                             '(space_center/space_size in the frames\' metainfo)')
        return fit_root_space(capture[0], capture[1], self.trained_voxel, self.max_voxels,
                              self.mid_channels)

    def _space(self, space: Optional[RootSpace]) -> RootSpace:
        if space is not None:
            return space
        if self.space_from == 'frame':
            raise ValueError("root_head.space_from='frame': pass the batch's RootSpace "
                             '(SelfPose3D.root_space(batch))')
        return self.config_space

    # ------------------------------------------------------------------ net
    def forward(self, volumes: Tensor, space: Optional[RootSpace] = None) -> Tensor:
        """(B, in_channels, X, Y, Z) → root likelihood (B, X, Y, Z); (X, Y, Z) is the
        shape of ``space`` (default: the configured cube)."""
        shape = self._space(space).shape
        if any(n % V2V_MULTIPLE for n in shape):
            raise ValueError(f'root grid {shape}: every axis must be divisible by '
                             f'{V2V_MULTIPLE} (two V2V poolings; see fit_root_space)')
        if volumes.shape[1:] != (self.in_channels, ) + shape:
            raise ValueError(f'root volumes must be (B, {self.in_channels}, {shape}), got '
                             f'{tuple(volumes.shape)}')
        return run_v2v(self.net, volumes)[:, 0]

    def encode(self, roots: Tensor, mask: Optional[Tensor],
               space: Optional[RootSpace] = None) -> Tensor:
        """3D Gaussian target (B, X, Y, Z) on ``space`` from roots (B, P, 3) mm and mask
        (B, P)."""
        s = self._space(space)
        return gaussian_volume(roots, mask, s.center, s.size, s.shape, self.target_sigma)

    def voxel_to_world(self, index: Tensor, space: Optional[RootSpace] = None) -> Tensor:
        """Integer voxel indices (..., 3) of ``space`` → world mm (..., 3)."""
        sp = self._space(space)
        c = torch.tensor(sp.center, device=index.device)
        s = torch.tensor(sp.size, device=index.device)
        n = torch.tensor(sp.shape, device=index.device)
        return index.float() / (n - 1) * s + c - s / 2

    @torch.no_grad()
    def decode(self, root_volume: Tensor, space: Optional[RootSpace] = None
               ) -> Tuple[Tensor, Tensor]:
        """Top-K local maxima (3D max-pool NMS), sorted by score.

        Returns:
            centers (B, K, 3) world mm and scores (B, K); proposals with score >
            ``threshold`` are the valid ones (the first ones, as scores are sorted).
        """
        sp = self._space(space)
        if root_volume.shape[1:] != sp.shape:
            raise ValueError(f'root volume {tuple(root_volume.shape)} is not on the grid '
                             f'{sp.describe()}')
        v = root_volume.detach()
        k = self.nms_kernel
        pooled = F.max_pool3d(v.unsqueeze(1), k, stride=1, padding=k // 2)[:, 0]
        v = torch.where(v == pooled, v, torch.zeros_like(v))
        K = min(self.max_proposals, v[0].numel())
        scores, flat = v.flatten(1).topk(K, dim=1)
        X, Y, Z = sp.shape
        idx = torch.stack([flat // (Y * Z), (flat // Z) % Y, flat % Z], -1)
        return self.voxel_to_world(idx, sp), scores

    @property
    def voxel_size(self) -> Tensor:
        return voxel_size(self.space_size, self.cube_shape)

    def loss(self, root_volume: Tensor, target: Tensor) -> Tensor:
        """MSE to the target (unweighted: the objective weights its losses)."""
        return F.mse_loss(root_volume, target)
