"""Pose regression head: V2V over per-person cubes → J volumes → soft-argmax joints."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor

from .v2v import run_v2v

__all__ = ['PoseRegressionHead']


@MODELS.register_module()
class PoseRegressionHead(BaseModule):
    """Per-person 3D joints by integral regression.

    Args:
        num_joints: J.
        cube_size: person cube edge lengths (mm; paper 2000³).
        cube_shape: voxels (paper 64³; divisible by 4).
        mid_channels: width of mmpose's ``V2VNet`` (paper 32).
        beta: soft-argmax sharpness (paper 100).
    """

    def __init__(self, num_joints: int = 15, cube_size: Sequence[float] = (2000.0, ) * 3,
                 cube_shape: Sequence[int] = (64, 64, 64), mid_channels: int = 32,
                 beta: float = 100.0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if any(int(n) % 4 for n in cube_shape):
            raise ValueError(f'cube_shape {tuple(cube_shape)}: every axis must be divisible '
                             'by 4 (two V2V poolings)')
        self.num_joints = int(num_joints)
        self.cube_size = tuple(float(v) for v in cube_size)
        self.cube_shape = tuple(int(v) for v in cube_shape)
        self.beta = float(beta)
        self.net = MODELS.build(dict(type='V2VNet', input_channels=self.num_joints,
                                     output_channels=self.num_joints,
                                     mid_channels=mid_channels))

    def forward(self, volumes: Tensor, grids: Tensor) -> Tensor:
        """Joints of M person cubes.

        Args:
            volumes: (M, J, X, Y, Z) unprojected heatmaps.
            grids: (M, X, Y, Z, 3) world coordinates of the voxels (mm).
        Returns:
            (M, J, 3) world mm.
        """
        M = volumes.shape[0]
        if M == 0:
            return volumes.new_zeros(0, self.num_joints, 3)
        h = run_v2v(self.net, volumes)  # (M, J, X, Y, Z)
        prob = torch.softmax(self.beta * h.flatten(2), dim=-1)  # (M, J, V)
        return prob @ grids.reshape(M, -1, 3).to(prob.dtype)

    def loss(self, joints: Tensor, target: Tensor, visible: Tensor) -> Tensor:
        """Masked L1 (mm) between (M, J, 3) predictions and targets; visible (M, J)
        (unweighted: the objective weights its losses)."""
        w = visible.to(joints.dtype).unsqueeze(-1)
        if w.sum() == 0:
            return joints.sum() * 0.0
        return (torch.abs(joints - target) * w).sum() / (w.sum() * 3)
