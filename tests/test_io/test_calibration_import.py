"""Importing other tools' calibrations (issue 15): a generic K + [R|t] JSON, EasyMocap
intri.yml + extri.yml, Pose2Sim / anipose TOML, Qualisys .qca.txt; the format guessed with
a reason; tools/convert_calibration.py end to end. Each format is checked by projecting
points through the imported rig and the rig it was made from (or, for the real Qualisys
file, by the geometry of its cameras and of the people they saw)."""
import glob
import itertools
import json
import warnings

import cv2
import numpy as np
import pytest
import torch

from selfpose3d_mm.geometry.triangulation import triangulate_points
from selfpose3d_mm.io import (CalibrationError, CalibrationImportWarning, guess_calibration,
                              load_cameras, load_easymocap, load_qualisys_calibration,
                              load_rig, load_toml_calibration, save_easymocap,
                              save_toml_calibration, world_axes)
from ..conftest import fixture_path, load_tool


def _max_px(a, b):
    """Max pixel difference of two rigs over points of an 8 x 8 x 2 m space that both see."""
    g = torch.Generator().manual_seed(0)
    pts = (torch.rand(1, 3000, 3, generator=g, dtype=torch.float64) - 0.5) * torch.tensor(
        [8000.0, 8000.0, 2000.0], dtype=torch.float64) + torch.tensor(
        [0.0, -500.0, 900.0], dtype=torch.float64)
    uv_a, va = a.double().project(pts, return_valid=True)
    uv_b, vb = b.double().project(pts, return_valid=True)
    m = va & vb & a.double().in_image(uv_a)
    assert m.sum() > 100
    return (uv_a - uv_b).abs().amax(-1)[m].max().item()


def _arrays(rig):
    d = {k: np.asarray(v, np.float64) for k, v in rig.to_dict().items() if k != 'names'}
    return d['K'], d['R'], d['t'], d['dist'], d['image_size']


# ---------------------------------------------------------------- generic K + [R|t] JSON
def _generic_docs(rig):
    """The same rig in three layouts and three spellings (metres, cm, and undeclared)."""
    K, R, t, dist, size = _arrays(rig)
    names = rig.names
    keyed = {n: dict(K=K[i].tolist(), RT=np.hstack([R[i], t[i, :, None] / 1000]).tolist(),
                     dist=dist[i].tolist(), imgSize=size[i].tolist())
             for i, n in enumerate(names)}
    listed = [dict(name=n, intrinsic=K[i].tolist(),
                   rvec=cv2.Rodrigues(R[i])[0].ravel().tolist(), tvec=(t[i] / 10).tolist(),
                   distortion=dist[i].tolist(), width=size[i, 0], height=size[i, 1])
              for i, n in enumerate(names)]
    under = dict(units='centimeters', cameras={
        n: dict(fx=K[i, 0, 0], fy=K[i, 1, 1], cx=K[i, 0, 2], cy=K[i, 1, 2],
                rotation=R[i].tolist(), center=(-R[i].T @ t[i] / 10).tolist(),
                D=dist[i].tolist(), resolution=size[i].tolist())
        for i, n in enumerate(names)})
    return keyed, listed, under


def test_generic_json_layouts_units_and_guess(tmp_path, ring_rig):
    keyed, listed, under = _generic_docs(ring_rig)
    for name, doc, kwargs in (('keyed', keyed, dict(units='m')),
                              ('listed', listed, dict(units='cm')),
                              ('under', under, {})):
        path = tmp_path / f'{name}.json'
        path.write_text(json.dumps(doc))
        fmt, why = guess_calibration(str(path))
        assert fmt == 'generic_json' and 'intrinsics' in why, (name, why)
        cams = load_cameras(str(path), **kwargs)
        assert cams.names == ring_rig.names
        assert _max_px(ring_rig, cams) < 1e-3, name
        assert torch.allclose(cams.centers, ring_rig.centers, atol=0.5)  # mm
    # the file: K + 3x4 [R|t] in metres, imgSize, no units: never Shelf/Campus,
    # no --image-size asked for; the units must be declared, and the message helps
    path = tmp_path / 'keyed.json'
    with pytest.raises(CalibrationError, match=r"units='m'.*median [0-9.]+ file units"):
        load_cameras(str(path))
    with pytest.raises(CalibrationError, match=r"says 'cm' but units='m'"):
        load_cameras(str(tmp_path / 'under.json'), units='m')
    # a 4 x 4 world->camera matrix, a top-level world_up and a size given by the caller
    K, R, t, dist, size = _arrays(ring_rig)
    A = world_axes('+y')  # X_internal = A X_file, so R_file = R A
    doc = dict(units='mm', world_up='+y', cameras={
        n: dict(K=K[i].tolist(), extrinsic=np.vstack(
            [np.hstack([R[i] @ A, t[i, :, None]]), [[0, 0, 0, 1]]]).tolist(),
            dist=dist[i].tolist()) for i, n in enumerate(ring_rig.names)})
    path.write_text(json.dumps(doc))
    assert guess_calibration(str(path))[0] == 'generic_json'
    with pytest.raises(CalibrationError, match='no image size.*--image-size'):
        load_cameras(str(path))
    assert _max_px(ring_rig, load_cameras(str(path), image_size=(1920, 1080))) < 1e-3


@pytest.mark.parametrize('change, match', [
    (lambda c: c.update(imgSize=c['imgSize'][::-1]),
     r'far from the centre of the 1080 x 1920.*\(H, W\)'),
    (lambda c: c.update(R=np.eye(3).tolist()), r"both `RT` and \['R'\]"),
    (lambda c: c.update(RT=c['RT'][:2]), r'`RT` has 8 values'),
    (lambda c: c.pop('K'), r'no intrinsics'),
    (lambda c: c.update(K=np.array(c['K']).T.tolist()), r'transposed'),
])
def test_generic_json_errors_name_camera_and_field(tmp_path, ring_rig, change, match):
    keyed = _generic_docs(ring_rig)[0]
    change(keyed['synth_01'])
    path = tmp_path / 'calib.json'
    path.write_text(json.dumps(keyed))
    with pytest.raises(CalibrationError, match=match) as info:
        load_cameras(str(path), 'generic_json', units='m')
    assert str(info.value).startswith(str(path)) and '`synth_01`' in str(info.value)


def test_generic_json_warns_about_ignored_fields(tmp_path, ring_rig):
    keyed = _generic_docs(ring_rig)[0]
    keyed['synth_00']['distortion_coefs'] = [0.1, 0, 0, 0, 0]  # a misspelled field
    path = tmp_path / 'calib.json'
    path.write_text(json.dumps(keyed))
    with pytest.warns(CalibrationImportWarning, match=r"`synth_00`.*\['distortion_coefs'\]"):
        load_cameras(str(path), units='m')


# ---------------------------------------------------------------- EasyMocap
_EASYMOCAP_INTRI = """%YAML:1.0
---
names:
   - "01"
   - "02"
K_01: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ 1200., 0., 960., 0., 1200., 540., 0., 0., 1. ]
dist_01: !!opencv-matrix
   rows: 1
   cols: 5
   dt: d
   data: [ -0.1, 0.01, 0., 0., 0. ]
K_02: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ 1100., 0., 950., 0., 1100., 530., 0., 0., 1. ]
D_02: !!opencv-matrix
   rows: 1
   cols: 4
   dt: d
   data: [ -0.05, 0., 0.001, 0. ]
"""
_EASYMOCAP_EXTRI = """%YAML:1.0
---
names:
   - "01"
   - "02"
R_01: !!opencv-matrix
   rows: 3
   cols: 1
   dt: d
   data: [ 1.9, 0.2, -0.3 ]
T_01: !!opencv-matrix
   rows: 3
   cols: 1
   dt: d
   data: [ 0.1, 1.2, 4.0 ]
R_02: !!opencv-matrix
   rows: 3
   cols: 1
   dt: d
   data: [ 1.5, -0.9, 0.8 ]
T_02: !!opencv-matrix
   rows: 3
   cols: 1
   dt: d
   data: [ -0.4, 1.0, 4.5 ]
"""


def test_easymocap_hand_written_files(tmp_path):
    (tmp_path / 'intri.yml').write_text(_EASYMOCAP_INTRI)
    (tmp_path / 'extri.yml').write_text(_EASYMOCAP_EXTRI)
    assert guess_calibration(str(tmp_path))[0] == 'easymocap'
    assert guess_calibration(str(tmp_path / 'extri.yml'))[0] == 'easymocap'
    with pytest.raises(CalibrationError, match=r'`01` has no image size.*--image-size'):
        load_cameras(str(tmp_path))  # these files have no H_/W_
    cams = load_cameras(str(tmp_path), image_size=(1920, 1080))
    assert cams.names == ['01', '02']
    R1 = cv2.Rodrigues(np.array([1.9, 0.2, -0.3]))[0]
    assert np.allclose(cams.R[0].numpy(), R1, atol=1e-6)
    assert np.allclose(cams.t.numpy(), [[100, 1200, 4000], [-400, 1000, 4500]])  # m -> mm
    assert np.allclose(cams.dist[1, :4].numpy(), [-0.05, 0, 0.001, 0], atol=1e-7)  # D_02
    # any one of the two, or both in either order, is the same rig
    for args in ((tmp_path / 'intri.yml', ), (tmp_path / 'extri.yml', tmp_path / 'intri.yml')):
        other = load_cameras([str(a) for a in args], image_size=(1920, 1080))
        assert torch.equal(other.t, cams.t) and torch.equal(other.K, cams.K)
    # Rot_ that disagrees with R_, and a camera missing from extri.yml
    text = _EASYMOCAP_EXTRI + 'Rot_01: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n' \
        '   data: [ 1., 0., 0., 0., 1., 0., 0., 0., 1. ]\n'
    (tmp_path / 'extri.yml').write_text(text)
    with pytest.raises(CalibrationError, match=r'extri\.yml: camera `01` fields `R_01` and '
                       r'`Rot_01` are different rotations'):
        load_easymocap(str(tmp_path), image_size=(1920, 1080))
    (tmp_path / 'extri.yml').write_text(_EASYMOCAP_EXTRI.split('R_02')[0])
    with pytest.raises(CalibrationError, match=r'camera `02` has none of the fields `R_02`'):
        load_easymocap(str(tmp_path), image_size=(1920, 1080))


def test_easymocap_round_trip(tmp_path, ring_rig):
    intri, extri = save_easymocap(ring_rig, str(tmp_path))
    text = open(intri).read()
    assert 'K_synth_00: !!opencv-matrix' in text and 'H_synth_00: 1080' in text
    assert 'T_synth_00' in open(extri).read()
    back = load_cameras([intri, extri])
    assert back.names == ring_rig.names
    assert _max_px(ring_rig, back) < 1e-3
    assert torch.allclose(back.t, ring_rig.t, atol=1e-3)  # written in metres, exactly
    assert not list(tmp_path.glob('.*tmp*'))  # written atomically


# ---------------------------------------------------------------- Pose2Sim / anipose TOML
_POSE2SIM_TOML = """[cam_01]
name = "cam_01"
size = [ 1088.0, 1920.0,]
matrix = [ [ 1681.2, 0.0, 533.0,], [ 0.0, 1681.1, 948.1,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.046, 0.14, 0.0006, 0.0007,]
rotation = [ 1.61, 0.44, -0.35,]
translation = [ 0.38, 0.74, 2.93,]
fisheye = false

[cam_02]
name = "cam_02"
size = [ 1088.0, 1920.0,]
matrix = [ [ 1673.7, 0.0, 534.5,], [ 0.0, 1673.8, 963.2,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.048, 0.137, 0.00097, 0.00029,]
rotation = [ 1.2, -1.1, 0.9,]
translation = [ -0.2, 0.5, 3.1,]
fisheye = false

[metadata]
adjusted = false
error = 0.0
"""


def test_toml_pose2sim_file_and_round_trip(tmp_path, ring_rig):
    path = tmp_path / 'Calib_board.toml'
    path.write_text(_POSE2SIM_TOML)
    fmt, why = guess_calibration(str(path))
    assert fmt == 'toml' and 'Pose2Sim' in why
    cams = load_cameras(str(path))
    assert cams.names == ['cam_01', 'cam_02']
    assert np.allclose(cams.R[0].numpy(), cv2.Rodrigues(np.array([1.61, 0.44, -0.35]))[0],
                       atol=1e-6)
    assert np.allclose(cams.t[0].numpy(), [380, 740, 2930])  # metres -> mm
    assert np.allclose(cams.image_size[0].numpy(), [1088, 1920])
    # anipose writes its board's units (often mm)
    assert torch.allclose(load_toml_calibration(str(path), units='mm').t * 1000, cams.t)
    path.write_text(_POSE2SIM_TOML.replace('fisheye = false', 'fisheye = true', 1))
    with pytest.raises(CalibrationError, match=r'`cam_01`.*`fisheye`.*not supported'):
        load_cameras(str(path))
    # round trip: tomli_w writes, tomllib reads
    out = tmp_path / 'rig.toml'
    save_toml_calibration(ring_rig, str(out))
    assert '[metadata]' in out.read_text()
    back = load_cameras(str(out))
    assert back.names == ring_rig.names and _max_px(ring_rig, back) < 1e-3


# ---------------------------------------------------------------- Qualisys
def _qca():
    return str(fixture_path('pose2sim', 'multiperson_openpose', 'calibration',
                            'Calib.qca.txt'))


def test_qualisys_cameras_face_a_common_capture_volume():
    """Every camera of the real QTM export looks at one point, which projects inside every
    image, and the principal points sit near the image centres (64 sub-pixels / px)."""
    assert guess_calibration(_qca())[0] == 'qualisys'
    cams = load_cameras(_qca()).double()
    assert cams.names == ['cam_01', 'cam_02', 'cam_03', 'cam_04']
    assert torch.equal(cams.image_size, torch.tensor([[1088.0, 1920.0]] * 4).double())
    off = (cams.K[:, :2, 2] - cams.image_size / 2).abs() / cams.image_size
    assert (off < 0.05).all(), off
    axes, centres = cams.R[:, 2].numpy(), cams.centers.numpy()  # optical axes, mm
    P = np.eye(3)[None] - axes[:, :, None] * axes[:, None, :]
    target = np.linalg.solve(P.sum(0), np.einsum('cij,cj->i', P, centres))
    to_target = target - centres
    to_target /= np.linalg.norm(to_target, axis=1, keepdims=True)
    assert np.degrees(np.arccos((to_target * axes).sum(1))).max() < 5
    uv, valid = cams.project(torch.tensor(target)[None, None], return_valid=True)
    assert valid.all() and cams.in_image(uv).all()
    # z up, mm: the cameras hang 1.5-2.5 m above the floor, the target is below them
    assert (centres[:, 2] > 1500).all() and (centres[:, 2] < 2500).all()
    assert 0 < target[2] < centres[:, 2].min()


def test_qualisys_triangulates_the_real_persons_keypoints():
    """The OpenPose keypoints of the real participant (not the composited avatar, whose
    scores are all 1) triangulate consistently through the imported rig, feet on the
    floor and head at a person's height: the axes, units and intrinsics are right."""
    cams = load_cameras(_qca()).double()
    pose = fixture_path('pose2sim', 'multiperson_openpose', 'pose')
    people = []
    for v in range(4):
        frame = sorted(glob.glob(str(pose / f'cam0{v + 1}_json' / '*.json')))[50]
        found = [np.array(p['pose_keypoints_2d']).reshape(-1, 3)
                 for p in json.load(open(frame))['people']]
        people.append([p for p in found if not set(np.unique(p[:, 2])) <= {0.0, 1.0}])
    best = None
    for combo in itertools.product(*(range(len(p)) for p in people)):
        kp = torch.tensor(np.stack([people[v][i] for v, i in enumerate(combo)]))
        seen = (kp[..., 2] > 0.3).all(0)
        if seen.sum() < 10:
            continue
        X = triangulate_points(cams, kp[:, seen, :2])
        err = (cams.project(X[None])[0] - kp[:, seen, :2]).norm(dim=-1).median().item()
        if best is None or err < best[0]:
            best = (err, X)
    err, X = best
    assert err < 25, err  # px, 1088 x 1920 images (the transposed rotation: > 400)
    assert -150 < X[:, 2].min() < 250 and 1300 < X[:, 2].max() < 2000, X[:, 2]


def test_qualisys_refuses_dtds_and_skips_inactive_cameras(tmp_path):
    text = open(_qca()).read()
    bomb = tmp_path / 'bomb.qca.txt'
    bomb.write_text(text.replace(
        '<calibration ', '<!DOCTYPE calibration [<!ENTITY a "aaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;">]>\n<calibration ', 1))
    with pytest.raises(CalibrationError, match=r'refused.*DTD'):
        load_cameras(str(bomb))
    inactive = tmp_path / 'Calib.qca.txt'
    inactive.write_text(text.replace('active="1"', 'active="0"', 1))
    with pytest.warns(CalibrationImportWarning, match=r"inactive camera\(s\) \['cam_01'\]"):
        assert load_cameras(str(inactive)).names == ['cam_02', 'cam_03', 'cam_04']
    with pytest.raises(CalibrationError, match=r'`cam_0\d`.*outside.*binning=2'):
        load_qualisys_calibration(_qca(), subpixel=32)  # a wrong unit lands off-image


# ---------------------------------------------------------------- guessing, old formats
def test_old_formats_are_still_guessed_as_before():
    for parts, fmt in ((('panoptic', '160906_band1', 'calibration_160906_band1.json'),
                        'panoptic'),
                       (('shelf', 'calibration_shelf.json'), 'shelf_campus'),
                       (('campus', 'calibration_campus.json'), 'shelf_campus')):
        assert guess_calibration(str(fixture_path(*parts)))[0] == fmt


# ---------------------------------------------------------------- the tool
def _tool():
    return load_tool('convert_calibration')


def test_convert_tool_imports_every_format(tmp_path, ring_rig, capsys):
    tool = _tool()
    keyed = _generic_docs(ring_rig)[0]
    (tmp_path / 'calib.json').write_text(json.dumps(keyed))
    out = tmp_path / 'rig.json'
    assert tool.main([str(tmp_path / 'calib.json'), '-o', str(out), '--units', 'm']) == 0
    text = capsys.readouterr().out
    assert 'format: generic_json (an object keyed by camera name' in text
    assert 'synth_00' in text and '1920x1080' in text
    assert _max_px(ring_rig, load_rig(str(out))) < 1e-3
    intri, extri = save_easymocap(ring_rig, str(tmp_path / 'emc'))
    assert tool.main([intri, extri, '-o', str(out), '--out-units', 'm']) == 0
    assert 'format: easymocap' in capsys.readouterr().out
    assert json.loads(out.read_text())['units'] == 'm'
    assert _max_px(ring_rig, load_rig(str(out))) < 1e-3
    assert tool.main([_qca(), '-o', str(out), '--cameras', 'cam_03', 'cam_01']) == 0
    text = capsys.readouterr().out
    assert 'format: qualisys' in text and '1088x1920' in text
    assert load_rig(str(out)).names == ['cam_03', 'cam_01']


def test_convert_tool_errors_are_messages(tmp_path, ring_rig):
    tool = _tool()
    (tmp_path / 'calib.json').write_text(json.dumps(_generic_docs(ring_rig)[0]))
    out = str(tmp_path / 'rig.json')
    with pytest.raises(SystemExit, match=r'^convert_calibration: .*calib\.json: the file does '
                       r"not state its length units.*--units.*guessed as 'generic_json'"):
        tool.main([str(tmp_path / 'calib.json'), '-o', out])
    (tmp_path / 'c.toml').write_text(_POSE2SIM_TOML)
    with pytest.raises(SystemExit, match=r'c\.toml \(toml\) stores the image sizes'):
        tool.main([str(tmp_path / 'c.toml'), '-o', out, '--image-size', '640', '480'])
    with pytest.raises(SystemExit, match=r'\(qualisys\) does not take --units'):
        tool.main([_qca(), '-o', out, '--units', 'm'])
    # the older form SRC DST never overwrites a second input
    intri, extri = save_easymocap(ring_rig, str(tmp_path / 'emc'))
    before = open(extri).read()
    with pytest.raises(SystemExit, match=r'extri\.yml exists and is not a rig file.*-o'):
        tool.main([intri, extri])
    assert open(extri).read() == before
    with pytest.raises(SystemExit, match='-o RIG'):
        tool.main([intri])
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # nothing ignored in a clean file
        assert tool.main([intri, extri, '-o', out]) == 0
