"""Learning-free multi-view multi-person triangulation baseline (MvPose-like).

Input: per view a varying number of 2D poses (pseudo labels, with scores) and a calibrated
rig. Output: 3D poses in world mm and a confidence per person. No learning involved.

Pipeline of :func:`triangulate_people` (all thresholds are knobs of
:data:`TRIANGULATION_DEFAULTS`):

1. **Normalisation.** Keypoints are undistorted to normalised image coordinates. Every
   image-space distance is divided by the *person scale* ``s`` of the observation (the
   diagonal of the bounding box of its confident joints, at least ``min_scale_px``), so
   the thresholds are fractions of the apparent person size and independent of
   resolution and distance (a 2D detector's error grows with the person's size).
2. **Association.** For every pair of persons in two different views: the symmetric
   epipolar distance of each joint confident in both (distance of each point to the
   other's epipolar line, in pixels via the view's focal length, over ``s``), clipped at
   ``assoc_clip`` and averaged (a truncated mean: a few outlier or swapped joints cannot
   dominate). The smaller of the distances to the person and to its left/right mirrored
   version is kept (a detection seen back-to-front). Persons are then grouped by
   *greedy agglomerative merging with average linkage*: candidate pairs below
   ``assoc_threshold`` in increasing distance order merge their clusters when the two
   clusters use disjoint views (at most one person per view) and the mean distance over
   all cross pairs stays below ``assoc_threshold`` (no chaining of near-misses).
3. **Left/right swaps.** Per cluster and left/right joint pair (e.g. the wrists), every
   labelling of the cluster's views as flipped / not flipped is scored by the summed
   clipped epipolar distances between the views' left and right joints (exhaustively,
   2^C labellings, up to 10 views; greedy beyond), and the best one is applied when it
   gains more than ``flip_margin`` over no flip. That cost only sees *relative* flips,
   so the minority of the views is flipped (ties, e.g. two views: the views whose pair
   has the lower detector score — a confused pair is less confident). A majority of
   views swapped the same way cannot be detected this way.
4. **Robust triangulation** per cluster and joint: every view pair of the cluster gives
   a DLT hypothesis; the one with the largest score-weighted count of inlier views
   (reprojection error below ``reproj_threshold``, in front of the cameras) wins; then
   ``refine_iters`` rounds of score-weighted DLT over the inliers and re-selection of the
   inliers. A joint with fewer than two consistent views is filled on the ray of its
   best-scoring view at the person's median depth in that view (or the centroid).
5. **View pruning and re-association.** A view whose person explains fewer than
   ``min_view_inlier_ratio`` of its confident joints (or fewer than ``min_view_joints``)
   is removed from the cluster. Then persons in no cluster are attached to a cluster
   missing their view when their 2D pose matches the cluster's reprojection (truncated
   mean below ``extend_threshold``), and clusters with disjoint views whose 3D poses are
   within ``merge_distance`` mm MPJPE are merged; every change is re-triangulated.
6. **Ghost rejection.** Dropped: fewer than ``min_views`` supporting views (views with
   enough inlier joints), a mean clipped reprojection error above ``max_mean_error``,
   more than ``max_bad_bone_frac`` of the bones outside ``bone_ranges`` (mm), a root
   outside ``space_center ± space_size / 2`` (+ ``space_margin``), non-finite joints;
   and duplicates of a more confident pose (MPJPE below ``nms_distance``).
7. **Confidence** ``= (1 - 0.5^(n_views - 1)) · exp(-(e / conf_error_sigma)² / 2) ·
   mean inlier score · fraction of triangulated (not filled) joints``, with ``n_views``
   the supporting views and ``e`` the mean clipped normalised reprojection error; people
   are returned sorted by it, descending.

Everything is vectorised over views, persons, joints and hypotheses (torch, float64); the
Python loops run over association candidates, clusters and a few refinement rounds.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from selfpose3d_mm.geometry import MultiViewCameras, triangulate_dlt
from selfpose3d_mm.utils import merge_knobs

__all__ = ['TRIANGULATION_DEFAULTS', 'PANOPTIC15_LIMBS', 'PANOPTIC15_FLIP_PAIRS',
           'PANOPTIC15_BONE_RANGES', 'triangulate_people']

# mmpose ``panoptic_body3d`` truncated to 15 joints: 0 neck, 1 nose, 2 mid-hip, 3-5 left
# shoulder/elbow/wrist, 6-8 left hip/knee/ankle, 9-11 right arm, 12-14 right leg.
PANOPTIC15_LIMBS = ((0, 1), (0, 2), (0, 3), (3, 4), (4, 5), (0, 9), (9, 10), (10, 11),
                    (2, 6), (2, 12), (6, 7), (7, 8), (12, 13), (13, 14))
PANOPTIC15_FLIP_PAIRS = ((3, 9), (4, 10), (5, 11), (6, 12), (7, 13), (8, 14))
# Generous (min, max) lengths in mm per limb above: adult anthropometry (statures
# 1.4-2.1 m) widened for the joint-placement noise of marker-less reconstructions.
_NECK_NOSE, _TORSO, _SHOULDER = (50.0, 400.0), (250.0, 800.0), (60.0, 350.0)
_UPPER_ARM, _FOREARM, _HIP = (150.0, 450.0), (120.0, 420.0), (30.0, 250.0)
_THIGH, _SHIN = (220.0, 650.0), (200.0, 620.0)
PANOPTIC15_BONE_RANGES = (_NECK_NOSE, _TORSO, _SHOULDER, _UPPER_ARM, _FOREARM, _SHOULDER,
                          _UPPER_ARM, _FOREARM, _HIP, _HIP, _THIGH, _SHIN, _THIGH, _SHIN)

TRIANGULATION_DEFAULTS = dict(
    # --- skeleton ---
    root_index=2,                  # joint checked against the capture space (mid-hip)
    limbs=PANOPTIC15_LIMBS,        # (L, 2) joint pairs of the bone-length check
    bone_ranges=PANOPTIC15_BONE_RANGES,  # (L, 2) plausible bone lengths (mm); None: off
    flip_pairs=PANOPTIC15_FLIP_PAIRS,    # (K, 2) left/right joint pairs
    # --- observations ---
    min_joint_score=0.2,           # joints below this score are not used (except fill-in)
    min_scale_px=32.0,             # floor of the person scale (bbox diagonal, px)
    # --- association (distances are fractions of the person scale) ---
    assoc_threshold=0.06,          # max truncated-mean symmetric epipolar distance
    assoc_clip=0.25,               # per-joint distances are clipped at this
    min_common_joints=5,           # joints confident in both persons to compare them
    # --- triangulation ---
    reproj_threshold=0.05,         # inlier reprojection error
    refine_iters=2,                # DLT-on-inliers / inlier re-selection rounds
    flip_margin=0.04,              # min summed epipolar gain to flip a left/right pair
    min_view_joints=4,             # a view supports a cluster with >= this many inliers
    min_view_inlier_ratio=0.5,     # ... and this fraction of its confident joints
    extend_threshold=0.06,         # re-association of free persons (truncated mean)
    merge_distance=150.0,          # mm MPJPE: merge clusters with disjoint views
    # --- ghost rejection ---
    min_views=2,                   # supporting views needed
    max_mean_error=0.05,           # mean reprojection error (clipped at error_clip)
    error_clip=0.1,
    max_bad_bone_frac=0.3,         # fraction of bones outside bone_ranges
    space_margin=0.0,              # mm added to each side of the capture space
    nms_distance=100.0,            # mm MPJPE: a less confident duplicate is dropped
    # --- confidence ---
    conf_error_sigma=0.03,         # reprojection-error scale of the confidence
)

_INF = float('inf')


def _resolve_knobs(knobs: dict) -> dict:
    k = merge_knobs(TRIANGULATION_DEFAULTS, knobs, 'triangulate_people')
    if int(k['min_views']) < 2:
        raise ValueError(f"triangulate_people: 'min_views' must be >= 2 (one view cannot "
                         f"be triangulated), got {k['min_views']!r}")
    for name in ('assoc_threshold', 'assoc_clip', 'reproj_threshold', 'extend_threshold',
                 'error_clip', 'conf_error_sigma', 'min_scale_px'):
        if not float(k[name]) > 0:
            raise ValueError(f'triangulate_people: {name!r} must be > 0, got {k[name]!r}')
    limbs = np.asarray(k['limbs'], np.int64).reshape(-1, 2)
    if k['bone_ranges'] is not None and np.asarray(k['bone_ranges']).shape != (len(limbs), 2):
        raise ValueError(f"triangulate_people: 'bone_ranges' needs one (min, max) per limb "
                         f"({len(limbs)}), got shape {np.asarray(k['bone_ranges']).shape}")
    return k


class _Rig:
    """Per-rig quantities: normalised projections, essential matrices, focal lengths."""

    def __init__(self, cams: MultiViewCameras):
        # MultiViewCameras stores float32 whatever ``.double()`` says: the epipolar and
        # DLT algebra runs on float64 copies (projection stays with the rig's model)
        self.cams = cams
        R, t = cams.R.double(), cams.t.double()
        self.R, self.t = R, t
        self.Rt = torch.cat([R, t.unsqueeze(-1)], -1)  # (C, 3, 4)
        R_ij = R.unsqueeze(0) @ R.transpose(-1, -2).unsqueeze(1)  # [i, j] = R_j R_iᵀ
        t_ij = t.unsqueeze(0) - (R_ij @ t.unsqueeze(1).unsqueeze(-1)).squeeze(-1)
        tx = torch.zeros(*t_ij.shape[:2], 3, 3, dtype=t.dtype, device=t.device)
        tx[..., 0, 1], tx[..., 0, 2] = -t_ij[..., 2], t_ij[..., 1]
        tx[..., 1, 0], tx[..., 1, 2] = t_ij[..., 2], -t_ij[..., 0]
        tx[..., 2, 0], tx[..., 2, 1] = -t_ij[..., 1], t_ij[..., 0]
        self.E = tx @ R_ij  # (C, C, 3, 3): x_jᵀ E[i, j] x_i = 0 (normalised coordinates)
        self.focal = 0.5 * (cams.K[:, 0, 0] + cams.K[:, 1, 1]).double()  # (C,)
        C = cams.num_views
        self.pairs = torch.combinations(torch.arange(C, device=t.device), 2)  # (H, 2)
        onehot = torch.zeros(len(self.pairs), C, dtype=t.dtype, device=t.device)
        onehot[torch.arange(len(self.pairs)), self.pairs[:, 0]] = 1
        onehot[torch.arange(len(self.pairs)), self.pairs[:, 1]] = 1
        self.pair_onehot = onehot  # (H, C)

    def reproj_error(self, X: Tensor, kp: Tensor, scale: Tensor) -> Tensor:
        """Normalised reprojection error: X (*, J, 3), kp (*, C, J, 2), scale (*, C) →
        (*, C, J); ``inf`` where X is undefined or not in front of the camera."""
        uv, valid = self.cams.project(X, return_valid=True)
        err = (uv.double() - kp).norm(dim=-1) / scale.unsqueeze(-1)
        return torch.where(valid & torch.isfinite(err), err, torch.full_like(err, _INF))


def _epipolar_distance(rig: _Rig, xa: Tensor, xb: Tensor, ia, ib, scale_a: Tensor,
                       scale_b: Tensor) -> Tensor:
    """Symmetric epipolar distance between homogeneous normalised points ``xa`` of views
    ``ia`` and ``xb`` of views ``ib`` (broadcast), over the person scales: the mean of
    both point-to-line distances in pixels (focal length · normalised distance) / s."""
    E = rig.E[ia, ib]  # (..., 3, 3) with xbᵀ E xa = 0
    lb = (E @ xa.unsqueeze(-1)).squeeze(-1)
    la = (E.transpose(-1, -2) @ xb.unsqueeze(-1)).squeeze(-1)
    num = (xb * lb).sum(-1).abs()
    db = num / lb[..., :2].norm(dim=-1).clamp(min=1e-12) * rig.focal[ib] / scale_b
    da = num / la[..., :2].norm(dim=-1).clamp(min=1e-12) * rig.focal[ia] / scale_a
    return 0.5 * (da + db)


def _person_scale(kp: Tensor, conf: Tensor, min_scale: float) -> Tensor:
    """Diagonal (px) of the bbox of the confident joints: kp (*, J, 2) → (*,)."""
    big = torch.full_like(kp, 1e12)
    lo = torch.where(conf.unsqueeze(-1), kp, big).amin(-2)
    hi = torch.where(conf.unsqueeze(-1), kp, -big).amax(-2)
    diag = (hi - lo).norm(dim=-1)
    diag = torch.where(conf.sum(-1) >= 2, diag, torch.zeros_like(diag))
    return diag.clamp(min=min_scale)


def _flip_perm(J: int, pairs: Tensor) -> Tensor:
    perm = torch.arange(J, device=pairs.device)
    if len(pairs):
        perm[pairs[:, 0]], perm[pairs[:, 1]] = pairs[:, 1], pairs[:, 0]
    return perm


def _truncated_mean(d: Tensor, m: Tensor, clip: float, min_count: int) -> Tensor:
    """Mean over the last axis of ``min(d, clip)`` where ``m``; inf with < min_count."""
    n = m.sum(-1)
    d = torch.where(m, d.clamp(max=clip), torch.zeros_like(d))
    out = d.sum(-1) / n.clamp(min=1)
    return torch.where(n >= max(int(min_count), 1), out, torch.full_like(out, _INF))


# --------------------------------------------------------------------------- association
def _person_distances(rig: _Rig, obs: dict, flip: Tensor, k: dict) -> Tensor:
    """(C, C, Q, Q) association distance between person p of view i and q of view j."""
    xh, conf, scale, mask = obs['xh'], obs['conf'], obs['scale'], obs['mask']
    C, Q, J = conf.shape
    ar = torch.arange(C, device=xh.device)
    ia, ib = ar.view(C, 1, 1, 1, 1), ar.view(1, C, 1, 1, 1)
    xa = xh.view(C, 1, Q, 1, J, 3)
    sa, sb = scale.view(C, 1, Q, 1, 1), scale.view(1, C, 1, Q, 1)
    out = []
    for perm in (None, flip):  # the person as detected, and mirrored left/right
        xb = xh if perm is None else xh[:, :, perm]
        cb = conf if perm is None else conf[:, :, perm]
        d = _epipolar_distance(rig, xa, xb.view(1, C, 1, Q, J, 3), ia, ib, sa, sb)
        m = conf.view(C, 1, Q, 1, J) & cb.view(1, C, 1, Q, J)
        out.append(_truncated_mean(d, m, k['assoc_clip'], k['min_common_joints']))
    D = torch.minimum(*out)
    valid = mask.view(C, 1, Q, 1) & mask.view(1, C, 1, Q) & (ia != ib).view(C, C, 1, 1)
    return torch.where(valid & torch.isfinite(D), D, torch.full_like(D, _INF))


def _greedy_clusters(D: np.ndarray, k: dict) -> list:
    """Average-linkage greedy merging with at most one person per view.

    Returns a list of ``{view: person}`` with at least two views.
    """
    C = D.shape[0]
    thr = float(k['assoc_threshold'])
    iu = np.triu_indices(C, 1)
    cand = []
    for i, j in zip(*iu):  # C(C-1)/2 view pairs
        p, q = np.nonzero(D[i, j] < thr)
        cand += [(D[i, j, a, b], i, a, j, b) for a, b in zip(p, q)]
    cand.sort(key=lambda c: c[0])
    owner: Dict[tuple, int] = {}
    clusters: Dict[int, dict] = {}
    next_id = 0
    for _, i, p, j, q in cand:
        a, b = owner.get((i, p)), owner.get((j, q))
        if a is not None and a == b:
            continue
        ma = clusters[a] if a is not None else {i: p}
        mb = clusters[b] if b is not None else {j: q}
        if set(ma) & set(mb):
            continue  # one person per view
        cross = np.array([D[u, v, pu, pv] for u, pu in ma.items() for v, pv in mb.items()])
        cross = cross[np.isfinite(cross)]
        if not len(cross) or cross.mean() >= thr:
            continue  # average linkage: no chaining through a single close pair
        merged = {**ma, **mb}
        for cid in (a, b):
            if cid is not None:
                del clusters[cid]
        clusters[next_id] = merged
        for v, pv in merged.items():
            owner[(v, pv)] = next_id
        next_id += 1
    return [c for c in clusters.values() if len(c) >= 2]


# --------------------------------------------------------------------------- per cluster
def _gather(idx: Tensor, obs: dict) -> dict:
    """Observations of the clusters ``idx`` (P, C) (person per view, -1 none)."""
    P, C = idx.shape
    present = idx >= 0
    q = idx.clamp(min=0)
    c = torch.arange(C, device=idx.device).expand(P, C)
    g = {name: obs[name][c, q] for name in ('kp', 'xn', 'xh', 'scale')}
    g['w'] = obs['w'][c, q] * present.unsqueeze(-1)
    g['raw'] = obs['raw'][c, q] * present.unsqueeze(-1)
    g['present'] = present
    return g


_MAX_EXHAUSTIVE_VIEWS = 10  # flip labellings are enumerated (2^C) up to this many views


def _labellings(C: int, device) -> Tensor:
    """(2^C, C) bool: every subset of the views."""
    m = torch.arange(2 ** C, device=device).unsqueeze(1)
    return (m >> torch.arange(C, device=device)) & 1 == 1


def _fix_flips(rig: _Rig, g: dict, flip_pairs: Tensor, k: dict) -> dict:
    """Re-label each view's left/right joint pairs for the best epipolar consistency
    across the cluster's views (step 3 of the module docstring); adds ``flipped``
    (P, C, K) when something was flipped."""
    if not len(flip_pairs):
        return g
    xh, w, scale = g['xh'], g['w'], g['scale']
    P, C, J = w.shape
    L, R = flip_pairs[:, 0], flip_pairs[:, 1]
    ar = torch.arange(C, device=xh.device)
    # (P, C, C, J, J): joint a of view c against joint b of view d
    d = _epipolar_distance(rig, xh.view(P, C, 1, J, 1, 3), xh.view(P, 1, C, 1, J, 3),
                           ar.view(C, 1, 1, 1), ar.view(1, C, 1, 1),
                           scale.view(P, C, 1, 1, 1), scale.view(P, 1, C, 1, 1))
    d = d.clamp(max=k['assoc_clip'])
    same = d[..., L, L] + d[..., R, R]  # (P, C, C, K)
    crossed = d[..., R, L] + d[..., L, R]
    obs = w > 0
    both = obs[..., L] & obs[..., R]  # (P, C, K)
    valid = both.unsqueeze(2) & both.unsqueeze(1) & (ar.view(C, 1) != ar.view(1, C)).view(
        1, C, C, 1)
    diff = torch.where(valid, same - crossed, torch.zeros_like(same))
    diff = torch.nan_to_num(diff)
    pair_score = 0.5 * (w[..., L] + w[..., R])  # (P, C, K)
    if C <= _MAX_EXHAUSTIVE_VIEWS:
        # exact: the gain of every labelling of the views (flipped or not), (P, K, M)
        labels = _labellings(C, xh.device)  # (M, C)
        x = (labels.unsqueeze(2) ^ labels.unsqueeze(1)).double()  # (M, C, C)
        gain = 0.5 * torch.einsum('mcd,pcdk->pkm', x, diff)
        best = gain.argmax(-1)  # (P, K)
        F = labels[best].transpose(1, 2)  # (P, C, K)
        F &= (gain.gather(-1, best.unsqueeze(-1)).squeeze(-1) > k['flip_margin']).unsqueeze(1)
    else:
        F = torch.zeros(P, C, len(L), dtype=torch.bool, device=xh.device)
        for _ in range(C):  # greedy, most-improving view first; the cost strictly falls
            x = F.unsqueeze(2) ^ F.unsqueeze(1)
            gain = torch.where(x, -diff, diff).sum(2)  # (P, C, K) cost drop if c flips
            best = gain.argmax(1)
            do = gain.gather(1, best.unsqueeze(1)).squeeze(1) > k['flip_margin']
            if not do.any():
                break
            F ^= torch.nn.functional.one_hot(best, C).transpose(1, 2).bool() & \
                do.unsqueeze(1)
    # the cost only sees relative flips: flip the minority of the views (ties: the
    # views with the lower detector scores, a swapped pair is less confident)
    F &= both
    n_flip, n_valid = F.sum(1), both.sum(1)
    s_flip = (pair_score * F).sum(1)
    s_keep = (pair_score * (both & ~F)).sum(1)
    invert = (2 * n_flip > n_valid) | ((2 * n_flip == n_valid) & (s_flip > s_keep))
    F = torch.where(invert.unsqueeze(1), both & ~F, F)
    if not F.any():
        return g
    perm = torch.arange(J, device=xh.device).expand(P, C, J).clone()
    perm[..., L] = torch.where(F, R.expand_as(F), L.expand_as(F))
    perm[..., R] = torch.where(F, L.expand_as(F), R.expand_as(F))
    out = dict(g)
    for name in ('kp', 'xn', 'xh'):
        out[name] = g[name].gather(2, perm.unsqueeze(-1).expand_as(g[name]))
    for name in ('w', 'raw'):
        out[name] = g[name].gather(2, perm)
    out['flipped'] = F
    return out


def _robust_triangulate(rig: _Rig, g: dict, k: dict):
    """Hypothesise-and-verify DLT per cluster and joint, then refinement on inliers.

    Returns X (P, J, 3) (filled), inliers (P, C, J), errors (P, C, J), triangulated
    (P, J) bool (False: filled in).
    """
    xn, kp, w, scale = g['xn'], g['kp'], g['w'], g['scale']
    P, C, J = w.shape
    thr = float(k['reproj_threshold'])
    observed = w > 0
    H = len(rig.pairs)
    # every view pair a hypothesis: (P, H, J, 3)
    wh = w.unsqueeze(1) * rig.pair_onehot.view(1, H, C, 1)
    Xh = triangulate_dlt(xn.unsqueeze(1).expand(P, H, C, J, 2), rig.Rt, wh)
    err_h = rig.reproj_error(Xh, kp.unsqueeze(1), scale.unsqueeze(1))  # (P, H, C, J)
    inl_h = (err_h < thr) & observed.unsqueeze(1)
    support = (inl_h * w.unsqueeze(1)).sum(2) - 1e-3 * torch.where(
        inl_h, err_h / thr, torch.zeros_like(err_h)).sum(2)  # (P, H, J)
    best = support.argmax(1)  # (P, J)
    inl = inl_h.gather(1, best.view(P, 1, 1, J).expand(P, 1, C, J)).squeeze(1)
    for _ in range(int(k['refine_iters'])):
        X = triangulate_dlt(xn, rig.Rt, w * inl)
        err = rig.reproj_error(X, kp, scale)
        new = (err < thr) & observed
        keep = new.sum(1) >= 2
        inl = torch.where(keep.unsqueeze(1), new, inl)
    X = triangulate_dlt(xn, rig.Rt, w * inl)
    tri = torch.isfinite(X).all(-1) & (inl.sum(1) >= 2)
    X = _fill_missing(rig, X, tri, g)
    err = rig.reproj_error(X, kp, scale)
    return X, inl & tri.unsqueeze(1), err, tri


def _fill_missing(rig: _Rig, X: Tensor, tri: Tensor, g: dict) -> Tensor:
    """Joints without two consistent views: on the ray of the best-scoring observation
    at the person's median depth in that view, else the centroid of the person."""
    if tri.all():
        return X
    P, J = tri.shape
    Xt = torch.where(tri.unsqueeze(-1), X, torch.full_like(X, float('nan')))
    z = rig.cams.world_to_camera(Xt)[..., 2].double()  # (P, C, J)
    zref = torch.nanmedian(z, dim=-1).values  # (P, C)
    raw = g['raw']
    best = raw.argmax(1)  # (P, J)
    has = raw.amax(1) > 0
    xn = g['xn'].gather(1, best.view(P, 1, J, 1).expand(P, 1, J, 2)).squeeze(1)
    zb = zref.gather(1, best)  # (P, J)
    pc = torch.cat([xn * zb.unsqueeze(-1), zb.unsqueeze(-1)], -1)
    Rb, tb = rig.R[best], rig.t[best]  # (P, J, 3, 3), (P, J, 3)
    ray = (Rb.transpose(-1, -2) @ (pc - tb).unsqueeze(-1)).squeeze(-1)
    centroid = Xt.nanmean(1, keepdim=True).expand_as(X)
    ok = has & torch.isfinite(zb) & (zb > 0)
    fill = torch.where(ok.unsqueeze(-1), ray, centroid)
    return torch.where(tri.unsqueeze(-1), X, fill)


def _solve(rig: _Rig, idx: Tensor, obs: dict, flip_pairs: Tensor, k: dict,
           max_rounds: int = 3) -> dict:
    """Flip fixing + robust triangulation, pruning non-supporting views, for clusters
    ``idx`` (P, C). Clusters left with fewer than two views are removed."""
    for rnd in range(max_rounds + 1):
        idx = idx[(idx >= 0).sum(1) >= 2]
        if len(idx) == 0:
            return dict(idx=idx)
        g = _fix_flips(rig, _gather(idx, obs), flip_pairs, k)
        X, inl, err, tri = _robust_triangulate(rig, g, k)
        n_inl, n_obs = inl.sum(-1), (g['w'] > 0).sum(-1)  # (P, C)
        support = g['present'] & (n_inl >= k['min_view_joints']) & (
            n_inl >= k['min_view_inlier_ratio'] * n_obs)
        prune = g['present'] & ~support
        if not prune.any() or rnd == max_rounds:
            break
        idx = idx.masked_fill(prune, -1)
    return dict(idx=idx, X=X, inl=inl, err=err, tri=tri, g=g, support=support)


def _extend(rig: _Rig, state: dict, obs: dict, flip: Tensor, k: dict) -> Tensor:
    """Attach persons that are in no cluster to a cluster missing their view when the
    cluster's reprojection matches their 2D pose."""
    idx = state['idx']
    if len(idx) == 0:
        return idx
    C, Q, J = obs['conf'].shape
    P = len(idx)
    taken = torch.zeros(C, Q, dtype=torch.bool, device=idx.device)
    p_i, c_i = (idx >= 0).nonzero(as_tuple=True)
    taken[c_i, idx[p_i, c_i]] = True
    free = obs['mask'] & ~taken
    if not free.any():
        return idx
    uv, valid = rig.cams.project(state['X'], return_valid=True)  # (P, C, J, 2)
    use = valid & state['tri'].unsqueeze(1)
    dists = []
    for perm in (None, flip):
        kq = obs['kp'] if perm is None else obs['kp'][:, :, perm]
        cq = obs['conf'] if perm is None else obs['conf'][:, :, perm]
        d = (uv.unsqueeze(2) - kq.unsqueeze(0)).norm(dim=-1) / obs['scale'].view(1, C, Q, 1)
        m = use.unsqueeze(2) & cq.unsqueeze(0)
        dists.append(_truncated_mean(d, m, k['assoc_clip'], k['min_common_joints']))
    D = torch.minimum(*dists)  # (P, C, Q)
    ok = free.unsqueeze(0) & (idx < 0).unsqueeze(-1) & (D < k['extend_threshold'])
    if not ok.any():
        return idx
    p, c, q = ok.nonzero(as_tuple=True)
    order = D[p, c, q].argsort()
    idx = idx.clone()
    for n in order.tolist():  # a few candidates
        pi, ci, qi = int(p[n]), int(c[n]), int(q[n])
        if idx[pi, ci] < 0 and not taken[ci, qi]:
            idx[pi, ci] = qi
            taken[ci, qi] = True
    return idx


def _mpjpe_matrix(X: Tensor, tri: Tensor) -> Tensor:
    """(P, P) mean distance over joints triangulated in both (inf if none)."""
    d = (X.unsqueeze(1) - X.unsqueeze(0)).norm(dim=-1)
    m = tri.unsqueeze(1) & tri.unsqueeze(0)
    out = torch.where(m, d, torch.zeros_like(d)).sum(-1) / m.sum(-1).clamp(min=1)
    return torch.where(m.any(-1), out, torch.full_like(out, _INF))


def _merge_duplicates(rig, state, obs, flip_pairs, k) -> dict:
    """Merge clusters with disjoint views whose 3D poses agree (one person split)."""
    for _ in range(len(state['idx'])):
        idx = state['idx']
        if len(idx) < 2:
            break
        d = _mpjpe_matrix(state['X'], state['tri'])
        present = idx >= 0
        disjoint = ~(present.unsqueeze(1) & present.unsqueeze(0)).any(-1)
        upper = torch.triu(torch.ones(len(idx), len(idx), device=d.device), 1).bool()
        d = torch.where(disjoint & upper, d,
                        torch.full_like(d, _INF))
        if not (d < k['merge_distance']).any():
            break
        a, b = divmod(int(d.argmin()), len(idx))
        row = torch.where(idx[a] >= 0, idx[a], idx[b])
        keep = torch.ones(len(idx), dtype=torch.bool, device=idx.device)
        keep[b] = False
        new_idx = idx.clone()
        new_idx[a] = row
        state = _solve(rig, new_idx[keep], obs, flip_pairs, k)
        if 'X' not in state:
            break
    return state


def _empty(C: int, J: int, device) -> dict:
    return dict(keypoints_3d=torch.zeros(0, J, 3, device=device),
                scores=torch.zeros(0, device=device),
                person_index=torch.zeros(0, C, dtype=torch.long, device=device))


def _finalize(state: dict, space_center, space_size, k: dict, C: int, J: int, device):
    if 'X' not in state or len(state['idx']) == 0:
        return _empty(C, J, device)
    X, inl, err, tri, g, support = (state[n] for n in ('X', 'inl', 'err', 'tri', 'g',
                                                       'support'))
    n_views = support.sum(1)
    obs = (g['w'] > 0) & support.unsqueeze(-1)
    e = torch.where(obs, err.clamp(max=k['error_clip']), torch.zeros_like(err))
    mean_err = e.sum((1, 2)) / obs.sum((1, 2)).clamp(min=1)
    keep = (n_views >= int(k['min_views'])) & (mean_err <= k['max_mean_error'])
    keep &= torch.isfinite(X).all(-1).all(-1)
    if k['bone_ranges'] is not None and len(k['limbs']):
        limbs = torch.as_tensor(k['limbs'], dtype=torch.long, device=X.device).view(-1, 2)
        rng = torch.as_tensor(k['bone_ranges'], dtype=X.dtype, device=X.device).view(-1, 2)
        length = (X[:, limbs[:, 0]] - X[:, limbs[:, 1]]).norm(dim=-1)  # (P, L)
        bad = ~((length >= rng[:, 0]) & (length <= rng[:, 1]))
        keep &= bad.double().mean(-1) <= k['max_bad_bone_frac']
    if space_center is not None and space_size is not None:
        c = torch.as_tensor(space_center, dtype=X.dtype, device=X.device).view(3)
        half = torch.as_tensor(space_size, dtype=X.dtype, device=X.device).view(3) / 2
        root = X[:, int(k['root_index'])]
        keep &= ((root - c).abs() <= half + float(k['space_margin'])).all(-1)
    n_inl = inl.sum((1, 2))
    mean_score = (g['w'] * inl).sum((1, 2)) / n_inl.clamp(min=1)
    conf = (1 - 0.5 ** (n_views.double() - 1).clamp(min=0)) * torch.exp(
        -0.5 * (mean_err / k['conf_error_sigma']) ** 2) * mean_score * tri.double().mean(-1)
    sel = keep.nonzero(as_tuple=True)[0]
    sel = sel[conf[sel].argsort(descending=True, stable=True)]
    # duplicates (views shared or not merged): keep the most confident
    if len(sel) > 1:
        d = _mpjpe_matrix(X[sel], tri[sel])
        kept = []
        for n in range(len(sel)):  # a handful of people
            if all(d[n, m] >= k['nms_distance'] for m in kept):
                kept.append(n)
        sel = sel[kept]
    return dict(keypoints_3d=X[sel].float(), scores=conf[sel].float(),
                person_index=state['idx'][sel])


def triangulate_people(keypoints, scores, person_mask, cameras: MultiViewCameras,
                       space_center: Optional[Sequence[float]] = None,
                       space_size: Optional[Sequence[float]] = None, **knobs) -> dict:
    """Multi-person 3D poses from per-view 2D poses of a calibrated rig.

    Args:
        keypoints: (C, Q, J, 2) 2D poses in original-image (distorted) pixels, padded to
            Q persons per view.
        scores: (C, Q, J) keypoint scores in [0, 1].
        person_mask: (C, Q) bool, real (not padded) persons.
        cameras: the unbatched rig of the C views.
        space_center, space_size: the capture space (mm); people whose root lies
            outside ``center ± size / 2`` are dropped (None: no check).
        **knobs: overrides of :data:`TRIANGULATION_DEFAULTS` (unknown names raise).
    Returns:
        dict: ``keypoints_3d`` (P, J, 3) float32 world mm, ``scores`` (P,) float32
        confidences in [0, 1] sorted descending, ``person_index`` (P, C) long: the
        person of each view supporting the pose (-1: none).
    """
    k = _resolve_knobs(knobs)
    device = keypoints.device if isinstance(keypoints, Tensor) else torch.device('cpu')
    kp = torch.as_tensor(keypoints, device=device).double()
    sc = torch.as_tensor(scores, device=device).double()
    mask = torch.as_tensor(person_mask, device=device).bool()
    if kp.dim() != 4 or kp.shape[-1] != 2 or sc.shape != kp.shape[:3] or \
            mask.shape != kp.shape[:2]:
        raise ValueError(f'triangulate_people: keypoints (C, Q, J, 2), scores (C, Q, J) and '
                         f'person_mask (C, Q) expected, got {tuple(kp.shape)}, '
                         f'{tuple(sc.shape)}, {tuple(mask.shape)}')
    if len(cameras.batch_shape):
        raise ValueError('triangulate_people: pass the unbatched rig of one frame')
    C, Q, J = sc.shape
    if cameras.num_views != C:
        raise ValueError(f'triangulate_people: {C} views of keypoints, rig has '
                         f'{cameras.num_views}')
    for name in ('limbs', 'flip_pairs'):
        arr = np.asarray(k[name], np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= J):
            raise ValueError(f'triangulate_people: knob {name!r} indexes joints outside '
                             f'0..{J - 1} (set it for this {J}-joint skeleton)')
    if not 0 <= int(k['root_index']) < J:
        raise ValueError(f"triangulate_people: 'root_index' {k['root_index']} not in "
                         f'0..{J - 1}')
    empty = _empty(C, J, device)
    if C < 2 or Q == 0 or not mask.any():
        return empty
    rig = _Rig(cameras.to(device))
    finite = torch.isfinite(kp).all(-1)
    kp = torch.nan_to_num(kp, nan=0.0, posinf=0.0, neginf=0.0)
    sc = torch.nan_to_num(sc).clamp(0, 1) * (mask.unsqueeze(-1) & finite)
    conf = sc >= max(float(k['min_joint_score']), 1e-9)
    xn = rig.cams.undistort_points(kp.view(C, Q * J, 2)).double().view(C, Q, J, 2)
    obs = dict(kp=kp, xn=xn, xh=torch.cat([xn, torch.ones_like(xn[..., :1])], -1),
               w=sc * conf, raw=sc, conf=conf, mask=mask,
               scale=_person_scale(kp, conf, float(k['min_scale_px'])))
    flip_pairs = torch.as_tensor(k['flip_pairs'], dtype=torch.long,
                                 device=device).view(-1, 2)
    flip = _flip_perm(J, flip_pairs)

    D = _person_distances(rig, obs, flip, k)
    clusters = _greedy_clusters(D.cpu().numpy(), k)
    idx = torch.full((len(clusters), C), -1, dtype=torch.long, device=device)
    for n, cl in enumerate(clusters):  # a handful of clusters
        for v, p in cl.items():
            idx[n, v] = int(p)
    state = _solve(rig, idx, obs, flip_pairs, k)
    if 'X' in state:
        grown = _extend(rig, state, obs, flip, k)
        if not torch.equal(grown, state['idx']):
            state = _solve(rig, grown, obs, flip_pairs, k)
    if 'X' in state:
        state = _merge_duplicates(rig, state, obs, flip_pairs, k)
    if 'X' not in state:
        return empty
    return _finalize(state, space_center, space_size, k, C, J, device)
