"""Per-cluster steps of :func:`~.association.triangulate_people` (steps 3-7 of
:mod:`.association`'s docstring): left/right flip fixing, hypothesise-and-verify DLT,
view pruning, duplicate merging, ghost rejection and confidences. Torch, float64."""
from __future__ import annotations

import torch
from torch import Tensor

from .camera import points_on_rays
from .epipolar import EpipolarRig, epipolar_distance
from .triangulation import triangulate_dlt

__all__ = ['solve_clusters', 'robust_triangulate', 'mpjpe_matrix',
           'merge_duplicate_clusters', 'empty_people', 'pose_confidence', 'finalize_people']

_INF = float('inf')


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


def _fix_flips(rig: EpipolarRig, g: dict, flip_pairs: Tensor, k: dict) -> dict:
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
    d = epipolar_distance(rig, xh.view(P, C, 1, J, 1, 3), xh.view(P, 1, C, 1, J, 3),
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


def robust_triangulate(rig: EpipolarRig, g: dict, k: dict):
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


def _fill_missing(rig: EpipolarRig, X: Tensor, tri: Tensor, g: dict) -> Tensor:
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
    ray = points_on_rays(xn, zb, rig.R[best], rig.t[best])
    centroid = Xt.nanmean(1, keepdim=True).expand_as(X)
    ok = has & torch.isfinite(zb) & (zb > 0)
    fill = torch.where(ok.unsqueeze(-1), ray, centroid)
    return torch.where(tri.unsqueeze(-1), X, fill)


def solve_clusters(rig: EpipolarRig, idx: Tensor, obs: dict, flip_pairs: Tensor, k: dict,
           max_rounds: int = 3) -> dict:
    """Flip fixing + robust triangulation, pruning non-supporting views, for clusters
    ``idx`` (P, C). Clusters left with fewer than two views are removed."""
    for rnd in range(max_rounds + 1):
        idx = idx[(idx >= 0).sum(1) >= 2]
        if len(idx) == 0:
            return dict(idx=idx)
        g = _fix_flips(rig, _gather(idx, obs), flip_pairs, k)
        X, inl, err, tri = robust_triangulate(rig, g, k)
        n_inl, n_obs = inl.sum(-1), (g['w'] > 0).sum(-1)  # (P, C)
        support = g['present'] & (n_inl >= k['min_view_joints']) & (
            n_inl >= k['min_view_inlier_ratio'] * n_obs)
        prune = g['present'] & ~support
        if not prune.any() or rnd == max_rounds:
            break
        idx = idx.masked_fill(prune, -1)
    return dict(idx=idx, X=X, inl=inl, err=err, tri=tri, g=g, support=support)


def mpjpe_matrix(X: Tensor, tri: Tensor) -> Tensor:
    """(P, P) mean distance over joints triangulated in both (inf if none)."""
    d = (X.unsqueeze(1) - X.unsqueeze(0)).norm(dim=-1)
    m = tri.unsqueeze(1) & tri.unsqueeze(0)
    out = torch.where(m, d, torch.zeros_like(d)).sum(-1) / m.sum(-1).clamp(min=1)
    return torch.where(m.any(-1), out, torch.full_like(out, _INF))


def merge_duplicate_clusters(rig, state, obs, flip_pairs, k) -> dict:
    """Merge clusters with disjoint views whose 3D poses agree (one person split)."""
    for _ in range(len(state['idx'])):
        idx = state['idx']
        if len(idx) < 2:
            break
        d = mpjpe_matrix(state['X'], state['tri'])
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
        state = solve_clusters(rig, new_idx[keep], obs, flip_pairs, k)
        if 'X' not in state:
            break
    return state


def empty_people(C: int, J: int, device) -> dict:
    return dict(keypoints_3d=torch.zeros(0, J, 3, device=device),
                scores=torch.zeros(0, device=device),
                person_index=torch.zeros(0, C, dtype=torch.long, device=device),
                triangulated=torch.zeros(0, J, dtype=torch.bool, device=device))


def pose_confidence(n_views: Tensor, mean_err: Tensor, mean_score: Tensor,
                    triangulated: Tensor, conf_error_sigma: float) -> Tensor:
    """The confidence of a triangulated person (association module docstring, step 7):
    ``(1 - 0.5^(n_views - 1)) · exp(-(mean_err / conf_error_sigma)² / 2) · mean_score ·
    fraction of triangulated (N, J) joints``; per person (N,), float64."""
    return ((1 - 0.5 ** (n_views.double() - 1).clamp(min=0))
            * torch.exp(-0.5 * (mean_err / float(conf_error_sigma)) ** 2)
            * mean_score * triangulated.double().mean(-1))


def finalize_people(state: dict, space_center, space_size, k: dict, C: int, J: int, device):
    if 'X' not in state or len(state['idx']) == 0:
        return empty_people(C, J, device)
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
    conf = pose_confidence(n_views, mean_err, mean_score, tri, k['conf_error_sigma'])
    sel = keep.nonzero(as_tuple=True)[0]
    sel = sel[conf[sel].argsort(descending=True, stable=True)]
    # duplicates (views shared or not merged): keep the most confident
    if len(sel) > 1:
        d = mpjpe_matrix(X[sel], tri[sel])
        kept = []
        for n in range(len(sel)):  # a handful of people
            if all(d[n, m] >= k['nms_distance'] for m in kept):
                kept.append(n)
        sel = sel[kept]
    return dict(keypoints_3d=X[sel].float(), scores=conf[sel].float(),
                person_index=state['idx'][sel], triangulated=tri[sel])
