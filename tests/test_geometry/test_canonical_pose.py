"""Canonical 3D poses (MCSS's regression target and pose distance): invariant to where the
person stands and which way they face, facing +y with the left side towards -x, heights
kept; the scale-free pose distance."""
import math

import numpy as np
import pytest
import torch

from selfpose3d_mm.geometry.canonical_pose import (canonical_pose_distance,
                                                   canonicalize_poses, facing_yaw,
                                                   unit_bone_scale, yaw_rotation)
from selfpose3d_mm.skeleton import PANOPTIC15_LIMBS, PANOPTIC15_NAMES

J = len(PANOPTIC15_NAMES)
IDX = {n: i for i, n in enumerate(PANOPTIC15_NAMES)}


def _standing(facing_yaw_rad=0.0, at=(0.0, 0.0, 0.0)):
    """A standing person (mm, z up) facing +y, turned by ``facing_yaw_rad`` and moved."""
    x = np.zeros((J, 3))
    side = {'shoulder': 180, 'elbow': 200, 'wrist': 210, 'hip': 100, 'knee': 110,
            'ankle': 120}
    height = {'shoulder': 1450, 'elbow': 1150, 'wrist': 900, 'hip': 950, 'knee': 500,
              'ankle': 80}
    for part, w in side.items():
        x[IDX['left_' + part]] = (-w, 0, height[part])   # facing +y: the left side is -x
        x[IDX['right_' + part]] = (w, 0, height[part])
    x[IDX['neck']] = (0, 0, 1500)
    x[IDX['nose']] = (0, 80, 1650)
    x[IDX['mid_hip']] = (0, 0, 950)
    x[IDX['left_wrist'], 1] = 250  # a hand forward: not symmetric
    R = yaw_rotation(torch.tensor(facing_yaw_rad, dtype=torch.float64)).numpy()
    return torch.from_numpy(x @ R.T + np.asarray(at))


def test_invariant_to_yaw_and_translation():
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal(scale=300, size=(6, J, 3)))
    ref = canonicalize_poses(X)
    yaw = torch.from_numpy(rng.uniform(-math.pi, math.pi, 6))
    t = torch.from_numpy(rng.normal(scale=2000, size=(6, 1, 3)))
    moved = torch.einsum('nij,nkj->nki', yaw_rotation(yaw), X) + t
    torch.testing.assert_close(canonicalize_poses(moved), ref, atol=1e-8, rtol=0)


def test_faces_plus_y_with_the_left_side_towards_minus_x():
    for yaw in (0.0, 0.7, -2.5, math.pi):
        c = canonicalize_poses(_standing(yaw, at=(1234.0, -567.0, 0.0)))
        torch.testing.assert_close(c, canonicalize_poses(_standing()), atol=1e-8, rtol=0)
        assert c[IDX['mid_hip']].abs().max() < 1e-9  # the root at the origin
        assert c[IDX['left_hip'], 0] < 0 < c[IDX['right_hip'], 0]
        assert c[IDX['nose'], 1] > 0  # the nose points forward: +y
        # heights are untouched (relative to the root)
        torch.testing.assert_close(c[:, 2], _standing()[:, 2] - 950.0)
    yaw, ok = facing_yaw(_standing(0.3))
    assert ok and abs(float(yaw) - (math.pi / 2 + 0.3)) < 1e-9


def test_scale_and_batch_shapes_and_gradient():
    X = torch.stack([_standing(0.1), _standing(1.0)]).view(1, 2, J, 3).requires_grad_()
    c = canonicalize_poses(X, scale=1e-3)
    assert c.shape == (1, 2, J, 3)
    assert abs(float(c[0, 0, IDX["neck"], 2].detach()) - 0.55) < 1e-9  # metres above the root
    c.sum().backward()
    assert torch.isfinite(X.grad).all()
    with pytest.raises(ValueError, match=r'\(\.\.\., J, 3\)'):
        canonicalize_poses(torch.zeros(15, 2))


def test_degenerate_across_vector_keeps_the_yaw():
    X = _standing(0.4, at=(10.0, 20.0, 0.0))
    for l, r in (('left_hip', 'right_hip'), ('left_shoulder', 'right_shoulder')):
        X[IDX[l]] = X[IDX[r]]
    c = canonicalize_poses(X)
    torch.testing.assert_close(c, X - X[IDX['mid_hip']])
    assert not bool(facing_yaw(X)[1])


def test_pose_distance_unit_bones_and_missing_joints():
    a = canonicalize_poses(torch.stack([_standing(), _standing(0.5)]))
    big = a * 1.3  # the same pose, a taller person
    d = canonical_pose_distance(a, big)
    assert float(d[0, 1]) > 50  # mm
    d_bone = canonical_pose_distance(a, big, limbs=PANOPTIC15_LIMBS)
    assert float(d_bone.abs().max()) < 1e-9  # scale-free: the same pose
    lengths = (unit_bone_scale(a, PANOPTIC15_LIMBS)[:, [i for i, _ in PANOPTIC15_LIMBS]]
               - unit_bone_scale(a, PANOPTIC15_LIMBS)[:, [j for _, j in PANOPTIC15_LIMBS]]
               ).norm(dim=-1)
    torch.testing.assert_close(lengths.mean(-1), torch.ones(2, dtype=lengths.dtype))
    b = a.clone()
    b[0, :3] = float('nan')
    b[0, 5] += torch.tensor([0.0, 0.0, 140.0], dtype=b.dtype)  # one joint moved 140 mm
    d = canonical_pose_distance(b)
    assert abs(float(d[0, 1]) - float(d[1, 0])) < 1e-9
    assert abs(float(canonical_pose_distance(b[:1], a[:1])[0, 0]) - 140.0 / 12) < 1e-9
    nothing = torch.full((1, J, 3), float('nan'), dtype=a.dtype)
    assert torch.isinf(canonical_pose_distance(nothing, a)).all()
