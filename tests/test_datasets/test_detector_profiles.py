"""Detector profiles of the pseudo-2D simulator: 'realistic' reproduces the measured error
statistics of a real bottom-up detector, 'mild' is exactly the old default."""
import numpy as np
import pytest

from selfpose3d_mm.datasets.synthetic.body import PeopleSequence
from selfpose3d_mm.datasets.synthetic.pseudo2d import (PSEUDO2D_DEFAULTS, PSEUDO2D_PROFILES,
                                                      simulate_pseudo_2d)
from selfpose3d_mm.datasets.synthetic.rig_config import build_rig
from selfpose3d_mm.skeleton import PANOPTIC15_NAMES

CENTER, SIZE = np.array([0.0, 0.0, 800.0]), np.array([6000.0, 6000.0, 2000.0])
GROUPS = ('shoulder', 'elbow', 'wrist', 'hip', 'knee', 'ankle')
# the measurements of the profile's source (module docstring of pseudo2d): ranges -> mids
TARGET_MEDIAN = dict(ankle=0.0185, knee=0.023, hip=0.0455, wrist=0.031, elbow=0.0195,
                     shoulder=0.0265)
TARGET_UP = dict(hip=0.037, shoulder=0.0185, wrist=0.015, knee=0.011, elbow=0.009,
                 ankle=0.004)
TARGET = dict(median=0.026, p90=0.060, over_01=0.032, missing=0.094, missed=0.038)
NECK, MID_HIP = PANOPTIC15_NAMES.index('neck'), PANOPTIC15_NAMES.index('mid_hip')


def group_index(g):
    return [PANOPTIC15_NAMES.index('left_' + g), PANOPTIC15_NAMES.index('right_' + g)]


def world(num_sequences=60, frames=12, seed=0):
    """[(uv (T*C, P, J, 2), depth, sizes, focal)] of the synthetic ring rig and bodies,
    one entry per sequence, its frames stacked along the view axis."""
    rng = np.random.default_rng(seed)
    cams = build_rig(None, np.random.default_rng(7919), CENTER, SIZE)
    C = cams.num_views
    sizes, focal = cams.image_size.numpy(), cams.K[:, 0, 0].numpy()
    import torch
    out = []
    for _ in range(num_sequences):
        n_out = int(rng.integers(1, 3)) if rng.random() < 0.3 else 0
        people = PeopleSequence(rng, int(rng.integers(1, 6)), CENTER, SIZE, num_outside=n_out)
        joints = people.joints(np.sort(rng.uniform(0, 60, frames)))        # (T, P, J, 3)
        T, P, J = joints.shape[:3]
        pts = torch.from_numpy(joints.reshape(1, -1, 3)).float()
        uv = cams.project(pts)[0].numpy().reshape(C, T, P, J, 2).transpose(1, 0, 2, 3, 4)
        z = cams.world_to_camera(pts)[0, ..., 2].numpy().reshape(C, T, P, J).transpose(
            1, 0, 2, 3)
        out.append((uv.reshape(T * C, P, J, 2).astype(np.float64),
                    z.reshape(T * C, P, J).astype(np.float64),
                    np.tile(sizes, (T, 1)), np.tile(focal, T)))
    return out


def measure(scenes, seed=0, **knobs):
    """The estimator of the measurements: errors / box height of the exact projection,
    on the reported joints (score >= 0.05) of the detected people that are visible
    (all joints in front, >= 4 joints inside the image)."""
    errs, ups, present, missed = [], [], [], []
    for i, (uv, z, sizes, focal) in enumerate(scenes):
        out = simulate_pseudo_2d(np.random.default_rng([seed, i]), uv, z, sizes, focal,
                                 **knobs)
        inside = ((uv >= 0) & (uv <= sizes[:, None, None] - 1)).all(-1)
        visible = (z > 100).all(-1) & (inside.sum(-1) >= 4)                  # (V, P)
        for c in range(len(uv)):
            src = out['source'][c]
            keep = src >= 0
            src, kp, s = src[keep], out['keypoints'][c][keep], out['scores'][c][keep]
            det = np.zeros(uv.shape[1], bool)
            det[src] = True
            missed.extend(~det[visible[c]])
            ok = visible[c, src]
            src, kp, s = src[ok], kp[ok], s[ok]
            gt = uv[c, src]
            h = gt[..., 1].max(-1) - gt[..., 1].min(-1)
            up = gt[:, NECK] - gt[:, MID_HIP]
            up /= np.linalg.norm(up, axis=-1, keepdims=True)
            d = (kp - gt) / h[:, None, None]
            errs.append(np.linalg.norm(d, axis=-1))
            ups.append((d * up[:, None]).sum(-1))
            present.append(s >= 0.05)
    errs, ups, present = np.concatenate(errs), np.concatenate(ups), np.concatenate(present)
    stats = dict(missing=1 - present.mean(), missed=np.mean(missed))
    measured = sum((group_index(g) for g in GROUPS), [])
    e = errs[:, measured][present[:, measured]]
    stats.update(median=np.median(e), p90=np.quantile(e, 0.9), over_01=(e > 0.1).mean())
    for j, name in enumerate(PANOPTIC15_NAMES):
        stats['median_' + name] = np.median(errs[present[:, j], j])
        stats['up_' + name] = ups[present[:, j], j].mean()
    for g in GROUPS:
        idx = group_index(g)
        stats['median_' + g] = np.median(errs[:, idx][present[:, idx]])
        stats['up_' + g] = ups[:, idx][present[:, idx]].mean()
    return stats


@pytest.fixture(scope='module')
def scenes():
    return world()


def test_realistic_profile_reproduces_the_measurements(scenes):
    st = measure(scenes, profile='realistic')
    report = {k: round(float(v), 4) for k, v in st.items()}
    for key, target in TARGET.items():
        assert abs(st[key] - target) <= 0.15 * target, (key, report)
    for g in GROUPS:
        assert abs(st['median_' + g] - TARGET_MEDIAN[g]) <= 0.15 * TARGET_MEDIAN[g], (
            g, report)
        assert abs(st['up_' + g] - TARGET_UP[g]) <= max(0.15 * TARGET_UP[g], 0.003), (
            g, report)


# the defaults before the profiles existed: 'mild' must stay exactly these
OLD_DEFAULTS = dict(
    jitter_std=0.008, joint_jitter_scale=None, outlier_prob=0.01, outlier_std=0.12,
    swap_body_prob=0.02, swap_limb_prob=0.03, swap_score_factor=0.85, limb_radius_mm=None,
    occluded_jitter_scale=3.0, occluded_outlier_prob=0.1, occluded_score_factor=0.6,
    occluded_miss_prob=0.8, miss_prob=0.03, min_visible_joints=4, min_height_px=16.0,
    min_depth_mm=100.0, truncation_drop_prob=0.5, ghost_rate=0.1,
    ghost_height_frac=(0.15, 0.6), ghost_score_mean=0.35, ghost_score_std=0.15,
    ghost_bbox_score=(0.3, 0.8), score_max=0.95, score_err_scale=0.05, score_noise=0.05,
    bbox_score_max=0.97, bbox_occlusion_drop=0.4, bbox_truncation_drop=0.4,
    bbox_score_noise=0.03)
# the new knobs, all neutral by default
NEW_NEUTRAL = dict(profile='mild', height_unit='nominal', joint_error_std=None,
                   joint_up_offset=None, error_dof=None, joint_drop_prob=0.0, min_score=0.0)


def test_mild_profile_is_the_old_default(scenes):
    assert PSEUDO2D_PROFILES['mild'] == {}
    assert PSEUDO2D_DEFAULTS == {**OLD_DEFAULTS, **NEW_NEUTRAL}
    uv, z, sizes, focal = scenes[0]
    a = simulate_pseudo_2d(np.random.default_rng(3), uv, z, sizes, focal)
    b = simulate_pseudo_2d(np.random.default_rng(3), uv, z, sizes, focal, profile='mild')
    c = simulate_pseudo_2d(np.random.default_rng(3), uv, z, sizes, focal,
                           **{**PSEUDO2D_DEFAULTS, 'profile': 'realistic'})
    for key in a:
        for x, y, w in zip(a[key], b[key], c[key]):
            np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(x, w)  # every realistic knob is overridable


def test_profile_knobs_by_name_and_bad_knobs(scenes):
    uv, z, sizes, focal = scenes[0]
    std = PSEUDO2D_PROFILES['realistic']['joint_error_std']
    named = dict(zip(PANOPTIC15_NAMES, std))
    a = simulate_pseudo_2d(np.random.default_rng(1), uv, z, sizes, focal, profile='realistic')
    b = simulate_pseudo_2d(np.random.default_rng(1), uv, z, sizes, focal, profile='realistic',
                           joint_error_std=named)
    for x, y in zip(a['keypoints'], b['keypoints']):
        np.testing.assert_array_equal(x, y)
    # realistic: every reported joint scores above the missing ones
    s = np.concatenate([s[src >= 0].ravel() for s, src in zip(a['scores'], a['source'])])
    floor = PSEUDO2D_PROFILES['realistic']['min_score'] * \
        PSEUDO2D_DEFAULTS['swap_score_factor']
    assert (s < 0.05).any() and ((s < 0.05) | (s >= floor)).all()
    for bad, match in ((dict(profile='harsh'), 'profile'), (dict(error_dof=0.0), 'error_dof'),
                       (dict(height_unit='bbox'), 'height_unit'),
                       (dict(joint_up_offset=[0.1] * 3), 'joint_up_offset'),
                       (dict(joint_error_std={'neck': 0.01}), 'missing'),
                       (dict(joint_drop_prob=1.5), 'joint_drop_prob')):
        with pytest.raises(ValueError, match=match):
            simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, focal, **bad)
