"""VoxelPose's fully-supervised objective: the network trained with 3D ground truth.

Reads ``batch.gt`` (3D GT, which the preprocessor puts into the batch because this
objective's ``gt_policy`` is ``'required'``), the cameras and the un-augmented view-set.

    loss_2d_gt  2D net vs Gaussian heatmaps of the projected 3D GT (image path only)
    loss_root   root net vs the 3D Gaussian target at the GT roots
    loss_pose   L1 (mm) of the pose net's joints in cubes at the GT roots (teacher
                forcing) or at proposals within ``match_radius`` of a GT root

The root volume and its target are on the network's grid of the batch
(``net.root_space(batch)``: the batch's capture space with ``space_from='frame'``).
"""
from __future__ import annotations

from typing import Dict, Set

import torch
from mmpose.registry import MODELS
from torch import Tensor

from selfpose3d_mm.geometry import apply_affine, render_gaussian_heatmaps
from .base import BaseObjective

__all__ = ['VoxelPoseObjective']


@MODELS.register_module()
class VoxelPoseObjective(BaseObjective):
    """Fully-supervised VoxelPose losses from the 3D GT.

    Args:
        loss_weights: default weights (``loss_2d_gt``, ``loss_root``, ``loss_pose``).
        pose_on_gt_roots: train the pose net on cubes at the GT roots jittered by
            ``root_jitter`` mm (from the first iteration); else VoxelPose's proposals
            within ``match_radius`` mm of a GT root, towards that person.
        sigma_2d: heatmap px of the 2D targets.
        loss_2d: config of the 2D heatmap loss (mmpose).
    """

    LOSSES = ('loss_2d_gt', 'loss_root', 'loss_pose')
    DEFAULT_WEIGHTS = dict(loss_2d_gt=1.0, loss_root=1.0, loss_pose=1.0)
    gt_policy = 'required'

    def __init__(self, loss_weights: Dict[str, float] = None, pose_on_gt_roots: bool = True,
                 root_jitter: float = 50.0, match_radius: float = 500.0,
                 sigma_2d: float = 3.0, loss_2d: dict = None, init_cfg=None):
        super().__init__(loss_weights, init_cfg)
        self.pose_on_gt_roots = bool(pose_on_gt_roots)
        self.root_jitter = float(root_jitter)
        self.match_radius = float(match_radius)
        self.sigma_2d = float(sigma_2d)
        self.loss_2d = MODELS.build(loss_2d or dict(type='KeypointMSELoss',
                                                    use_target_weight=True))

    def compute(self, net, batch, on: Set[str]) -> Dict[str, Tensor]:
        if batch.gt is None:
            raise ValueError('VoxelPoseObjective needs the 3D GT in the training batch')
        gt = batch.gt
        hm = net.heatmaps(batch, 0)
        losses = {}
        if 'loss_2d_gt' in on and net.with_heatmap_net:
            losses['loss_2d_gt'] = self.heatmap_loss(net, batch, hm)
        hm_in = hm.detach() if net.with_heatmap_net else hm
        roots = gt.keypoints[:, :, net.root_index]
        root = None
        space = net.root_space(batch)
        if 'loss_root' in on or not self.pose_on_gt_roots:
            root = net.root_volume(net.root_input(hm_in), batch, 0, space)
        if 'loss_root' in on:
            losses['loss_root'] = net.root_head.loss(
                root, net.root_head.encode(roots, gt.mask, space))
        if 'loss_pose' in on:
            if self.pose_on_gt_roots:
                # teacher forcing: cubes at the GT roots (jittered by about a root voxel)
                b_idx, g_idx = gt.mask.nonzero(as_tuple=True)
                centers = roots[b_idx, g_idx]
                centers = centers + self.randn(centers.shape, centers) * self.root_jitter
            else:
                proposals, _ = net.root_head.decode(root, space)
                d = torch.cdist(proposals, roots)  # (B, K, G)
                d = d.masked_fill(~gt.mask.unsqueeze(1), float('inf'))
                dist, match = d.min(-1)
                b_idx, k_idx = (dist <= self.match_radius).nonzero(as_tuple=True)
                g_idx = match[b_idx, k_idx]
                centers = proposals[b_idx, k_idx]
            joints = net.pose_from_proposals(hm_in, batch, 0, centers, b_idx)
            losses['loss_pose'] = net.pose_head.loss(joints, gt.keypoints[b_idx, g_idx],
                                                     gt.visible[b_idx, g_idx])
        return losses

    def heatmap_loss(self, net, batch, hm: Tensor) -> Tensor:
        """Heatmap loss of the 2D net against the projected 3D GT."""
        gt = batch.gt
        B, G, J, _ = gt.keypoints.shape
        uv, valid = batch.cameras.project(gt.keypoints.reshape(B, G * J, 3), return_valid=True)
        C = uv.shape[1]
        uv_hm = apply_affine(uv, batch.affines[:, 0]).view(B, C, G, J, 2)
        inside = ((uv_hm >= 0) & (uv_hm <= uv.new_tensor(net.heatmap_size) - 1)).all(-1)
        vis = valid.view(B, C, G, J) & inside & (gt.visible & gt.mask[..., None]).unsqueeze(1)
        target = render_gaussian_heatmaps(uv_hm, vis, net.heatmap_size, self.sigma_2d)
        weight = torch.ones(B * C, J, device=hm.device)
        return self.loss_2d(hm.flatten(0, 1), target.flatten(0, 1), weight)
