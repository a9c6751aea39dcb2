"""Learning-free multi-view multi-person association and triangulation (MvPose-like).

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

from selfpose3d_mm.skeleton import (PANOPTIC15_FLIP_PAIRS, PANOPTIC15_LIMBS,
                                    PANOPTIC15_ROOT_INDEX)
from selfpose3d_mm.utils import merge_knobs
from .camera import MultiViewCameras
from .cluster_triangulation import (empty_people, finalize_people,
                                    merge_duplicate_clusters, solve_clusters)
from .embedding_association import associate_by_embedding
from .epipolar import (EpipolarRig, epipolar_distance, flip_permutation, person_scale,
                       truncated_mean)

__all__ = ['TRIANGULATION_DEFAULTS', 'PANOPTIC15_BONE_RANGES', 'resolve_triangulation_knobs',
           'extend_clusters', 'triangulate_people', 'triangulate_clusters']

# Generous (min, max) lengths in mm per limb of PANOPTIC15_LIMBS (selfpose3d_mm.skeleton):
# adult anthropometry (statures 1.4-2.1 m) widened for the joint-placement noise of marker-less reconstructions.
_NECK_NOSE, _TORSO, _SHOULDER = (50.0, 400.0), (250.0, 800.0), (60.0, 350.0)
_UPPER_ARM, _FOREARM, _HIP = (150.0, 450.0), (120.0, 420.0), (30.0, 250.0)
_THIGH, _SHIN = (220.0, 650.0), (200.0, 620.0)
PANOPTIC15_BONE_RANGES = (_NECK_NOSE, _TORSO, _SHOULDER, _UPPER_ARM, _FOREARM, _SHOULDER,
                          _UPPER_ARM, _FOREARM, _HIP, _HIP, _THIGH, _SHIN, _THIGH, _SHIN)

TRIANGULATION_DEFAULTS = dict(
    # --- skeleton ---
    root_index=PANOPTIC15_ROOT_INDEX,  # joint checked against the capture space (mid-hip)
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
    # --- association by pose embedding (used when embeddings are given) ---
    embedding_association=None,    # dict(mode='gate'|'sum'|'embedding',
                                   #      embedding_threshold, weight); None: the defaults
)

_INF = float('inf')


def resolve_triangulation_knobs(knobs: dict) -> dict:
    """:data:`TRIANGULATION_DEFAULTS` overridden by ``knobs``, validated (unknown names and
    invalid values raise ``ValueError``): what :func:`triangulate_people` runs with."""
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


def _person_distances(rig: EpipolarRig, obs: dict, flip: Tensor, k: dict) -> Tensor:
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
        d = epipolar_distance(rig, xa, xb.view(1, C, 1, Q, J, 3), ia, ib, sa, sb)
        m = conf.view(C, 1, Q, 1, J) & cb.view(1, C, 1, Q, J)
        out.append(truncated_mean(d, m, k['assoc_clip'], k['min_common_joints']))
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


def extend_clusters(rig: EpipolarRig, state: dict, obs: dict, flip: Tensor, k: dict) -> Tensor:
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
        dists.append(truncated_mean(d, m, k['assoc_clip'], k['min_common_joints']))
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


def _device(keypoints) -> torch.device:
    return keypoints.device if isinstance(keypoints, Tensor) else torch.device('cpu')


def _prepare(keypoints, scores, person_mask, cameras: MultiViewCameras, k: dict,
             owner: str):
    """Validated, normalised observations of one frame: ``(rig, obs, flip_pairs, flip)``,
    or None when nothing can be triangulated (fewer than 2 views, no person)."""
    device = _device(keypoints)
    kp = torch.as_tensor(keypoints, device=device).double()
    sc = torch.as_tensor(scores, device=device).double()
    mask = torch.as_tensor(person_mask, device=device).bool()
    if kp.dim() != 4 or kp.shape[-1] != 2 or sc.shape != kp.shape[:3] or \
            mask.shape != kp.shape[:2]:
        raise ValueError(f'{owner}: keypoints (C, Q, J, 2), scores (C, Q, J) and '
                         f'person_mask (C, Q) expected, got {tuple(kp.shape)}, '
                         f'{tuple(sc.shape)}, {tuple(mask.shape)}')
    if len(cameras.batch_shape):
        raise ValueError(f'{owner}: pass the unbatched rig of one frame')
    C, Q, J = sc.shape
    if cameras.num_views != C:
        raise ValueError(f'{owner}: {C} views of keypoints, rig has {cameras.num_views}')
    for name in ('limbs', 'flip_pairs'):
        arr = np.asarray(k[name], np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= J):
            raise ValueError(f'{owner}: knob {name!r} indexes joints outside '
                             f'0..{J - 1} (set it for this {J}-joint skeleton)')
    if not 0 <= int(k['root_index']) < J:
        raise ValueError(f"{owner}: 'root_index' {k['root_index']} not in 0..{J - 1}")
    if C < 2 or Q == 0 or not mask.any():
        return None
    rig = EpipolarRig(cameras.to(device))
    finite = torch.isfinite(kp).all(-1)
    kp = torch.nan_to_num(kp, nan=0.0, posinf=0.0, neginf=0.0)
    sc = torch.nan_to_num(sc).clamp(0, 1) * (mask.unsqueeze(-1) & finite)
    conf = sc >= max(float(k['min_joint_score']), 1e-9)
    xn = rig.cams.undistort_points(kp.view(C, Q * J, 2)).double().view(C, Q, J, 2)
    obs = dict(kp=kp, xn=xn, xh=torch.cat([xn, torch.ones_like(xn[..., :1])], -1),
               w=sc * conf, raw=sc, conf=conf, mask=mask,
               scale=person_scale(kp, conf, float(k['min_scale_px'])))
    flip_pairs = torch.as_tensor(k['flip_pairs'], dtype=torch.long,
                                 device=device).view(-1, 2)
    return rig, obs, flip_pairs, flip_permutation(J, flip_pairs)


def _source_rows(before: Tensor, after: Tensor, Q: int) -> Tensor:
    """The row of ``before`` (N, C) each row of ``after`` came from: :func:`solve_clusters`
    keeps rows in order and only prunes views, and a 2D person is in one row only, so
    any one view of a row names it."""
    C = before.shape[1]
    owner = torch.full((C, Q), -1, dtype=torch.long, device=before.device)
    rows, views = (before >= 0).nonzero(as_tuple=True)
    owner[views, before[rows, views]] = rows
    first = (after >= 0).long().argmax(1)
    return owner[first, after[torch.arange(len(after), device=after.device), first]]


def triangulate_clusters(keypoints, scores, person_mask, cameras: MultiViewCameras,
                         clusters: Tensor, extend: bool = True, **knobs) -> dict:
    """Steps 3-5 of the module docstring (left/right flips, hypothesise-and-verify DLT,
    view pruning) for an association given by the caller, e.g. a network's people
    matched to the 2D persons of every view (:mod:`.pose_refinement`).

    Args:
        keypoints, scores, person_mask, cameras: as :func:`triangulate_people`.
        clusters: (N, C) long, the 2D person of each view forming person ``n`` (-1: none);
            a 2D person may belong to one cluster only.
        extend: also attach 2D persons of no cluster to a cluster missing their view when
            its reprojection matches them (:func:`extend_clusters`), then re-solve.
        **knobs: overrides of :data:`TRIANGULATION_DEFAULTS`.
    Returns:
        dict: ``keypoints_3d`` (N, J, 3) float64 world mm (NaN where not triangulated),
        ``triangulated`` (N, J) bool (two or more consistent views), ``person_index``
        (N, C) long (the views left after pruning), all in the order of ``clusters``.
    """
    k = resolve_triangulation_knobs(knobs)
    # validates the shapes first, so the unpacking below cannot fail obscurely
    prepared = _prepare(keypoints, scores, person_mask, cameras, k, 'triangulate_clusters')
    C, Q, J = torch.as_tensor(scores).shape
    device = _device(keypoints)
    idx = torch.as_tensor(clusters, dtype=torch.long, device=device)
    if idx.dim() != 2 or idx.shape[1] != C:
        raise ValueError(f'triangulate_clusters: clusters must be (N, C={C}), got '
                         f'{tuple(idx.shape)}')
    if ((idx < -1) | (idx >= Q)).any():
        raise ValueError(f'triangulate_clusters: cluster entries must be -1 or a person '
                         f'index in 0..{Q - 1}')
    N = len(idx)
    out = dict(keypoints_3d=torch.full((N, J, 3), float('nan'), dtype=torch.float64,
                                       device=device),
               triangulated=torch.zeros(N, J, dtype=torch.bool, device=device),
               person_index=torch.full((N, C), -1, dtype=torch.long, device=device))
    same = (idx.unsqueeze(0) == idx.unsqueeze(1)) & (idx >= 0).unsqueeze(0)  # (N, N, C)
    same &= ~torch.eye(N, dtype=torch.bool, device=device).unsqueeze(-1)
    if same.any():
        raise ValueError('triangulate_clusters: a 2D person is in two clusters')
    if prepared is None or N == 0:
        return out
    rig, obs, flip_pairs, flip = prepared
    state = solve_clusters(rig, idx, obs, flip_pairs, k)
    if 'X' not in state or not len(state['idx']):
        return out
    row = _source_rows(idx, state['idx'], Q)
    if extend:  # step 5's re-association of the 2D persons left out
        grown = extend_clusters(rig, state, obs, flip, k)
        if not torch.equal(grown, state['idx']):
            new = solve_clusters(rig, grown, obs, flip_pairs, k)
            if 'X' in new and len(new['idx']):
                row, state = row[_source_rows(grown, new['idx'], Q)], new
    out['keypoints_3d'][row] = torch.where(state['tri'].unsqueeze(-1), state['X'],
                                           torch.full_like(state['X'], float('nan')))
    out['triangulated'][row] = state['tri']
    out['person_index'][row] = state['idx']
    return out


def triangulate_people(keypoints, scores, person_mask, cameras: MultiViewCameras,
                       space_center: Optional[Sequence[float]] = None,
                       space_size: Optional[Sequence[float]] = None, embeddings=None,
                       **knobs) -> dict:
    """Multi-person 3D poses from per-view 2D poses of a calibrated rig.

    Args:
        keypoints: (C, Q, J, 2) 2D poses in original-image (distorted) pixels, padded to
            Q persons per view.
        scores: (C, Q, J) keypoint scores in [0, 1].
        person_mask: (C, Q) bool, real (not padded) persons.
        cameras: the unbatched rig of the C views.
        space_center, space_size: the capture space (mm); people whose root lies
            outside ``center ± size / 2`` are dropped (None: no check).
        embeddings: (C, Q, D) a pose embedding per person (MCSS,
            :func:`~.embedding_association.associate_by_embedding`): the cross-view
            grouping then also uses them (knob ``embedding_association``); None: the
            epipolar grouping alone.
        **knobs: overrides of :data:`TRIANGULATION_DEFAULTS` (unknown names raise).
    Returns:
        dict: ``keypoints_3d`` (P, J, 3) float32 world mm, ``scores`` (P,) float32
        confidences in [0, 1] sorted descending, ``person_index`` (P, C) long: the
        person of each view supporting the pose (-1: none), ``triangulated`` (P, J)
        bool: the joint was triangulated from two or more views (else filled on one
        view's ray at the person's median depth).
    """
    k = resolve_triangulation_knobs(knobs)
    prepared = _prepare(keypoints, scores, person_mask, cameras, k, 'triangulate_people')
    if prepared is None:
        return empty_people(cameras.num_views, torch.as_tensor(scores).shape[-1],
                            _device(keypoints))
    rig, obs, flip_pairs, flip = prepared
    C = rig.cams.num_views
    J = obs['w'].shape[-1]
    device = obs['w'].device

    D = _person_distances(rig, obs, flip, k)
    if embeddings is None:
        clusters = _greedy_clusters(D.cpu().numpy(), k)
    else:
        clusters = associate_by_embedding(
            torch.as_tensor(embeddings, device=device), obs['mask'],
            geometric=D / float(k['assoc_threshold']), **(k['embedding_association'] or {}))
    idx = torch.full((len(clusters), C), -1, dtype=torch.long, device=device)
    for n, cl in enumerate(clusters):  # a handful of clusters
        for v, p in cl.items():
            idx[n, v] = int(p)
    state = solve_clusters(rig, idx, obs, flip_pairs, k)
    if 'X' in state:
        grown = extend_clusters(rig, state, obs, flip, k)
        if not torch.equal(grown, state['idx']):
            state = solve_clusters(rig, grown, obs, flip_pairs, k)
    if 'X' in state:
        state = merge_duplicate_clusters(rig, state, obs, flip_pairs, k)
    if 'X' not in state:
        return empty_people(C, J, device)
    return finalize_people(state, space_center, space_size, k, C, J, device)
