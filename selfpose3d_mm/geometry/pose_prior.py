"""The network's pose as a prior of the refined joints (step 4b of :mod:`.pose_refinement`).

A triangulated joint ``X`` is the least-squares fit of its matched 2D joints; the network's
joint ``net`` is a second estimate, with other errors. :func:`fuse_network_prior` returns the
maximum a posteriori joint of both under Gaussian errors:

* each matched 2D joint of view ``c`` (within ``gate`` person sizes of ``X``'s projection)
  has an error of ``obs_sigma`` person sizes (px), weighted by its score; linearised at
  ``X`` (the projection's Jacobian ``J_c``, by central differences, distortion included),
  the 2D joints give ``X`` the information ``H = sum_c w_c / sigma_c^2 · J_cᵀ J_c`` (3×3);
* the network's joint has an isotropic error σ (``Λ = I / σ²``): ``network_prior`` mm, or
  per person with ``'adaptive'`` (:func:`prior_sigma`);
* the fused joint is ``X + (H + Λ)⁻¹ Λ (net − X)``, the minimiser of
  ``(Y − X)ᵀ H (Y − X) + (Y − net)ᵀ Λ (Y − net)``.

Where many views see a joint at close range, ``H`` dominates and the joint barely moves;
along a two-view depth ray, or far from the cameras, the network decides more. Why (val
split, docs/method.md#the-networks-pose-as-a-prior): the refined joints alone are the
2D poses' estimate, and the network's pose, learnt from the whole training set, carries
information that one frame's 2D poses do not. Pure torch, vectorised over people, views
and joints (a batched 3×3 solve).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .camera import MultiViewCameras
from .pose_evidence import matched_observations, project_poses

__all__ = ['MIN_SIGMA_MM', 'prior_sigma', 'fuse_network_prior']

_STEP_MM = 1.0  # central-difference step of the projection's Jacobian
#: floor of the adaptive prior's σ (mm): where the network's pose equals the triangulated
#: one, σ would be 0 and the prior would override the 2D joints
MIN_SIGMA_MM = 10.0


def _projection_jacobian(cams: MultiViewCameras, X: Tensor) -> Tensor:
    """d(pixel)/d(world mm) of every joint in every view: (N, J, 3) → (N, C, J, 2, 3)."""
    cols = []
    for i in range(3):  # three coordinates, each two projections of all joints at once
        d = torch.zeros(3, dtype=X.dtype, device=X.device)
        d[i] = _STEP_MM
        cols.append((project_poses(cams, X + d)[0] - project_poses(cams, X - d)[0])
                    / (2 * _STEP_MM))
    return torch.stack(cols, -1).nan_to_num(0.0)


def prior_sigma(X: Tensor, refined: Tensor, net: Tensor, k: dict) -> Tensor:
    """The network joint's error σ (mm) of each person, (N,): knob ``network_prior`` in
    mm, or ``'adaptive'``: ``network_prior_scale`` × the per-axis RMS distance between the
    person's network and triangulated joints (``refined`` (N, J)), at least
    ``MIN_SIGMA_MM`` — a person whose network pose disagrees with its 2D poses gets a weak
    prior, and the network's accuracy need not be known in advance."""
    if k['network_prior'] != 'adaptive':
        return X.new_full(X.shape[:1], float(k['network_prior']))
    d2 = torch.where(refined, ((net - X) ** 2).sum(-1), torch.zeros_like(X[..., 0]))
    rms = (d2.sum(-1) / (3 * refined.sum(-1).clamp(min=1))).sqrt()
    return (float(k['network_prior_scale']) * rms).clamp(min=MIN_SIGMA_MM)


def fuse_network_prior(X: Tensor, refined: Tensor, net: Tensor, cams: MultiViewCameras,
                       kp: Tensor, scores: Tensor, conf: Tensor, views: Tensor,
                       k: dict) -> Tensor:
    """The refined joints ``X`` (N, J, 3) fused with the network's ``net`` (N, J, 3)
    (module docstring), where ``refined`` (N, J); other joints are returned unchanged.

    Args:
        kp, scores, conf: the frame's 2D joints (C, P, J, 2), scores and usable (C, P, J).
        views: (N, C) each person's 2D person per view (-1 none).
        k: the refinement's resolved knobs (``network_prior`` (None: off),
            ``network_prior_scale``, ``obs_sigma``, ``gate``, ``min_scale_px``,
            ``triangulation``).
    Returns:
        (N, J, 3), the dtype of ``X``.
    """
    if k['network_prior'] is None or not refined.any():
        return X
    obs = matched_observations(X, cams, kp, scores, conf, views, k)
    inlier = obs['mask'] & (obs['error'] <= float(k['gate']))
    sigma_px = float(k['obs_sigma']) * obs['scale']  # (N, C)
    w = obs['score'].clamp(0, 1) * inlier / sigma_px.unsqueeze(-1) ** 2  # (N, C, J)
    jac = _projection_jacobian(cams, X)  # (N, C, J, 2, 3)
    H = torch.einsum('ncj,ncjai,ncjak->njik', w.to(X.dtype), jac, jac)  # (N, J, 3, 3)
    lam = prior_sigma(X, refined, net, k).pow(-2).view(-1, 1, 1, 1)  # (N, 1, 1, 1)
    eye = torch.eye(3, dtype=X.dtype, device=X.device)
    step = torch.linalg.solve(H + lam * eye, lam * (net - X).unsqueeze(-1)).squeeze(-1)
    return torch.where(refined.unsqueeze(-1), X + step, X)
