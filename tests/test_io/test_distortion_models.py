"""OpenCV's 8 / 12 / 14-coefficient distortion models through every calibration file that
can hold them: the rig file (JSON, YAML), OpenCV FileStorage YAML, Panoptic, and the
converter's round trips; the 5-coefficient rig keeps its width."""
import json

import cv2
import numpy as np
import pytest
import torch

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.io import (compact_distortion, load_cameras, load_opencv_yaml, load_rig,
                              save_opencv_yaml, save_rig)
from tests.conftest import load_tool

COEFFS = [0.21, -0.05, 1e-3, -5e-4, 0.012, 0.16, -0.02, 0.004, 2e-3, -1e-3, -1.5e-3, 6e-4,
          0.02, -0.015]


def _rig(widths):
    """One camera per entry of ``widths`` (its coefficient count), float64."""
    C = len(widths)
    K = np.array([[1100.0, 0, 640], [0, 1080.0, 360], [0, 0, 1]])
    R = [cv2.Rodrigues(np.array([0.1 * c, -0.2, 0.05]))[0] for c in range(C)]
    t = [[100.0 * c, -50.0, 3000.0] for c in range(C)]
    dist = np.zeros((C, 14))
    for c, w in enumerate(widths):
        dist[c, :w] = np.array(COEFFS[:w]) * (1 + 0.1 * c)
    return MultiViewCameras(torch.tensor(np.stack([K] * C)), torch.tensor(np.stack(R)),
                            torch.tensor(t), torch.tensor(compact_distortion(dist)),
                            torch.tensor([[1280.0, 720]] * C),
                            names=[f'cam{c}' for c in range(C)])


def _points(n=500):
    g = torch.Generator().manual_seed(0)
    return (torch.rand(n, 3, generator=g, dtype=torch.float64) - 0.5) * torch.tensor(
        [3000.0, 2000.0, 2000.0], dtype=torch.float64)


def _max_px(a, b):
    uv_a, va = a.double().project(_points(), return_valid=True)
    uv_b, vb = b.double().project(_points(), return_valid=True)
    assert torch.equal(va, vb) and va.float().mean() > 0.9
    return (uv_a - uv_b)[va].abs().max().item()


@pytest.mark.parametrize('widths', [(8, ), (12, ), (14, ), (5, 12, 14, 4), (5, 5)])
@pytest.mark.parametrize('suffix', ['.json', '.yaml'])
def test_rig_file_round_trip(tmp_path, widths, suffix):
    cams = _rig(widths)
    path = tmp_path / f'rig{suffix}'
    doc = save_rig(str(path), cams)
    # each camera written up to its last non-zero model group (4 -> 5)
    assert [len(c['dist']) for c in doc['cameras']] == [max(w, 5) for w in widths]
    back = load_rig(str(path))
    assert back.num_dist_coeffs == max(max(widths), 5)
    assert torch.equal(back.double().dist, cams.dist.to(back.dtype).double())
    assert _max_px(cams, back) < 1e-3  # float32 storage of the loaded rig
    # units / axes conversions keep the model
    save_rig(str(path), cams, units='m', world_up='-y', pose='center')
    assert _max_px(cams, load_cameras(str(path))) < 1e-3


@pytest.mark.parametrize('widths', [(8, ), (12, ), (14, ), (5, 14), (5, )])
def test_opencv_yaml_round_trip(tmp_path, widths):
    cams = _rig(widths)
    path = tmp_path / 'cams.yml'
    save_opencv_yaml(cams, str(path))
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    n = [fs.getNode('cameras').at(c).getNode('distortion_coefficients').mat().size
         for c in range(len(widths))]
    fs.release()
    assert n == [max(w, 5) for w in widths]
    back = load_opencv_yaml(str(path))
    assert back.names == cams.names and back.num_dist_coeffs == cams.num_dist_coeffs
    assert torch.allclose(back.dist.double(), cams.dist, atol=1e-7)
    assert _max_px(cams, back) < 1e-3


def test_opencv_yaml_written_by_opencv_with_14_coefficients(tmp_path):
    """A file as OpenCV's own calibration sample writes it (1 x 14 matrix, metres)."""
    d = np.array(COEFFS).reshape(1, 14)
    path = tmp_path / 'calib.yml'
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    fs.write('units', 'm')
    fs.startWriteStruct('cameras', cv2.FileNode_SEQ)
    fs.startWriteStruct('', cv2.FileNode_MAP)
    fs.write('name', 'tilted')
    fs.write('image_width', 1280)
    fs.write('image_height', 720)
    fs.write('camera_matrix', np.array([[1100.0, 0, 640], [0, 1080.0, 360], [0, 0, 1]]))
    fs.write('distortion_coefficients', d)
    fs.write('rvec', np.array([[0.1], [-0.2], [0.05]]))
    fs.write('tvec', np.array([[0.1], [-0.05], [3.0]]))
    fs.endWriteStruct()
    fs.endWriteStruct()
    fs.release()
    cams = load_cameras(str(path)).double()
    X = _points(200).numpy()
    ref, _ = cv2.projectPoints(X / 1000.0, np.array([0.1, -0.2, 0.05]),
                               np.array([0.1, -0.05, 3.0]), cams.K[0].numpy(), d)
    uv, valid = cams.project(torch.from_numpy(X), return_valid=True)
    assert valid.all()
    assert np.abs(uv[0].numpy() - ref[:, 0]).max() < 1e-3


def test_panoptic_file_with_a_rational_model(tmp_path):
    K = [[1100.0, 0, 640], [0, 1080.0, 360], [0, 0, 1]]
    cam = dict(name='00_03', type='hd', resolution=[1280, 720], K=K, R=np.eye(3).tolist(),
               t=[0, 0, 300.0], distCoef=COEFFS[:8])
    path = tmp_path / 'calibration_seq.json'
    path.write_text(json.dumps(dict(cameras=[cam])))
    cams = load_cameras(str(path), camera_names=['00_03'])
    assert cams.num_dist_coeffs == 8
    assert np.allclose(cams.dist[0].numpy(), COEFFS[:8], atol=1e-8)


def _tool():
    return load_tool('convert_calibration')


@pytest.mark.parametrize('widths', [(8, 12), (14, 5)])
def test_converter_round_trips_wide_models(tmp_path, widths):
    cams = _rig(widths)
    src = tmp_path / 'cams.yml'
    save_opencv_yaml(cams, str(src))
    tool = _tool()
    for extra in ([], ['--units', 'm', '--world-up=+y']):
        dst = tmp_path / 'rig.json'
        assert tool.main([str(src), str(dst)] + extra) == 0
        back = load_cameras(str(dst))
        assert back.names == cams.names and back.num_dist_coeffs == max(widths)
        assert _max_px(cams, back) < 1e-3
        # and back to OpenCV YAML through the rig file
        yml = tmp_path / 'again.yml'
        save_opencv_yaml(back, str(yml))
        assert _max_px(cams, load_cameras(str(yml))) < 1e-3


def test_converter_reports_malformed_sources_without_a_traceback(tmp_path):
    src = tmp_path / 'calib.json'
    src.write_text('[1, 2, 3]')
    with pytest.raises(SystemExit, match=r'^convert_calibration: .*calib\.json: cannot guess'):
        _tool().main([str(src), str(tmp_path / 'out.json')])
    src = tmp_path / 'cams.yml'
    save_opencv_yaml(_rig((5, 5)), str(src))
    src.write_text(src.read_text().replace('name: cam1', 'name: cam0'))
    with pytest.raises(SystemExit, match=r'`cam0` field `name` is duplicated'):
        _tool().main([str(src), str(tmp_path / 'out.json')])
    assert not (tmp_path / 'out.json').exists()
