"""Epipolar and reprojection quantities of a calibrated rig for multi-view association
(:mod:`.association`): essential matrices, symmetric epipolar distances in person-scale
units, truncated means. Torch, float64."""
from __future__ import annotations

import torch
from torch import Tensor

from .camera import MultiViewCameras

__all__ = ['EpipolarRig', 'epipolar_distance', 'person_scale', 'flip_permutation',
           'truncated_mean']

_INF = float('inf')


class EpipolarRig:
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


def epipolar_distance(rig: EpipolarRig, xa: Tensor, xb: Tensor, ia, ib, scale_a: Tensor,
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


def person_scale(kp: Tensor, conf: Tensor, min_scale: float) -> Tensor:
    """Diagonal (px) of the bbox of the confident joints: kp (*, J, 2) → (*,)."""
    big = torch.full_like(kp, 1e12)
    lo = torch.where(conf.unsqueeze(-1), kp, big).amin(-2)
    hi = torch.where(conf.unsqueeze(-1), kp, -big).amax(-2)
    diag = (hi - lo).norm(dim=-1)
    diag = torch.where(conf.sum(-1) >= 2, diag, torch.zeros_like(diag))
    return diag.clamp(min=min_scale)


def flip_permutation(J: int, pairs: Tensor) -> Tensor:
    """(J,) joint permutation that swaps the left/right ``pairs`` (K, 2)."""
    perm = torch.arange(J, device=pairs.device)
    if len(pairs):
        perm[pairs[:, 0]], perm[pairs[:, 1]] = pairs[:, 1], pairs[:, 0]
    return perm


def truncated_mean(d: Tensor, m: Tensor, clip: float, min_count: int) -> Tensor:
    """Mean over the last axis of ``min(d, clip)`` where ``m``; inf with < min_count."""
    n = m.sum(-1)
    d = torch.where(m, d.clamp(max=clip), torch.zeros_like(d))
    out = d.sum(-1) / n.clamp(min=1)
    return torch.where(n >= max(int(min_count), 1), out, torch.full_like(out, _INF))
