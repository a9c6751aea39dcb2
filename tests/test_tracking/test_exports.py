"""TRC / C3D / CSV exports read back with readers independent of the writers (numpy
text parsing, ezc3d, the csv module), tracked prediction files, tools/export_poses.py."""
import csv
import json

import numpy as np
import pytest
import torch

from selfpose3d_mm.io import load_predictions
from selfpose3d_mm.io.exports import write_c3d, write_pose_csv, write_trc
from selfpose3d_mm.io.predictions import (load_prediction_file, save_predictions_json,
                                          save_predictions_npz)
from selfpose3d_mm.skeleton import PANOPTIC15_LIMBS, PANOPTIC15_NAMES
from tests.conftest import load_tool

NAMES = list(PANOPTIC15_NAMES)


def _track(seed=0):
    """A track on frames 5..14 without frame 9, joint 4 missing at frame 7."""
    rng = np.random.default_rng(seed)
    fr = np.array([5, 6, 7, 8, 10, 11, 12, 13, 14])
    poses = rng.uniform(-2000, 2000, (len(fr), 15, 3))
    valid = np.ones((len(fr), 15), bool)
    valid[2, 4] = False
    return fr, poses, valid


def _expected(fr, poses, valid, yup, scale):
    """Dense (frames 5..14) expected coordinates, written independently of the writer."""
    out = np.full((10, 15, 3), np.nan)
    p = np.stack([poses[..., 0], poses[..., 2], -poses[..., 1]], -1) if yup else poses
    out[fr - 5] = np.where(valid[..., None], p / scale, np.nan)
    return out


@pytest.mark.parametrize('axes,units', [('yup', 'm'), ('zup', 'mm')])
def test_trc_reads_back_with_numpy(tmp_path, axes, units):
    fr, poses, valid = _track()
    path = tmp_path / 'p.trc'
    write_trc(str(path), fr, poses, valid, NAMES, fps=25.0, units=units, axes=axes)
    lines = path.read_text().split('\n')
    assert lines[0].split('\t')[:3] == ['PathFileType', '4', '(X/Y/Z)']
    head = dict(zip(lines[1].split('\t'), lines[2].split('\t')))
    assert head == dict(DataRate='25', CameraRate='25', NumFrames='10', NumMarkers='15',
                        Units=units, OrigDataRate='25', OrigDataStartFrame='6',
                        OrigNumFrames='10')
    names = [c for c in lines[3].split('\t') if c]
    assert names == ['Frame#', 'Time'] + NAMES
    assert lines[4].split('\t')[2:5] == ['X1', 'Y1', 'Z1'] and lines[4].count('\t') == 46
    data = np.genfromtxt(str(path), delimiter='\t', skip_header=5)  # empty cell -> nan
    assert data.shape == (10, 2 + 45)
    assert (data[:, 0] == np.arange(6, 16)).all()
    assert np.allclose(data[:, 1], np.arange(5, 15) / 25.0)
    want = _expected(fr, poses, valid, axes == 'yup', 1000.0 if units == 'm' else 1.0)
    got = data[:, 2:].reshape(10, 15, 3)
    assert np.array_equal(np.isnan(got), np.isnan(want))   # frame 9 and joint 4 @ 7
    assert np.isnan(got[4]).all() and np.isnan(got[2, 4]).all()
    assert np.allclose(got, want, atol=1.1e-6, equal_nan=True)


def test_c3d_reads_back_with_ezc3d(tmp_path):
    pytest.importorskip('c3d')
    ezc3d = pytest.importorskip('ezc3d')
    fr, poses, valid = _track(1)
    path = tmp_path / 'p.c3d'
    info = write_c3d(str(path), fr, poses, valid, NAMES, fps=50.0)
    assert info['first_frame'] == 6 and info['num_frames'] == 10
    c = ezc3d.c3d(str(path))
    assert c['parameters']['POINT']['LABELS']['value'] == NAMES
    assert c['parameters']['POINT']['RATE']['value'][0] == 50.0
    assert c['parameters']['POINT']['UNITS']['value'][0].strip() == 'mm'
    assert c['header']['points']['first_frame'] == 5          # ezc3d counts from 0
    pts = c['data']['points'][:3].transpose(2, 1, 0)          # (frames, points, xyz)
    want = _expected(fr, poses, valid, False, 1.0)
    assert np.array_equal(np.isnan(pts), np.isnan(want))
    assert np.allclose(pts, want, atol=1e-3, equal_nan=True)   # float32 storage
    res = c['data']['meta_points']['residuals'][0].T           # (frames, points)
    assert (res[np.isnan(want[..., 0])] == -1).all() and (res[~np.isnan(want[..., 0])] >= 0).all()
    # metres, y up
    write_c3d(str(path), fr, poses, valid, NAMES, fps=50.0, units='m', axes='yup')
    c = ezc3d.c3d(str(path))
    assert c['parameters']['POINT']['UNITS']['value'][0].strip() == 'm'
    assert np.allclose(c['data']['points'][:3].transpose(2, 1, 0),
                       _expected(fr, poses, valid, True, 1000.0), atol=1e-6, equal_nan=True)


def test_csv_reads_back_with_the_csv_module(tmp_path):
    rng = np.random.default_rng(2)
    poses = [rng.normal(0, 900, (2, 15, 3)), np.zeros((0, 15, 3)), rng.normal(0, 900, (1, 15, 3))]
    poses[2][0, 3] = np.nan
    path = tmp_path / 'p.csv'
    n = write_pose_csv(str(path), [0, 1, 2], poses, NAMES, fps=10.0,
                       scores=[[0.9, 0.5], [], [0.7]], track_ids=[[4, -1], [], [4]])
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    assert n == len(rows) == 3 * 15
    assert list(rows[0]) == ['frame', 'time', 'track_id', 'person', 'joint', 'x', 'y', 'z',
                             'score']
    r = rows[15 + 2]                                          # frame 0, person 1, joint 2
    assert (r['frame'], r['track_id'], r['person'], r['joint'], r['score']) == \
        ('0', '-1', '1', 'mid_hip', '0.5000')
    assert np.allclose([float(r[k]) for k in 'xyz'], poses[0][1, 2], atol=1e-6)
    r = rows[30 + 3]                                          # the missing joint
    assert r['frame'] == '2' and float(r['time']) == 0.2 and r['x'] == r['y'] == r['z'] == ''


def _prediction_frames(F=40, fps=30.0, seed=3):
    """Two people walking in opposite directions, detections listed in random order;
    person 1 is missing in frames 20-21."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 150, (2, 15, 3)) + [[[0, 0, 900]], [[0, 1500, 900]]]
    frames, truth = [], []
    for f in range(F):
        p = base + np.array([[1200.0, 0, 0], [-1200.0, 0, 0]])[:, None] * f / fps
        keep = [0] if 20 <= f < 22 else [0, 1]
        order = rng.permutation(keep)
        kp = p[order] + rng.normal(0, 10, (len(order), 15, 3))
        frames.append(dict(frame_id=f'seq/{f:08d}', frame=f, keypoints_3d=kp,
                           scores=np.full(len(order), 0.9), root_centers=kp[:, 2]))
        truth.append(order)
    return frames, truth


def test_tracked_prediction_files_round_trip_and_stay_backward_compatible(tmp_path):
    frames, _ = _prediction_frames(F=5)
    save_predictions_json(str(tmp_path / 'a.json'), dict(skeleton=dict(joints=NAMES)), frames)
    doc = load_predictions(str(tmp_path / 'a.json'))
    assert 'track_ids' not in doc['arrays']                   # untracked: as before
    assert 'track_id' not in doc['frames'][0]['persons'][0]
    for r in frames:
        r['track_ids'] = np.arange(len(r['scores'])) + 10
    save_predictions_json(str(tmp_path / 'b.json'), dict(skeleton=dict(joints=NAMES),
                                                         tracking=dict(method='x')), frames)
    back = load_predictions(str(tmp_path / 'b.json'))
    assert back['tracking'] == dict(method='x')
    assert (back['arrays']['track_ids'] == [[10, 11]] * 5).all()
    save_predictions_npz(str(tmp_path / 'b.npz'), frames, NAMES, PANOPTIC15_LIMBS)
    for name in ('b.json', 'b.npz'):
        data = load_prediction_file(str(tmp_path / name))
        assert data['tracked'] and data['joint_names'] == NAMES
        assert [r['track_ids'].tolist() for r in data['frames']] == [[10, 11]] * 5
        assert np.allclose(data['frames'][3]['keypoints_3d'], frames[3]['keypoints_3d'],
                           atol=0.06)
    (tmp_path / 'bad.json').write_text(json.dumps(dict(
        format='selfpose3d_mm/predictions3d', skeleton=dict(joints=NAMES[:1]),
        frames=[dict(frame_id='0', persons=[dict(score=1, root=[0, 0, 0], track_id='a',
                                                 keypoints_3d=[[0, 0, 0]])])])))
    with pytest.raises(ValueError, match=r'bad.json: frames\[0\].persons\[\*\].track_id'):
        load_prediction_file(str(tmp_path / 'bad.json'))


def test_the_people_the_refinement_added_are_flagged_in_the_json_file(tmp_path):
    frames, _ = _prediction_frames(F=2)
    frames[1]['recovered'] = np.array([False, True])
    save_predictions_json(str(tmp_path / 'r.json'), dict(skeleton=dict(joints=NAMES)), frames)
    doc = json.loads((tmp_path / 'r.json').read_text())
    assert 'recovered' not in doc['frames'][0]['persons'][0]  # files without it: as before
    assert [p['recovered'] for p in doc['frames'][1]['persons']] == [False, True]
    back = load_prediction_file(str(tmp_path / 'r.json'))['frames']
    assert 'recovered' not in back[0] and back[1]['recovered'].tolist() == [False, True]
    doc['frames'][1]['persons'][0]['recovered'] = 'yes'
    (tmp_path / 'r.json').write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r'r.json: frames\[1\].persons\[\*\].recovered'):
        load_prediction_file(str(tmp_path / 'r.json'))
    # the inferencer's result carries the detector's flag, in its order of persons
    from mmengine.structures import InstanceData
    from selfpose3d_mm.apis.inference_outputs import frame_result
    from selfpose3d_mm.structures import MultiViewPoseDataSample
    pred = MultiViewPoseDataSample()
    pred.pred_instances = InstanceData(keypoints_3d=torch.zeros(3, 15, 3),
                                       scores=torch.tensor([0.2, 0.9, 0.5]),
                                       recovered=torch.tensor([False, True, False]))
    r = frame_result(0, dict(cameras=None), pred)
    assert r['scores'].tolist() == pytest.approx([0.9, 0.5, 0.2])
    assert r['recovered'].tolist() == [True, False, False]


@pytest.mark.parametrize('ext', ['json', 'npz'])
def test_export_tool_tracks_and_writes_every_format(tmp_path, ext, capsys):
    pytest.importorskip('c3d')
    frames, truth = _prediction_frames()
    src = tmp_path / f'poses3d.{ext}'
    if ext == 'json':
        save_predictions_json(str(src), dict(skeleton=dict(joints=NAMES,
                                                           links=PANOPTIC15_LIMBS)), frames)
    else:
        save_predictions_npz(str(src), frames, NAMES, PANOPTIC15_LIMBS)
    tool = load_tool('export_poses')
    out = tool.main([str(src), '--to', 'trc', 'c3d', 'csv', '--smooth', 'savgol',
                     '--fps', '30', '-o', str(tmp_path / 'out')])
    # the ids written back follow the true persons (tentative first frames backfilled)
    tracked = load_prediction_file(out['tracked_file'])
    assert out['tracked_file'].endswith(f'poses3d_tracked.{ext}') and tracked['tracked']
    ids = [r['track_ids'] for r in tracked['frames']]
    for person in (0, 1):
        got = {int(i[t == person][0]) for i, t in zip(ids, truth) if (t == person).any()}
        assert len(got) == 1 and got != {-1}, got
    assert out['num_tracks'] == 2
    assert sorted(p.rsplit('/', 1)[1] for p in out['files']) == [
        'poses3d.csv', 'poses3d_track000.c3d', 'poses3d_track000.trc',
        'poses3d_track001.c3d', 'poses3d_track001.trc']
    # person 1's TRC: 40 rows, the 2 frames without it empty
    pid = int(ids[0][truth[0] == 1][0])
    data = np.genfromtxt(str(tmp_path / 'out' / f'poses3d_track{pid:03d}.trc'),
                         delimiter='\t', skip_header=5)
    assert data.shape == (40, 47) and np.isnan(data[20:22, 2:]).all()
    assert not np.isnan(data[:20, 2:]).any()
    with open(tmp_path / 'out' / 'poses3d.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15 * sum(len(r['scores']) for r in frames)
    assert {r['track_id'] for r in rows} == {'0', '1'}
    # a tracked file is exported with its own ids (no tracker run, no tracked file)
    again = tool.main([out['tracked_file'], '--to', 'csv', '-o', str(tmp_path / 'o2')])
    assert 'tracked_file' not in again and again['num_tracks'] == 2
    assert 'tracks;' in capsys.readouterr().out


def test_export_tool_names_the_bad_file(tmp_path):
    tool = load_tool('export_poses')
    with pytest.raises(SystemExit, match='missing.json: file not found'):
        tool.main([str(tmp_path / 'missing.json'), '--to', 'csv', '-o', str(tmp_path)])
    (tmp_path / 'x.npz').write_bytes(b'not a zip')
    with pytest.raises(SystemExit, match='x.npz'):
        tool.main([str(tmp_path / 'x.npz'), '--to', 'trc', '-o', str(tmp_path)])
