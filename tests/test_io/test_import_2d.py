"""2D import (selfpose3d_mm/io/keypoints2d, tools/import_2d.py): the real Pose2Sim OpenPose
files (BODY_25, 4 cameras x 100 frames) become a pseudo-label file the project's readers
load, every COCO-17 joint at the pixel of the BODY_25 joint of the same name; hand-made
MMPose, HALPE-26, WholeBody-133 and COCO-18 inputs; frame offsets; malformed inputs
named by file and field."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from selfpose3d_mm.datasets.pseudo_poses import frame_pseudo_poses
from selfpose3d_mm.io import load_pseudo_labels, save_pseudo_labels
from selfpose3d_mm.io.keypoints2d import (Keypoints2DError, format_summary, frame_numbers,
                                          import_2d)
from selfpose3d_mm.skeleton import COCO17_NAMES
from selfpose3d_mm.skeleton.keypoint_sets import (KEYPOINT_SETS, MMPOSE_META_FILES,
                                                  to_coco17)
from tests.conftest import fixture_path, load_tool

ROOT = Path(__file__).resolve().parents[2]
CAMS = ['cam01', 'cam02', 'cam03', 'cam04']
# COCO-17 joint -> BODY_25 index, written out from OpenPose's BODY_25 layout
BODY25_INDEX = dict(nose=0, left_eye=16, right_eye=15, left_ear=18, right_ear=17,
                    left_shoulder=5, right_shoulder=2, left_elbow=6, right_elbow=3,
                    left_wrist=7, right_wrist=4, left_hip=12, right_hip=9, left_knee=13,
                    right_knee=10, left_ankle=14, right_ankle=11)
COCO18_INDEX = dict(nose=0, left_eye=15, right_eye=14, left_ear=17, right_ear=16,
                    left_shoulder=5, right_shoulder=2, left_elbow=6, right_elbow=3,
                    left_wrist=7, right_wrist=4, left_hip=11, right_hip=8, left_knee=12,
                    right_knee=9, left_ankle=13, right_ankle=10)


def _pose2sim():
    return fixture_path('pose2sim', 'multiperson_openpose', 'pose')


def _views(root, cams=CAMS):
    return {c: str(root / f'{c}_json') for c in cams}


@pytest.fixture(scope='module')
def pose2sim_import():
    root = _pose2sim()
    return root, import_2d(_views(root), 'openpose')


def _person(K, seed, missing=()):
    """(K, 3) distinct keypoints: x = 10 j + seed, y = 500 + j, score 0.5 + j / 1000."""
    j = np.arange(K, dtype=np.float64)
    kp = np.stack([10 * j + seed, 500 + j, 0.5 + j / 1000], -1)
    kp[list(missing)] = 0
    return kp


def _openpose_file(path, people, **extra):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(version=1.3, people=[
        dict(person_id=[-1], pose_keypoints_2d=np.asarray(p).reshape(-1).tolist(),
             **extra) for p in people])))


def _mmpose_instance(kp, bbox=None, bbox_score=None):
    inst = dict(keypoints=kp[:, :2].tolist(), keypoint_scores=kp[:, 2].tolist())
    if bbox is not None:
        inst.update(bbox=[list(bbox)], bbox_score=bbox_score)  # mmpose writes a 1-tuple
    return inst


def _mmpose_views(tmp_path, K, frames=2, cams=('a', 'b'), **box):
    for c, cam in enumerate(cams):
        for f in range(frames):
            p = tmp_path / cam / f'{f:06d}.json'
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps([_mmpose_instance(_person(K, 100 * c + f), **box)]))
    return {c: str(tmp_path / c) for c in cams}


# ------------------------------------------------------------------- real Pose2Sim files
def test_pose2sim_file_loads_with_the_project_readers(pose2sim_import, tmp_path):
    _, (labels, summary) = pose2sim_import
    out = tmp_path / 'labels.json'
    save_pseudo_labels(str(out), labels)
    back = load_pseudo_labels(str(out), views=CAMS, num_joints=15)
    assert len(back) == 100 and back.views == CAMS and back.skeleton == 'coco17'
    assert sorted(back.keys()) == [f'{f:08d}' for f in range(100)]
    kps, scores, box = frame_pseudo_poses(back, '00000050')  # -> Panoptic-15
    assert len(kps) == 4 and kps[2].shape == (2, 15, 2) and box[2].shape == (2, )
    counts = np.array([[len(e['keypoints']) for e in v] for v in back.frames.values()])
    assert (counts >= 2).mean() > 0.95  # two people (cam01/02 see a third now and then)
    assert summary['frames'] == 100 and summary['keypoint_set'] == 'body25'
    assert summary['match'] == 'number'
    assert summary['views']['cam03']['people_hist'] == {2: 100}
    # cam01.0001.json holds a person with an empty pose_keypoints_2d: dropped, counted
    assert summary['views']['cam01']['dropped_people'] == 1
    assert '100 frames (0..99), 4 views' in format_summary(summary)


def test_pose2sim_joints_sit_on_their_body25_source_pixels(pose2sim_import):
    root, (labels, _) = pose2sim_import
    idx = [BODY25_INDEX[n] for n in COCO17_NAMES]
    checked = 0
    for cam in CAMS:
        for f in range(100):
            src = json.loads((root / f'{cam}_json' / f'{cam}.{f:04d}.json').read_text())
            raw = [np.asarray(p['pose_keypoints_2d'], np.float32).reshape(-1, 3)
                   for p in src['people'] if p['pose_keypoints_2d']]
            got = labels.frames[f'{f:08d}'][CAMS.index(cam)]['keypoints']
            assert len(got) == len(raw)
            for g, r in zip(got, raw):  # file order kept
                r = r[idx]
                ok = r[:, 2] > 0
                np.testing.assert_array_equal(g[ok], r[ok])  # exact pixels and scores
                assert (g[~ok] == 0).all()  # 0, 0, 0 in OpenPose -> invalid
                checked += ok.sum()
    assert checked > 8000  # every valid joint of every file
    # the avatar of cam01 frame 0 lacks BODY_25 joints 1-4: right arm invalid in COCO-17
    first = labels.frames['00000000'][0]['keypoints'][0]
    for name in ('right_shoulder', 'right_elbow', 'right_wrist'):
        assert first[COCO17_NAMES.index(name), 2] == 0
    assert first[COCO17_NAMES.index('nose'), 2] == 1  # the avatar's scores are 1


def test_offsets_shift_frames_and_report_missing_ones(pose2sim_import, tmp_path):
    root, (plain, _) = pose2sim_import
    views = _views(root, ['cam03', 'cam04'])
    labels, summary = import_2d(views, 'openpose', offsets=['cam04=3'])
    for f in (0, 40, 96):  # rig frame f of cam04 = its file f + 3
        np.testing.assert_array_equal(labels.frames[f'{f:08d}'][1]['keypoints'],
                                      plain.frames[f'{f + 3:08d}'][3]['keypoints'])
        np.testing.assert_array_equal(labels.frames[f'{f:08d}'][0]['keypoints'],
                                      plain.frames[f'{f:08d}'][2]['keypoints'])
    s = summary['views']['cam04']
    assert s['missing_frames'] == [97, 98, 99] and s['skipped_files'] == [0, 1, 2]
    assert all(len(labels.frames[f'{f:08d}'][1]['keypoints']) == 0 for f in (97, 98, 99))
    assert '3 frames without a file' in format_summary(summary)
    # the same table as a JSON file and as a CSV file (with a header row)
    (tmp_path / 'o.json').write_text('{"cam04": 3}')
    (tmp_path / 'o.csv').write_text('camera,offset\ncam03,0\ncam04,3\n')
    for table in ('o.json', 'o.csv'):
        other, _ = import_2d(views, 'openpose', offsets=[str(tmp_path / table)])
        np.testing.assert_array_equal(other.frames['00000005'][1]['keypoints'],
                                      labels.frames['00000005'][1]['keypoints'])
    (tmp_path / 'bad.csv').write_text('cam04,three\n')
    with pytest.raises(Keypoints2DError, match=r'bad\.csv: row 1: offset of .cam04.'):
        import_2d(views, 'openpose', offsets=[str(tmp_path / 'bad.csv')])
    with pytest.raises(Keypoints2DError, match=r"--offsets: camera\(s\) \['cam09'\]"):
        import_2d(views, 'openpose', offsets=['cam09=1'])


def test_tool_writes_in_rig_order_and_refuses_unknown_views(tmp_path):
    from selfpose3d_mm.datasets.synthetic.rig import make_ring_rig
    from selfpose3d_mm.io import save_rig
    root = _pose2sim()
    rig = make_ring_rig(np.random.default_rng(0), (0, 0, 800), (4000, 4000, 2000),
                        num_views=4)
    calib = str(tmp_path / 'rig.json')
    save_rig(calib, rig, names=CAMS)
    tool, out = load_tool('import_2d'), tmp_path / 'labels.json'
    items = [f'{c}={root / (c + "_json")}' for c in reversed(CAMS[1:])]
    res = tool.main(['--format', 'openpose', '--views', *items, '--calibration', calib,
                     '-o', str(out)])
    labels = load_pseudo_labels(str(out))
    assert labels.views == ['cam02', 'cam03', 'cam04'] and len(labels) == 100
    np.testing.assert_array_equal(labels.image_sizes,
                                  rig.image_size.numpy()[1:].astype(np.float64))
    assert res['summary']['views']['cam02']['people'] == 300
    with pytest.raises(SystemExit, match='exists'):
        tool.main(['--format', 'openpose', '--views', *items, '-o', str(out)])
    with pytest.raises(SystemExit, match=r"view\(s\) \['cam9'\] are not cameras of the "
                                         r'calibration .*rig\.json'):
        tool.main(['--format', 'openpose', '--views', f'cam9={root / "cam01_json"}',
                   '--calibration', calib, '-o', str(tmp_path / 'x.json')])


def test_pose2sim_import_with_its_calibration_feeds_the_custom_rig_dataset(tmp_path):
    from selfpose3d_mm.io import CALIBRATION_FORMATS
    if 'qualisys' not in CALIBRATION_FORMATS:
        pytest.skip('no Qualisys calibration reader in this checkout')
    from selfpose3d_mm.datasets.custom_rig import CustomRigDataset
    root = _pose2sim()
    calib = str(fixture_path('pose2sim', 'multiperson_openpose', 'calibration',
                             'Calib.qca.txt'))
    out = str(tmp_path / 'labels.json')
    load_tool('import_2d').main(
        ['--format', 'openpose', '--calibration', calib, '-o', out, '--views',
         *[f'cam_{c[3:]}={root / (c + "_json")}' for c in CAMS]])
    ds = CustomRigDataset(calibration=calib, pseudo_labels=out, with_images=False,
                          space_center=(0, 0, 800), space_size=(8000, 8000, 2000),
                          pipeline=[])
    info = ds.get_data_info(7)
    assert len(ds) == 100 and [len(k) for k in info['pseudo_keypoints']][2:] == [2, 2]
    assert info['pseudo_keypoints'][2].shape == (2, 15, 2)  # Panoptic-15 from COCO-17


# ------------------------------------------------------------------------ hand-made inputs
@pytest.mark.parametrize('kset', ['coco17', 'halpe26', 'wholebody'])
def test_mmpose_sets_map_to_coco17_by_name(tmp_path, kset):
    K = len(KEYPOINT_SETS[kset])
    views = _mmpose_views(tmp_path, K, bbox=(1, 2, 300, 400), bbox_score=0.8)
    labels, summary = import_2d(views, 'mmpose')
    assert summary['keypoint_set'] == kset and len(labels) == 2
    e = labels.frames['00000001'][1]  # view b, frame 1: seed 101
    src = _person(K, 101)
    names = KEYPOINT_SETS[kset]
    for j, n in enumerate(COCO17_NAMES):  # the joint of the same name
        np.testing.assert_allclose(e['keypoints'][0, j], src[names.index(n)], rtol=1e-6)
    np.testing.assert_array_equal(e['bboxes'], [[1, 2, 300, 400]])
    np.testing.assert_allclose(e['bbox_scores'], [0.8])


def test_wholebody_box_spans_hands_and_feet_when_the_file_has_none(tmp_path):
    views = _mmpose_views(tmp_path, 133)
    labels, _ = import_2d(views, 'mmpose', box_score='mean')
    e, src = labels.frames['00000000'][0], _person(133, 0)
    np.testing.assert_allclose(e['bboxes'][0], [0, 500, 1320, 632])  # joints 0..132
    np.testing.assert_allclose(e['bbox_scores'][0], src[:17, 2].mean(), rtol=1e-6)


def test_openpose_coco18_and_scores_min_score_clipping(tmp_path):
    kp = _person(18, 7, missing=[14])  # right eye not found
    kp[0, 2] = 1.04  # a raw confidence a little above 1
    kp[3, 2] = 0.05  # right elbow, below --min-score
    for cam in ('a', 'b'):
        _openpose_file(tmp_path / cam / f'{cam}_000000000000_keypoints.json', [kp])
        _openpose_file(tmp_path / cam / f'{cam}_000000000002_keypoints.json', [kp])
    labels, summary = import_2d({c: str(tmp_path / c) for c in 'ab'}, 'openpose',
                                min_score=0.1)
    assert summary['keypoint_set'] == 'coco18' and list(labels.keys()) == [
        '00000000', '00000002']  # numbers from the names; frame 1 exists in no camera
    got = labels.frames['00000002'][0]['keypoints'][0]
    for n, i in COCO18_INDEX.items():
        j = COCO17_NAMES.index(n)
        if n in ('right_eye', 'right_elbow'):
            assert (got[j] == 0).all()
        elif n == 'nose':
            np.testing.assert_allclose(got[j], [kp[0, 0], kp[0, 1], 1.0])
        else:
            np.testing.assert_allclose(got[j], kp[i], rtol=1e-6)
    assert summary['views']['a']['clipped_scores'] == 2
    assert labels.frames['00000000'][0]['bbox_scores'][0] == 1  # OpenPose: no box score


def test_mmpose_video_file_and_gaps_by_frame_number(tmp_path):
    video = tmp_path / 'a.json'
    video.write_text(json.dumps([dict(frame_id=f, instances=[_mmpose_instance(
        _person(17, f))]) for f in range(3)]))
    for f in (0, 2):  # camera b lacks frame 1
        _openpose_dir = tmp_path / 'b'
        _openpose_dir.mkdir(exist_ok=True)
        (_openpose_dir / f'img_{f:04d}.json').write_text(
            json.dumps([_mmpose_instance(_person(17, 50 + f))]))
    labels, summary = import_2d({'a': str(video), 'b': str(tmp_path / 'b')}, 'mmpose')
    assert list(labels.keys()) == ['00000000', '00000001', '00000002']
    assert summary['views']['b']['missing_frames'] == [1]
    assert len(labels.frames['00000001'][1]['keypoints']) == 0
    np.testing.assert_allclose(labels.frames['00000002'][0]['keypoints'][0], _person(17, 2),
                               rtol=1e-6)
    assert frame_numbers(['cam01.0003.json', 'cam01.0010.json']) == [3, 10]
    assert frame_numbers(['left.json', 'right.json']) is None


def test_unnumbered_names_match_by_index_and_normalised_coordinates_warn(tmp_path):
    for cam in ('a', 'b'):
        for n, name in enumerate(('first', 'second', 'third')):
            _openpose_file(tmp_path / cam / f'{name}.json', [_person(25, n) / 1000])
    views = {c: str(tmp_path / c) for c in 'ab'}
    labels, summary = import_2d(views, 'openpose')
    assert summary['match'] == 'index' and len(labels) == 3
    # natural name order: first, second, third -> frames 0, 1, 2 (seed n)
    np.testing.assert_allclose(labels.frames['00000002'][0]['keypoints'][0, 0, :2],
                               [0.002, 0.5], rtol=1e-6)
    assert 'WARNING: every coordinate is within [-1.5, 1.5]' in format_summary(summary)
    with pytest.raises(Keypoints2DError, match='carry no frame number'):
        import_2d(views, 'openpose', match='number')


def test_keypoint_set_names_agree_with_mmpose_meta():
    from selfpose3d_mm.skeleton.metainfo import load_pose_metainfo, mmpose_meta_file
    for kset, meta in MMPOSE_META_FILES.items():
        if meta is None:
            continue
        info = load_pose_metainfo(dict(from_file=mmpose_meta_file(meta)))
        names = [info['keypoint_id2name'][i] for i in range(info['num_keypoints'])]
        assert tuple(names) == KEYPOINT_SETS[kset], kset
    with pytest.raises(ValueError, match=r'body25 keypoints are \(\.\.\., 25, C\)'):
        to_coco17(np.zeros((2, 18, 3)), 'body25')


# -------------------------------------------------------------------------- bad inputs
def _op_error(tmp_path, people=None, text=None, **kw):
    f = tmp_path / 'v' / 'v.0000.json'
    if text is None:
        _openpose_file(f, people)
    else:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    with pytest.raises(Keypoints2DError) as e:
        import_2d({'v': str(tmp_path / 'v')}, 'openpose', **kw)
    # names the file (the folder for a view without anybody)
    assert str(e.value).startswith(str(f if text or any(np.any(p) for p in people) else f.parent))
    return str(e.value)


@pytest.mark.parametrize('case,expect', [
    (dict(text='{"people": [}'), 'not valid JSON'),
    (dict(text='{"people": {}}'), 'people: expected a list'),
    (dict(text='{"version": 1.3}'), 'people: missing field'),
    (dict(people=[np.zeros(74)]), r'people\[0\]\.pose_keypoints_2d: 74 values'),
    (dict(people=[np.zeros((20, 3))]), r'people\[0\]\.pose_keypoints_2d: 20 joints is no '
                                       'known keypoint set'),
    (dict(people=[np.ones((25, 3)), np.ones((18, 3))]),
     r'people\[1\]\.pose_keypoints_2d: mixed keypoint sets: 18 joints \(coco18\)'),
    (dict(people=[np.ones((25, 3))], keypoint_set='coco18'),
     r'people\[0\]\.pose_keypoints_2d: wrong keypoint count: 25 joints \(body25\), but '
     'keypoint set coco18'),
    (dict(text='{"people": [{"pose_keypoints_2d": ["a", 1, 2]}]}'),
     r'people\[0\]\.pose_keypoints_2d: expected numbers'),
    (dict(text='{"people": [{"person_id": "x", "pose_keypoints_2d": []}]}'),
     r'people\[0\]\.person_id: expected an integer'),
    (dict(people=[np.zeros((25, 3))]), r'--views v: no person in any of its 1 files'),
])
def test_malformed_openpose_names_file_and_field(tmp_path, case, expect):
    msg = _op_error(tmp_path, **case)
    assert re.search(expect, msg), msg


def test_malformed_mmpose_and_mixed_sets_across_files(tmp_path):
    bad = [('keypoint_scores', [0.5] * 16, r'\[0\]\.keypoint_scores: expected shape \(17\)'),
           ('bbox_score', 5.0, r'\[0\]\.bbox_score: 5 is outside \[0, 1\]'),
           ('keypoints', [[1, 2, 3]] * 17, r'\[0\]\.keypoints: expected shape \(N, 2\)')]
    for field, value, expect in bad:
        inst = _mmpose_instance(_person(17, 0), bbox=(0, 0, 1, 1), bbox_score=0.5)
        inst[field] = value
        f = tmp_path / field / '000000.json'
        f.parent.mkdir()
        f.write_text(json.dumps([inst]))
        with pytest.raises(Keypoints2DError, match=expect) as e:
            import_2d({'v': str(f.parent)}, 'mmpose')
        assert str(e.value).startswith(str(f))
    _openpose_file(tmp_path / 'a' / 'a.0000.json', [np.ones((25, 3))])
    _openpose_file(tmp_path / 'b' / 'b.0000.json', [np.ones((18, 3))])
    with pytest.raises(Keypoints2DError, match=r'b\.0000\.json: people\[0\]\.pose_keypoints_2d:'
                                                r' mixed keypoint sets: 18 joints .* but '
                                                r'.*a\.0000\.json: people\[0\]') as e:
        import_2d({'a': str(tmp_path / 'a'), 'b': str(tmp_path / 'b')}, 'openpose')


def test_tool_subprocess_reports_bad_input_without_traceback(tmp_path):
    _openpose_file(tmp_path / 'v' / 'v.0000.json', [np.zeros(74)])
    res = subprocess.run([sys.executable, str(ROOT / 'tools' / 'import_2d.py'), '--format',
                          'openpose', '--views', f'v={tmp_path / "v"}', '-o',
                          str(tmp_path / 'o.json')], capture_output=True, text=True,
                         cwd=str(ROOT), timeout=120, env={**os.environ, 'PYTHONPATH': str(ROOT)})
    assert res.returncode != 0 and 'Traceback' not in res.stderr, res.stderr
    assert 'v.0000.json: people[0].pose_keypoints_2d: 74 values' in res.stderr
    assert not (tmp_path / 'o.json').exists()
