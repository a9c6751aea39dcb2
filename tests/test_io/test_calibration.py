"""Calibration validation in every loader (one test per defect, each over the four
formats), the rig file format (units, world axes, R|t or centre) and its converter
(round trips on the real Panoptic, Shelf and Campus calibrations)."""
import copy
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from selfpose3d_mm.io import (CalibrationError, load_cameras, load_panoptic_calibration,
                              load_rig, load_shelf_campus_calibration,
                              panoptic_points_to_world, save_rig, world_axes)
from tests.conftest import fixture_path, load_tool

FORMATS = ('rig', 'panoptic', 'shelf_campus', 'opencv')
# name of the camera as each format's error message gives it
CAMERA = dict(rig='cam_a', panoptic='00_03', shelf_campus='0', opencv='left')


def _camera():
    """A valid camera: canonical fields (mm, OpenCV model)."""
    R = cv2.Rodrigues(np.array([0.1, -0.2, 0.3]))[0]
    return dict(K=[[1000.0, 0.0, 320.0], [0.0, 1000.0, 240.0], [0.0, 0.0, 1.0]],
                R=R.tolist(), t=[100.0, 200.0, 3000.0], dist=[-0.1, 0.01, 0.0, 0.0, 0.0],
                size=[640, 480])


def _yaml_num(v):
    return '.nan' if math.isnan(v) else ('.inf' if v == math.inf else
                                         ('-.inf' if v == -math.inf else repr(float(v))))


def _write(fmt: str, cam: dict, folder: Path) -> tuple:
    """Write ``cam`` (canonical fields, possibly broken or missing) in format ``fmt``;
    returns (path, loader kwargs)."""
    if fmt == 'rig':
        c = dict(name='cam_a', image_size=cam.get('size'), K=cam.get('K'),
                 dist=cam.get('dist'), R=cam.get('R'), t=cam.get('t'))
        doc = dict(format='selfpose3d_mm/rig', units='mm', world_up='+z',
                   cameras=[{k: v for k, v in c.items() if v is not None}])
        path = folder / 'my_rig.json'
        path.write_text(json.dumps(doc))
        return path, {}
    if fmt == 'panoptic':  # cm
        c = dict(name='00_03', type='hd', resolution=cam.get('size'), K=cam.get('K'),
                 distCoef=cam.get('dist'), R=cam.get('R'),
                 t=None if cam.get('t') is None else [v / 10 for v in cam['t']])
        path = folder / 'calibration_seq.json'
        path.write_text(json.dumps(dict(cameras=[{k: v for k, v in c.items()
                                                  if v is not None}])))
        return path, dict(camera_names=['00_03'])
    if fmt == 'shelf_campus':  # T = camera centre; k = (k1, k2, k3), p = (p1, p2)
        K, d = cam.get('K'), cam.get('dist')
        c = dict(fx=K[0][0], fy=K[1][1], cx=K[0][2], cy=K[1][2])
        if cam.get('R') is not None:
            c['R'] = cam['R']
        R = np.asarray(cam.get('R', np.eye(3)), float)
        c['T'] = [[v] for v in (-R.T @ np.asarray(cam['t'], float)).tolist()]
        if d is not None:
            k = [d[0], d[1], d[4]] if len(d) == 5 else d[:len(d) - 2]
            c['k'], c['p'] = [[v] for v in k], [[v] for v in d[-2:]]
        path = folder / 'calibration_shelf.json'
        path.write_text(json.dumps({'0': c}))
        return path, dict(image_size=tuple(cam['size']))
    lines = ['%YAML:1.0', '---', 'units: mm', 'cameras:', '   - name: left']
    if cam.get('size') is not None:
        lines += [f'     image_width: {cam["size"][0]}', f'     image_height: {cam["size"][1]}']
    for key, name in (('K', 'camera_matrix'), ('R', 'rotation_matrix')):
        if cam.get(key) is not None:
            data = ', '.join(_yaml_num(v) for v in np.ravel(cam[key]))
            lines += [f'     {name}: !!opencv-matrix', '        rows: 3', '        cols: 3',
                      '        dt: d', f'        data: [ {data} ]']
    for key, name in (('dist', 'distortion_coefficients'), ('t', 'translation')):
        if cam.get(key) is not None:
            lines.append(f'     {name}: [ ' + ', '.join(_yaml_num(v) for v in cam[key]) + ' ]')
    path = folder / 'cams.yml'
    path.write_text('\n'.join(lines) + '\n')
    return path, {}


FIELD = {  # canonical field -> its name in each format
    'K': dict(rig='K', panoptic='K', shelf_campus='fx', opencv='camera_matrix'),
    'R': dict(rig='R', panoptic='R', shelf_campus='R', opencv='rotation_matrix'),
    't': dict(rig='t', panoptic='t', shelf_campus='T', opencv='translation'),
    'dist': dict(rig='dist', panoptic='distCoef', shelf_campus='k',
                 opencv='distortion_coefficients'),
    'size': dict(rig='image_size', panoptic='resolution', shelf_campus='image_size',
                 opencv='image_width'),
}


def _expect_error(fmt, tmp_path, field, mutate, what):
    cam = _camera()
    mutate(cam)
    path, kwargs = _write(fmt, cam, tmp_path)
    with pytest.raises(CalibrationError) as info:
        load_cameras(str(path), fmt, **kwargs)
    msg = str(info.value)
    assert str(path) in msg, msg                        # the file
    assert f'`{CAMERA[fmt]}`' in msg, msg               # the camera
    assert FIELD[field][fmt] in msg, msg                # the field
    assert what in msg, msg                             # the defect
    return msg


@pytest.mark.parametrize('fmt', FORMATS)
def test_valid_camera_loads_the_same_in_every_format(fmt, tmp_path):
    cam = _camera()
    path, kwargs = _write(fmt, cam, tmp_path)
    cams = load_cameras(str(path), **kwargs)  # the format is guessed from the content
    assert cams.names == [CAMERA[fmt]]
    X = torch.tensor([[[300.0, -200.0, 500.0], [0.0, 100.0, -400.0]]], dtype=torch.float64)
    Xc = X[0].numpy() @ np.asarray(cam['R']).T + np.asarray(cam['t'])
    xy = Xc[:, :2] / Xc[:, 2:]
    r2 = (xy ** 2).sum(1, keepdims=True)
    uv = xy * (1 - 0.1 * r2 + 0.01 * r2 ** 2) * 1000.0 + [320.0, 240.0]  # by hand
    got = cams.double().project(X)[0, 0].numpy()
    if fmt == 'panoptic':  # the file's world is y down in cm: X is X / 10 cm there
        Xp = torch.from_numpy(panoptic_points_to_world(X[0].numpy() / 10.0))[None]
        got = cams.double().project(Xp)[0, 0].numpy()
    assert np.abs(got - uv).max() < 1e-3, (fmt, got, uv)


@pytest.mark.parametrize('fmt', FORMATS)
def test_non_orthonormal_rotation(fmt, tmp_path):
    _expect_error(fmt, tmp_path, 'R',
                  lambda c: c.update(R=(np.asarray(c['R']) * 1.01).tolist()), 'not a rotation')


@pytest.mark.parametrize('fmt', FORMATS)
def test_reflection_is_not_a_rotation(fmt, tmp_path):
    # orthonormal, det = -1 (a mirrored axis: the classic handedness mistake)
    _expect_error(fmt, tmp_path, 'R',
                  lambda c: c.update(R=(np.asarray(c['R']) * [[1], [1], [-1]]).tolist()),
                  'det')


@pytest.mark.parametrize('fmt', FORMATS)
def test_nan_anywhere(fmt, tmp_path):
    def mutate(c):
        c['K'] = copy.deepcopy(c['K'])
        c['K'][0][0] = float('nan')
    _expect_error(fmt, tmp_path, 'K', mutate, 'non-finite')


@pytest.mark.parametrize('fmt', FORMATS)
def test_infinite_translation(fmt, tmp_path):
    _expect_error(fmt, tmp_path, 't', lambda c: c.update(t=[math.inf, 0.0, 3000.0]),
                  'non-finite')


@pytest.mark.parametrize('fmt', FORMATS)
def test_wrong_number_of_distortion_coefficients(fmt, tmp_path):
    bad = [0.1, 0.01, 0.0]  # no OpenCV model has 3 (4, 5, 8, 12 and 14 are read)
    _expect_error(fmt, tmp_path, 'dist', lambda c: c.update(dist=bad), 'values')


@pytest.mark.parametrize('fmt', FORMATS)
def test_non_positive_focal_length(fmt, tmp_path):
    def mutate(c):
        c['K'] = copy.deepcopy(c['K'])
        c['K'][0][0] = -1000.0
    _expect_error(fmt, tmp_path, 'K', mutate, 'focal')


@pytest.mark.parametrize('fmt', FORMATS)
def test_non_positive_image_size(fmt, tmp_path):
    _expect_error(fmt, tmp_path, 'size', lambda c: c.update(size=[0, 480]), 'positive')


@pytest.mark.parametrize('fmt', FORMATS)
def test_missing_field(fmt, tmp_path):
    _expect_error(fmt, tmp_path, 'R', lambda c: c.pop('R'), 'R' if fmt != 'opencv'
                  else 'rotation_matrix')


# ------------------------------------------------------------------ the rig format
def test_units_and_world_up_are_converted(tmp_path):
    """A y-up world in metres: camera at the file origin looking along file +z, 5 m from
    the point (0.5, 0.2, 0) m → pixel (1000 * 0.5/5 + 320, 1000 * 0.2/5 + 240)."""
    K = [[1000.0, 0, 320.0], [0, 1000.0, 240.0], [0, 0, 1.0]]
    doc = dict(units='m', world_up='+y', cameras=[
        dict(name='a', image_size=[640, 480], K=K, R=np.eye(3).tolist(), t=[0, 0, 5.0]),
        dict(name='b', image_size=[640, 480], K=K, R=np.eye(3).tolist(),
             center=[0, 0, -5.0])])
    path = tmp_path / 'rig.yaml'
    import yaml
    path.write_text(yaml.safe_dump(doc))
    cams = load_cameras(str(path))  # YAML rig file detected by its units/world_up
    # internal = (x, -z, y) in mm for a +y-up file
    X = torch.tensor([[[500.0, 0.0, 200.0]]], dtype=torch.float64)
    uv = cams.double().project(X)[0, :, 0].numpy()
    assert np.allclose(uv, [[420.0, 280.0]] * 2, atol=1e-6), uv
    assert np.allclose(cams.centers[0].numpy(), [0, 5000.0, 0], atol=1e-3)  # z up: -z_file
    for up in ('+z', '-z', '+y', '-y', '+x', '-x'):
        A = world_axes(up)
        assert np.allclose(A @ A.T, np.eye(3)) and np.isclose(np.linalg.det(A), 1.0)
        up_vec = np.eye(3)['xyz'.index(up[1])] * (1 if up[0] == '+' else -1)
        assert np.allclose(A @ up_vec, [0, 0, 1])


@pytest.mark.parametrize('change, match', [
    (lambda d: d.pop('units'), r'no field `units`'),
    (lambda d: d.update(world_up='up'), r'field `world_up` must be one of'),
    (lambda d: d['cameras'][0].update(center=[0, 0, 0]), r'`cam_a`.*exactly one of.*`t`'),
    (lambda d: d['cameras'][0].update(dist_coeffs=[0] * 5), r'`cam_a`.*unknown.*dist_coeffs'),
    (lambda d: d['cameras'].append(dict(d['cameras'][0])), r'`cam_a`.*`name`.*duplicated'),
    (lambda d: d['cameras'][0].pop('name'), r'camera #0.*`name`'),
])
def test_rig_file_errors(tmp_path, change, match):
    path, _ = _write('rig', _camera(), tmp_path)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(CalibrationError, match=match):
        load_rig(str(path))
    # no distortion is fine: an empty list or no field
    doc = json.loads(_write('rig', _camera(), tmp_path)[0].read_text())
    doc['cameras'][0]['dist'] = []
    path.write_text(json.dumps(doc))
    assert load_rig(str(path)).dist.abs().sum() == 0


def _tool():
    return load_tool('convert_calibration')


def _max_px(a, b, pts):
    """Max pixel difference over points in front of both rigs and inside the images."""
    uv_a, va = a.double().project(pts, return_valid=True)
    uv_b, vb = b.double().project(pts, return_valid=True)
    m = va & vb & a.double().in_image(uv_a)
    assert m.sum() > 50
    return (uv_a - uv_b).abs().amax(-1)[m].max().item()


@pytest.mark.parametrize('name, args, loader', [
    ('panoptic', ['--from', 'panoptic', '--cameras', '00_03', '00_12', '00_23'],
     lambda p: load_panoptic_calibration(p, ['00_03', '00_12', '00_23'])),
    ('shelf', ['--from', 'shelf_campus', '--image-size', '1032', '776'],
     lambda p: load_shelf_campus_calibration(p, (1032, 776))),
    ('campus', ['--from', 'shelf_campus', '--image-size', '360', '288'],
     lambda p: load_shelf_campus_calibration(p, (360, 288))),
])
def test_convert_real_calibrations_round_trip(tmp_path, name, args, loader):
    src = str(fixture_path('panoptic', '160906_band1', 'calibration_160906_band1.json')
              if name == 'panoptic' else fixture_path(name, f'calibration_{name}.json'))
    ref = loader(src)
    tool = _tool()
    g = torch.Generator().manual_seed(0)
    pts = (torch.rand(1, 4000, 3, generator=g, dtype=torch.float64) - 0.5) * torch.tensor(
        [12000.0, 12000.0, 2000.0], dtype=torch.float64) + torch.cat(
        [ref.centers.double()[:, :2].mean(0), torch.tensor([900.0], dtype=torch.float64)])
    for extra, tol in ((['--units', 'mm'], 1e-6), (['--units', 'm', '--world-up=-y'], 1e-6),
                       (['--units', 'cm', '--pose', 'center'], 5e-3)):
        dst = tmp_path / f'{name}_{extra[1]}.json'
        assert tool.main([src, str(dst)] + args + extra) == 0
        back = load_cameras(str(dst))  # detected as a rig file
        assert back.names == ref.names
        assert _max_px(ref, back, pts) < tol, (name, extra)
        assert json.loads(dst.read_text())['units'] == extra[1]
    # YAML output, and a rig file converts to itself
    dst = tmp_path / f'{name}.yaml'
    tool.main([str(tmp_path / f'{name}_mm.json'), str(dst)])
    assert _max_px(ref, load_cameras(str(dst), 'rig'), pts) < 1e-6
    assert not list(tmp_path.glob('.*tmp*'))  # written atomically


def test_save_rig_writes_readable_float32_values(tmp_path, ring_rig):
    path = tmp_path / 'ring.json'
    doc = save_rig(str(path), ring_rig)
    back = load_rig(str(path))
    for f in ('K', 'R', 't', 'dist', 'image_size'):
        assert torch.equal(getattr(back, f), getattr(ring_rig, f)), f  # bit-exact
    # float32 values are written in their shortest form (not 1395.7099609375)
    assert all(len(repr(v)) <= 16 for v in doc['cameras'][0]['K'][0])
