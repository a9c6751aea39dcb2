"""Simulated 2D pseudo labels: what MMDet boxes + a top-down MMPose model give per view.

The caller projects the 3D people of a frame into every camera; this module turns those
exact projections into the imperfect per-view detections an off-the-shelf pipeline
produces on studio footage: localisation jitter that grows with apparent size, rare
outlier jumps, left/right swaps, occlusion by nearer people (capsule depth test), missed,
truncated and behind-camera people, false-positive ghosts, and confidences that fall with
the error. Every failure mode is a knob of :data:`PSEUDO2D_DEFAULTS`;
:data:`PSEUDO2D_PERFECT` turns all of them off (a perfect detector).

Detector profiles (knob ``profile``, applied before the caller's overrides, see
:data:`PSEUDO2D_PROFILES`):

* ``'mild'`` (this function's default): exactly :data:`PSEUDO2D_DEFAULTS` (Gaussian
  jitter, no bias). The synthetic world (``SyntheticMultiViewDataset``) uses
  ``'realistic'`` unless its ``pseudo2d`` knobs name a profile.
* ``'realistic'``: matches measurements of a real bottom-up 2D detector on real studio
  footage (5 calibrated cameras, people ~490 px tall). Errors are in units of the
  person's apparent height (height of the bounding box of the exact projection of the
  person's joints) against the exact projection of each 3D joint:

  - per-joint median error: ankles 0.018-0.019, knees 0.022-0.024, hips 0.042-0.049,
    wrists 0.029-0.033, elbows 0.017-0.022, shoulders 0.025-0.028; over these joints a
    median of 0.026, a 90th percentile of 0.060 and 3.2 % of the joints beyond 0.1;
  - 9.4 % of the joints missing, 3.8 % of the person-views missed;
  - a systematic offset toward the top of the person (along the image-up direction,
    the unit vector from the projected mid-hip to the projected neck): hips
    0.035-0.039, shoulders 0.018-0.019, wrists 0.013-0.017, knees 0.009-0.013, elbows
    0.009, ankles 0.002-0.006. Neck, nose and mid-hip were not measured; this module's
    own choice is neck 0.018 (like the shoulders), nose 0.005 and mid-hip 0.037 (like
    the hips), with median errors neck 0.026, nose 0.020 and mid-hip 0.045.

  The per-joint random scales (``joint_error_std``), the tail (Student-t ``error_dof``
  plus the outlier mixture, swaps, occlusion), ``joint_drop_prob`` and ``miss_prob``
  were calibrated numerically once on the synthetic world's ring rig and bodies, so that
  offset + noise + occlusion + swaps + truncation reproduce the numbers above (measured
  with the same estimator by ``tests/test_datasets/test_detector_profiles.py``); other
  rigs or crowds shift the truncation / occlusion shares a little. Ghosts were not
  measured (mild rate kept). Errors scale with the box height (``height_unit='box'``).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np

from selfpose3d_mm.skeleton import PANOPTIC15_FLIP_PAIRS, PANOPTIC15_LIMBS, PANOPTIC15_NAMES
from selfpose3d_mm.utils import merge_knobs

__all__ = ['PANOPTIC15_LIMB_RADII_MM',
           'PSEUDO2D_DEFAULTS', 'PSEUDO2D_PERFECT', 'PSEUDO2D_PROFILES', 'limb_radii',
           'compute_occlusion', 'per_joint', 'simulate_pseudo_2d']

# Body half-thickness per limb of PANOPTIC15_LIMBS (selfpose3d_mm.skeleton): head, torso,
# shoulders, arms, pelvis, legs.
PANOPTIC15_LIMB_RADII_MM = (90.0, 120.0, 80.0, 60.0, 55.0, 80.0, 60.0, 55.0,
                            100.0, 100.0, 85.0, 65.0, 85.0, 65.0)
_DEFAULT_RADIUS_MM = 80.0  # any other joint set
# Apparent size is measured as the height a 1.7 m person would have at the person's
# mean depth: unlike the 2D box it does not shrink with truncation or a crouch.
_PERSON_HEIGHT_MM = 1700.0
_NECK, _MID_HIP = PANOPTIC15_NAMES.index('neck'), PANOPTIC15_NAMES.index('mid_hip')
_DROPPED_SCORE = 0.05  # dropped joints score below the usual hard threshold (0.05)

PSEUDO2D_DEFAULTS = dict(
    profile='mild',              # named base knobs (PSEUDO2D_PROFILES), then overrides
    # localisation error (fractions of the apparent height, per axis)
    height_unit='nominal',       # apparent height: 1.7 m at the mean depth; or 'box':
                                 # height of the box of the exact joint projections
    jitter_std=0.008,            # Gaussian std; ~6 px for a person 3 m from an f=1400 camera
    joint_jitter_scale=None,     # optional (J,) per-joint multiplier of jitter_std
    joint_error_std=None,        # optional (J,) or {name: v} (per_joint) replacing jitter_std
    joint_up_offset=None,        # optional (J,) or {name: v}: systematic offset along image-up
                                 # (projected mid-hip -> neck; -y for other joint sets)
    error_dof=None,              # None: Gaussian jitter; else 2D Student-t (heavy tails)
    outlier_prob=0.01,           # per joint: a large jump (wrong body part / background)
    outlier_std=0.12,            # std of that jump
    # left/right confusion (per person-view)
    swap_body_prob=0.02,         # every flip pair swapped (person seen back-to-front)
    swap_limb_prob=0.03,         # otherwise one random flip pair swapped
    swap_score_factor=0.85,      # swapped joints stay fairly confident (bimodal heatmaps)
    # occlusion by other people (depth test against their limb capsules)
    limb_radius_mm=None,         # None: PANOPTIC15_LIMB_RADII_MM / 80 mm; scalar or (L,)
    occluded_jitter_scale=3.0,   # occluded joints: jitter_std multiplied by this
    occluded_outlier_prob=0.1,   # occluded joints: outlier_prob replaced by this
    occluded_score_factor=0.6,   # occluded joints: score multiplied by this
    occluded_miss_prob=0.8,      # extra miss prob = this * (occluded fraction of joints)^2
    # missed joints / people
    joint_drop_prob=0.0,         # per joint: not reported at all (score <= 0.05)
    min_score=0.0,               # floor of the score of every reported joint
    miss_prob=0.03,              # per person-view, independent of everything else
    min_visible_joints=4,        # fewer joints inside the image -> not detected
    min_height_px=16.0,          # apparent height below this -> too small to detect
    min_depth_mm=100.0,          # joints nearer than this (or behind) count as invisible
    truncation_drop_prob=0.5,    # joint outside the image: dropped (score <= 0.05) with
                                 # this prob, else clamped to the border (score from error)
    # false positives
    ghost_rate=0.1,              # Poisson mean of ghost people per view
    ghost_height_frac=(0.15, 0.6),  # ghost height as a fraction of the image height
    ghost_score_mean=0.35,       # ghost joint scores ~ N(mean, std), clipped to [0, 1]
    ghost_score_std=0.15,
    ghost_bbox_score=(0.3, 0.8),  # ghost box score ~ U(range)
    # confidences: score = score_max * exp(-(err / height / score_err_scale)^2 / 2) + noise
    score_max=0.95,
    score_err_scale=0.05,        # normalised error at which the score falls to 61 %
    score_noise=0.05,            # Gaussian std added to joint scores
    bbox_score_max=0.97,         # box score of a fully visible person
    bbox_occlusion_drop=0.4,     # minus this * occluded fraction of in-image joints
    bbox_truncation_drop=0.4,    # minus this * fraction of joints outside the image
    bbox_score_noise=0.03,       # Gaussian std added to box scores
)

PSEUDO2D_PERFECT = dict(
    profile='mild', jitter_std=0.0, outlier_prob=0.0, swap_body_prob=0.0, swap_limb_prob=0.0,
    occluded_outlier_prob=0.0, occluded_miss_prob=0.0, miss_prob=0.0, ghost_rate=0.0,
    score_noise=0.0, bbox_score_noise=0.0, joint_error_std=None, joint_up_offset=None,
    joint_drop_prob=0.0)


def per_joint(values: dict, names: Sequence[str] = PANOPTIC15_NAMES) -> np.ndarray:
    """(J,) vector from ``{joint name: value}``; a name without its side (``'hip'``) sets
    both sides; every joint of ``names`` is required."""
    full = {n: values[n] for n in values if n in names}
    full.update({f'{side}_{n}': v for n, v in values.items() if n not in names
                 for side in ('left', 'right') if f'{side}_{n}' in names})
    unknown = [n for n in values if n not in names and f'left_{n}' not in full]
    missing = [n for n in names if n not in full]
    if unknown or missing:
        raise ValueError(f'per-joint values: unknown joints {unknown}, missing {missing}')
    return np.array([float(full[n]) for n in names])


# 'realistic' (module docstring). Per-axis scale of the Student-t jitter, in box heights:
# calibrated by fixed-point iteration (scale *= target median / measured median, 5 rounds)
# on 100 sequences x 12 frames x 5 views of the synthetic world (ring rig, 1-5 people and
# bystanders) with the other realistic knobs in place.
_REALISTIC_ERROR_STD = dict(neck=0.0158, nose=0.0159, mid_hip=0.0207, shoulder=0.0160,
                            elbow=0.0138, wrist=0.0214, hip=0.0213, knee=0.0157, ankle=0.0139)
# Up-offsets: the measured mid-range values (neck, nose, mid-hip: own choice); knees and
# ankles 0.001 / 0.002 lower, as clamping at the bottom image border adds that much here.
_REALISTIC_UP_OFFSET = dict(neck=0.018, nose=0.005, mid_hip=0.037, shoulder=0.0185,
                            elbow=0.009, wrist=0.015, hip=0.037, knee=0.010, ankle=0.002)

PSEUDO2D_PROFILES = {
    'mild': {},
    'realistic': dict(
        height_unit='box', joint_error_std=per_joint(_REALISTIC_ERROR_STD),
        joint_up_offset=per_joint(_REALISTIC_UP_OFFSET),
        # tail (> 0.1: 3.2 %, p90 0.060): Student-t core, rare outliers, fewer swaps and
        # occlusion outliers than 'mild' (small grid; the mild ones alone give 3.6-4 %)
        error_dof=10.0, outlier_prob=0.002, swap_body_prob=0.01, swap_limb_prob=0.02,
        occluded_outlier_prob=0.05,
        # 9.4 % missing joints (0.4 % are truncation here), 3.8 % missed person-views
        # (2.6 % are occlusion here); a bottom-up detector reports only peaks above its
        # threshold, so every reported joint scores above the missing ones
        joint_drop_prob=0.088, miss_prob=0.011, min_score=0.1),
}

_PROBS = ('outlier_prob', 'swap_body_prob', 'swap_limb_prob', 'occluded_outlier_prob',
          'occluded_miss_prob', 'miss_prob', 'truncation_drop_prob', 'score_max',
          'bbox_score_max', 'joint_drop_prob', 'min_score')
_NONNEG = ('jitter_std', 'outlier_std', 'occluded_jitter_scale', 'ghost_rate',
           'ghost_score_std', 'score_noise', 'bbox_score_noise', 'min_height_px',
           'min_visible_joints', 'swap_score_factor', 'occluded_score_factor')


def _resolve_knobs(knobs: dict) -> dict:
    profile = knobs.get('profile', PSEUDO2D_DEFAULTS['profile'])
    if profile not in PSEUDO2D_PROFILES:
        raise ValueError(f'simulate_pseudo_2d: unknown profile {profile!r}; known '
                         f'profiles: {sorted(PSEUDO2D_PROFILES)}')
    k = merge_knobs({**PSEUDO2D_DEFAULTS, **PSEUDO2D_PROFILES[profile]}, knobs,
                    'simulate_pseudo_2d')
    if k['height_unit'] not in ('nominal', 'box'):
        raise ValueError(f"simulate_pseudo_2d: knob 'height_unit' must be 'nominal' or "
                         f"'box', got {k['height_unit']!r}")
    if k['error_dof'] is not None and not float(k['error_dof']) > 0:
        raise ValueError(f"simulate_pseudo_2d: knob 'error_dof' must be None or > 0, got "
                         f"{k['error_dof']!r}")
    for name in _PROBS:
        if not 0.0 <= float(k[name]) <= 1.0:
            raise ValueError(f'simulate_pseudo_2d: knob {name!r} must be in [0, 1], got '
                             f'{k[name]!r}')
    for name in _NONNEG:
        if float(k[name]) < 0:
            raise ValueError(f'simulate_pseudo_2d: knob {name!r} must be >= 0, got '
                             f'{k[name]!r}')
    lo, hi = k['ghost_height_frac']
    if not 0 < lo <= hi:
        raise ValueError(f"simulate_pseudo_2d: knob 'ghost_height_frac' must be (lo, hi) "
                         f"with 0 < lo <= hi, got {k['ghost_height_frac']!r}")
    if float(k['score_err_scale']) <= 0:
        raise ValueError(f"simulate_pseudo_2d: knob 'score_err_scale' must be > 0, got "
                         f"{k['score_err_scale']!r}")
    return k


def limb_radii(limbs: np.ndarray, limb_radius_mm=None) -> np.ndarray:
    """(L,) limb radii in mm: the Panoptic-15 defaults for the default limbs, else a
    scalar broadcast, else the given per-limb sequence."""
    L = len(limbs)
    if limb_radius_mm is None:
        if L == len(PANOPTIC15_LIMBS) and np.array_equal(limbs, PANOPTIC15_LIMBS):
            return np.asarray(PANOPTIC15_LIMB_RADII_MM, np.float64)
        return np.full(L, _DEFAULT_RADIUS_MM)
    r = np.broadcast_to(np.asarray(limb_radius_mm, np.float64), (L,)) if np.ndim(
        limb_radius_mm) == 0 else np.asarray(limb_radius_mm, np.float64)
    if r.shape != (L,):
        raise ValueError(f'limb_radius_mm must be a scalar or have one value per limb '
                         f'({L}), got shape {r.shape}')
    return r


def compute_occlusion(uv: np.ndarray, depth: np.ndarray, focal: np.ndarray,
                      limbs: np.ndarray, radii_mm: np.ndarray,
                      min_depth_mm: float = 100.0) -> np.ndarray:
    """Which joints are hidden by another person's limb capsule, per view.

    Args:
        uv: (C, P, J, 2) projections (px); depth: (C, P, J) camera depth (mm);
        focal: (C,) px; limbs: (L, 2) joint indices; radii_mm: (L,) capsule radii.
    Returns:
        (C, P, J) bool: the joint lies inside the projected capsule of a limb of another
        person and that limb is nearer to the camera at the closest point.
    """
    C, P, J = depth.shape
    L = len(limbs)
    if P < 2 or L == 0:
        return np.zeros((C, P, J), bool)
    # float32 and separate x / y planes: the (C, P*J, P*L) planes dominate the cost
    f32 = np.float32
    uv = np.clip(uv, -1e6, 1e6)  # behind-camera ~1e10 px would overflow float32 squares
    a, b = uv[:, :, limbs[:, 0]], uv[:, :, limbs[:, 1]]                    # (C, P, L, 2)
    za, zb = depth[:, :, limbs[:, 0]], depth[:, :, limbs[:, 1]]
    limb_ok = (za > min_depth_mm) & (zb > min_depth_mm)
    ia = np.where(limb_ok, 1.0 / np.where(limb_ok, za, 1.0), 0.0).reshape(C, 1, P * L)
    ib = np.where(limb_ok, 1.0 / np.where(limb_ok, zb, 1.0), 0.0).reshape(C, 1, P * L)
    a = a.reshape(C, 1, P * L, 2)
    ab = b.reshape(C, 1, P * L, 2) - a
    inv_len2 = (1.0 / np.maximum((ab * ab).sum(-1), 1e-12)).astype(f32)
    abx, aby = ab[..., 0].astype(f32), ab[..., 1].astype(f32)
    apx = (uv[..., 0].reshape(C, P * J, 1) - a[..., 0]).astype(f32)       # (C, N, M)
    apy = (uv[..., 1].reshape(C, P * J, 1) - a[..., 1]).astype(f32)
    t = apx * abx
    t += apy * aby
    t *= inv_len2
    np.clip(t, 0.0, 1.0, out=t)
    apx -= t * abx
    apy -= t * aby
    apx *= apx
    apy *= apy
    apx += apy                                                             # squared distance
    # inverse depth is linear along a projected segment (perspective-correct)
    inv_z = t * (ib - ia).astype(f32)
    inv_z += ia.astype(f32)
    # limbs behind the camera and the joint's own person get radius 0 (never hit)
    other = np.repeat(np.arange(P), J)[:, None] != np.repeat(np.arange(P), L)[None, :]
    rad = np.tile(radii_mm, P).reshape(1, 1, P * L) * focal.reshape(C, 1, 1) * \
        limb_ok.reshape(C, 1, P * L)
    r_px = inv_z * rad.astype(f32)
    r_px *= other
    hit = apx < r_px * r_px
    inv_z *= depth.reshape(C, P * J, 1).astype(f32)
    hit &= inv_z > 1.0                                                     # limb is nearer
    occ = hit.any(-1).reshape(C, P, J)
    return occ & (depth > min_depth_mm)


def _canonical_template(J: int) -> Optional[np.ndarray]:
    """A standing Panoptic-15 person facing the camera, unit height, y down."""
    if J != 15:
        return None
    half = np.array([[0.12, -0.33], [0.16, -0.15], [0.17, 0.02],
                     [0.07, 0.0], [0.08, 0.25], [0.08, 0.5]])
    mirrored = half * [-1.0, 1.0]
    return np.concatenate([[[0.0, -0.35], [0.0, -0.45], [0.0, 0.0]], half, mirrored])


def _ghosts(rng, count: int, size, candidates: np.ndarray, template, flip_perm, k):
    """(count, J, 2) plausible skeletons at random places and scales."""
    W, H = float(size[0]), float(size[1])
    out = []
    for _ in range(count):
        if len(candidates):
            shape = candidates[rng.integers(len(candidates))]
        else:
            shape = template
        lo, hi = shape.min(0), shape.max(0)
        unit = (shape - (lo + hi) / 2) / max(float((hi - lo).max()), 1e-6)
        if rng.random() < 0.5:  # mirror, keeping left/right labels anatomical
            unit = (unit * [-1.0, 1.0])[flip_perm]
        height = rng.uniform(*k['ghost_height_frac']) * H
        centre = rng.uniform([0.0, 0.0], [W, H])
        kp = centre + unit * height + rng.standard_normal(unit.shape) * (
            3 * k['jitter_std'] * height)
        out.append(kp)
    return out


def _joint_vector(k: dict, name: str, J: int) -> Optional[np.ndarray]:
    """A per-joint knob as a (J,) float vector (None stays None)."""
    v = k[name]
    if v is None:
        return None
    v = np.asarray(per_joint(v) if isinstance(v, dict) else v, np.float64).reshape(-1)
    if v.shape != (J,):
        raise ValueError(f'simulate_pseudo_2d: knob {name!r} must have one value per joint '
                         f'({J}), got shape {v.shape}')
    if name == 'joint_error_std' and (v < 0).any():
        raise ValueError(f'simulate_pseudo_2d: knob {name!r} must be >= 0')
    return v


def _image_up(uv: np.ndarray) -> np.ndarray:
    """(C, P, 2) unit image-up direction of each person-view: from the projected mid-hip
    to the projected neck (Panoptic-15), else (or when degenerate) image -y."""
    up = np.broadcast_to(np.array([0.0, -1.0]), uv.shape[:2] + (2,))
    if uv.shape[2] == len(PANOPTIC15_NAMES):
        d = uv[:, :, _NECK] - uv[:, :, _MID_HIP]
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        ok = np.isfinite(n) & (n > 1e-6) & (n < 1e6)
        up = np.where(ok, d / np.where(ok, n, 1.0), up)
    return up


def simulate_pseudo_2d(rng: np.random.Generator, joints_2d: np.ndarray, depth: np.ndarray,
                       image_sizes: np.ndarray, focal: np.ndarray,
                       limbs: Sequence[Sequence[int]] = PANOPTIC15_LIMBS,
                       flip_pairs: Sequence[Sequence[int]] = PANOPTIC15_FLIP_PAIRS,
                       **knobs) -> Dict[str, List[np.ndarray]]:
    """Simulate per-view 2D detections (MMDet boxes + a top-down pose model).

    Args:
        rng: the only source of randomness (same rng state -> same output).
        joints_2d: (C, P, J, 2) true projections in original-image pixels.
        depth: (C, P, J) camera-space depth in mm (<= 0: behind the camera).
        image_sizes: (C, 2) (W, H); focal: (C,) focal length in px.
        limbs: (L, 2) joint pairs (occlusion capsules); flip_pairs: (K, 2) left/right.
        **knobs: overrides of :data:`PSEUDO2D_DEFAULTS` (unknown -> ValueError), applied
            on top of the profile named by ``profile`` (:data:`PSEUDO2D_PROFILES`).
    Returns:
        dict of lists of length C (person order shuffled per view):
        ``keypoints`` (P_c, J, 2) float32 px, ``scores`` (P_c, J) float32 in [0, 1],
        ``bbox_scores`` (P_c,) float32, ``source`` (P_c,) int64 GT person or -1 (ghost),
        ``occluded`` (P_c, J) bool GT occlusion flag of each joint index (not permuted
        by a left/right swap).
    """
    k = _resolve_knobs(knobs)
    depth = np.asarray(depth, np.float64)
    C, P, J = depth.shape
    # behind-camera projections are meaningless (possibly inf/nan): keep them finite
    uv = np.nan_to_num(np.asarray(joints_2d, np.float64).reshape(C, P, J, 2),
                       nan=-1e7, posinf=1e7, neginf=-1e7)
    sizes = np.asarray(image_sizes, np.float64).reshape(C, 2)
    focal = np.asarray(focal, np.float64).reshape(C)
    limbs = np.asarray(limbs, np.int64).reshape(-1, 2)
    pairs = np.asarray(flip_pairs, np.int64).reshape(-1, 2)
    if limbs.size and limbs.max() >= J or pairs.size and pairs.max() >= J:
        raise ValueError(f'limbs / flip_pairs index joints beyond J={J}')
    jscale = np.ones(J) if k['joint_jitter_scale'] is None else np.asarray(
        k['joint_jitter_scale'], np.float64).reshape(-1)
    if jscale.shape != (J,):
        raise ValueError(f"simulate_pseudo_2d: knob 'joint_jitter_scale' must have one "
                         f"value per joint ({J}), got shape {jscale.shape}")
    err_std = _joint_vector(k, 'joint_error_std', J)
    up_off = _joint_vector(k, 'joint_up_offset', J)
    flip_perm = np.arange(J)
    flip_perm[pairs[:, 0]], flip_perm[pairs[:, 1]] = pairs[:, 1], pairs[:, 0]

    front = depth > k['min_depth_mm']
    lim = (sizes - 1.0).reshape(C, 1, 1, 2)
    inside = front & ((uv >= 0) & (uv <= lim)).all(-1)
    n_front = front.sum(-1)
    mean_z = (depth * front).sum(-1) / np.maximum(n_front, 1)
    height = np.where(n_front > 0, focal[:, None] * _PERSON_HEIGHT_MM /
                      np.where(n_front > 0, mean_z, 1.0), 0.0)               # (C, P)
    if k['height_unit'] == 'box':  # height of the box of the in-front projections
        y = uv[..., 1]
        box = np.where(front, y, -np.inf).max(-1) - np.where(front, y, np.inf).min(-1)
        height = np.where(n_front > 0, box, 0.0)
    occluded = compute_occlusion(uv, depth, focal, limbs,
                                 limb_radii(limbs, k['limb_radius_mm']), k['min_depth_mm'])

    # all draws have fixed shapes so that the stream does not depend on the scene
    noise = rng.standard_normal((C, P, J, 2))
    out_u = rng.random((C, P, J))
    out_noise = rng.standard_normal((C, P, J, 2))
    body_u, limb_u, miss_u = rng.random((3, C, P))
    pair_idx = rng.integers(0, max(len(pairs), 1), (C, P))
    drop_u = rng.random((C, P, J))
    drop_score = rng.uniform(0.0, _DROPPED_SCORE, (C, P, J))
    score_n = rng.standard_normal((C, P, J))
    bbox_n = rng.standard_normal((C, P))
    # draws of the optional failure modes (only when enabled: the mild stream is unchanged)
    if k['error_dof'] is not None:
        noise = noise * np.sqrt(float(k['error_dof']) /
                                rng.chisquare(float(k['error_dof']), (C, P, J)))[..., None]
    joint_dropped = (rng.random((C, P, J)) < k['joint_drop_prob']) if \
        k['joint_drop_prob'] > 0 else np.zeros((C, P, J), bool)

    h = height[..., None]
    base = k['jitter_std'] if err_std is None else err_std
    std = base * h * jscale * np.where(occluded, k['occluded_jitter_scale'], 1.0)
    is_out = out_u < np.where(occluded, k['occluded_outlier_prob'], k['outlier_prob'])
    kp = uv + noise * std[..., None] + is_out[..., None] * out_noise * (k['outlier_std'] *
                                                                        h)[..., None]
    if up_off is not None:  # systematic offset toward the top of the person
        kp = kp + (up_off * h)[..., None] * _image_up(uv)[:, :, None, :]
    kp = np.clip(kp, 0.0, lim)  # a top-down model only answers inside the image
    err = np.linalg.norm(kp - uv, axis=-1) / np.maximum(h, 1e-6)
    score = k['score_max'] * np.exp(-0.5 * (err / k['score_err_scale']) ** 2)
    score = score * np.where(occluded, k['occluded_score_factor'], 1.0)
    score = score + k['score_noise'] * score_n
    dropped = ~front | (~inside & (drop_u < k['truncation_drop_prob'])) | joint_dropped
    score = np.clip(np.where(dropped, drop_score, np.maximum(score, k['min_score'])),
                    0.0, 1.0)

    # left/right swaps as one joint permutation per person-view
    body = body_u < k['swap_body_prob']
    one = ~body & (limb_u < k['swap_limb_prob'])
    perm = np.broadcast_to(np.arange(J), (C, P, J)).copy()
    if len(pairs):
        sw = body[..., None] | (one[..., None] & (pair_idx[..., None] ==
                                                  np.arange(len(pairs))))
        perm[..., pairs[:, 0]] = np.where(sw, pairs[:, 1], pairs[:, 0])
        perm[..., pairs[:, 1]] = np.where(sw, pairs[:, 0], pairs[:, 1])
    kp = np.take_along_axis(kp, perm[..., None], axis=2)
    score = np.take_along_axis(score, perm, axis=2)
    score = np.clip(score * np.where(perm != np.arange(J), k['swap_score_factor'], 1.0),
                    0.0, 1.0)

    # detection: visible enough, large enough, not randomly missed
    n_in = inside.sum(-1)
    occ_frac = (occluded & inside).sum(-1) / np.maximum(n_in, 1)
    p_miss = 1.0 - (1.0 - k['miss_prob']) * (1.0 - k['occluded_miss_prob'] * occ_frac ** 2)
    detected = (n_in >= k['min_visible_joints']) & (height >= k['min_height_px']) & \
        (miss_u >= p_miss)
    bbox = k['bbox_score_max'] - k['bbox_occlusion_drop'] * occ_frac - \
        k['bbox_truncation_drop'] * (1.0 - n_in / max(J, 1)) + k['bbox_score_noise'] * bbox_n
    bbox = np.clip(bbox, 0.0, 1.0)

    # ghosts borrow the shape of a fully visible person of this frame (any view)
    n_ghosts = rng.poisson(k['ghost_rate'], C)
    cand = uv[(n_in == J) & (height >= k['min_height_px'])]                # (n, J, 2)
    template = _canonical_template(J)
    if not len(cand) and template is None:
        n_ghosts[:] = 0  # no plausible shape to borrow for an unknown joint set
    result = {name: [] for name in ('keypoints', 'scores', 'bbox_scores', 'source',
                                    'occluded')}
    for c in range(C):
        idx = np.flatnonzero(detected[c])
        g = int(n_ghosts[c])
        g_kp = _ghosts(rng, g, sizes[c], cand, template, flip_perm, k)
        g_kp = np.clip(np.asarray(g_kp).reshape(g, J, 2), 0.0, lim[c, 0, 0])
        g_score = np.clip(rng.normal(k['ghost_score_mean'], k['ghost_score_std'], (g, J)),
                          0.0, 1.0)
        g_bbox = rng.uniform(*k['ghost_bbox_score'], g)
        order = rng.permutation(len(idx) + g)
        result['keypoints'].append(
            np.concatenate([kp[c, idx], g_kp])[order].astype(np.float32))
        result['scores'].append(
            np.concatenate([score[c, idx], g_score])[order].astype(np.float32))
        result['bbox_scores'].append(
            np.concatenate([bbox[c, idx], g_bbox])[order].astype(np.float32))
        result['source'].append(
            np.concatenate([idx, np.full(g, -1)])[order].astype(np.int64))
        result['occluded'].append(
            np.concatenate([occluded[c, idx], np.zeros((g, J), bool)])[order])
    return result
