"""The VoxelPose-style multi-view multi-person 3D pose network.

heatmaps per view (2D net, or rendered from 2D poses in heatmap-input mode)
→ whole-space root volume (unprojection) → root net → proposals (NMS, top-K)
→ per-proposal cubes (unprojection) → pose net → soft-argmax joints (world mm).

The network knows no training signal: ``loss`` hands the batch to the configured
objective (``SelfPose3dObjective``: 2D pseudo poses only; ``VoxelPoseObjective``: 3D GT),
which calls the stages below. See ``docs/architecture.md``.

The root volume covers the configured space, or with ``root_head.space_from='frame'``
each batch's own capture space at the trained voxel size (:meth:`SelfPose3D.root_space`);
the pose net's person cubes are the same size everywhere.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from mmpose.registry import MODELS
from torch import Tensor

from selfpose3d_mm.geometry import (RootGridCache, make_voxel_grid, render_gaussian_heatmaps,
                                    unproject_heatmaps)
from selfpose3d_mm.structures import MultiViewBatch
from ..data_preprocessors import build_data_preprocessor
from ..heads.root_space import RootSpace
from .refine import refine_cfg, refine_frame
from .stages import TrainableStages

__all__ = ['SelfPose3D']


@MODELS.register_module()
class SelfPose3D(TrainableStages, BaseModel):
    """Multi-view multi-person 3D pose estimator (modes ``loss``/``predict``/``tensor``).

    Args:
        num_joints: J (15 for Panoptic). root_index: the root (mid-hip) joint.
        input_size: network input (w, h); heatmap_size: (w, h).
        heatmap_net_2d: ``dict(backbone=..., head=...)`` mmpose configs (e.g. ``ResNet`` +
            ``HeatmapHead``), or None for heatmap-input mode (heatmaps rendered from the
            frame's 2D poses).
        heatmap_input: rendering of input heatmaps in heatmap-input mode: ``sigma`` (heatmap
            px), ``use_scores`` (peak = keypoint score), ``min_score``.
        root_head, pose_head: configs of :class:`CuboidProposalHead` and
            :class:`PoseRegressionHead` (``root_head.space_from``: the root volume over
            the configured space, ``'config'``, or each batch's capture space at the
            trained voxel size, ``'frame'``).
        root_channels: ``'root'`` (SelfPose3d: only the root heatmap) or ``'all'`` (VoxelPose).
        objective: the training objective (``SelfPose3dObjective`` / ``VoxelPoseObjective``);
            None for a model that only predicts.
        test_cfg: ``threshold`` (overrides the root head's), ``return_root_volume`` (the
            sample's ``root_volume`` and, in its metainfo, ``root_space``: its grid's
            ``(center, size, shape)``),
            ``refine`` (None: off; a dict of knobs: refine the joints with the frame's 2D
            poses, :mod:`selfpose3d_mm.geometry.pose_refinement`).
    """

    def __init__(self, num_joints: int = 15, root_index: int = 2,
                 input_size: Sequence[int] = (960, 512),
                 heatmap_size: Sequence[int] = (240, 128),
                 heatmap_net_2d: Optional[dict] = None, heatmap_input: Optional[dict] = None,
                 root_head: dict = None, pose_head: dict = None, root_channels: str = 'root',
                 objective: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        if root_channels not in ('root', 'all'):
            raise ValueError(f"root_channels must be 'root' or 'all', got {root_channels!r}")
        self.num_joints, self.root_index = int(num_joints), int(root_index)
        self.input_size = tuple(int(v) for v in input_size)
        self.heatmap_size = tuple(int(v) for v in heatmap_size)
        self.root_channels = root_channels
        self.test_cfg = dict(test_cfg or {})
        self.heatmap_input = {**dict(sigma=3.0, use_scores=True, min_score=0.0),
                              **(heatmap_input or {})}
        if heatmap_net_2d is not None:
            unknown = set(heatmap_net_2d) - {'backbone', 'head'}
            if unknown:
                raise KeyError(f'heatmap_net_2d: unknown keys {sorted(unknown)} (its training '
                               'loss is configured in the objective)')
            self.backbone = MODELS.build(heatmap_net_2d['backbone'])
            self.head_2d = MODELS.build(heatmap_net_2d['head'])
        else:
            self.backbone = self.head_2d = None
        root_head = dict(root_head or {}, type=(root_head or {}).get('type', 'CuboidProposalHead'))
        root_head.setdefault('in_channels', 1 if root_channels == 'root' else num_joints)
        self.root_head = MODELS.build(root_head)
        pose_head = dict(pose_head or {}, type=(pose_head or {}).get('type', 'PoseRegressionHead'))
        pose_head.setdefault('num_joints', num_joints)
        self.pose_head = MODELS.build(pose_head)
        self.root_grid = RootGridCache(self.root_head.space_center, self.root_head.space_size,
                                       self.root_head.cube_shape)
        self.objective = None
        if objective is not None:
            self.objective = MODELS.build(objective)
            self.objective.bind(self)
        self.data_preprocessor.configure(
            self.input_size, self.heatmap_size,
            'ignored' if self.objective is None else self.objective.gt_policy)

    # ------------------------------------------------------------------ stages
    @property
    def with_heatmap_net(self) -> bool:
        return self.backbone is not None

    def heatmaps(self, batch: MultiViewBatch, view_set: int = 0) -> Tensor:
        """(B, C, J, h, w) heatmaps of one view-set: the 2D net on its images, or rendered
        from its 2D poses (heatmap-input mode)."""
        if self.with_heatmap_net:
            imgs = batch.images[:, view_set]  # (B, C, 3, H, W)
            hm = self.head_2d.forward(self.backbone(imgs.flatten(0, 1)))
            return hm.view(*imgs.shape[:2], *hm.shape[1:])
        if batch.pseudo is None:
            raise ValueError('heatmap-input mode needs 2D poses in every frame (the '
                             'dataset gave none)')
        kp, scores, vis = batch.pseudo.view_set(view_set)
        cfg = self.heatmap_input
        amp = scores.clamp(0, 1) if cfg['use_scores'] else None
        return render_gaussian_heatmaps(kp, vis & (scores > cfg['min_score']),
                                        self.heatmap_size, cfg['sigma'], amp)

    def root_input(self, heatmaps: Tensor) -> Tensor:
        """The channels the root net reads: the root heatmap ('root') or all of them."""
        if self.root_channels == 'all':
            return heatmaps
        return heatmaps[:, :, self.root_index:self.root_index + 1]

    def root_space(self, batch: MultiViewBatch) -> RootSpace:
        """The grid of this batch's root volume: the configured cube, or (``space_from=
        'frame'``) the frames' shared capture space at the trained voxel size. Host
        floats only: no device tensor is read."""
        if self.root_head.space_from == 'config':
            return self.root_head.config_space
        return self.root_head.root_space(batch.shared_space())

    def root_volume(self, root_input: Tensor, batch: MultiViewBatch, view_set: int = 0,
                    space: Optional[RootSpace] = None) -> Tensor:
        """Root likelihood (B, X, Y, Z) on ``space`` (default: :meth:`root_space`) from
        the root net's input heatmaps (B, C, c, h, w) of one view-set (the sampling grid
        is cached when the batch shares it)."""
        space = self.root_space(batch) if space is None else space
        key = batch.grid_keys[view_set] if batch.grid_keys else None
        vol = self.root_grid.unproject(root_input, batch.cameras, batch.affines[:, view_set],
                                       key=key, space=space)
        return self.root_head(vol, space)

    def pose_from_proposals(self, heatmaps: Tensor, batch: MultiViewBatch, view_set: int,
                            centers: Tensor, batch_index: Tensor) -> Tensor:
        """Joints (M, J, 3) of M proposals (centres (M, 3) in frames ``batch_index``)."""
        if centers.shape[0] == 0:
            return heatmaps.new_zeros(0, self.num_joints, 3)
        grids = make_voxel_grid(centers, self.pose_head.cube_size, self.pose_head.cube_shape)
        vols = unproject_heatmaps(heatmaps[batch_index], batch.cameras_of(batch_index),
                                  batch.affines[batch_index, view_set],
                                  grids.unsqueeze(1))[:, 0]  # (M, J, X, Y, Z)
        return self.pose_head(vols, grids)

    # ------------------------------------------------------------------ modes
    def forward(self, inputs: MultiViewBatch, data_samples=None, mode: str = 'tensor'):
        if not isinstance(inputs, MultiViewBatch):
            raise TypeError(f'{type(self).__name__} takes the MultiViewBatch its data '
                            f'preprocessor builds, got {type(inputs).__name__}')
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor')

    def _detect(self, batch: MultiViewBatch) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        space = self.root_space(batch)
        hm = self.heatmaps(batch, 0)
        root = self.root_volume(self.root_input(hm), batch, 0, space)
        centers, scores = self.root_head.decode(root, space)
        return hm, root, centers, scores

    def _forward(self, batch: MultiViewBatch) -> Dict[str, Tensor]:
        """Raw outputs of the un-augmented view-set: heatmaps, root volume, proposals and
        the joints of every proposal (valid or not)."""
        hm, root, centers, scores = self._detect(batch)
        B, K = scores.shape
        b_idx = torch.arange(B, device=hm.device).repeat_interleave(K)
        joints = self.pose_from_proposals(hm, batch, 0, centers.reshape(-1, 3), b_idx)
        return dict(heatmaps=hm, root_volume=root, centers=centers, scores=scores,
                    joints=joints.view(B, K, self.num_joints, 3))

    def predict(self, batch: MultiViewBatch, samples) -> list:
        """Per frame ``pred_instances``: keypoints_3d (N, J, 3) mm, scores (N,),
        root_centers (N, 3) [, refined_mask (N, J), recovered (N,)]; proposals with
        score > threshold (with refinement's ``recover_missed``, then the people added)."""
        refine = refine_cfg(self.test_cfg.get('refine'))
        hm, root, centers, scores = self._detect(batch)
        keep = scores > self.test_cfg.get('threshold', self.root_head.threshold)
        b_idx, k_idx = keep.nonzero(as_tuple=True)
        joints = self.pose_from_proposals(hm, batch, 0, centers[b_idx, k_idx], b_idx)
        for b, s in enumerate(samples):
            sel = b_idx == b
            s.pred_instances = InstanceData(
                keypoints_3d=joints[sel].detach(), scores=scores[b_idx[sel], k_idx[sel]],
                root_centers=centers[b_idx[sel], k_idx[sel]])
            if refine is not None:  # (with recover_missed: people the network missed too)
                p = s.pred_instances
                r = refine_frame(batch, b, joints[sel].detach(), p.scores, refine,
                                 self.root_space(batch)[:2])
                s.pred_instances = InstanceData(
                    root_centers=torch.cat([p.root_centers, r['keypoints_3d'][
                        len(p.root_centers):, self.root_index].to(p.root_centers)]), **r)
            if self.test_cfg.get('return_root_volume', False):
                s.root_volume = root[b].detach()
                s.set_metainfo(dict(root_space=tuple(self.root_space(batch))))
        return list(samples)

    def loss(self, batch: MultiViewBatch, samples=None) -> Dict[str, Tensor]:
        """The objective's losses for this batch (the data samples are not passed on:
        what an objective may read is in the batch, see ``MultiViewDataPreprocessor``)."""
        if self.objective is None:
            raise RuntimeError(f'{type(self).__name__} has no objective: set model.objective '
                               "(e.g. dict(type='SelfPose3dObjective')) to train it")
        return self.objective(self, batch)
