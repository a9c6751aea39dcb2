"""The README's user journey on real files, with no training: a Qualisys calibration and
OpenPose JSON of two people in 4 cameras (Pose2Sim's demo data) → rig file + pseudo-label
file → capture space → 3D poses by the triangulation method (and by the generalist that
ships with the package) → tracked .trc / .c3d / CSV → label-free quality report. Each step is the user's command (a subprocess)."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FIX = osp.join(ROOT, '..', 'shared', 'fixtures', 'pose2sim')
OPENPOSE = osp.join(FIX, 'multiperson_openpose')
VIDEOS = osp.join(FIX, 'multiperson_videos')
FRAMES = 12

pytestmark = pytest.mark.skipif(not osp.isdir(OPENPOSE), reason='Pose2Sim fixture absent')


def _run(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    r = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                       text=True)
    assert r.returncode == 0, f'{args[0]} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}'
    assert 'Traceback' not in r.stderr
    return r.stdout + r.stderr


def _space_args(text):
    """The space lines estimate_space.py prints (``space_center = (x, y, z)``)."""
    out = {}
    for line in text.splitlines():
        for key in ('space_center', 'space_size'):
            if line.strip().startswith(f'{key} ='):
                out[key] = [float(v) for v in
                            line.split('=', 1)[1].strip(' ()[]\n').split(',') if v.strip()]
    assert set(out) == {'space_center', 'space_size'}, text
    return out


def test_journey_triangulation_on_pose2sim(tmp_path):
    rig, labels = str(tmp_path / 'rig.json'), str(tmp_path / 'pseudo_labels.json')
    out = _run('tools/convert_calibration.py',
               osp.join(OPENPOSE, 'calibration', 'Calib.qca.txt'), '-o', rig)
    assert 'qualisys' in out.lower()
    cams = json.load(open(rig))['cameras']
    names = [c['name'] for c in cams] if isinstance(cams, list) else list(cams)
    assert len(names) == 4
    views = [f'{n}={osp.join(OPENPOSE, "pose", "cam%02d_json" % (i + 1))}'
             for i, n in enumerate(sorted(names))]
    _run('tools/import_2d.py', '--format', 'openpose', '--views', *views,
         '--calibration', rig, '-o', labels)
    space = _space_args(_run('tools/estimate_space.py', rig, '--pseudo-labels', labels))
    demo = str(tmp_path / 'demo')
    _run('tools/demo.py', '--method', 'triangulation', '--calibration', rig,
         '--pseudo-labels', labels, '--pseudo-labels-only', '--frames', str(FRAMES),
         '--space-center', *map(str, space['space_center']),
         '--space-size', *map(str, space['space_size']), '--out-dir', demo)
    poses = json.load(open(osp.join(demo, 'poses3d.json')))
    frames = poses['frames']
    assert len(frames) == FRAMES
    found = [len(f['persons']) for f in frames]
    assert np.mean([n >= 2 for n in found]) >= 0.8, found  # two people in most frames
    pictures = os.listdir(osp.join(demo, 'vis'))
    assert any(p.endswith('_views.jpg') for p in pictures)
    assert any(p.endswith('_3d.jpg') for p in pictures)

    # the learned model that ships with the package, on this rig with no training (the
    # space estimated): it runs and writes every frame (how good it is: benchmarks)
    gen = str(tmp_path / 'generalist')
    _run('tools/demo.py', '--model', 'generalist', '--refine', '--calibration', rig,
         '--pseudo-labels', labels, '--pseudo-labels-only', '--frames', str(FRAMES),
         '--no-pictures', '--out-dir', gen)
    learned = json.load(open(osp.join(gen, 'poses3d.json')))
    assert learned['model']['config'] == '--model generalist'
    assert len(learned['frames']) == FRAMES
    assert all(np.isfinite(np.asarray(p['keypoints_3d'], float)).any()
               for f in learned['frames'] for p in f['persons'])

    export = str(tmp_path / 'export')
    _run('tools/export_poses.py', osp.join(demo, 'poses3d.json'), '--to', 'trc', 'csv',
         '--track', '--smooth', 'one_euro', '--fps', '60', '-o', export)
    trc = sorted(f for f in os.listdir(export) if f.endswith('.trc'))
    assert len(trc) >= 2  # one file per tracked person
    lines = open(osp.join(export, trc[0])).read().splitlines()
    assert lines[0].startswith('PathFileType')
    header = dict(zip(lines[1].split('\t'), lines[2].split('\t')))
    assert float(header['DataRate']) == 60.0 and int(header['NumMarkers']) == 15
    rows = np.genfromtxt(osp.join(export, trc[0]), skip_header=5, delimiter='\t')
    xyz = rows[:, 2:].reshape(len(rows), -1, 3)
    assert np.isfinite(xyz).any(axis=(1, 2)).all()
    # metres, y up: a standing person's joints lie between the floor and ~2.2 m
    heights = xyz[..., 1][np.isfinite(xyz[..., 1])]
    assert -0.3 < np.median(heights) < 2.2

    quality = str(tmp_path / 'quality')
    _run('tools/quality_report.py', osp.join(demo, 'poses3d.json'), '--pseudo-labels',
         labels, '--calibration', rig, '-o', quality)
    report = json.load(open(osp.join(quality, 'quality.json')))
    assert report and any(f.endswith('.png') for f in os.listdir(quality))


@pytest.mark.skipif(not osp.isdir(VIDEOS), reason='Pose2Sim video fixture absent')
def test_video_set_calibration_imports_and_videos_decode(tmp_path):
    from selfpose3d_mm.datasets import CustomRigDataset
    from selfpose3d_mm.io import load_cameras
    rig = str(tmp_path / 'rig.json')
    _run('tools/convert_calibration.py', osp.join(VIDEOS, 'calibration', 'Calib.qca.txt'),
         '-o', rig)
    cams = load_cameras(rig)
    names = [c['name'] for c in json.load(open(rig))['cameras']]
    videos = sorted(f for f in os.listdir(osp.join(VIDEOS, 'videos')) if f.endswith('.mp4'))
    assert len(videos) == cams.num_views == 4
    ds = CustomRigDataset(
        calibration=rig, test_mode=True, frame_range=(0, 2), pipeline=[],
        space_center=(0.0, 0.0, 1000.0), space_size=(4000.0, 4000.0, 2000.0),
        videos={n: osp.join(VIDEOS, 'videos', v) for n, v in zip(sorted(names), videos)})
    info = ds.get_data_info(1)
    assert len(ds) == 2 and info['cameras'].num_views == 4
    sizes = cams.image_size.numpy()
    for img, (w, h) in zip(info['img'], sizes):  # decoded frames of the calibrated size
        assert img.shape == (int(h), int(w), 3) and img.std() > 5
