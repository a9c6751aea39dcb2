"""The VoxelPose-style multi-view multi-person 3D pose detector.

heatmaps per view (2D net, or rendered from 2D poses in heatmap-input mode)
→ whole-space root volume (unprojection) → root net → proposals (NMS, top-K)
→ per-proposal cubes (unprojection) → pose net → soft-argmax joints (world mm).

This module holds the forward pass and the fully-supervised losses (VoxelPose); the
self-supervised losses of SelfPose3d attach to the same forward.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from mmpose.registry import MODELS
from torch import Tensor

from selfpose3d_mm.geometry import (MultiViewCameras, RootGridCache, apply_affine,
                                    compose_affine, heatmap_affine, invert_affine,
                                    make_voxel_grid, render_gaussian_heatmaps,
                                    unproject_heatmaps)
from selfpose3d_mm.structures import pad_pseudo_poses
from selfpose3d_mm.models.data_preprocessors import build_data_preprocessor
from .selfsup import SELFSUP_DEFAULTS, SelfSupervisedLossMixin
from .utils import batch_cameras, pad_gt

__all__ = ['SelfPose3D']


@MODELS.register_module()
class SelfPose3D(SelfSupervisedLossMixin, BaseModel):
    """Multi-view multi-person 3D pose estimator (modes ``loss``/``predict``/``tensor``).

    Args:
        num_joints: J (15 for Panoptic).
        root_index: index of the root (mid-hip) joint.
        input_size: network input (w, h); heatmap_size: (w, h).
        heatmap_net_2d: ``dict(backbone=..., head=...)`` mmpose configs (e.g. ``ResNet`` +
            ``HeatmapHead``), or None for heatmap-input mode (heatmaps rendered from the
            sample's 2D poses).
        heatmap_input: rendering of input heatmaps in heatmap-input mode: ``sigma`` (heatmap
            px), ``use_scores`` (peak = keypoint score), ``min_score``.
        root_head, pose_head: configs of :class:`CuboidProposalHead` and
            :class:`PoseRegressionHead`.
        root_channels: ``'root'`` (SelfPose3d: only the root heatmap) or ``'all'`` (VoxelPose).
        train_cfg: ``pose_on_gt_roots`` (train the pose net on cubes at the GT roots
            jittered by ``root_jitter`` mm; else VoxelPose's matched proposals),
            ``match_radius`` (mm; VoxelPose 500), ``loss_2d_weight``, ``sigma_2d``.
        test_cfg: ``threshold`` (overrides the root head's).
        attention_net: config of the soft attention net (``SoftAttentionNet``) of the
            self-supervised heatmap loss; its input is the view's image, or the view's
            heatmaps in heatmap-input mode (``in_channels`` is set accordingly).
        selfsup_cfg: knobs of the self-supervised losses (``SELFSUP_DEFAULTS`` in
            ``selfsup.py``: label sets, rendering sigma, synthetic roots).
        selfsup_losses: configs of the loss modules (``root_consistency``,
            ``heatmap_loss``, ``attention_reg``, ``joint_l1``); their weights come from
            the stage (``set_stage``), so leave ``loss_weight`` at 1.

    Which losses are computed is set by :meth:`set_stage` (the ``TrainingStageHook`` calls
    it); without a stage the model trains fully supervised (``loss_root``, ``loss_pose``,
    plus ``loss_2d`` with a 2D net).
    """

    #: names accepted by ``set_stage(train=...)`` besides the module names
    MODULE_GROUPS = dict(heatmap_net_2d=('backbone', 'head_2d'), root_net=('root_head', ),
                         pose_net=('pose_head', ), attention=('attention_net', ))
    SUPERVISED_LOSSES = ('loss_2d', 'loss_root', 'loss_pose')
    SELFSUP_LOSSES = ('loss_2d', 'loss_root_syn', 'loss_root_cons', 'loss_pose_hm',
                      'loss_attn', 'loss_pose_l1')

    def __init__(self, num_joints: int = 15, root_index: int = 2,
                 input_size: Sequence[int] = (960, 512),
                 heatmap_size: Sequence[int] = (240, 128),
                 heatmap_net_2d: Optional[dict] = None,
                 heatmap_input: Optional[dict] = None,
                 root_head: dict = None, pose_head: dict = None,
                 root_channels: str = 'root', train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, attention_net: Optional[dict] = None,
                 selfsup_cfg: Optional[dict] = None, selfsup_losses: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        if root_channels not in ('root', 'all'):
            raise ValueError(f"root_channels must be 'root' or 'all', got {root_channels!r}")
        self.num_joints, self.root_index = int(num_joints), int(root_index)
        self.input_size = tuple(int(v) for v in input_size)
        self.heatmap_size = tuple(int(v) for v in heatmap_size)
        self.root_channels = root_channels
        self.train_cfg = {**dict(match_radius=500.0, loss_2d_weight=1.0, sigma_2d=3.0,
                                 pose_on_gt_roots=True, root_jitter=50.0),
                          **(train_cfg or {})}
        self.test_cfg = dict(test_cfg or {})
        self.heatmap_input = {**dict(sigma=3.0, use_scores=True, min_score=0.0),
                              **(heatmap_input or {})}
        if heatmap_net_2d is not None:
            self.backbone = MODELS.build(heatmap_net_2d['backbone'])
            self.head_2d = MODELS.build(heatmap_net_2d['head'])
            self.loss_2d = MODELS.build(heatmap_net_2d.get(
                'loss', dict(type='KeypointMSELoss', use_target_weight=True)))
        else:
            self.backbone = self.head_2d = None
        root_head = dict(root_head or {})
        root_head.setdefault('type', 'CuboidProposalHead')
        root_head.setdefault('in_channels', 1 if root_channels == 'root' else num_joints)
        self.root_head = MODELS.build(root_head)
        pose_head = dict(pose_head or {})
        pose_head.setdefault('type', 'PoseRegressionHead')
        pose_head.setdefault('num_joints', num_joints)
        self.pose_head = MODELS.build(pose_head)
        self.root_grid = RootGridCache(self.root_head.space_center, self.root_head.space_size,
                                       self.root_head.cube_shape)
        hm_affine = heatmap_affine(self.input_size, self.heatmap_size)
        self.register_buffer('_hm_affine', hm_affine, persistent=False)
        self.register_buffer('_hm_affine_inv', invert_affine(hm_affine), persistent=False)
        self._build_selfsup(attention_net, selfsup_cfg, selfsup_losses)
        self.loss_weights: Dict[str, float] = {k: 1.0 for k in self.SUPERVISED_LOSSES}
        self.label_set = 'soft'
        self._frozen: Tuple[str, ...] = ()
        self._trainable: Optional[Tuple[str, ...]] = None

    def _build_selfsup(self, attention_net, selfsup_cfg, selfsup_losses) -> None:
        cfg = {**SELFSUP_DEFAULTS, **(selfsup_cfg or {})}
        cfg['root_syn'] = {**SELFSUP_DEFAULTS['root_syn'], **cfg['root_syn']}
        self.selfsup_cfg = cfg
        if attention_net is not None:
            attention_net = dict(attention_net)
            attention_net.setdefault('type', 'SoftAttentionNet')
            attention_net.setdefault('in_channels',
                                     3 if self.with_heatmap_net else self.num_joints)
            attention_net.setdefault('out_channels', self.num_joints)
            self.attention_net = MODELS.build(attention_net)
        else:
            self.attention_net = None
        from selfpose3d_mm.models.losses import SyntheticRootSampler
        self.root_sampler = SyntheticRootSampler(
            self.root_head.space_center, self.root_head.space_size, **cfg['root_syn'])
        losses = dict(root_consistency=dict(type='RootConsistencyLoss'),
                      heatmap_loss=dict(type='AttentiveHeatmapLoss'),
                      attention_reg=dict(type='AttentionRegularizer', loss_weight=1.0),
                      joint_l1=dict(type='HungarianL1Loss', loss_weight=1.0))
        for name, c in (selfsup_losses or {}).items():
            if name not in losses:
                raise KeyError(f'selfsup_losses: unknown {name!r}; known {sorted(losses)}')
            losses[name] = {**losses[name], **c}
        for name, c in losses.items():
            setattr(self, name, MODELS.build(c))

    # ------------------------------------------------------------------ stages
    def _resolve(self, names) -> Tuple[str, ...]:
        out = []
        for n in names:
            for m in self.MODULE_GROUPS.get(n, (n, )):
                if getattr(self, m, None) is None:
                    if n in self.MODULE_GROUPS:
                        continue  # e.g. heatmap_net_2d in heatmap-input mode
                    known = [k for k, _ in self.named_children() if k != 'data_preprocessor']
                    raise KeyError(f'set_stage: the model has no module {m!r}; modules: '
                                   f'{known}, groups: {sorted(self.MODULE_GROUPS)}')
                out.append(m)
        return tuple(out)

    def set_stage(self, train, losses: Dict[str, float], labels: str = 'soft') -> None:
        """Which modules train (others frozen: no grad, eval mode), which losses are
        on with which weights, and which pseudo-label set the losses read."""
        known = set(self.SUPERVISED_LOSSES) | set(self.SELFSUP_LOSSES)
        unknown = set(losses) - known
        if unknown:
            raise KeyError(f'set_stage: unknown losses {sorted(unknown)}; known {sorted(known)}')
        if labels not in ('soft', 'hard'):
            raise ValueError(f"labels must be 'soft' or 'hard', got {labels!r}")
        trainable = self._resolve(train)
        children = [n for n, m in self.named_children()
                    if n != 'data_preprocessor' and any(True for _ in m.parameters())]
        for name in children:
            getattr(self, name).requires_grad_(name in trainable)
        self._trainable = trainable
        self._frozen = tuple(n for n in children if n not in trainable)
        self.loss_weights = {k: float(v) for k, v in losses.items()}
        self.label_set = labels
        self.train(self.training)

    def _trains(self, group: str) -> bool:
        mods = self.MODULE_GROUPS.get(group, (group, ))
        return self._trainable is None or any(m in self._trainable for m in mods)

    def train(self, mode: bool = True):
        """Frozen modules stay in eval mode (BatchNorm statistics included)."""
        super().train(mode)
        for name in self._frozen if mode else ():
            getattr(self, name).eval()
        return self

    # ------------------------------------------------------------------ heatmaps
    @property
    def with_heatmap_net(self) -> bool:
        return self.backbone is not None

    def heatmap_affines(self, samples, view_set: int = 0) -> Tensor:
        """(B, C, 2, 3) original pixel → heatmap pixel for one view-set."""
        A = torch.stack([s.affines[view_set] for s in samples]).to(self._hm_affine.device)
        return compose_affine(self._hm_affine.expand_as(A), A)

    def pseudo_heatmap_coords(self, samples, view_set: int = 0) -> Tuple[Tensor, Tensor, Tensor]:
        """Pseudo poses of one view-set in heatmap pixels (B, C, P, J, 2), visibility
        (B, C, P, J) and scores (B, C, P, J)."""
        dev = self._hm_affine.device
        pad_pseudo_poses(samples)  # no-op after multiview_collate
        kp = torch.stack([s.pseudo_keypoints[view_set] for s in samples]).to(dev)
        vis = torch.stack([s.pseudo_keypoints_visible[view_set] for s in samples]).to(dev)
        sc = torch.stack([s.pseudo_keypoint_scores for s in samples]).to(dev)
        return apply_affine(kp.float(), self._hm_affine), vis, sc

    def render_input_heatmaps(self, samples, view_set: int = 0) -> Tensor:
        """Heatmap-input mode: (B, C, J, h, w) rendered from the sample's 2D poses."""
        kp, vis, sc = self.pseudo_heatmap_coords(samples, view_set)
        cfg = self.heatmap_input
        vis = vis & (sc > cfg['min_score'])
        amp = sc.clamp(0, 1) if cfg['use_scores'] else None
        return render_gaussian_heatmaps(kp, vis, self.heatmap_size, cfg['sigma'], amp)

    def compute_heatmaps(self, inputs: Tensor, samples, view_set: int = 0) -> Tensor:
        """(B, C, J, h, w) heatmaps of one view-set, from the images or rendered."""
        if not self.with_heatmap_net:
            return self.render_input_heatmaps(samples, view_set)
        imgs = inputs[:, view_set]  # (B, C, 3, H, W)
        B, C = imgs.shape[:2]
        hm = self.head_2d.forward(self.backbone(imgs.flatten(0, 1)))
        return hm.view(B, C, *hm.shape[1:])

    # ------------------------------------------------------------------ 3D stages
    def root_volume(self, heatmaps: Tensor, cameras: MultiViewCameras, affines: Tensor,
                    use_cache: bool = True) -> Tensor:
        """Root likelihood (B, X, Y, Z) from heatmaps (B, C, J, h, w)."""
        hm = heatmaps[:, :, self.root_index:self.root_index + 1] \
            if self.root_channels == 'root' else heatmaps
        vol = self.root_grid.unproject(hm, cameras, affines, use_cache=use_cache)
        return self.root_head(vol)

    def pose_from_proposals(self, heatmaps: Tensor, cameras: MultiViewCameras,
                            affines: Tensor, centers: Tensor, batch_index: Tensor) -> Tensor:
        """Joints (M, J, 3) of M proposals (centres (M, 3) in frames ``batch_index``)."""
        M = centers.shape[0]
        if M == 0:
            return heatmaps.new_zeros(0, self.num_joints, 3)
        cams = cameras if not len(cameras.batch_shape) else cameras[batch_index]
        grids = make_voxel_grid(centers, self.pose_head.cube_size, self.pose_head.cube_shape)
        vols = unproject_heatmaps(heatmaps[batch_index], cams, affines[batch_index],
                                  grids.unsqueeze(1))[:, 0]  # (M, J, X, Y, Z)
        return self.pose_head(vols, grids)

    # ------------------------------------------------------------------ modes
    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor')

    def _forward(self, inputs: Tensor, samples) -> Dict[str, Tensor]:
        """Raw outputs of the un-augmented view-set: heatmaps, root volume, proposals and
        the joints of every proposal (valid or not)."""
        cams = batch_cameras(samples)
        hm = self.compute_heatmaps(inputs, samples, 0)
        A = self.heatmap_affines(samples, 0)
        root = self.root_volume(hm, cams, A)
        centers, scores = self.root_head.decode(root)
        B, K = scores.shape
        b_idx = torch.arange(B, device=hm.device).repeat_interleave(K)
        joints = self.pose_from_proposals(hm, cams, A, centers.reshape(-1, 3), b_idx)
        return dict(heatmaps=hm, root_volume=root, centers=centers, scores=scores,
                    joints=joints.view(B, K, self.num_joints, 3))

    def predict(self, inputs: Tensor, samples) -> list:
        """Per frame ``pred_instances``: keypoints_3d (N, J, 3) mm, scores (N,),
        root_centers (N, 3); proposals with score > threshold only."""
        cams = batch_cameras(samples)
        hm = self.compute_heatmaps(inputs, samples, 0)
        A = self.heatmap_affines(samples, 0)
        root = self.root_volume(hm, cams, A)
        centers, scores = self.root_head.decode(root)
        thr = self.test_cfg.get('threshold', self.root_head.threshold)
        keep = scores > thr
        b_idx, k_idx = keep.nonzero(as_tuple=True)
        joints = self.pose_from_proposals(hm, cams, A, centers[b_idx, k_idx], b_idx)
        for b, s in enumerate(samples):
            sel = b_idx == b
            s.pred_instances = InstanceData(
                keypoints_3d=joints[sel].detach(), scores=scores[b_idx[sel], k_idx[sel]],
                root_centers=centers[b_idx[sel], k_idx[sel]])
            if self.test_cfg.get('return_root_volume', False):
                s.root_volume = root[b].detach()
        return list(samples)

    def loss(self, inputs: Tensor, samples) -> Dict[str, Tensor]:
        """The losses the current stage turns on (fully supervised by default)."""
        if set(self.loss_weights) - set(self.SUPERVISED_LOSSES):
            return self.loss_selfsup(inputs, samples)
        losses = self.loss_supervised(inputs, samples)
        return {k: v * self.loss_weights.get(k, 0.0) for k, v in losses.items()
                if self.loss_weights.get(k, 0.0) > 0}

    def loss_supervised(self, inputs: Tensor, samples) -> Dict[str, Tensor]:
        """Fully-supervised (VoxelPose) losses from the 3D GT of the un-augmented set."""
        cams = batch_cameras(samples)
        hm = self.compute_heatmaps(inputs, samples, 0)
        A = self.heatmap_affines(samples, 0)
        gt, gt_vis, gt_mask = pad_gt(samples, self.num_joints, hm.device)
        losses = {}
        if self.with_heatmap_net:
            losses['loss_2d'] = self._loss_2d_gt(hm, cams, A, gt, gt_vis, gt_mask)
        hm_in = hm.detach() if self.with_heatmap_net else hm
        root = self.root_volume(hm_in, cams, A)
        roots = gt[:, :, self.root_index]
        losses['loss_root'] = self.root_head.loss(root, self.root_head.encode(roots, gt_mask))
        if self.train_cfg['pose_on_gt_roots']:
            # teacher forcing: cubes at the GT roots (jittered by about a root voxel), so
            # the pose net trains from the first iteration instead of waiting for the root
            # net's proposals to come within match_radius
            b_idx, g_idx = gt_mask.nonzero(as_tuple=True)
            jitter = torch.randn_like(roots[b_idx, g_idx]) * self.train_cfg['root_jitter']
            centers_m = roots[b_idx, g_idx] + jitter
        else:  # VoxelPose: proposals within match_radius of a GT root, towards that person
            centers, _ = self.root_head.decode(root)
            d = torch.cdist(centers, roots)  # (B, K, G)
            d = d.masked_fill(~gt_mask.unsqueeze(1), float('inf'))
            dist, match = d.min(-1)
            b_idx, k_idx = (dist <= self.train_cfg['match_radius']).nonzero(as_tuple=True)
            g_idx = match[b_idx, k_idx]
            centers_m = centers[b_idx, k_idx]
        joints = self.pose_from_proposals(hm_in, cams, A, centers_m, b_idx)
        losses['loss_pose'] = self.pose_head.loss(joints, gt[b_idx, g_idx], gt_vis[b_idx, g_idx])
        return losses

    def _loss_2d_gt(self, hm, cams, A, gt, gt_vis, gt_mask) -> Tensor:
        """Heatmap MSE against the projected 3D GT (supervised image path)."""
        B, G, J, _ = gt.shape
        uv, valid = cams.project(gt.reshape(B, G * J, 3), return_valid=True)  # (B, C, GJ, 2)
        C = uv.shape[1]
        uv_hm = apply_affine(uv, A).view(B, C, G, J, 2)
        inside = ((uv_hm >= 0) & (uv_hm <= uv.new_tensor(self.heatmap_size) - 1)).all(-1)
        vis = valid.view(B, C, G, J) & inside & (gt_vis & gt_mask[..., None]).unsqueeze(1)
        target = render_gaussian_heatmaps(uv_hm, vis, self.heatmap_size,
                                          self.train_cfg['sigma_2d'])
        weight = torch.ones(B * C, J, device=hm.device)
        return self.loss_2d(hm.flatten(0, 1), target.flatten(0, 1), weight) * \
            self.train_cfg['loss_2d_weight']
