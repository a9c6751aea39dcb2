"""Test-time refinement of predicted 3D poses with the frame's 2D poses (pseudo poses).

The network's people are kept; only their joints move (the detector may add the people
it missed: knob ``recover_missed``, :mod:`.missed_people`). Per frame (:func:`refine_poses`):

1. **Matching.** Every predicted pose is projected into every view (distortion included).
   The cost of a predicted person ``n`` and a 2D person ``p`` of view ``c`` is the mean,
   over the joints in front of the camera and confident in ``p`` (score at least
   ``min_joint_score``), of the 2D distance divided by the *person size* (the diagonal of
   the bounding box of ``n``'s projected joints, at least ``min_scale_px``), each joint's
   term clipped at ``match_clip`` (a few swapped or missed joints cannot dominate);
   ``inf`` with fewer than ``min_match_joints`` such joints. Per view, the Hungarian
   algorithm (SciPy) assigns at most one 2D person to each predicted person; pairs with
   a cost above ``match_threshold`` are dropped.
2. **Triangulation of the matched 2D joints.** ``solver='clusters'`` (the default): the
   triangulation baseline's per-person solver on each predicted person's matched 2D
   persons (:func:`~.association.triangulate_clusters`: left/right swap fixing,
   hypothesise-and-verify DLT over view pairs, view pruning; knobs ``triangulation``).
   ``solver='irls'``: robust score-weighted triangulation of every joint of every person
   at once (batched DLT, :func:`~.triangulation.triangulate_dlt`, float64). The start
   weights of a matched 2D joint are its score times the Cauchy weight
   ``1 / (1 + (e / robust_scale)²)`` of the *network's* reprojection error ``e`` (in
   person sizes) — the prediction is the prior that picks out the outlier views — and
   zero beyond ``prior_gate``. Then ``irls_iters`` rounds of weighted DLT and
   re-weighting by the new reprojection errors, zero beyond the hard gate ``gate``
   (iteratively re-weighted least squares of the Cauchy loss: the DLT rows carry the
   square roots of these weights).
3. **Joints that cannot be triangulated** (fewer than two views (``'clusters'``) or
   ``min_views`` views within the gate (``'irls'``) support them) get a *fill*.
   ``fill='view_ray'`` (the default): the point of the ray of the joint's best-scoring
   observation among the person's views (among those within ``gate`` of the network
   joint's projection, when there are any: the network picks out the outlier views) at
   the depth of the network's joint in that view (one view fixes two of the three
   coordinates, the network only the depth). ``fill='median_depth'``: at the person's
   median depth in that view (the triangulation baseline's fill). ``fill='network'``: the
   network's joint. A joint no view observes keeps the network's joint. Like the
   baseline's fill, the fill also reads 2D joints scored below ``min_joint_score``. The
   synthetic world's CPU-scale network places the joints it has no evidence for far off
   (test split, 100 frames: 471 mm on average where the network's joint was kept, up to
   1.4 m), which the one view bounds.
4. **Checks.** The network's joint is kept where the refined joint lies farther than
   ``max_shift_mm`` from it (off by default: the same far-off network joints made a 1 m
   cap discard correct triangulations) or breaks the body's proportions: a bone
   (``limbs``) whose length leaves the plausible range of a human bone (``bone_ranges``;
   ``bone_reference='ranges'``, the default) or, with ``bone_reference='network'``,
   differs from the *network's own* length of that bone by more than
   ``max(bone_rel_tol · length, bone_abs_tol_mm)``. A broken bone un-refines whichever
   of its triangulated end points moved farther from the network's joint (the
   triangulated one when the other is a fill or the network's); rounds repeat until no
   bone is broken. Last, a fill whose bones to its neighbours leave their ranges by more
   (summed mm) than the network's joint's would gives way to the network's joint. The
   defaults trust the 2D poses more than the network's joints
   (docs/method.md#refinement-with-the-pseudo-poses).
   **The network's pose as a prior** (``network_prior``, :mod:`.pose_prior`): each
   triangulated joint becomes the maximum a posteriori joint of its matched 2D joints
   (error ``obs_sigma`` person sizes) and the network's joint (error σ mm; by default
   ``'adaptive'``: ``network_prior_scale`` × the person's per-axis RMS distance between
   its network and triangulated joints). Where many views pin a joint it barely moves;
   along a two-view depth ray the network weighs more (val split, realistic detector:
   AP50 85.0 -> 90.0, MPJPE 39.4 -> 37.3 mm; docs/method.md#the-networks-pose-as-a-prior).
5. **Scores.** Each person's *evidence* (:func:`~.pose_evidence.pose_evidence`) is the
   triangulation baseline's confidence of the refined pose: it grows with the views
   whose 2D person supports it, falls with their reprojection error, and scales with
   their joint scores and the fraction of joints triangulated. ``score='evidence'`` (the
   default) makes it the person's score: it ranks the people whose joints the 2D poses
   pin down first, which the network's root score does not (val split: AP50 78.3 ->
   83.0, same people and joints; docs/method.md#scores-of-refined-people).
   ``'network'`` keeps the root score, ``'product'`` multiplies both. A person matched
   in fewer than two views has no evidence; a 0.1 % share of the root score orders such
   people last, and no score is 0 (metrics drop those).

Every distance threshold in the image is a fraction of the person size, so the defaults
hold across resolutions and distances. Pure torch (plus one SciPy call per view).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from selfpose3d_mm.skeleton import PANOPTIC15_LIMBS
from selfpose3d_mm.utils import merge_knobs
from .association import (PANOPTIC15_BONE_RANGES, resolve_triangulation_knobs,
                          triangulate_clusters)
from .camera import MultiViewCameras, points_on_rays
from .epipolar import person_scale, truncated_mean
from .pose_evidence import SCORE_MODES, pose_evidence, project_poses
from .pose_prior import fuse_network_prior
from .triangulation import triangulate_dlt

__all__ = ['REFINEMENT_DEFAULTS', 'resolve_refinement_knobs', 'match_poses_to_views',
           'refine_poses']

REFINEMENT_DEFAULTS = dict(
    # --- observations ---
    min_joint_score=0.2,     # 2D joints below this score are not used
    min_scale_px=32.0,       # floor of the person size (bbox diagonal of the projection, px)
    # --- matching (fractions of the person size) ---
    match_threshold=0.2,     # max matching cost (clipped mean 2D distance / person size;
    match_clip=0.25,         # each joint's distance is clipped at this: below it to act)
    min_match_joints=4,      # joints seen in both needed to compare two poses
    # --- robust triangulation (fractions of the person size) ---
    robust_scale=0.1,        # Cauchy scale of the reprojection error
    gate=0.1,                # views with a larger reprojection error get weight 0; the
                             # fill's views the network backs lie within it
    prior_gate=1.0,          # the same for the network's pose (the start weights)
    irls_iters=4,            # re-weighting rounds
    min_views=2,             # views within the gate needed to move a joint
    # --- or: the triangulation baseline's per-person solver on the matched 2D persons ---
    solver='clusters',       # 'clusters' (flips, hypothesise-and-verify
                             # DLT, view pruning: geometry.association.triangulate_clusters)
                             # or 'irls' (the network-weighted IRLS above)
    triangulation=None,      # 'clusters': overrides of TRIANGULATION_DEFAULTS
    # --- joints fewer than two views support ---
    fill='view_ray',         # 'view_ray': on the best observation's ray at the network
                             # joint's depth; 'median_depth': at the person's median
                             # depth; 'network': the network's joint
    # --- checks ---
    max_shift_mm=float('inf'),  # a refined joint farther than this from the network's
                             # falls back to the fill (off: module docstring, step 4)
    limbs=PANOPTIC15_LIMBS,  # (L, 2) joint pairs of the bone check; () switches it off
    bone_reference='ranges',  # 'ranges': each bone within bone_ranges (a human body);
                             # 'network': within the tolerance below of the network's bone
    bone_ranges=PANOPTIC15_BONE_RANGES,  # (L, 2) plausible lengths (mm) of the limbs
    bone_rel_tol=0.4,        # 'network': allowed change, fraction of the network's length
    bone_abs_tol_mm=50.0,    # ... or this many mm, whichever is larger
    # --- the network's pose as a prior of the triangulated joints (step 4b) ---
    network_prior='adaptive',  # the network joint's error σ: mm, 'adaptive' (per person,
                             # from its network-vs-triangulation distance) or None: off
    network_prior_scale=2.0,  # 'adaptive': σ = this x per-axis RMS of that distance
    obs_sigma=0.03,          # a matched 2D joint's error (person sizes)
    # --- each refined person's score (step 5) ---
    score='evidence',        # 'evidence': the 2D poses' support of the refined pose;
                             # 'network': the network's root score, unchanged;
                             # 'product': network score x evidence
    # --- people the network missed (geometry/missed_people.py, run by the detector) ---
    recover_missed=True,     # add the triangulation baseline's people among the 2D persons
                             # no network person was matched to ...
    recover_min_distance_mm=300.0,  # ... whose root is farther than this from them all
)


_BIG = 1e6  # cost of a gated pair for the assignment


def resolve_refinement_knobs(knobs: dict) -> dict:
    """:data:`REFINEMENT_DEFAULTS` overridden by ``knobs`` and validated (unknown names and
    invalid values raise ``ValueError`` naming the knob); ``triangulation`` holds the
    resolved knobs of the triangulation it runs (:func:`resolve_triangulation_knobs`)."""
    k = merge_knobs(REFINEMENT_DEFAULTS, knobs, 'refine_poses')
    if int(k['min_views']) < 2:
        raise ValueError(f"refine_poses: 'min_views' must be >= 2 (one view cannot be "
                         f"triangulated), got {k['min_views']!r}")
    for name in ('min_scale_px', 'match_threshold', 'match_clip', 'robust_scale', 'gate',
                 'prior_gate', 'max_shift_mm', 'network_prior_scale', 'obs_sigma'):
        if not float(k[name]) > 0:
            raise ValueError(f'refine_poses: {name!r} must be > 0, got {k[name]!r}')
    for name in ('irls_iters', 'min_match_joints', 'bone_rel_tol', 'bone_abs_tol_mm',
                 'recover_min_distance_mm'):
        if not float(k[name]) >= 0:
            raise ValueError(f'refine_poses: {name!r} must be >= 0, got {k[name]!r}')
    limbs = np.asarray(k['limbs'] if k['limbs'] is not None else (), np.int64)
    if limbs.size and (limbs.ndim != 2 or limbs.shape[1] != 2):
        raise ValueError(f"refine_poses: 'limbs' must be (L, 2) joint pairs, got shape "
                         f'{limbs.shape}')
    k['limbs'] = limbs.reshape(-1, 2)
    if k['fill'] not in ('view_ray', 'median_depth', 'network'):
        raise ValueError(f"refine_poses: 'fill' must be 'view_ray', 'median_depth' or "
                         f"'network', got {k['fill']!r}")
    prior = k['network_prior']
    if prior is not None and prior != 'adaptive' and not (
            isinstance(prior, (int, float)) and not isinstance(prior, bool)
            and 0 < float(prior) < float('inf')):
        raise ValueError(f"refine_poses: 'network_prior' must be 'adaptive', None (off) or "
                         f'a finite error in mm > 0, got {prior!r}')
    if not isinstance(k['recover_missed'], bool):
        raise ValueError(f"refine_poses: 'recover_missed' must be True or False, got "
                         f"{k['recover_missed']!r}")
    if k['solver'] not in ('irls', 'clusters'):
        raise ValueError(f"refine_poses: 'solver' must be 'irls' or 'clusters', got "
                         f"{k['solver']!r}")
    # resolved once here (unknown / invalid names fail); the evidence reads it as is. The
    # refinement's joint-score and scale floors, unless its triangulation sets its own
    k['triangulation'] = resolve_triangulation_knobs({
        'min_joint_score': k['min_joint_score'], 'min_scale_px': k['min_scale_px'],
        **(k['triangulation'] or {})})
    if k['score'] not in SCORE_MODES:
        raise ValueError(f"refine_poses: 'score' must be one of {SCORE_MODES}, got "
                         f"{k['score']!r}")
    if k['bone_reference'] not in ('ranges', 'network'):
        raise ValueError(f"refine_poses: 'bone_reference' must be 'ranges' or 'network', "
                         f"got {k['bone_reference']!r}")
    if k['bone_reference'] == 'ranges' and len(k['limbs']):
        ranges = np.asarray(k['bone_ranges'] if k['bone_ranges'] is not None else (),
                            np.float64).reshape(-1, 2)
        if len(ranges) != len(k['limbs']):
            raise ValueError(f"refine_poses: 'bone_ranges' needs one (min, max) per limb "
                             f"({len(k['limbs'])}), got {len(ranges)}")
        k['bone_ranges'] = ranges
    return k


def match_poses_to_views(uv: Tensor, valid: Tensor, scale: Tensor, keypoints2d: Tensor,
                         conf: Tensor, k: dict) -> Tensor:
    """Hungarian matching, per view, of projected poses to 2D persons.

    Args:
        uv: (N, C, J, 2) projected predicted poses; valid: (N, C, J).
        scale: (N, C) person sizes (px). keypoints2d: (C, P, J, 2); conf: (C, P, J)
            usable 2D joints (padded persons: all False).
        k: resolved knobs (:func:`resolve_refinement_knobs`).
    Returns:
        (N, C) long: the matched 2D person of each view, -1 for none.
    """
    N, C = uv.shape[:2]
    P = keypoints2d.shape[1]
    matches = torch.full((N, C), -1, dtype=torch.long, device=uv.device)
    if N == 0 or P == 0:
        return matches
    d = (uv.unsqueeze(2) - keypoints2d.unsqueeze(0)).norm(dim=-1)  # (N, C, P, J)
    m = valid.unsqueeze(2) & conf.unsqueeze(0)
    cost = truncated_mean(d / scale[..., None, None], m, float(k['match_clip']),
                          int(k['min_match_joints']))  # (N, C, P)
    ok = cost <= float(k['match_threshold'])
    cost_np = torch.where(ok, cost, torch.full_like(cost, _BIG)).cpu().numpy()
    ok_np = ok.cpu().numpy()
    rows, cols, views = [], [], []
    # SciPy's assignment solves one matrix per call and has no batched form; views are a
    # handful, and everything around this loop is batched over persons, joints and views.
    for c in range(C):
        r, p = linear_sum_assignment(cost_np[:, c])
        keep = ok_np[r, c, p]
        rows.append(r[keep])
        cols.append(p[keep])
        views.append(np.full(int(keep.sum()), c))
    r, p, v = (torch.as_tensor(np.concatenate(a), dtype=torch.long, device=uv.device)
               for a in (rows, cols, views))
    matches[r, v] = p
    return matches


def _cauchy(e: Tensor, s: float) -> Tensor:
    return 1.0 / (1.0 + (e / s) ** 2)


def _bones(net: Tensor, limbs: Tensor, k: dict) -> Tuple[Tensor, Tensor]:
    """Reference length and tolerance of every bone (N or 1, L): the body's plausible
    range (``bone_reference='ranges'``) or the network's own bones (``'network'``)."""
    if k['bone_reference'] == 'ranges':
        rng = torch.as_tensor(k['bone_ranges'], dtype=net.dtype, device=net.device)
        return rng.mean(-1).unsqueeze(0), ((rng[:, 1] - rng[:, 0]) / 2).unsqueeze(0)
    length = (net[:, limbs[:, 0]] - net[:, limbs[:, 1]]).norm(dim=-1)  # (N, L)
    return length, torch.clamp(float(k['bone_rel_tol']) * length,
                               min=float(k['bone_abs_tol_mm']))


def _bone_check(X: Tensor, fallback: Tensor, refined: Tensor, limbs: Tensor,
                bones: Tuple[Tensor, Tensor]) -> Tensor:
    """Un-refine joints (refined (N, J) bool) that break a bone (see the module docstring);
    X (N, J, 3) the triangulated joints, ``fallback`` the joints not refined (the
    network's, or fills), ``bones`` the reference lengths and tolerances (:func:`_bones`).
    """
    a, b = limbs[:, 0], limbs[:, 1]
    length, tol = bones
    shift = (X - fallback).norm(dim=-1)  # (N, J)
    inc_a, inc_b = _incidence(limbs, X.shape[1], X.dtype)
    for _ in range(X.shape[1]):  # each round un-refines at least one joint
        Y = torch.where(refined.unsqueeze(-1), X, fallback)
        broken = ((Y[:, a] - Y[:, b]).norm(dim=-1) - length).abs() > tol  # (N, L)
        ra, rb = refined[:, a], refined[:, b]
        blame_a = broken & ra & (~rb | (shift[:, a] >= shift[:, b]))
        blame_b = broken & rb & (~ra | (shift[:, b] > shift[:, a]))
        reject = (blame_a.to(X.dtype) @ inc_a + blame_b.to(X.dtype) @ inc_b) > 0  # (N, J)
        if not reject.any():
            break
        refined = refined & ~reject
    return refined


def _incidence(limbs: Tensor, J: int, dtype) -> Tuple[Tensor, Tensor]:
    """(L, J) one-hot of each limb's first and second end point."""
    return (torch.nn.functional.one_hot(limbs[:, 0], J).to(dtype),
            torch.nn.functional.one_hot(limbs[:, 1], J).to(dtype))


def _more_plausible(Y: Tensor, fill: Tensor, net: Tensor, limbs: Tensor,
                    bones: Tuple[Tensor, Tensor]) -> Tensor:
    """(N, J) bool: the network's joint breaks the bones to its neighbours in ``Y`` less
    than the fill does (summed mm beyond the tolerance; a tie keeps the fill)."""
    a, b = limbs[:, 0], limbs[:, 1]
    length, tol = bones
    inc_a, inc_b = _incidence(limbs, Y.shape[1], Y.dtype)

    def excess(P: Tensor) -> Tensor:  # (N, J) joint at P, its neighbours at Y
        ea = (((P[:, a] - Y[:, b]).norm(dim=-1) - length).abs() - tol).clamp(min=0)
        eb = (((P[:, b] - Y[:, a]).norm(dim=-1) - length).abs() - tol).clamp(min=0)
        return ea @ inc_a + eb @ inc_b

    return excess(net) < excess(fill)


def _solve_irls(kp: Tensor, scores: Tensor, conf: Tensor, cams: MultiViewCameras,
                matches: Tensor, net: Tensor, uv: Tensor, scale: Tensor, k: dict
                ) -> Tuple[Tensor, Tensor, Tensor]:
    """``solver='irls'``: network-weighted IRLS of the matched 2D joints (module docstring,
    step 2); uv (N, C, J, 2) and scale (N, C) are the network's projections and person
    sizes. Returns X (N, J, 3), the joints with ``min_views`` views within the gate and
    the matches (the person's views)."""
    N, C = matches.shape
    # the matched 2D joints, (N, C, J)
    views = torch.arange(C, device=kp.device).expand(N, C)
    q = matches.clamp(min=0)
    obs = conf[views, q] & (matches >= 0).unsqueeze(-1)
    score = torch.where(obs, scores.detach().double()[views, q], torch.zeros_like(uv[..., 0]))
    kp_m = torch.where(obs.unsqueeze(-1), kp[views, q], uv)  # finite everywhere
    xn = cams.undistort_points(kp_m)  # (N, C, J, 2) normalised
    Rt = torch.cat([cams.R, cams.t.unsqueeze(-1)], -1)  # (C, 3, 4)
    s = float(k['robust_scale'])

    def weights(X: Tensor, gate: float) -> Tensor:
        uv_x, ok = project_poses(cams, X)
        e = (uv_x - kp_m).norm(dim=-1) / scale.unsqueeze(-1)
        ok &= torch.isfinite(e) & (e <= gate)
        return torch.where(ok, score * _cauchy(e.nan_to_num(0.0), s), torch.zeros_like(e))

    w = weights(net, float(k['prior_gate']))
    for _ in range(int(k['irls_iters']) + 1):
        X = triangulate_dlt(xn, Rt, w.sqrt())  # (N, J, 3)
        X = torch.where(torch.isfinite(X), X, net)
        w = weights(X, float(k['gate']))
    n_views = (w > 0).sum(1)  # (N, J) views within the gate of the refined joint
    return X, n_views >= int(k['min_views']), matches


def _solve_clusters(kp: Tensor, scores: Tensor, conf: Tensor, cams: MultiViewCameras,
                    matches: Tensor, net: Tensor, k: dict) -> Tuple[Tensor, Tensor, Tensor]:
    """``solver='clusters'``: each predicted person's matched 2D persons triangulated by
    the triangulation baseline's solver. Returns X (N, J, 3) (the network's joint where
    not triangulated), triangulated (N, J) and each person's views after the solver's
    view pruning (N, C)."""
    person_mask = conf.any(-1)
    tri = triangulate_clusters(kp, scores.detach().double() * conf, person_mask, cams,
                               matches, **k['triangulation'])
    ok = tri['triangulated']
    return torch.where(ok.unsqueeze(-1), tri['keypoints_3d'], net), ok, tri['person_index']


def _fill_on_rays(kp: Tensor, scores: Tensor, cams: MultiViewCameras, views: Tensor,
                  X: Tensor, solved: Tensor, net: Tensor, uv: Tensor, scale: Tensor,
                  k: dict) -> Tuple[Tensor, Tensor]:
    """Step 3 of the module docstring: every joint placed on the ray of its best-scoring
    observation in the person's ``views`` (N, C; -1 none) — among those within ``gate``
    of the network's joint (its projections ``uv`` (N, C, J, 2), in person sizes
    ``scale`` (N, C)) if any — at the network joint's depth (``'view_ray'``) or at the
    person's median depth over its ``solved`` (N, J) joints ``X`` (``'median_depth'``) in
    that view. Returns the fill (N, J, 3) (the network's joint where none) and the
    joints it placed (N, J)."""
    N, C = views.shape
    J = X.shape[1]
    c_idx = torch.arange(C, device=kp.device).expand(N, C)
    q = views.clamp(min=0)
    kp_v = kp[c_idx, q]  # (N, C, J, 2)
    s = scores.detach().double()[c_idx, q] * (views >= 0).unsqueeze(-1)
    s = torch.where(torch.isfinite(kp_v).all(-1), s, torch.zeros_like(s))
    net_err = ((uv - kp_v).norm(dim=-1) / scale.unsqueeze(-1)).nan_to_num(float('inf'))
    agree = torch.where(net_err <= float(k['gate']), s, torch.zeros_like(s))
    s = torch.where((agree > 0).any(1, keepdim=True), agree, s)  # views the network backs
    best = s.argmax(1)  # (N, J) the best-scoring view of each joint
    has = s.amax(1) > 0
    if not has.any():
        return net, has
    xn = cams.undistort_points(torch.where(torch.isfinite(kp_v), kp_v,
                                           torch.zeros_like(kp_v)))  # (N, C, J, 2)
    xn = xn.gather(1, best.view(N, 1, J, 1).expand(N, 1, J, 2)).squeeze(1)  # (N, J, 2)
    if k['fill'] == 'view_ray':
        z = cams.world_to_camera(net)[..., 2]  # (N, C, J)
    else:
        z = cams.world_to_camera(torch.where(solved.unsqueeze(-1), X, torch.full_like(
            X, float('nan'))))[..., 2]  # (N, C, J)
        z = torch.nanmedian(z, -1, keepdim=True).values.expand(N, C, J)
    z = z.gather(1, best.unsqueeze(1)).squeeze(1)  # (N, J)
    has &= torch.isfinite(z) & (z > 0)
    ray = points_on_rays(xn, z, cams.R[best], cams.t[best])
    return torch.where(has.unsqueeze(-1), ray, net), has


def refine_poses(poses3d: Tensor, cameras: MultiViewCameras, keypoints2d: Tensor,
                 scores: Tensor, person_mask: Optional[Tensor] = None, **knobs
                 ) -> Tuple[Tensor, Tensor, Tensor]:
    """Refine one frame's predicted poses with its 2D poses (see the module docstring).

    Args:
        poses3d: (N, J, 3) predicted poses, world mm.
        cameras: the frame's rig of C views (unbatched).
        keypoints2d: (C, P, J, 2) 2D poses per view, original (distorted) image pixels.
        scores: (C, P, J) their joint scores (0 for a joint not detected).
        person_mask: (C, P) bool, a real (not padded) 2D person; None: all.
        knobs: override :data:`REFINEMENT_DEFAULTS` (documented there and in the module
            docstring; an unknown name raises ``ValueError``).
    Returns:
        refined (N, J, 3) (dtype of ``poses3d``), refined_mask (N, J) bool (the joint was
        moved), matches (N, C) long (the 2D person matched in each view, -1 none),
        evidence (N,) float64 (:func:`~.pose_evidence.pose_evidence`; 0 for a person
        matched nowhere).
    """
    k = resolve_refinement_knobs(knobs)
    if poses3d.dim() != 3 or poses3d.shape[-1] != 3:
        raise ValueError(f'refine_poses: poses3d must be (N, J, 3), got {tuple(poses3d.shape)}')
    N, J = poses3d.shape[:2]
    C = cameras.num_views
    if len(cameras.batch_shape):
        raise ValueError('refine_poses: cameras must be one unbatched rig (C views)')
    if keypoints2d.dim() != 4 or keypoints2d.shape[0] != C or keypoints2d.shape[2:] != (J, 2):
        raise ValueError(f'refine_poses: keypoints2d must be (C={C}, P, J={J}, 2), got '
                         f'{tuple(keypoints2d.shape)}')
    if scores.shape != keypoints2d.shape[:3]:
        raise ValueError(f'refine_poses: scores must be {tuple(keypoints2d.shape[:3])}, got '
                         f'{tuple(scores.shape)}')
    limbs = torch.as_tensor(k['limbs'], dtype=torch.long, device=poses3d.device)
    if len(limbs) and int(limbs.max()) >= J:
        raise ValueError(f"refine_poses: 'limbs' name joint {int(limbs.max())} of a "
                         f'{J}-joint skeleton: pass limbs= for this skeleton (() turns the '
                         'bone check off)')
    unrefined = (poses3d.clone(), torch.zeros(N, J, dtype=torch.bool, device=poses3d.device),
                 torch.full((N, C), -1, dtype=torch.long, device=poses3d.device),
                 torch.zeros(N, dtype=torch.float64, device=poses3d.device))
    if N == 0 or keypoints2d.shape[1] == 0:
        return unrefined
    cams = cameras.to(device=poses3d.device, dtype=torch.float64)
    net = poses3d.detach().double()
    kp = keypoints2d.detach().double()
    conf = (scores >= float(k['min_joint_score'])) & torch.isfinite(kp).all(-1)
    if person_mask is not None:
        conf &= person_mask.bool().unsqueeze(-1)
    uv, valid = project_poses(cams, net)  # (N, C, J, ·)
    scale = person_scale(uv, valid, float(k['min_scale_px']))  # (N, C)
    matches = match_poses_to_views(uv, valid, scale, kp, conf, k)
    if not (matches >= 0).any():
        return unrefined
    if k['solver'] == 'clusters':
        X, refined, views = _solve_clusters(kp, scores, conf, cams, matches, net, k)
    else:
        X, refined, views = _solve_irls(kp, scores, conf, cams, matches, net, uv, scale, k)
    refined &= (X - net).norm(dim=-1) <= float(k['max_shift_mm'])
    # what a joint not refined becomes: the network's where it was triangulated (and a
    # check below rejects it), else the fill
    fallback, filled = net, torch.zeros_like(refined)
    if k['fill'] != 'network':
        fill, filled = _fill_on_rays(kp, scores, cams, views, X, refined, net, uv, scale,
                                     k)
        filled &= ~refined & ((fill - net).norm(dim=-1) <= float(k['max_shift_mm']))
        fallback = torch.where(filled.unsqueeze(-1), fill, net)
    if len(limbs):
        bones = _bones(net, limbs, k)
        refined = _bone_check(X, fallback, refined, limbs, bones)
        # a fill that fits the body worse than the network's joint: the network's
        use_net = filled & _more_plausible(torch.where(refined.unsqueeze(-1), X, fallback),
                                           fallback, net, limbs, bones)
        filled &= ~use_net
        fallback = torch.where(use_net.unsqueeze(-1), net, fallback)
    out = torch.where(refined.unsqueeze(-1), X, fallback)
    out = fuse_network_prior(out, refined, net, cams, kp, scores, conf, views, k)
    evidence = pose_evidence(out, refined, cams, kp, scores, conf, views, k)
    return out.to(poses3d.dtype), refined | filled, matches, evidence
