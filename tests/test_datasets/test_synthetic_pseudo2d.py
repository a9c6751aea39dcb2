"""The pseudo-2D detector simulator of the synthetic world."""
import time

import numpy as np
import pytest
from scipy.stats import spearmanr

from selfpose3d_mm.datasets.synthetic.pseudo2d import (PSEUDO2D_DEFAULTS, PSEUDO2D_PERFECT,
                                                      compute_occlusion, limb_radii,
                                                      simulate_pseudo_2d)
from selfpose3d_mm.skeleton import PANOPTIC15_FLIP_PAIRS, PANOPTIC15_LIMBS

F = 1400.0
SIZE = (1920, 1080)
# a standing person facing the camera, unit height, y down (Panoptic-15 order)
_HALF = np.array([[0.12, -0.33], [0.16, -0.15], [0.17, 0.02],
                  [0.07, 0.0], [0.08, 0.25], [0.08, 0.5]])
TEMPLATE = np.concatenate([[[0.0, -0.35], [0.0, -0.45], [0.0, 0.0]], _HALF,
                           _HALF * [-1.0, 1.0]])


def person(cx, cy, z, f=F):
    """(J, 2) pixels and (J,) depth of a 1.7 m stick person at depth z."""
    return TEMPLATE * (f * 1700.0 / z) + [cx, cy], np.full(15, float(z))


def scene(people, views=1, size=SIZE, f=F):
    """Stack [(cx, cy, z), ...] (the same in every view) into simulator inputs."""
    uv, z = zip(*(person(*p, f=f) for p in people))
    uv = np.broadcast_to(np.stack(uv), (views, len(people), 15, 2)).copy()
    z = np.broadcast_to(np.stack(z), (views, len(people), 15)).copy()
    return uv, z, np.tile(size, (views, 1)), np.full(views, f)


def by_source(out, c):
    order = np.argsort(out['source'][c])
    return {k: v[c][order] for k, v in out.items()}


def test_perfect_detector_reproduces_projections():
    uv, z, sizes, f = scene([(500, 540, 3000), (1400, 540, 6000), (960, 600, 12000)],
                            views=2)
    uv[1] += [30.0, -20.0]
    out = simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f, **PSEUDO2D_PERFECT)
    assert set(out) == {'keypoints', 'scores', 'bbox_scores', 'source', 'occluded'}
    for c in range(2):
        o = by_source(out, c)
        # the person 12 m away (outside any capture space) is just another person
        np.testing.assert_array_equal(o['source'], [0, 1, 2])
        assert o['keypoints'].dtype == np.float32 and o['keypoints'].shape == (3, 15, 2)
        assert o['scores'].dtype == np.float32 and o['source'].dtype == np.int64
        assert o['occluded'].dtype == bool and not o['occluded'].any()
        np.testing.assert_allclose(o['keypoints'], uv[c], atol=1e-3)
        np.testing.assert_allclose(o['scores'], PSEUDO2D_DEFAULTS['score_max'], atol=1e-6)
        np.testing.assert_allclose(o['bbox_scores'], PSEUDO2D_DEFAULTS['bbox_score_max'],
                                   atol=1e-6)


def test_invisible_people_are_not_detected():
    uv, z, sizes, f = scene([(500, 540, 3000), (960, 540, 3000), (1400, 540, 4000),
                             (960, 540, 50000)])
    z[0, 1] = -3000.0                    # behind the camera
    uv[0, 2, :, 0] += 1920 - 1400 + 60   # only the left-side joints... mostly outside
    keep = (uv[0, 2, :, 0] <= 1919).sum()
    assert keep < 4
    out = simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f, **PSEUDO2D_PERFECT)
    # 50 m away: 48 px tall, still detected; a min_height_px above that drops it
    np.testing.assert_array_equal(np.sort(out['source'][0]), [0, 3])
    out = simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f,
                             **{**PSEUDO2D_PERFECT, 'min_height_px': 60.0})
    np.testing.assert_array_equal(out['source'][0], [0])


def test_truncated_joints_are_clamped_or_dropped():
    uv, z, sizes, f = scene([(1850, 540, 3000)])
    outside = uv[0, 0, :, 0] > 1919
    assert 0 < outside.sum() < 15 - 4
    for drop, check in ((0.0, lambda s: (s > 0.05).any()), (1.0, lambda s: (s <= 0.05).all())):
        out = simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f,
                                 **{**PSEUDO2D_PERFECT, 'truncation_drop_prob': drop})
        kp, s = out['keypoints'][0][0], out['scores'][0][0]
        np.testing.assert_allclose(kp[outside, 0], 1919.0)       # clamped to the border
        np.testing.assert_allclose(kp[~outside], uv[0, 0, ~outside], atol=1e-3)
        assert check(s[outside]) and (s[outside] < s[~outside].min()).all()
        assert out['bbox_scores'][0][0] < PSEUDO2D_DEFAULTS['bbox_score_max']


def test_occlusion_by_a_nearer_person():
    # B stands exactly behind A in the image: every joint of B is covered by A's body
    uv, z, sizes, f = scene([(800, 540, 3000), (1500, 540, 4000)])
    uv[0, 1] = uv[0, 0]
    z[0, 1] = 5000.0
    knobs = {**PSEUDO2D_PERFECT, 'occluded_miss_prob': 0.0}
    o = by_source(simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f, **knobs), 0)
    np.testing.assert_array_equal(o['source'], [0, 1])
    assert not o['occluded'][0].any() and o['occluded'][1].all()
    assert (o['scores'][1] < o['scores'][0]).all()
    assert o['bbox_scores'][1] < o['bbox_scores'][0]
    # with noise: occluded joints have larger errors, and a hidden person is often missed
    err, seen = {0: [], 1: []}, 0
    for seed in range(100):
        out = simulate_pseudo_2d(np.random.default_rng(seed), uv, z, sizes, f,
                                 **{**PSEUDO2D_DEFAULTS, 'ghost_rate': 0.0})
        for kp, src in zip(out['keypoints'][0], out['source'][0]):
            err[src].append(np.linalg.norm(kp - uv[0, src], axis=-1).mean())
        seen += 1 in out['source'][0]
    assert np.median(err[1]) > 2 * np.median(err[0])
    assert seen < 50


def test_partial_occlusion_is_per_joint():
    # B's right arm (joints 9-11) lies over A's torso line; A is nearer
    uv, z, sizes, f = scene([(800, 540, 3000), (1500, 540, 4000)])
    uv[0, 1, 9:12] = np.linspace(uv[0, 0, 0], uv[0, 0, 2], 3)
    occ = compute_occlusion(uv, z, f, np.asarray(PANOPTIC15_LIMBS),
                            limb_radii(np.asarray(PANOPTIC15_LIMBS)))
    assert occ[0, 1, 9:12].all() and not occ[0, 1, :9].any() and not occ[0, 1, 12:].any()
    assert not occ[0, 0].any()
    # the same arm in front of A: A is farther, nothing is occluded
    z[0, 1] = 2000.0
    occ = compute_occlusion(uv, z, f, np.asarray(PANOPTIC15_LIMBS),
                            limb_radii(np.asarray(PANOPTIC15_LIMBS)))
    assert not occ[0, 1].any()


def test_occlusion_matches_a_loop_reference():
    rng = np.random.default_rng(1)
    C, P, J = 2, 4, 15
    uv = rng.uniform(0, 600, (C, P, J, 2))
    z = rng.uniform(-500, 6000, (C, P, J))
    limbs = np.asarray(PANOPTIC15_LIMBS)
    radii = limb_radii(limbs)
    focal = np.array([500.0, 900.0])
    occ = compute_occlusion(uv, z, focal, limbs, radii)
    ref = np.zeros_like(occ)
    for c, p, j, q, l in np.ndindex(C, P, J, P, len(limbs)):
        (i0, i1), za, zb = limbs[l], z[c, q, limbs[l, 0]], z[c, q, limbs[l, 1]]
        if q == p or z[c, p, j] <= 100 or za <= 100 or zb <= 100:
            continue
        a, b, x = uv[c, q, i0], uv[c, q, i1], uv[c, p, j]
        t = np.clip(np.dot(x - a, b - a) / np.dot(b - a, b - a), 0, 1)
        zt = 1.0 / ((1 - t) / za + t / zb)
        if np.linalg.norm(x - a - t * (b - a)) < radii[l] * focal[c] / zt and zt < z[c, p, j]:
            ref[c, p, j] = True
    assert ref.any() and (ref != occ).sum() <= 1  # float32 ties at the capsule border


def test_swaps():
    uv, z, sizes, f = scene([(500, 540, 3000), (1400, 540, 4000)])
    pairs = np.asarray(PANOPTIC15_FLIP_PAIRS)
    out = simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f,
                             **{**PSEUDO2D_PERFECT, 'swap_body_prob': 1.0})
    o = by_source(out, 0)
    swapped = uv[0].copy()
    swapped[:, pairs[:, 0]], swapped[:, pairs[:, 1]] = uv[0][:, pairs[:, 1]], uv[0][:, pairs[:, 0]]
    np.testing.assert_allclose(o['keypoints'], swapped, atol=1e-3)
    for seed in range(20):
        out = simulate_pseudo_2d(np.random.default_rng(seed), uv, z, sizes, f,
                                 **{**PSEUDO2D_PERFECT, 'swap_limb_prob': 1.0})
        o = by_source(out, 0)
        for p in range(2):
            moved = np.flatnonzero(np.abs(o['keypoints'][p] - uv[0, p]).max(-1) > 1e-3)
            assert len(moved) == 2 and tuple(moved) in {tuple(q) for q in pairs}
            np.testing.assert_allclose(o['keypoints'][p][moved], uv[0, p][moved[::-1]],
                                       atol=1e-3)


def test_missed_people_and_ghosts():
    uv, z, sizes, f = scene([(500, 540, 3000), (1400, 540, 4000)], views=2)
    out = simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f,
                             **{**PSEUDO2D_PERFECT, 'miss_prob': 1.0})
    assert all(len(s) == 0 and k.shape == (0, 15, 2)
               for s, k in zip(out['source'], out['keypoints']))
    counts, ghost_scores = [], []
    for seed in range(400):
        out = simulate_pseudo_2d(np.random.default_rng(seed), uv, z, sizes, f,
                                 miss_prob=1.0, ghost_rate=0.5)
        for c in range(2):
            assert (out['source'][c] == -1).all()
            kp = out['keypoints'][c]
            assert ((kp >= 0) & (kp <= np.subtract(SIZE, 1))).all()
            assert not out['occluded'][c].any()
            counts.append(len(kp))
            ghost_scores.extend(out['scores'][c].ravel())
    assert abs(np.mean(counts) - 0.5) < 4 * np.sqrt(0.5 / len(counts))
    assert np.mean(ghost_scores) < 0.5


def test_scores_fall_with_error():
    rng = np.random.default_rng(0)
    people = [(rng.uniform(200, 1700), rng.uniform(300, 800), rng.uniform(2500, 8000))
              for _ in range(6)]
    uv, z, sizes, f = scene(people, views=3)
    uv += rng.normal(0, 40, uv.shape)  # make the views and people differ
    errs, scores = [], []
    for seed in range(60):
        out = simulate_pseudo_2d(np.random.default_rng(seed), uv, z, sizes, f,
                                 ghost_rate=0.0, outlier_prob=0.05)
        for c in range(3):
            for kp, s, src in zip(out['keypoints'][c], out['scores'][c], out['source'][c]):
                h = F * 1700.0 / z[c, src, 0]
                errs.append(np.linalg.norm(kp - uv[c, src], axis=-1) / h)
                scores.append(s)
    errs, scores = np.concatenate(errs), np.concatenate(scores)
    assert spearmanr(errs, scores).correlation < -0.3
    # hard labels: a score threshold removes most of the bad joints, few of the good
    bad = errs > 0.1
    assert bad.sum() > 50
    assert (scores[bad] >= 0.5).mean() < 0.3 and (scores[errs < 0.02] >= 0.5).mean() > 0.9


def test_determinism_and_shuffled_order():
    rng = np.random.default_rng(5)
    people = [(rng.uniform(200, 1700), rng.uniform(300, 800), rng.uniform(2500, 8000))
              for _ in range(8)]
    uv, z, sizes, f = scene(people, views=3)
    a = simulate_pseudo_2d(np.random.default_rng(7), uv, z, sizes, f, ghost_rate=1.0)
    b = simulate_pseudo_2d(np.random.default_rng(7), uv, z, sizes, f, ghost_rate=1.0)
    c = simulate_pseudo_2d(np.random.default_rng(8), uv, z, sizes, f, ghost_rate=1.0)
    for key in a:
        for x, y in zip(a[key], b[key]):
            np.testing.assert_array_equal(x, y)
    assert any(x.shape != y.shape or not np.array_equal(x, y)
               for x, y in zip(a['keypoints'], c['keypoints']))
    orders = [simulate_pseudo_2d(np.random.default_rng(s), uv, z, sizes, f,
                                 **PSEUDO2D_PERFECT)['source'][0] for s in range(5)]
    assert any(not np.array_equal(o, np.sort(o)) for o in orders)


def test_bad_knobs():
    uv, z, sizes, f = scene([(500, 540, 3000)])
    with pytest.raises(ValueError, match='jiter_std'):
        simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f, jiter_std=0.1)
    with pytest.raises(ValueError, match='miss_prob'):
        simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f, miss_prob=1.5)
    with pytest.raises(ValueError, match='joint_jitter_scale'):
        simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f,
                           joint_jitter_scale=[1.0, 2.0])
    with pytest.raises(ValueError, match='limb_radius_mm'):
        simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f,
                           limb_radius_mm=[80.0, 90.0])


def test_per_joint_jitter_scale():
    uv, z, sizes, f = scene([(960, 540, 3000)])
    scale = np.ones(15)
    scale[[5, 11]] = 0.0  # perfectly localised wrists
    out = simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f,
                             **{**PSEUDO2D_PERFECT, 'jitter_std': 0.02,
                                'joint_jitter_scale': scale})
    moved = np.abs(out['keypoints'][0][0] - uv[0, 0]).max(-1) > 1e-3
    assert not moved[[5, 11]].any() and moved.sum() == 13


def test_custom_joint_set_and_empty_frame():
    uv, z, sizes, f = scene([(500, 540, 3000), (1400, 540, 4000)])
    uv, z = uv[:, :, :6], z[:, :, :6]
    out = simulate_pseudo_2d(np.random.default_rng(0), uv, z, sizes, f,
                             limbs=[(0, 1), (1, 2), (3, 4), (4, 5)], flip_pairs=[(0, 3)],
                             ghost_rate=2.0, swap_body_prob=1.0)
    assert all(k.shape[1:] == (6, 2) for k in out['keypoints'])
    empty = simulate_pseudo_2d(np.random.default_rng(0), np.zeros((2, 0, 15, 2)),
                               np.zeros((2, 0, 15)), np.tile(SIZE, (2, 1)), np.full(2, F),
                               ghost_rate=3.0)
    assert all(k.shape[1:] == (15, 2) and (s == -1).all()
               for k, s in zip(empty['keypoints'], empty['source']))


def test_speed():
    rng = np.random.default_rng(0)
    people = [(rng.uniform(200, 1700), rng.uniform(300, 800), rng.uniform(2500, 8000))
              for _ in range(10)]
    uv, z, sizes, f = scene(people, views=5)
    uv += rng.normal(0, 30, uv.shape)
    times = []
    for seed in range(20):
        t0 = time.perf_counter()
        simulate_pseudo_2d(np.random.default_rng(seed), uv, z, sizes, f)
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 0.02  # ~2 ms on one core; slack for loaded CI machines
