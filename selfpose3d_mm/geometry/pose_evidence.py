"""How well a frame's 2D poses support 3D poses, and the score of a refined person
(step 5 of :mod:`.pose_refinement`).

:func:`pose_evidence` is the triangulation baseline's confidence
(:mod:`.association`, step 7) computed for any 3D pose and the 2D persons matched to it in
each view; :func:`person_scores` turns it, or the network's root score, into the person's
score (the refinement's ``score`` knob). Pure torch.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

from .camera import MultiViewCameras
from .cluster_triangulation import pose_confidence
from .epipolar import flip_permutation, person_scale

__all__ = ['SCORE_MODES', 'TIE_BREAK', 'project_poses', 'matched_observations',
           'pose_evidence', 'person_scores']

#: the refinement's ``score`` knob: the root score, the 2D evidence or their product
SCORE_MODES = ('network', 'evidence', 'product')
#: share of the root score in the 'evidence' / 'product' scores (ties, never 0)
TIE_BREAK = 1e-3


def project_poses(cams: MultiViewCameras, X: Tensor) -> Tuple[Tensor, Tensor]:
    """Poses (N, J, 3) → pixels (N, C, J, 2) and in-front/valid (N, C, J)."""
    N, J = X.shape[:2]
    uv, valid = cams.project(X.reshape(N * J, 3), return_valid=True)  # (C, N·J, ·)
    C = uv.shape[0]
    return (uv.view(C, N, J, 2).transpose(0, 1),
            (valid & torch.isfinite(uv).all(-1)).view(C, N, J).transpose(0, 1))


def matched_observations(X: Tensor, cams: MultiViewCameras, kp: Tensor, scores: Tensor,
                         conf: Tensor, views: Tensor, k: dict) -> dict:
    """The 2D joints that each person's ``views`` (N, C; -1 none) give its pose ``X``
    (N, J, 3): each view's matched 2D person as detected or with its left/right joints
    swapped, whichever fits ``X`` better (the solver's flip fixing). Returns ``scale``
    (N, C), the person sizes (px) of ``X``'s projection; ``score`` (N, C, J) and ``mask``
    (N, C, J), the matched 2D joints' scores and which are usable (``conf`` (C, P, J))
    and project in front of the camera; ``error``
    (N, C, J), the reprojection error in person sizes, clipped at the triangulation's
    ``error_clip`` (0 where not ``mask``). ``k``: the refinement's resolved knobs."""
    tk = k['triangulation']  # resolved by resolve_refinement_knobs
    N, C = views.shape
    J = X.shape[1]
    uv, valid = project_poses(cams, X)  # (N, C, J, ·)
    scale = person_scale(uv, valid, float(k['min_scale_px']))  # (N, C)
    c_idx = torch.arange(C, device=X.device).expand(N, C)
    q = views.clamp(min=0)
    kp_v = kp[c_idx, q]  # (N, C, J, 2)
    ok = conf[c_idx, q] & (views >= 0).unsqueeze(-1)
    s_v = scores.detach().double()[c_idx, q]
    clip = float(tk['error_clip'])
    pairs = torch.as_tensor(tk['flip_pairs'], dtype=torch.long, device=X.device).view(-1, 2)
    same = torch.arange(J, device=X.device)
    per_perm = []
    for perm in (same, flip_permutation(J, pairs)):  # as detected, left/right swapped
        m = ok[:, :, perm] & valid
        d = (uv - kp_v[:, :, perm]).norm(dim=-1) / scale.unsqueeze(-1)
        e = torch.where(m, d.nan_to_num(clip).clamp(max=clip), torch.zeros_like(d))
        per_perm.append((e, m, s_v[:, :, perm]))
    (e0, m0, s0), (e1, m1, s1) = per_perm
    flip = (e1.sum(-1) / m1.sum(-1).clamp(min=1) < e0.sum(-1) / m0.sum(-1).clamp(min=1))
    flip = flip.unsqueeze(-1)  # (N, C, 1): the swapped 2D person fits this view better
    return dict(scale=scale, score=torch.where(flip, s1, s0), mask=torch.where(flip, m1, m0),
                error=torch.where(flip, e1, e0))


def pose_evidence(X: Tensor, refined: Tensor, cams: MultiViewCameras, kp: Tensor,
                  scores: Tensor, conf: Tensor, views: Tensor, k: dict) -> Tensor:
    """How well the 2D poses of each person's ``views`` (N, C; -1 none) support its
    refined pose ``X`` (N, J, 3): the triangulation baseline's confidence
    (:mod:`.association`, step 7) of that pose, ``(1 - 0.5^(n_views - 1)) ·
    exp(-(e / conf_error_sigma)² / 2) · mean score · fraction of the joints
    triangulated (refined (N, J))``, with ``e`` the mean reprojection error (person sizes,
    each joint's clipped at ``error_clip``) over the usable 2D joints (``conf`` (C, P, J);
    :func:`matched_observations`). ``k``: the refinement's resolved knobs
    (``min_scale_px``, ``triangulation``). Returns (N,) float64 in [0, 1]."""
    obs = matched_observations(X, cams, kp, scores, conf, views, k)
    e, m, s = obs['error'], obs['mask'], obs['score']
    n_obs = m.sum((1, 2)).clamp(min=1)
    mean_err = e.sum((1, 2)) / n_obs
    mean_score = (s * m).sum((1, 2)) / n_obs
    return pose_confidence(m.any(-1).sum(1), mean_err, mean_score, refined,
                           k['triangulation']['conf_error_sigma'])


def person_scores(network: Tensor, evidence: Tensor, mode: str) -> Tensor:
    """A refined person's score (knob ``score``): the network's root score
    (``'network'``), the 2D poses' ``evidence`` (:func:`pose_evidence`, ``'evidence'``)
    or their product (``'product'``), in the dtype of ``network``. The last two keep
    ``TIE_BREAK`` of the root score: people with equal evidence (no two views support
    them: 0) sort by it, and none scores 0 (metrics drop scores <= 0, and the network's
    people are kept)."""
    if mode not in SCORE_MODES:
        raise ValueError(f'score must be one of {SCORE_MODES}, got {mode!r}')
    if mode == 'network':
        return network
    evidence = evidence.to(network)
    base = evidence if mode == 'evidence' else network * evidence
    return (1 - TIE_BREAK) * base + TIE_BREAK * network.clamp(0, 1)
