"""SelfPose3d's self-supervised objective (docs/method.md#self-supervised-losses).

Reads only the cameras, the view-sets' affines (x⁰ un-augmented, x¹ and x² randomly
rotated/scaled) and the 2D pseudo poses of :class:`MultiViewBatch`. It cannot read 3D or
2D ground truth: its ``gt_policy`` is ``'forbidden'``, so the data preprocessor never
puts GT into its batch and refuses a training sample that carries any.

    loss_2d_pseudo  2D net vs heatmaps rendered from the pseudo poses (all view-sets)
    loss_root_syn   root net on random synthetic 3D roots rendered into every view
    loss_root_cons  root volumes of x¹, x² vs the detached one of x⁰
    loss_pose_hm    pose net on x¹ (x²) → 3D poses → projected into x² (x¹) → rendered →
                    attention-weighted MSE to the pseudo heatmaps of x² (x¹)
    loss_attn       keeps the soft attention from collapsing to 0
    loss_pose_l1    Hungarian-matched L1 between those projections and the pseudo poses,
                    with hard view attention (the worst view of each frame dropped)

Beyond the paper, off by default (docs/method.md#triangulated-pseudo-3d-targets): the
triangulation baseline run on x⁰'s pseudo poses gives each frame's people in 3D;

    loss_root_3d    root volumes of x⁰, x¹, x² vs 3D Gaussians at those people's roots
    loss_pose_3d    L1 (mm) of Y¹ and Y² (``pseudo_3d.view_sets``; 0 adds Y⁰ of the
                    un-augmented views) to the triangulated joints of the person whose
                    root is nearest each proposal

The root volumes are on the network's grid of the batch (``net.root_space(batch)``): with
``root_head.space_from='frame'`` the synthetic roots are drawn in the batch's own capture
space and their targets encoded on its grid.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import torch
from mmpose.registry import MODELS
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from selfpose3d_mm.geometry import apply_affine, render_gaussian_heatmaps
from selfpose3d_mm.geometry.association import (resolve_triangulation_knobs,
                                                triangulate_people)
from ..losses import SyntheticRootSampler
from .base import BaseObjective

__all__ = ['SelfPose3dObjective', 'SELFSUP_DEFAULTS']

SELFSUP_DEFAULTS = dict(
    # pseudo-label sets: both keep persons whose box score > box_thr; 'hard' also drops
    # joints with score < hard_keypoint_thr and persons left with fewer than
    # hard_min_joints joints (docs/method.md#pseudo-label-sets)
    box_thr=0.7,
    hard_keypoint_thr=0.7,
    hard_min_joints=3,
    sigma=3.0,            # heatmap px of rendered targets and predictions
    root_syn=dict(max_people=10, xy_margin=(0.0, 0.0), z_range=None, z_jitter=50.0),
    root_syn_noise=0.02,  # std of the noise added to synthetic root heatmaps
    root_syn_amplitude=(1.0, 1.0),  # peak range of synthetic roots (heatmap-input: scores),
                          # or 'pseudo': drawn from the batch's 2D root-joint scores
    root_syn_sets=(0, 1, 2),  # view-sets the synthetic-root loss renders into
    proposal_threshold=None,  # proposals for pose training (None: the root head's)
    cross_affine=True,    # False (ablation): Y¹ is compared in x¹'s own frame, Y² in x²'s
    # loss_root_3d / loss_pose_3d: triangulation: knobs of TRIANGULATION_DEFAULTS; a
    # proposal takes the triangulated person whose root is nearest, within match_radius
    # mm; view_sets: the view-sets whose pose predictions loss_pose_3d compares (0 adds
    # a pose-net pass on the un-augmented views, as tested)
    pseudo_3d=dict(match_radius=500.0, triangulation=None, view_sets=(1, 2)),
)
_LOSS_MODULES = dict(root_consistency=dict(type='RootConsistencyLoss'),
                     heatmap_loss=dict(type='AttentiveHeatmapLoss'),
                     attention_reg=dict(type='AttentionRegularizer'),
                     joint_l1=dict(type='HungarianL1Loss'))


@MODELS.register_module()
class SelfPose3dObjective(BaseObjective):
    """SelfPose3d's losses (module docstring). Needs 3 view-sets per training frame.

    Without a stage schedule it trains the full set with ``loss_weights``; the
    ``TrainingStageHook`` switches subsets of these losses on, never other ones.

    Args:
        loss_weights: default weights (paper: root_syn 100, pose_hm 1, attn σ = 0.1,
            pose_l1 λ = 0.01).
        attention_net: config of the soft attention net (``SoftAttentionNet``); its input
            is the view's image, or the view's heatmaps in heatmap-input mode.
        losses: configs of the loss modules ``root_consistency``, ``heatmap_loss``,
            ``attention_reg``, ``joint_l1`` (their weights are ``loss_weights``: a
            ``loss_weight`` here is refused).
        **knobs: :data:`SELFSUP_DEFAULTS` (label sets, rendering, synthetic roots).
    """

    LOSSES = ('loss_2d_pseudo', 'loss_root_syn', 'loss_root_cons', 'loss_pose_hm',
              'loss_attn', 'loss_pose_l1', 'loss_root_3d', 'loss_pose_3d')
    # loss_root_3d, loss_pose_3d are not in the paper: off unless a stage sets them
    DEFAULT_WEIGHTS = dict(loss_2d_pseudo=1.0, loss_root_syn=100.0, loss_root_cons=1.0,
                           loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=0.01,
                           loss_root_3d=0.0, loss_pose_3d=0.0)
    gt_policy = 'forbidden'

    def __init__(self, loss_weights: Dict[str, float] = None,
                 attention_net: Optional[dict] = None, losses: Optional[dict] = None,
                 init_cfg=None, **knobs):
        super().__init__(loss_weights, init_cfg)
        unknown = set(knobs) - set(SELFSUP_DEFAULTS)
        if unknown:
            raise KeyError(f'SelfPose3dObjective: unknown knobs {sorted(unknown)}; known '
                           f'{sorted(SELFSUP_DEFAULTS)}')
        cfg = {**SELFSUP_DEFAULTS, **knobs}
        cfg['root_syn'] = {**SELFSUP_DEFAULTS['root_syn'], **cfg['root_syn']}
        cfg['pseudo_3d'] = {**SELFSUP_DEFAULTS['pseudo_3d'], **cfg['pseudo_3d']}
        unknown = set(cfg['pseudo_3d']) - set(SELFSUP_DEFAULTS['pseudo_3d'])
        if unknown:
            raise KeyError(f'SelfPose3dObjective: pseudo_3d: unknown knobs {sorted(unknown)}'
                           f'; known {sorted(SELFSUP_DEFAULTS["pseudo_3d"])}')
        amp = cfg['root_syn_amplitude']
        if not (amp == 'pseudo' or (isinstance(amp, (tuple, list)) and len(amp) == 2
                                    and 0 <= float(amp[0]) <= float(amp[1]))):
            raise ValueError(f"SelfPose3dObjective: root_syn_amplitude must be (lo, hi) with "
                             f"0 <= lo <= hi, or 'pseudo', got {amp!r}")
        sets = tuple(int(v) for v in cfg['pseudo_3d']['view_sets'])
        if not sets or not set(sets) <= {0, 1, 2} or len(set(sets)) != len(sets):
            raise ValueError('SelfPose3dObjective: pseudo_3d.view_sets must be distinct view-'
                             f"sets among (0, 1, 2), got {cfg['pseudo_3d']['view_sets']!r}")
        cfg['pseudo_3d']['view_sets'] = sets
        cfg['pseudo_3d']['triangulation'] = dict(cfg['pseudo_3d']['triangulation'] or {})
        resolve_triangulation_knobs(dict(cfg['pseudo_3d']['triangulation']))  # fail early
        self.cfg = cfg
        self._attention_cfg = attention_net
        self.attention_net = None
        modules = {k: dict(v) for k, v in _LOSS_MODULES.items()}
        for name, c in (losses or {}).items():
            if name not in modules:
                raise KeyError(f'losses: unknown {name!r}; known {sorted(modules)}')
            if 'loss_weight' in c:
                raise KeyError(f'losses.{name}.loss_weight: weights are set once, in '
                               'loss_weights (or a stage of the TrainingStageHook)')
            modules[name].update(c)
        for name, c in modules.items():
            setattr(self, name, MODELS.build(dict(c, loss_weight=1.0)))
        self.root_sampler = None

    def bind(self, net) -> None:
        if self._attention_cfg is not None:
            att = dict(self._attention_cfg)
            att.setdefault('type', 'SoftAttentionNet')
            att.setdefault('in_channels', 3 if net.with_heatmap_net else net.num_joints)
            att.setdefault('out_channels', net.num_joints)
            self.attention_net = MODELS.build(att)
        self.root_sampler = SyntheticRootSampler(
            net.root_head.space_center, net.root_head.space_size, **self.cfg['root_syn'])

    def sampler_for(self, net, batch) -> SyntheticRootSampler:
        """The synthetic-root sampler of the batch: over the configured space, or with
        ``space_from='frame'`` over the batch's capture space (a few floats: built per
        step, nothing read from the device)."""
        if net.root_head.space_from == 'config':
            return self.root_sampler
        center, size = batch.shared_space()
        return SyntheticRootSampler(center, size, **self.cfg['root_syn'])

    # ------------------------------------------------------------------ labels
    def pseudo_labels(self, batch, view_set: int) -> Tuple[Tensor, Tensor]:
        """Pseudo poses of one view-set under the current label set ('soft'/'hard'):
        keypoints (B, C, Q, J, 2) heatmap px and visibility (B, C, Q, J) bool."""
        cfg, p = self.cfg, batch.pseudo
        if p is None:
            raise ValueError('SelfPose3dObjective needs 2D pseudo poses in every frame')
        kp, scores, vis = p.view_set(view_set)
        vis = vis & (p.person_mask & (p.bbox_scores > cfg['box_thr'])).unsqueeze(-1)
        if self.label_set == 'hard':
            vis = vis & (scores >= cfg['hard_keypoint_thr'])
            vis = vis & (vis.sum(-1, keepdim=True) >= cfg['hard_min_joints'])
        return kp, vis

    def target_heatmaps(self, net, kp: Tensor, vis: Tensor) -> Tensor:
        return render_gaussian_heatmaps(kp, vis, net.heatmap_size, self.cfg['sigma'])

    # ------------------------------------------------------------------ losses
    def compute(self, net, batch, on: Set[str]) -> Dict[str, Tensor]:
        S = batch.num_sets
        if S < 3 and on & {'loss_root_cons', 'loss_pose_hm', 'loss_pose_l1',
                           'loss_pose_3d'}:
            raise ValueError(f'self-supervised losses {sorted(on)} need 3 view-sets per '
                             f'sample (x0, x1, x2); the pipeline gave {S}: use '
                             'MultiViewRandomAffinePair in the train pipeline')
        need_hm = bool(on - {'loss_root_syn'})
        space = net.root_space(batch)  # one root grid for the step (host floats)
        hms = [net.heatmaps(batch, k) for k in range(S)] if need_hm else []
        labels = [self.pseudo_labels(batch, k) for k in range(S)] if need_hm else []
        people = self.triangulated_people(batch, labels[0]) \
            if on & {'loss_root_3d', 'loss_pose_3d'} else None
        losses: Dict[str, Tensor] = {}
        if 'loss_2d_pseudo' in on and net.with_heatmap_net:
            losses['loss_2d_pseudo'] = sum(
                torch.mean((hm - self.target_heatmaps(net, kp, vis)) ** 2)
                for hm, (kp, vis) in zip(hms, labels)) / S
        if 'loss_root_syn' in on:
            losses['loss_root_syn'] = self.synthetic_root_loss(net, batch, space)
        if net.with_heatmap_net and not net.trains('heatmap_net_2d'):
            hms = [h.detach() for h in hms]
        if on & {'loss_root_cons', 'loss_root_3d'}:
            # x⁰'s volume needs a gradient only for loss_root_3d (a target of consistency)
            with torch.set_grad_enabled(torch.is_grad_enabled() and 'loss_root_3d' in on):
                vols = [net.root_volume(net.root_input(hms[0]), batch, 0, space)]
            vols += [net.root_volume(net.root_input(hms[k]), batch, k, space)
                     for k in range(1, S)]
        if 'loss_root_cons' in on:
            losses['loss_root_cons'] = self.root_consistency(vols[1:3], vols[0].detach())
        if 'loss_root_3d' in on:
            X, _, pm = people
            target = net.root_head.encode(X[:, :, net.root_index], pm, space)
            losses['loss_root_3d'] = sum(net.root_head.loss(v, target) for v in vols) / S
        if on & {'loss_pose_hm', 'loss_pose_l1', 'loss_attn', 'loss_pose_3d'}:
            losses.update(self.pose_losses(net, batch, hms, labels, on, space, people))
        return losses

    def synthetic_root_loss(self, net, batch, space=None) -> Tensor:
        """Root net on synthetic roots: rendered in every view of the chosen sets,
        unprojected on the batch's root grid ``space`` (default ``net.root_space``),
        compared with their 3D Gaussian target."""
        cfg = self.cfg
        dev = batch.device
        space = net.root_space(batch) if space is None else space
        roots, mask = self.sampler_for(net, batch).sample(
            batch.batch_size, device=dev, generator=self.generator)  # (B, K, 3)
        target = net.root_head.encode(roots, mask, space)
        sets = [k for k in cfg['root_syn_sets'] if k < batch.num_sets]
        px, valid = batch.cameras.project(roots, return_valid=True)  # (B, C, K, 2) original px
        total = 0.0
        for k in sets:  # ≤ 3 view-sets: only the affine differs
            uv = apply_affine(px, batch.affines[:, k])
            amp = self.synthetic_root_amplitudes(net, batch, k, uv)
            vis = valid & mask.unsqueeze(1)
            hm = render_gaussian_heatmaps(uv.unsqueeze(-2), vis.unsqueeze(-1), net.heatmap_size,
                                          cfg['sigma'], amp.unsqueeze(-1))  # (B, C, 1, h, w)
            if cfg['root_syn_noise'] > 0:
                hm = (hm + self.randn(hm.shape, hm) * cfg['root_syn_noise']).clamp(0, 1)
            if net.root_channels == 'all':
                hm = hm.expand(-1, -1, net.num_joints, -1, -1)
            total = total + net.root_head.loss(net.root_volume(hm, batch, k, space), target)
        return total / max(len(sets), 1)

    def synthetic_root_amplitudes(self, net, batch, view_set: int, uv: Tensor) -> Tensor:
        """Peaks (B, C, K) of the synthetic roots at ``uv`` (B, C, K, 2): uniform in
        ``root_syn_amplitude = (lo, hi)``, or (``'pseudo'``) drawn from the scores of the
        view-set's 2D root joints in the batch — the peaks the root net meets in the
        rendered pseudo heatmaps, whatever the 2D detector's score scale (the realistic
        detector scores some people's root joints 0.1–0.4, below a fixed range's 0.5). A
        batch without 2D roots gives peaks of 1. Inverse-CDF sampling: no host sync."""
        amp = self.cfg['root_syn_amplitude']
        u = self.rand(uv.shape[:-1], uv)
        if amp != 'pseudo':
            lo, hi = (float(a) for a in amp)
            return lo + (hi - lo) * u
        if batch.pseudo is None:
            raise ValueError("root_syn_amplitude='pseudo' needs the batch's 2D poses "
                             '(a pseudo-label file or heatmap-input mode)')
        _, scores, vis = batch.pseudo.view_set(view_set)  # (B, C, P, J)
        if scores.numel() == 0:
            return torch.ones_like(u)
        r = net.root_index
        pool = scores[..., r].clamp(0, 1).flatten().to(uv.dtype)
        w = (vis[..., r] & batch.pseudo.person_mask & (scores[..., r] > 0)).flatten()
        cdf = w.to(uv.dtype).cumsum(0)
        total = cdf[-1:]  # (1,): 0 when the batch has no 2D root
        idx = torch.searchsorted(cdf, (u * total).flatten().contiguous(), right=True)
        picked = pool[idx.clamp(max=len(pool) - 1)].view_as(u)
        return torch.where(total > 0, picked, torch.ones_like(picked))

    def attention(self, batch, heatmaps: Tensor, view_set: int) -> Optional[Tensor]:
        if self.attention_net is None:
            return None
        B, C, J, h, w = heatmaps.shape
        x = batch.images[:, view_set] if batch.images is not None else heatmaps.detach()
        att = self.attention_net(x.flatten(0, 1), output_size=(h, w))
        return att.view(B, C, *att.shape[1:])

    def pose_losses(self, net, batch, hms: List[Tensor], labels: list, on, space=None,
                    people: Optional[Tuple[Tensor, Tensor, Tensor]] = None
                    ) -> Dict[str, Tensor]:
        """Pose net on x¹ and x² from the proposals of x⁰ (root grid ``space``, default
        ``net.root_space``); the cross-view losses, and ``loss_pose_3d`` against the
        :meth:`triangulated_people` ``people`` (needed when that loss is on)."""
        space = net.root_space(batch) if space is None else space
        with torch.no_grad():  # proposals from the un-augmented set (root net frozen)
            g0 = net.root_volume(net.root_input(hms[0].detach()), batch, 0, space)
            centers, scores = net.root_head.decode(g0, space)
        thr = self.cfg['proposal_threshold']
        thr = net.root_head.threshold if thr is None else thr
        b_idx, k_idx = (scores > thr).nonzero(as_tuple=True)
        c = centers[b_idx, k_idx]
        sets_3d = self.cfg['pseudo_3d']['view_sets'] if 'loss_pose_3d' in on else ()
        Y = {k: net.pose_from_proposals(hms[k], batch, k, c, b_idx)
             for k in sorted({1, 2, *sets_3d})}
        if len(b_idx) == 0:  # no proposal: zeros that still reach the pose net's weights
            anchor = sum(p.flatten()[0] for p in net.pose_head.parameters()) * 0.0
            Y = {k: v + anchor for k, v in Y.items()}
        att = {k: self.attention(batch, hms[k], k) for k in (1, 2)} \
            if on & {'loss_pose_hm', 'loss_attn'} else {1: None, 2: None}
        losses = self.cross_view_losses(net, batch, {k: Y[k] for k in (1, 2)}, b_idx, k_idx,
                                        scores.shape[1], labels, att, on)
        if 'loss_pose_3d' in on:
            target, mask = self.triangulated_targets(net, people, c, b_idx)
            losses['loss_pose_3d'] = sum(net.pose_head.loss(Y[k], target, mask)
                                         for k in sets_3d) / len(sets_3d)
        return losses

    def cross_view_losses(self, net, batch, Y: Dict[int, Tensor], b_idx: Tensor,
                          k_idx: Tensor, K: int, labels: list,
                          att: Dict[int, Optional[Tensor]], on) -> Dict[str, Tensor]:
        """Losses of the 3D poses ``Y[k]`` (M, J, 3) estimated from view-set k, seen
        through the *other* set's affine (``cross_affine``), against that set's pseudo
        poses: attention-weighted heatmap MSE (``loss_pose_hm``), Hungarian L1
        (``loss_pose_l1``, in heatmap px normalised by the heatmap size) and the
        attention regulariser (``loss_attn``).

        Args:
            b_idx, k_idx: (M,) frame and slot of each pose (K slots per frame).
            labels: per set, :meth:`pseudo_labels`. att: per set, (B, C, J, h, w) or None.
        """
        B = batch.batch_size
        losses: Dict[str, Tensor] = {}
        hm_terms, l1_terms = [], []
        pairs = ((1, 2), (2, 1)) if self.cfg['cross_affine'] else ((1, 1), (2, 2))
        for src, dst in pairs:  # Y¹ seen by x², Y² seen by x¹
            uv, valid = batch.cameras_of(b_idx).project(Y[src], return_valid=True)
            uv = apply_affine(uv, batch.affines[b_idx, dst])             # (M, C, J, 2)
            uv = _scatter_persons(uv, b_idx, k_idx, B, K)                # (B, C, K, J, 2)
            vis = _scatter_persons(valid, b_idx, k_idx, B, K)
            kp, pvis = labels[dst]
            if 'loss_pose_hm' in on:
                pred = render_gaussian_heatmaps(uv, vis, net.heatmap_size, self.cfg['sigma'],
                                                reduce='sum')
                hm_terms.append(self.heatmap_loss(pred, self.target_heatmaps(net, kp, pvis),
                                                  att[dst]))
            if 'loss_pose_l1' in on:
                l1_terms.append(self.joint_l1(uv, vis, kp, pvis, norm_size=net.heatmap_size))
        if hm_terms:
            losses['loss_pose_hm'] = sum(hm_terms)
        if l1_terms:
            losses['loss_pose_l1'] = sum(l1_terms)
        if 'loss_attn' in on and att[1] is not None:
            losses['loss_attn'] = self.attention_reg(att[1]) + self.attention_reg(att[2])
        return losses

    @torch.no_grad()
    def triangulated_people(self, batch, label0: Tuple[Tensor, Tensor]
                            ) -> Tuple[Tensor, Tensor, Tensor]:
        """Each frame's people by the triangulation baseline on the un-augmented set's
        pseudo poses ``label0`` (the current label set, mapped back to image pixels);
        only pseudo poses and cameras are read.

        Returns poses (B, P, J, 3) world mm, triangulated (B, P, J) (the joint has two or
        more agreeing views; else a one-view fill) and the person mask (B, P).
        """
        kp, vis = label0  # (B, C, Q, J, 2) heatmap px of x⁰, (B, C, Q, J)
        _, scores, _ = batch.pseudo.view_set(0)
        B, J = vis.shape[0], vis.shape[-1]
        kp_img = batch.image_pixels(kp.double(), 0)
        w = scores.double() * vis
        knobs = self.cfg['pseudo_3d']['triangulation']
        # association is per frame (the triangulation baseline; a batch of 1-4 frames)
        found = [triangulate_people(kp_img[b], w[b], batch.pseudo.person_mask[b],
                                    batch.cameras_of(b), **knobs) for b in range(B)]
        return _pad_people(found, J, kp)

    def triangulated_targets(self, net, people: Tuple[Tensor, Tensor, Tensor],
                             centers: Tensor, b_idx: Tensor) -> Tuple[Tensor, Tensor]:
        """``loss_pose_3d``'s targets: each proposal (``centers`` (M, 3) of frames
        ``b_idx``) takes the :meth:`triangulated_people` person whose root is nearest,
        within ``pseudo_3d.match_radius`` mm. Returns targets (M, J, 3) and mask (M, J):
        the triangulated joints of a matched person (no target for one-view fills)."""
        X, tri, pm = people
        roots = X[b_idx, :, net.root_index]  # (M, P, 3)
        d = (roots - centers.detach().unsqueeze(1)).norm(dim=-1).masked_fill(
            ~pm[b_idx], float('inf'))
        dist, nearest = d.min(1)  # P >= 1 (padded); no person: inf, no target
        target = X[b_idx, nearest]
        mask = tri[b_idx, nearest] & (dist <= float(
            self.cfg['pseudo_3d']['match_radius'])).unsqueeze(-1)
        return target, mask


def _pad_people(found: List[dict], J: int, like: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Per-frame ``triangulate_people`` outputs → poses (B, P, J, 3), triangulated
    (B, P, J) and mask (B, P), padded to P >= 1 people (no person: an all-False row)."""
    pad = [dict(keypoints_3d=like.new_zeros(1, J, 3),
                triangulated=torch.zeros(1, J, dtype=torch.bool, device=like.device))]
    out = [pad_sequence([f[key].to(like.device) for f in found + pad], batch_first=True)
           [:len(found)] for key in ('keypoints_3d', 'triangulated')]
    counts = torch.tensor([len(f['keypoints_3d']) for f in found], device=like.device)
    mask = torch.arange(out[0].shape[1], device=like.device) < counts.unsqueeze(1)
    return out[0].to(like.dtype), out[1], mask


def _scatter_persons(values: Tensor, b_idx: Tensor, k_idx: Tensor, B: int, K: int) -> Tensor:
    """(M, C, ...) per-proposal values → (B, C, K, ...) zero-padded."""
    out = values.new_zeros(B, K, *values.shape[1:])
    out = out.index_put((b_idx, k_idx), values)
    return out.transpose(1, 2)
