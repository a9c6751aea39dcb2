"""Camera structure, projection and calibration loaders (against OpenCV and real files)."""
import json

import cv2
import numpy as np
import pytest
import torch

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.io import (CalibrationError, load_cameras, load_opencv_yaml,
                              load_panoptic_calibration, load_shelf_campus_calibration,
                              panoptic_points_to_world, save_opencv_yaml)

from ..conftest import fixture_path

PANOPTIC_SEQ = ('panoptic', '160906_band1')


def _panoptic_bodies_cm():
    d = fixture_path(*PANOPTIC_SEQ, 'hdPose3d_stage1_coco19')
    pts = []
    for f in sorted(d.glob('body3DScene_*.json')):
        for b in json.load(open(f))['bodies']:
            pts.append(np.array(b['joints19']).reshape(19, 4)[:, :3])
    return np.concatenate(pts)


def test_panoptic_projection_matches_cv2(panoptic_rig):
    calib = json.load(open(fixture_path(*PANOPTIC_SEQ, 'calibration_160906_band1.json')))
    by_name = {c['name']: c for c in calib['cameras']}
    pts_cm = _panoptic_bodies_cm()
    world = torch.from_numpy(panoptic_points_to_world(pts_cm))
    uv = panoptic_rig.double().project(world)  # (C, N, 2)
    for c, name in enumerate(panoptic_rig.names):
        cam = by_name[name]
        ref, _ = cv2.projectPoints(pts_cm, cv2.Rodrigues(np.array(cam['R']))[0],
                                   np.array(cam['t'], np.float64), np.array(cam['K']),
                                   np.array(cam['distCoef'], np.float64))
        err = np.abs(uv[c].numpy() - ref[:, 0]).max()
        assert err < 1e-3, (name, err)
    # float32 stays well within a pixel fraction
    uv32 = panoptic_rig.project(world.float())
    assert (uv32.double() - uv).abs().max() < 2e-2


def test_panoptic_world_is_z_up_mm(panoptic_rig):
    world = panoptic_points_to_world(_panoptic_bodies_cm()).reshape(-1, 19, 3)
    neck, ankles = world[:, 0], world[:, [8, 14]]
    assert (neck[:, 2] > ankles[..., 2].max(1) + 500).all()  # people stand/sit up in z
    centers = panoptic_rig.centers
    assert (centers[:, 2] > 1000).all() and (centers[:, 2] < 5000).all()  # mm, above floor


def test_shelf_campus_projection_matches_annotations():
    scipy_io = pytest.importorskip('scipy.io')
    for name, size in (('shelf', (1032, 776)), ('campus', (360, 288))):
        cams = load_shelf_campus_calibration(
            str(fixture_path(name, f'calibration_{name}.json')), size)
        # T is the camera centre: cameras sit outside the scene, 1-2 m up.
        assert (cams.centers[:, 2] > 900).all()
        gt = scipy_io.loadmat(str(fixture_path(name, 'actorsGT.mat')))
        a3, a2 = gt['actor3D'][0], gt['actor2D'][0]
        errs = []
        for actor in range(len(a3)):
            for f in range(a3[actor].shape[0]):
                p3 = a3[actor][f, 0]
                if p3.size == 0:
                    continue
                uv = cams.double().project(torch.from_numpy(p3 * 1000.0))
                for c in range(cams.num_views):
                    p2 = a2[actor][f, 0][0, c] if a2[actor][f, 0].size else None
                    if p2 is not None and p2.size:
                        errs.append(np.abs(uv[c].numpy() - p2).mean())
        if errs:  # the 2D annotations are hand clicks: a few pixels of agreement
            assert np.median(errs) < 10.0, (name, np.median(errs))


def test_opencv_yaml_roundtrip(tmp_path, ring_rig):
    path = str(tmp_path / 'rig.yaml')
    save_opencv_yaml(ring_rig, path)
    back = load_cameras(path)
    for f in ('K', 'R', 't', 'dist', 'image_size'):
        assert torch.allclose(getattr(back, f), getattr(ring_rig, f), atol=1e-4)
    assert back.names == ring_rig.names


def test_opencv_yaml_rvec_units_and_errors(tmp_path):
    R = cv2.Rodrigues(np.array([0.1, -0.2, 0.3]))[0]
    text = f"""%YAML:1.0
---
units: m
cameras:
   - name: left
     image_width: 640
     image_height: 480
     camera_matrix: !!opencv-matrix
        rows: 3
        cols: 3
        dt: d
        data: [ 500., 0., 320., 0., 500., 240., 0., 0., 1. ]
     rvec: [ 0.1, -0.2, 0.3 ]
     translation: [ 0.1, 0.2, 3.0 ]
"""
    p = tmp_path / 'cams.yml'
    p.write_text(text)
    cams = load_opencv_yaml(str(p))
    assert np.allclose(cams.R[0].numpy(), R, atol=1e-6)
    assert np.allclose(cams.t[0].numpy(), [100, 200, 3000])  # m -> mm
    assert cams.dist.abs().sum() == 0
    p.write_text(text.replace('     translation: [ 0.1, 0.2, 3.0 ]\n', ''))
    with pytest.raises(CalibrationError, match=r'cams\.yml.*left.*translation'):
        load_opencv_yaml(str(p))


def test_panoptic_missing_camera_is_named(tmp_path):
    path = fixture_path(*PANOPTIC_SEQ, 'calibration_160906_band1.json')
    with pytest.raises(CalibrationError, match='99_99'):
        load_panoptic_calibration(str(path), ['00_03', '99_99'])


def test_batched_projection_shapes_and_gradients(ring_rig):
    B, N = 3, 7
    pts = (torch.randn(B, N, 3) * 500 + torch.tensor([0, -500, 900.])).requires_grad_()
    uv = ring_rig.project(pts)
    assert uv.shape == (B, ring_rig.num_views, N, 2)
    batched = ring_rig.expand(B)
    assert torch.allclose(batched.project(pts), uv, atol=1e-3)
    # per-view points: each view sees its own set
    per_view = pts.detach().unsqueeze(1).expand(B, ring_rig.num_views, N, 3)
    assert torch.allclose(ring_rig.project(per_view, per_view=True), uv, atol=1e-3)
    uv.sum().backward()
    assert pts.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='points'):
        ring_rig.project(torch.zeros(4, 2))


def test_behind_camera_and_distortion_fold_back_are_invalid():
    K = torch.tensor([[[1000., 0, 500], [0, 1000, 400], [0, 0, 1]]])
    cams = MultiViewCameras(K, torch.eye(3)[None], torch.zeros(1, 3),
                            torch.tensor([[-0.3, 0.0, 0, 0, 0]]), torch.tensor([[1000., 800]]))
    pts = torch.tensor([[0., 0, 1000], [0, 0, -1000], [5000, 0, 1000]])
    uv, valid = cams.project(pts, return_valid=True)
    assert valid[0].tolist() == [True, False, False]  # centre / behind / folded back
    assert not cams.in_image(uv)[0, 2]  # the folded-back point is not hidden inside


def test_undistort_inverts_distort(panoptic_rig):
    xy = torch.rand(5, 50, 2, dtype=torch.float64) * 0.8 - 0.4
    cams = panoptic_rig.double()
    xyd, _ = cams.distort(xy)
    Kb = cams.K.unsqueeze(-3)
    uv = torch.stack([Kb[..., 0, 0] * xyd[..., 0] + Kb[..., 0, 2],
                      Kb[..., 1, 1] * xyd[..., 1] + Kb[..., 1, 2]], -1)
    assert torch.allclose(cams.undistort_points(uv), xy, atol=1e-8)


def test_cache_key_changes_with_content(ring_rig):
    k = ring_rig.cache_key()
    assert ring_rig.select_views([0, 1, 2, 3, 4]).cache_key() == k
    moved = MultiViewCameras(ring_rig.K, ring_rig.R, ring_rig.t + 1, ring_rig.dist,
                             ring_rig.image_size)
    assert moved.cache_key() != k


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match='`R`'):
        MultiViewCameras(torch.eye(3)[None], torch.eye(3), torch.zeros(1, 3),
                         image_size=torch.ones(1, 2))


def test_double_precision_is_kept(ring_rig):
    cams = ring_rig.double()
    assert all(getattr(cams, f).dtype == torch.float64 for f in cams._FIELDS)
    pts = torch.tensor([[[100.0, 200.0, 900.0]]], dtype=torch.float64)
    assert cams.project(pts).dtype == torch.float64
    assert ring_rig.dtype == torch.float32  # the source rig is untouched


# ------------------------------------------- OpenCV's 8 / 12 / 14-coefficient models
WIDE = {  # realistic values of a rational (+ thin prism, + tilt) calibration
    8: [0.21, -0.05, 1e-3, -5e-4, 0.012, 0.16, -0.02, 0.004],
    12: [0.21, -0.05, 1e-3, -5e-4, 0.012, 0.16, -0.02, 0.004, 2e-3, -1e-3, -1.5e-3, 6e-4],
    14: [0.21, -0.05, 1e-3, -5e-4, 0.012, 0.16, -0.02, 0.004, 2e-3, -1e-3, -1.5e-3, 6e-4,
         0.02, -0.015],
}


def _wide_rig(width, views=2):
    K = np.array([[1100.0, 0, 640], [0, 1080.0, 360], [0, 0, 1]])
    Rs = [cv2.Rodrigues(np.array([0.1 * c, -0.2, 0.05]))[0] for c in range(views)]
    t = [[100.0 * c, -50.0, 300.0] for c in range(views)]
    dist = [np.array(WIDE[width]) * (1 + 0.1 * c) for c in range(views)]
    return MultiViewCameras(np.stack([K] * views), np.stack(Rs), np.array(t),
                            np.stack(dist), np.array([[1280.0, 720]] * views),
                            names=[f'c{c}' for c in range(views)]).double()


def _points_in_front(cams, c, n=400, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.uniform(1000, 5000, n)
    xc = np.stack([rng.uniform(-0.6, 0.6, n) * z, rng.uniform(-0.4, 0.4, n) * z, z], 1)
    R, t = cams.R[c].numpy(), cams.t[c].numpy()
    return (xc - t) @ R  # world: R^T (x_cam - t)


@pytest.mark.parametrize('width', [8, 12, 14])
def test_wide_distortion_models_match_cv2(width):
    cams = _wide_rig(width)
    assert cams.num_dist_coeffs == width
    for c in range(cams.num_views):
        X = _points_in_front(cams, c, seed=c)
        uv, valid = cams.select_views([c]).project(torch.from_numpy(X), return_valid=True)
        assert valid.all()
        ref, _ = cv2.projectPoints(X, cv2.Rodrigues(cams.R[c].numpy())[0],
                                   cams.t[c].numpy(), cams.K[c].numpy(),
                                   cams.dist[c].numpy())
        err = np.abs(uv[0].numpy() - ref[:, 0]).max()
        assert err < 1e-3, (width, c, err)


@pytest.mark.parametrize('width', [5, 8, 12, 14])
def test_undistort_inverts_every_distortion_model(width):
    cams = _wide_rig(width) if width > 5 else MultiViewCameras(
        _wide_rig(8).K, _wide_rig(8).R, _wide_rig(8).t, torch.tensor(
            [[-0.25, 0.08, 1e-3, -5e-4, -0.01]] * 2, dtype=torch.float64),
        _wide_rig(8).image_size)
    xy = torch.rand(2, 300, 2, dtype=torch.float64) * torch.tensor([1.2, 0.8]) - torch.tensor(
        [0.6, 0.4])
    xyd, valid = cams.distort(xy)
    assert valid.all()
    Kb = cams.K.unsqueeze(-3)
    uv = torch.stack([Kb[..., 0, 0] * xyd[..., 0] + Kb[..., 0, 2],
                      Kb[..., 1, 1] * xyd[..., 1] + Kb[..., 1, 2]], -1)
    err = (cams.undistort_points(uv) - xy).abs().max().item()
    assert err < 1e-6, (width, err)
    # and like OpenCV's own undistortPoints
    ref = cv2.undistortPoints(
        uv[0].numpy()[:, None], cams.K[0].numpy(), cams.dist[0].numpy(),
        criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12))[:, 0]
    assert np.abs(ref - xy[0].numpy()).max() < 1e-6


def test_zero_padded_wide_model_is_the_5_coefficient_one_exactly(ring_rig):
    cams = ring_rig.double()
    wide = MultiViewCameras(cams.K, cams.R, cams.t, torch.nn.functional.pad(cams.dist, (0, 9)),
                            cams.image_size)
    assert cams.num_dist_coeffs == 5 and wide.num_dist_coeffs == 14
    pts = torch.randn(2, 100, 3, dtype=torch.float64) * 1500 + torch.tensor([0, -500, 900.0])
    uv5, v5 = cams.project(pts, return_valid=True)
    uv14, v14 = wide.project(pts, return_valid=True)
    assert torch.equal(v5, v14)
    assert torch.equal(uv5[v5], uv14[v14])
    assert torch.allclose(cams.undistort_points(uv5), wide.undistort_points(uv5), atol=1e-12)
    # 4 coefficients (k3 omitted) are stored as 5
    four = MultiViewCameras(cams.K, cams.R, cams.t, cams.dist[:, :4], cams.image_size)
    assert four.num_dist_coeffs == 5 and (four.dist[:, 4] == 0).all()
    with pytest.raises(ValueError, match='`dist`.*7 distortion coefficients'):
        MultiViewCameras(cams.K, cams.R, cams.t, torch.zeros(5, 7), cams.image_size)


def test_rational_fold_back_limit():
    """The limit of the rational model is where r * N(r²)/D(r²) stops increasing."""
    k = [-0.6, 0.1, 0, 0, 0.0, 0.4, 0.0, 0.0]  # folds back inside the plane
    cams = MultiViewCameras(torch.eye(3)[None].double(), torch.eye(3)[None].double(),
                            torch.zeros(1, 3).double(), torch.tensor([k]).double(),
                            torch.tensor([[1000.0, 800]]).double())
    r = torch.linspace(1e-3, 3, 30001, dtype=torch.float64)
    xy = torch.stack([r, torch.zeros_like(r)], -1)[None]
    xd, valid = cams.distort(xy)
    N = 1 + k[0] * r ** 2 + k[1] * r ** 4
    D = 1 + k[5] * r ** 2
    rd = r * N / D
    fold = int(torch.nonzero(rd[1:] < rd[:-1])[0])  # first decrease
    assert valid[0, :fold - 1].all() and not valid[0, fold + 1:].any()
    assert torch.allclose(xd[0, valid[0], 0], rd[valid[0]])
    # a pole of the denominator before any fold: the limit stops there
    pole = MultiViewCameras(cams.K, cams.R, cams.t, torch.tensor([[0, 0, 0, 0, 0, -0.5, 0,
                                                                  0.0]]).double(),
                            cams.image_size)
    _, valid = pole.distort(torch.tensor([[[1.40, 0.0], [1.42, 0.0]]], dtype=torch.float64))
    assert valid[0].tolist() == [True, False]  # D = 1 - 0.5 r² = 0 at r² = 2


def test_wide_rig_structure_operations():
    wide, plain = _wide_rig(14, 3), _wide_rig(8, 3)
    sub = wide.select_views([2, 0])
    assert sub.names == ['c2', 'c0'] and torch.equal(sub.dist, wide.dist[[2, 0]])
    back = MultiViewCameras.from_dict(wide.to_dict())  # numpy -> float32, as any array
    assert torch.equal(back.dist, wide.dist.float())
    assert back.cache_key() == wide.to(torch.float32).cache_key()
    five = MultiViewCameras(plain.K, plain.R, plain.t, plain.dist[:, :5], plain.image_size)
    both = MultiViewCameras.stack([five, wide])  # widths 5 and 14: padded to 14
    assert both.dist.shape == (2, 3, 14)
    assert torch.equal(both.dist[0, :, :5], five.dist) and not both.dist[0, :, 5:].any()
    pts = torch.randn(2, 20, 3, dtype=torch.float64) * 300 + torch.tensor([0, 0, 2000.0])
    assert torch.allclose(both.project(pts)[1], wide.project(pts[1]), atol=1e-9)
    assert torch.allclose(both.project(pts)[0], five.project(pts[0]), atol=1e-9)


def test_triangulation_undistorts_wide_models():
    from selfpose3d_mm.geometry import triangulate_points
    cams = _wide_rig(14, 3)
    X = torch.from_numpy(_points_in_front(cams, 0, n=50))
    uv, valid = cams.project(X, return_valid=True)
    assert valid.all()
    assert (triangulate_points(cams, uv) - X).abs().max() < 1e-4
