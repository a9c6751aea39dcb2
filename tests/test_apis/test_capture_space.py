"""Capture-space estimation: from the cameras alone (floor covered by >= 2 cameras within
their working range) and from triangulated pseudo poses, on synthetic rings around a
known space and on the real Shelf calibration."""

import numpy as np
import pytest
import torch

from selfpose3d_mm.apis.capture_space import (estimate_capture_space, floor_coverage,
                                              format_space_config, working_distances)
from selfpose3d_mm.datasets.synthetic.body import PeopleSequence
from selfpose3d_mm.datasets.synthetic.rig import make_ring_rig
from selfpose3d_mm.io import load_shelf_campus_calibration, save_pseudo_labels, save_rig
from tests.conftest import fixture_path, load_tool

SPACE_CENTER, SPACE_SIZE = (500.0, -300.0, 800.0), (6000.0, 5000.0, 2000.0)


def _box(est):
    c, s = np.array(est['space_center']), np.array(est['space_size'])
    return c - s / 2, c + s / 2


def _contains_xy(lo, hi, pts):
    pts = np.asarray(pts).reshape(-1, pts.shape[-1])[:, :2]
    return bool(((pts >= lo[:2]) & (pts <= hi[:2])).all())


def write_pseudo_labels(path, cams, joints, frames):
    """Project (T, P, 15, 3) joints into the rig: a Panoptic-15 pseudo-label file with
    score 0.9 on every joint inside the image (the contract of selfpose3d_mm/io/pseudo_labels.py)."""
    T, P = joints.shape[:2]
    uv, valid = cams.double().project(torch.from_numpy(joints.reshape(1, -1, 3)),
                                      return_valid=True)
    ok = (valid & cams.double().in_image(uv))[0].numpy().reshape(-1, T, P, 15)
    uv = uv[0].numpy().reshape(-1, T, P, 15, 2)
    out = {}
    for t, f in enumerate(frames):
        entries = []
        for c in range(cams.num_views):
            keep = ok[c, t].sum(-1) >= 8  # people (mostly) in the image
            kp = np.concatenate([uv[c, t], 0.9 * ok[c, t][..., None]], -1)[keep]
            kp[kp[..., 2] == 0] = 0
            xy = [k[k[:, 2] > 0, :2] for k in kp]
            entries.append(dict(bboxes=[[*a.min(0), *a.max(0)] for a in xy],
                                bbox_scores=[0.9] * len(xy), keypoints=kp.tolist()))
        out[f'{f:08d}'] = entries
    save_pseudo_labels(str(path), dict(skeleton='panoptic15', views=list(cams.names),
                                       models=dict(detector='projection'), frames=out))


@pytest.fixture(scope='module')
def ring():
    return make_ring_rig(np.random.default_rng(4), SPACE_CENTER, SPACE_SIZE, num_views=5)


def test_camera_only_estimate_contains_the_space(ring):
    est = estimate_capture_space(ring)
    assert est['method'] == 'cameras'
    lo, hi = _box(est)
    t_lo = np.array(SPACE_CENTER) - np.array(SPACE_SIZE) / 2
    t_hi = np.array(SPACE_CENTER) + np.array(SPACE_SIZE) / 2
    assert (lo[:2] <= t_lo[:2]).all() and (hi[:2] >= t_hi[:2]).all(), (lo, hi)
    area = est['space_size'][0] * est['space_size'][1] / (SPACE_SIZE[0] * SPACE_SIZE[1])
    # a ring of studio cameras sees well beyond the space it frames (its far fields
    # overlap): within the working range the box stays below 4x the space (2-3.5x over
    # the synthetic rings); without it the far fields give 5-10x
    assert 1.0 < area < 4.0, area
    far = estimate_capture_space(ring, working_range=None, max_distance=20000.0)
    assert far['space_size'][0] * far['space_size'][1] > 1.5 * np.prod(est['space_size'][:2])
    # VoxelPose's z: a 2 m person from 200 mm below the floor; sizes are whole voxels
    assert est['space_center'][2] == 800.0 and est['space_size'][2] == 2000.0
    assert all(s % 100.0 == 0 for s in est['space_size'])
    # min_views is honoured: every covered point is seen by >= 3 cameras
    cov = floor_coverage(ring, min_views=3, grid_step=250.0)
    assert cov['counts'][cov['covered']].min() >= 3
    assert cov['area_m2'] < floor_coverage(ring, grid_step=250.0)['area_m2']


def test_working_distance_is_the_distance_to_the_aim_point(ring):
    d = working_distances(ring, working_range=1.0)
    # the ring's cameras aim within ~0.5 m of the space centre at 900 mm height
    aim = torch.tensor([SPACE_CENTER[0], SPACE_CENTER[1], 900.0], dtype=torch.float64)
    true = (ring.centers.double() - aim).norm(dim=-1).numpy()
    assert np.allclose(d, true, rtol=0.15), (d, true)
    parallel = ring.select_views([0, 0, 0])  # no convergence point
    assert np.allclose(working_distances(parallel), 15000.0)


def test_pseudo_poses_tighten_the_estimate(tmp_path, ring):
    # people wander in a 2.6 x 2 m corner of the space
    sub_c, sub_s = (1800.0, -1400.0, 800.0), (2600.0, 2000.0, 2000.0)
    people = PeopleSequence(np.random.default_rng(1), 3, sub_c, sub_s)
    frames = list(range(0, 60, 5))
    joints = people.joints(np.array(frames) / 10.0)  # (T, 3, 15, 3)
    path = tmp_path / 'pseudo.json'
    write_pseudo_labels(path, ring, joints, frames)
    cam_only = estimate_capture_space(ring)
    est = estimate_capture_space(ring, str(path))
    assert est['method'] == 'cameras+poses'
    assert est['details']['num_people'] >= 2 * len(frames)
    lo, hi = _box(est)
    roots = joints[:, :, 2]
    assert _contains_xy(lo, hi, roots)
    # roots + 1 m margin, much tighter than the cameras' region
    assert np.prod(est['space_size'][:2]) < 0.5 * np.prod(cam_only['space_size'][:2])
    span = roots[..., :2].max((0, 1)) - roots[..., :2].min((0, 1))
    assert (np.array(est['space_size'][:2]) <= span + 2000.0 + 400.0).all()
    # the triangulated ankles sit on the floor of the synthetic world
    assert abs(est['details']['floor_z_poses']) < 200.0
    # too few people: the camera-only box, with a note
    few = estimate_capture_space(ring, str(path), frames=['00000000'], min_people=10)
    assert few['method'] == 'cameras' and 'note' in few['details']
    assert few['space_size'] == cam_only['space_size']


def test_shelf_estimate_contains_the_shelf_gt():
    sio = pytest.importorskip('scipy.io')
    cams = load_shelf_campus_calibration(
        str(fixture_path('shelf', 'calibration_shelf.json')), (1032, 776))
    gt = sio.loadmat(str(fixture_path('shelf', 'actorsGT.mat')))['actor3D'][0]
    poses = np.concatenate([a[f, 0] * 1000.0 for a in gt for f in range(a.shape[0])
                            if a[f, 0].size])  # (N*14, 3) mm
    est = estimate_capture_space(cams)
    lo, hi = _box(est)
    assert _contains_xy(lo, hi, poses)
    assert (poses[:, 2] >= lo[2]).all() and (poses[:, 2] <= hi[2]).all()
    # much tighter than VoxelPose's hand-set 8 x 8 m Shelf space
    assert np.prod(est['space_size'][:2]) < 0.5 * 8000.0 * 8000.0


def test_config_lines_and_tool(capsys, ring, tmp_path):
    est = estimate_capture_space(ring)
    scope = {}
    exec(format_space_config(est), scope)  # the printed lines are valid Python
    assert scope['space_center'] == pytest.approx(est['space_center'])
    assert scope['space_size'] == pytest.approx(est['space_size'])
    save_rig(str(tmp_path / 'rig.json'), ring)
    tool = load_tool('estimate_space')
    assert tool.main([str(tmp_path / 'rig.json')]) == 0
    out = capsys.readouterr().out
    assert format_space_config(est) in out
    with pytest.raises(ValueError, match='unknown knob'):
        estimate_capture_space(ring, min_view=3)
