"""Synthetic people: anatomy vs real CMU Panoptic poses, smooth motion, placement, limits."""
import glob
import json
import pickle
import time
from pathlib import Path

import numpy as np
import pytest

from selfpose3d_mm.datasets.synthetic.body import BODY_DEFAULTS, PeopleSequence
from selfpose3d_mm.datasets.synthetic.motion import ActivityWarp, WanderPaths
from selfpose3d_mm.skeleton import PANOPTIC15_LIMBS

FIXTURES = Path(__file__).resolve().parents[2].parent / 'shared' / 'fixtures'
CENTER, SIZE = (0.0, -500.0, 800.0), (8000.0, 8000.0, 2000.0)
FPS = 30.0
LIMB_A = [a for a, _ in PANOPTIC15_LIMBS]
LIMB_B = [b for _, b in PANOPTIC15_LIMBS]


def _seq(seed, n=5, out=0, center=CENTER, size=SIZE, **knobs):
    return PeopleSequence(np.random.default_rng(seed), n, center, size, num_outside=out,
                          **knobs)


def _angle(u, w):
    """Angle (deg) between vectors u, w (..., 3); nan where either is zero."""
    with np.errstate(invalid='ignore', divide='ignore'):
        c = (u * w).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(w, axis=-1)
    return np.degrees(np.arccos(np.clip(c, -1, 1)))


def pose_metrics(J, valid=None):
    """Bones (mm) and angles (deg) of Panoptic-15 poses J (N, 15, 3); nan where a joint
    involved is invalid (valid: (N, 15) bool). Paired quantities are concatenated."""
    J = np.asarray(J, np.float64)
    if valid is not None:
        J = np.where(valid[..., None], J, np.nan)

    def d(a, b):
        return np.linalg.norm(J[:, a] - J[:, b], axis=-1)

    def flex(a, b, c):  # 0 = straight limb
        return 180.0 - _angle(J[:, a] - J[:, b], J[:, c] - J[:, b])

    up = J[:, 0] - J[:, 2]
    return dict(
        upper_arm=np.r_[d(3, 4), d(9, 10)], forearm=np.r_[d(4, 5), d(10, 11)],
        thigh=np.r_[d(6, 7), d(12, 13)], shin=np.r_[d(7, 8), d(13, 14)],
        shoulder_half_width=np.r_[d(0, 3), d(0, 9)], hip_half_width=np.r_[d(2, 6), d(2, 12)],
        torso=d(0, 2), neck_nose=d(0, 1),
        elbow_flexion=np.r_[flex(3, 4, 5), flex(9, 10, 11)],
        knee_flexion=np.r_[flex(6, 7, 8), flex(12, 13, 14)],
        torso_thigh=np.r_[_angle(up, J[:, 7] - J[:, 6]), _angle(up, J[:, 13] - J[:, 12])],
        torso_inclination=_angle(up, np.array([0.0, 0.0, 1.0])))


def _real_poses():
    """Real Panoptic-15 poses in our world (mm, z up) and their validity, or skip."""
    scenes = sorted(glob.glob(str(FIXTURES / 'panoptic' / '160906_band1'
                                  / 'hdPose3d_stage1_coco19' / 'body3DScene_*.json')))
    pkls = [FIXTURES / d / 'panoptic_training_pose.pkl' for d in ('shelf', 'campus')]
    pkls = [p for p in pkls if p.exists()]
    if not scenes or not pkls:
        pytest.skip(f'real pose fixtures not available under {FIXTURES}')
    M = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], np.float64)  # (x, y, z) -> (x, z, -y)
    poses, valid = [], []
    for f in scenes:
        with open(f) as fh:
            for body in json.load(fh)['bodies']:
                j = np.asarray(body['joints19'], np.float64).reshape(19, 4)[:15]
                poses.append(j[:, :3] @ M * 10.0)  # cm -> mm
                valid.append(j[:, 3] > 0.1)
    # COCO-17 -> Panoptic-15 (neck = mid-shoulders, mid-hip = mid-hips); the COCO nose
    # is not the Panoptic neck->nose bone, so it stays invalid
    coco_of = {3: 5, 4: 7, 5: 9, 6: 11, 7: 13, 8: 15, 9: 6, 10: 8, 11: 10, 12: 12, 13: 14,
               14: 16}
    for p in pkls:
        with open(p, 'rb') as fh:
            for item in pickle.load(fh):
                c = np.asarray(item['pose'], np.float64)
                x = np.zeros((15, 3))
                x[0], x[2] = (c[5] + c[6]) / 2, (c[11] + c[12]) / 2
                for ours, coco in coco_of.items():
                    x[ours] = c[coco]
                v = np.ones(15, bool)
                v[1] = False
                poses.append(x)
                valid.append(v)
    return np.stack(poses), np.stack(valid)


@pytest.fixture(scope='module')
def generated():
    """~11k generated poses: 600 sequences x 6 people (one a bystander) x 3 random times."""
    out = []
    for seed in range(600):
        rng = np.random.default_rng(seed)
        people = PeopleSequence(rng, 5, CENTER, SIZE, num_outside=1)
        out.append(people.joints(rng.uniform(0.0, 300.0, 3)).reshape(-1, 15, 3))
    return np.concatenate(out)


def test_generated_covers_real_panoptic(generated):
    real, valid = _real_poses()
    gen = pose_metrics(generated)
    rm = pose_metrics(real, valid)
    report = []
    for name, g in gen.items():
        r = rm[name][np.isfinite(rm[name])]
        assert r.size >= 6, name
        # 0.5 / 99.5 % quantiles, not min / max: a real value must lie inside the bulk of
        # the generated distribution, not be reached by a handful of extreme draws
        lo, hi = np.percentile(g, [0.5, 99.5])
        report.append(f'{name}: real [{r.min():.0f}, {r.max():.0f}] gen [{lo:.0f}, {hi:.0f}]')
        assert lo <= r.min() and r.max() <= hi, '\n'.join(report)


def test_posture_variety(generated):
    root_z = generated[:, 2, 2]
    wrist_over_head = (generated[:, [5, 11], 2] > generated[:, [1], 2]).any(-1)
    m = pose_metrics(generated)
    assert 0.03 < (root_z < 650).mean() < 0.4       # crouching / sitting / squatting
    assert 0.3 < ((root_z > 800) & (m['torso_inclination'] < 20)).mean()  # upright
    assert 0.02 < wrist_over_head.mean() < 0.4       # arms raised
    assert 0.05 < (m['elbow_flexion'] > 80).mean()   # holding / gesturing
    assert np.percentile(m['knee_flexion'], 99) > 110


def test_shapes_bones_and_symmetry():
    people = _seq(0, n=4, out=2)
    J = people.joints(np.linspace(0, 20, 50))
    assert J.shape == (50, 6, 15, 3) and J.dtype == np.float64
    assert people.inside.tolist() == [True] * 4 + [False] * 2
    assert people.bone_lengths.shape == (6, 14)
    bones = np.linalg.norm(J[:, :, LIMB_A] - J[:, :, LIMB_B], axis=-1)
    np.testing.assert_allclose(bones, np.broadcast_to(people.bone_lengths, bones.shape),
                               rtol=1e-9)  # rigid bones at every frame
    lo, hi = BODY_DEFAULTS['height_range']
    assert ((people.heights >= lo) & (people.heights <= hi)).all()
    # left/right lengths agree to a few percent (small asymmetry only)
    bl = _seq(1, n=10).bone_lengths
    for left, right in ((2, 5), (3, 6), (4, 7), (8, 9), (10, 12), (11, 13)):
        ratio = bl[:, left] / bl[:, right]
        assert (np.abs(ratio - 1) < 0.06).all() and ratio.std() > 0
    assert np.isfinite(_seq(2).joints(3.0)).all() and _seq(2).joints(3.0).shape == (1, 5, 15, 3)


def test_smooth_motion():
    t = np.arange(0, 40.0, 1 / FPS)
    vmax = vroot = amax = 0.0
    for seed in range(12):
        J = _seq(seed, n=3, out=1).joints(t)
        v = np.linalg.norm(np.diff(J, axis=0), axis=-1) * FPS / 1000.0      # m/s
        a = np.linalg.norm(np.diff(J, 2, axis=0), axis=-1) * FPS ** 2 / 1000.0  # m/s^2
        vmax, vroot, amax = max(vmax, v.max()), max(vroot, v[..., 2].max()), max(amax, a.max())
        # horizontal root speed within the configured cap (1.5 m/s)
        vh = np.linalg.norm(np.diff(J[:, :, 2, :2], axis=0), axis=-1) * FPS / 1000.0
        assert vh.max() <= BODY_DEFAULTS['speed_max'] + 0.02
    assert vroot <= 2.0                 # root, including sitting down / standing up
    assert vmax <= 6.0                  # fastest joint (wrists while gesturing and turning)
    # a 100 mm jump between frames would show up as 90 m/s^2; clamped joint limits cost
    # a bounded kink only
    assert amax <= 40.0


def test_people_walk_at_realistic_speeds():
    # one person in a large space gets a large wander radius and can walk freely
    t = np.arange(0, 120.0, 0.1)
    speeds = []
    for seed in range(10):
        J = _seq(seed, n=1).joints(t)
        speeds.append(np.linalg.norm(np.diff(J[:, 0, 2, :2], axis=0), axis=-1) / 100.0)
    s = np.concatenate(speeds)
    assert s.max() > 0.8 and (s < 0.05).mean() > 0.05  # walks and also stands still


def test_closed_forms_match_numerical_integration():
    rng = np.random.default_rng(0)
    # tau(t) is the exact integral of the activity g(t)
    warp = ActivityWarp(rng, 4, (-0.5, 0.5), (8.0, 40.0))
    t = np.linspace(0.0, 200.0, 200001)
    g, tau = warp(t)
    trap = np.concatenate([np.zeros((1, 4)), np.cumsum((g[1:] + g[:-1]) / 2, 0) * (t[1] - t[0])])
    np.testing.assert_allclose(tau, trap, atol=1e-6)
    assert g.min() >= 0 and g.max() <= 1 + 1e-6
    # the arc length (which drives the gait phase) equals the length of the drawn path,
    # also over several periods of the table
    paths = WanderPaths(rng, np.array([300.0, 900.0, 1500.0]), np.array([900, 1200, 1500.0]),
                        np.deg2rad(120.0))
    taus = np.linspace(0.0, 3.5 * paths.period.max(), 100001)[:, None].repeat(3, 1)
    pos = paths.position(taus)
    walked = np.concatenate([np.zeros((1, 3)),
                             np.cumsum(np.linalg.norm(np.diff(pos, axis=0), axis=-1), 0)])
    np.testing.assert_allclose(paths.arclength(taus), walked, rtol=1e-4, atol=1e-3)
    speed = np.linalg.norm(paths.derivative(taus), axis=-1)
    assert speed.min() > 0 and (speed.max(0) <= np.array([900, 1200, 1500.0]) + 1e-6).all()
    assert (np.linalg.norm(pos, axis=-1).max(0) <= np.array([300.0, 900.0, 1500.0])).all()


def test_deterministic_and_random_access():
    t = np.arange(0, 200) / FPS
    a, b = _seq(7, out=1).joints(t), _seq(7, out=1).joints(t)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - _seq(8, out=1).joints(t)).max() > 100.0
    people = _seq(7, out=1)
    for k in (0, 1, 57, 199):
        np.testing.assert_allclose(people.joints(np.array([t[k]]))[0], a[k], atol=1e-6)
    # far in the sequence (beyond the arc-length table period), still consistent
    far = np.array([1234.5, 5000.0])
    np.testing.assert_allclose(people.joints(far)[1], people.joints(np.array([5000.0]))[0],
                               atol=1e-6)


def test_inside_outside_and_separation():
    c, s = np.array(CENTER[:2]), np.array(SIZE[:2])
    margin = BODY_DEFAULTS['body_radius']
    o_lo, o_hi = BODY_DEFAULTS['outside_range']
    t = np.arange(0, 60.0, 0.25)
    for seed in range(20):
        people = _seq(seed, n=int(2 + seed % 9), out=int(seed % 3))
        root = people.joints(t)[:, :, 2, :2]                        # (T, P, 2)
        ins = people.inside
        assert (np.abs(root[:, ins] - c) <= s / 2 - margin + 1e-6).all()
        # bystanders: 0.3 .. 2 m beyond the edge of the box
        gap = np.linalg.norm(np.maximum(np.abs(root[:, ~ins] - c) - s / 2, 0), axis=-1)
        assert ((gap >= o_lo - 1e-6) & (gap <= o_hi + 1e-6)).all()
        d = np.linalg.norm(root[:, :, None] - root[:, None], axis=-1)
        d[:, np.arange(len(ins)), np.arange(len(ins))] = np.inf
        assert d.min() >= 400.0  # by construction >= 2 body radii (600 mm)


def test_joint_limits_and_floor(generated):
    m = pose_metrics(generated)
    assert np.nanmin(m['elbow_flexion']) >= -1e-6
    assert np.nanmax(m['elbow_flexion']) <= BODY_DEFAULTS['elbow_max_deg'] + 1e-6
    assert np.nanmin(m['knee_flexion']) >= -1e-6
    assert np.nanmax(m['knee_flexion']) <= BODY_DEFAULTS['knee_max_deg'] + 1e-6
    # no chest through the thighs (limited to 30 deg in the sagittal plane; side lean and
    # hip abduction move the 3D angle by a few degrees)
    assert m['torso_thigh'].min() >= 25.0
    lower_ankle = generated[:, [8, 14], 2].min(-1)
    assert ((lower_ankle >= 50) & (lower_ankle <= 150)).all()  # feet on the floor
    assert generated[..., 2].min() > 0  # nothing below the floor
    # the nose sits in front of and above the neck in the torso frame (up = mid-hip ->
    # neck, forward = (left - right shoulder) x up)
    up = generated[:, 0] - generated[:, 2]
    fwd = np.cross(generated[:, 3] - generated[:, 9], up)
    head = generated[:, 1] - generated[:, 0]
    assert (head * fwd).sum(-1).min() > 0 and (head * up).sum(-1).min() >= -1e-6


def test_knobs():
    with pytest.raises(ValueError, match='not_a_knob'):
        _seq(0, not_a_knob=1.0)
    with pytest.raises(ValueError, match='elbow'):
        _seq(0, bone_ratios=dict(elbow=0.2))
    with pytest.raises(ValueError, match='walk_speed'):
        _seq(0, walk_speed=(1.5, 0.5))
    # overrides take effect: no crouching, tall people, partial bone dict merged
    people = _seq(3, n=6, crouch_prob=0.0, height_range=(1900.0, 1950.0),
                  bone_ratios=dict(torso=0.3))
    assert (people.heights >= 1900).all()
    assert people.joints(np.arange(0, 120.0, 0.5))[:, :, 2, 2].min() > 700
    with pytest.raises(ValueError, match='cannot place'):
        _seq(0, n=30, size=(2000.0, 2000.0, 2000.0))


def test_fast():
    people = _seq(0, n=10)
    t = np.array([1.25])
    people.joints(t)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        people.joints(t)
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 5e-3
