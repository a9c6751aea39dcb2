"""SelfPose3d's self-supervised losses on top of the VoxelPose forward (DESIGN.md §3).

No 2D or 3D ground truth: every loss here reads only the cameras, the view-sets' affines
(x⁰ unaugmented, x¹ and x² randomly rotated/scaled) and the 2D pseudo poses.

    loss_2d        heatmap net vs heatmaps rendered from the pseudo poses (all sets)
    loss_root_syn  root net on random synthetic 3D roots rendered into every view
    loss_root_cons root volumes of x¹, x² vs the detached one of x⁰
    loss_pose_hm   pose net on x¹ (x²) → 3D poses → projected into x² (x¹) → rendered →
                   attention-weighted MSE to the pseudo heatmaps of x² (x¹)
    loss_attn      keeps the soft attention from collapsing to 0
    loss_pose_l1   Hungarian-matched L1 between those projections and the pseudo poses,
                   with hard view attention (the worst view of each frame dropped)
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from selfpose3d_mm.geometry import (MultiViewCameras, apply_affine,
                                    render_gaussian_heatmaps)
from .utils import batch_cameras

__all__ = ['SelfSupervisedLossMixin', 'SELFSUP_DEFAULTS']

SELFSUP_DEFAULTS = dict(
    # pseudo-label sets (DESIGN.md §3): both keep persons whose box score > box_thr;
    # 'hard' also drops joints with score < hard_keypoint_thr and persons left with fewer
    # than hard_min_joints joints. The paper masks joints below 0.7; the authors' code
    # used 0.05 (plus a box test): set hard_keypoint_thr accordingly.
    box_thr=0.7,
    hard_keypoint_thr=0.7,
    hard_min_joints=3,
    sigma=3.0,            # heatmap px of rendered targets and predictions
    root_syn=dict(max_people=10, xy_margin=(0.0, 0.0), z_range=None, z_jitter=50.0),
    root_syn_noise=0.02,  # std of the noise added to synthetic root heatmaps
    root_syn_amplitude=(1.0, 1.0),  # peak range of synthetic roots (heatmap-input: scores)
    root_syn_sets=(0, 1, 2),  # view-sets the synthetic-root loss renders into
    proposal_threshold=None,  # proposals for pose training (None: the root head's)
    cross_affine=True,    # False (ablation): Y¹ is compared in x¹'s own frame, Y² in x²'s
)


class SelfSupervisedLossMixin:
    """Self-supervised losses of :class:`SelfPose3D` (needs 3 view-sets per sample)."""

    # ------------------------------------------------------------------ labels
    def pseudo_labels(self, samples, view_set: int) -> Tuple[Tensor, Tensor, Tensor]:
        """Pseudo poses of one view-set under the current label set ('soft'/'hard').

        Returns:
            keypoints (B, C, Q, J, 2) in heatmap px, keypoints in network-input px, and
            visibility (B, C, Q, J) bool.
        """
        cfg = self.selfsup_cfg
        kp_hm, vis, scores = self.pseudo_heatmap_coords(samples, view_set)
        dev = kp_hm.device
        kp_in = torch.stack([s.pseudo_keypoints[view_set] for s in samples]).to(dev).float()
        box = torch.stack([s.pseudo_bbox_scores for s in samples]).to(dev)
        person = torch.stack([s.pseudo_person_mask for s in samples]).to(dev).bool()
        vis = vis.bool() & (person & (box > cfg['box_thr'])).unsqueeze(-1)
        if self.label_set == 'hard':
            vis = vis & (scores >= cfg['hard_keypoint_thr'])
            vis = vis & (vis.sum(-1, keepdim=True) >= cfg['hard_min_joints'])
        return kp_hm, kp_in, vis

    def pseudo_target_heatmaps(self, kp_hm: Tensor, vis: Tensor) -> Tensor:
        return render_gaussian_heatmaps(kp_hm, vis, self.heatmap_size,
                                        self.selfsup_cfg['sigma'])

    # ------------------------------------------------------------------ helpers
    def project_poses(self, joints: Tensor, cameras: MultiViewCameras, affines: Tensor,
                      batch_index: Tensor) -> Tuple[Tensor, Tensor]:
        """World joints (M, J, 3) of frames ``batch_index`` → (M, C, J, 2) pixels of the
        space ``affines`` (B, C, 2, 3) maps to, and validity (M, C, J) (in front of the
        camera, inside the lens model's range)."""
        cams = cameras if not len(cameras.batch_shape) else cameras[batch_index]
        uv, valid = cams.project(joints, return_valid=True)  # (M, C, J, 2)
        return apply_affine(uv, affines[batch_index]), valid

    @staticmethod
    def scatter_persons(values: Tensor, b_idx: Tensor, k_idx: Tensor, B: int, K: int
                        ) -> Tensor:
        """(M, C, ...) per-proposal values → (B, C, K, ...) zero-padded."""
        out = values.new_zeros(B, K, *values.shape[1:])
        out = out.index_put((b_idx, k_idx), values)
        return out.transpose(1, 2)

    def _attention(self, inputs: Tensor, heatmaps: Tensor, view_set: int) -> Optional[Tensor]:
        if self.attention_net is None:
            return None
        B, C, J, h, w = heatmaps.shape
        x = heatmaps.detach() if not self.with_heatmap_net else inputs[:, view_set]
        att = self.attention_net(x.flatten(0, 1), output_size=(h, w))
        return att.view(B, C, *att.shape[1:])

    # ------------------------------------------------------------------ losses
    def loss_selfsup(self, inputs: Tensor, samples) -> Dict[str, Tensor]:
        w = self.loss_weights
        on = {k for k, v in w.items() if v > 0}
        S = int(samples[0].affines.shape[0])
        if S < 3 and on & {'loss_root_cons', 'loss_pose_hm', 'loss_pose_l1'}:
            raise ValueError(f'self-supervised losses {sorted(on)} need 3 view-sets per '
                             f'sample (x0, x1, x2); the pipeline gave {S}: use '
                             'MultiViewRandomAffinePair in the train pipeline')
        cams = batch_cameras(samples)
        A = [self.heatmap_affines(samples, k) for k in range(S)]
        need_hm = on - {'loss_root_syn'}
        hms = [self.compute_heatmaps(inputs, samples, k) for k in range(S)] if need_hm else []
        labels = [self.pseudo_labels(samples, k) for k in range(S)] if need_hm else []
        losses: Dict[str, Tensor] = {}
        if 'loss_2d' in on and self.with_heatmap_net:
            losses['loss_2d'] = sum(
                torch.mean((hm - self.pseudo_target_heatmaps(kp, vis)) ** 2)
                for hm, (kp, _, vis) in zip(hms, labels)) / S
        if 'loss_root_syn' in on:
            losses['loss_root_syn'] = self._loss_root_syn(cams, A, len(samples))
        hm_in = [h.detach() for h in hms] if self.with_heatmap_net and not \
            self._trains('heatmap_net_2d') else hms
        if 'loss_root_cons' in on:
            with torch.no_grad():
                g0 = self.root_volume(hm_in[0], cams, A[0])
            vols = [self.root_volume(hm_in[k], cams, A[k], use_cache=False) for k in (1, 2)]
            losses['loss_root_cons'] = self.root_consistency(vols, g0)
        if on & {'loss_pose_hm', 'loss_pose_l1', 'loss_attn'}:
            losses.update(self._loss_cross_view(inputs, samples, cams, A, hm_in, labels, on))
        return {k: v * w[k] for k, v in losses.items()}

    def _loss_root_syn(self, cams: MultiViewCameras, A: List[Tensor], B: int) -> Tensor:
        """Root net on synthetic roots: render them in every view of the chosen sets,
        unproject, compare with their 3D Gaussian target."""
        cfg = self.selfsup_cfg
        dev = A[0].device
        roots, mask = self.root_sampler.sample(B, device=dev)  # (B, K, 3), (B, K)
        target = self.root_head.encode(roots, mask)
        lo, hi = cfg['root_syn_amplitude']
        total = 0.0
        sets = [k for k in cfg['root_syn_sets'] if k < len(A)]
        for k in sets:  # ≤ 3 view-sets
            uv, valid = self._project_frames(roots, cams, A[k])  # (B, C, K, 2)
            amp = lo + (hi - lo) * torch.rand(uv.shape[:-1], device=dev)
            vis = valid & mask.unsqueeze(1)
            hm = render_gaussian_heatmaps(uv.unsqueeze(-2), vis.unsqueeze(-1),
                                          self.heatmap_size, cfg['sigma'],
                                          amp.unsqueeze(-1))  # (B, C, 1, h, w)
            if cfg['root_syn_noise'] > 0:
                hm = (hm + torch.randn_like(hm) * cfg['root_syn_noise']).clamp(0, 1)
            hm = hm if self.root_channels == 'root' else hm.expand(
                -1, -1, self.num_joints, -1, -1)
            vol = self.root_grid.unproject(hm, cams, A[k], use_cache=(k == 0))
            total = total + self.root_head.loss(self.root_head(vol), target) / \
                self.root_head.loss_weight
        return total / max(len(sets), 1)

    def _project_frames(self, points: Tensor, cams: MultiViewCameras, A: Tensor
                        ) -> Tuple[Tensor, Tensor]:
        """(B, N, 3) world points of each frame → (B, C, N, 2) heatmap px + validity."""
        uv, valid = cams.project(points, return_valid=True)
        return apply_affine(uv, A), valid

    def _loss_cross_view(self, inputs, samples, cams, A, hms, labels, on) -> Dict[str, Tensor]:
        cfg = self.selfsup_cfg
        B = len(samples)
        with torch.no_grad():  # proposals from the un-augmented set (root net frozen)
            g0 = self.root_volume(hms[0].detach(), cams, A[0])
            centers, scores = self.root_head.decode(g0)
        thr = cfg['proposal_threshold']
        thr = self.root_head.threshold if thr is None else thr
        K = scores.shape[1]
        b_idx, k_idx = (scores > thr).nonzero(as_tuple=True)
        c = centers[b_idx, k_idx]
        Y = {k: self.pose_from_proposals(hms[k], cams, A[k], c, b_idx) for k in (1, 2)}
        if len(b_idx) == 0:  # no proposal: zeros that still reach the pose net's weights
            anchor = sum(p.flatten()[0] for p in self.pose_head.parameters()) * 0.0
            Y = {k: v + anchor for k, v in Y.items()}
        att = {k: self._attention(inputs, hms[k], k) for k in (1, 2)} \
            if on & {'loss_pose_hm', 'loss_attn'} else {1: None, 2: None}
        return self.cross_view_losses(Y, b_idx, k_idx, B, K, cams, A, labels, att, on)

    def cross_view_losses(self, Y: Dict[int, Tensor], b_idx: Tensor, k_idx: Tensor, B: int,
                          K: int, cams: MultiViewCameras, A: List[Tensor], labels: list,
                          att: Dict[int, Optional[Tensor]], on) -> Dict[str, Tensor]:
        """Losses of the 3D poses ``Y[k]`` (M, J, 3) estimated from view-set k, seen
        through the *other* set's affine (``cross_affine``), against that set's pseudo
        poses: attention-weighted heatmap MSE (``loss_pose_hm``), Hungarian L1
        (``loss_pose_l1``) and the attention regulariser (``loss_attn``).

        Args:
            b_idx, k_idx: (M,) frame and slot of each pose (B frames, K slots).
            labels: per set, :meth:`pseudo_labels`. att: per set, (B, C, J, h, w) or None.
        """
        cfg = self.selfsup_cfg
        losses: Dict[str, Tensor] = {}
        hm_terms, l1_terms = [], []
        in_affine = self._hm_affine_inv  # heatmap px → network-input px
        pairs = ((1, 2), (2, 1)) if cfg['cross_affine'] else ((1, 1), (2, 2))
        for src, dst in pairs:  # Y¹ seen by x², Y² seen by x¹
            uv, valid = self.project_poses(Y[src], cams, A[dst], b_idx)  # (M, C, J, 2)
            uv = self.scatter_persons(uv, b_idx, k_idx, B, K)  # (B, C, K, J, 2) heatmap px
            vis = self.scatter_persons(valid, b_idx, k_idx, B, K)
            kp_hm, kp_in, pvis = labels[dst]
            if 'loss_pose_hm' in on:
                pred = render_gaussian_heatmaps(uv, vis, self.heatmap_size, cfg['sigma'],
                                                reduce='sum')
                target = self.pseudo_target_heatmaps(kp_hm, pvis)
                hm_terms.append(self.heatmap_loss(pred, target, att[dst]))
            if 'loss_pose_l1' in on:
                l1_terms.append(self.joint_l1(apply_affine(uv, in_affine), vis, kp_in, pvis,
                                              norm_size=self.input_size))
        if hm_terms:
            losses['loss_pose_hm'] = sum(hm_terms)
        if l1_terms:
            losses['loss_pose_l1'] = sum(l1_terms)
        if 'loss_attn' in on and att[1] is not None:
            losses['loss_attn'] = self.attention_reg(att[1]) + self.attention_reg(att[2])
        return losses
