"""tools/pose_search.py: query (frame, person) → the nearest moments of a recording, by
canonical pose (no model) or by an MCSS embedding of the frames; the query's own moment
comes first when it is included, never when it is excluded (the default), and a moment
within --exclude-window frames is left out."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from selfpose3d_mm.geometry.canonical_pose import yaw_rotation
from selfpose3d_mm.io.predictions import save_predictions_json, save_predictions_npz
from selfpose3d_mm.skeleton import PANOPTIC15_NAMES
from tests.conftest import load_tool

ROOT = Path(__file__).resolve().parents[2]
J = len(PANOPTIC15_NAMES)
HEADER = dict(skeleton=dict(name='panoptic15', joints=list(PANOPTIC15_NAMES), links=[]))


def _pose(phase: float, rng, who: int) -> np.ndarray:
    """A person (mm, z up) whose limbs swing with ``phase`` (period 1); ``who`` changes
    the body."""
    base = np.random.default_rng(100 + who).normal(scale=250, size=(J, 3))
    swing = np.random.default_rng(200 + who).normal(scale=200, size=(J, 3))
    return base + math.sin(2 * math.pi * phase) * swing + rng.normal(scale=2, size=(J, 3))


def _recording(path: Path, tracked=False, frames=40, period=20):
    """Two people over ``frames`` frames, each turning and walking about; person 0
    repeats its motion every ``period`` frames (person 1 every 13)."""
    rng = np.random.default_rng(0)
    out = []
    for f in range(frames):
        kp = []
        for who, per in ((0, period), (1, 13)):
            R = yaw_rotation(torch.tensor(0.3 * f + who, dtype=torch.float64)).numpy()
            X = _pose(f / per, rng, who) @ R.T + np.array([50.0 * f, -30.0 * f, 0.0])
            kp.append(X)
        order = [1, 0] if f % 3 == 0 else [0, 1]  # the file's person order changes
        kp = np.stack(kp)[order].astype(np.float32)
        r = dict(frame_id=f'rec/{f:08d}', frame=100 + f, keypoints_3d=kp,
                 scores=np.array([0.9, 0.8], np.float32)[order], root_centers=kp[:, 2])
        if tracked:
            r['track_ids'] = np.array([7, 3])[order]
        out.append(r)
    if path.suffix == '.npz':
        save_predictions_npz(str(path), out, list(PANOPTIC15_NAMES), [])
    else:
        save_predictions_json(str(path), HEADER, out)
    return out


@pytest.fixture(scope='module')
def tool():
    return load_tool('pose_search')


def test_query_first_when_included_and_its_repeat_first_when_excluded(tool, tmp_path, capsys):
    path = tmp_path / 'poses3d.json'
    _recording(path, tracked=True)
    res = tool.main([str(path), '--frame', '105', '--person', '7', '--include-query',
                     '-k', '3'])
    assert res['tracked'] and res['query'] == dict(frame=105, position=5,
                                                   frame_id='rec/00000005', person=7)
    first = res['results'][0]
    assert (first['frame'], first['person'], first['distance']) == (105, 7, 0.0)
    assert 'rank' in capsys.readouterr().out
    res = tool.main([str(path), '--frame', '105', '--person', '7', '-k', '5'])
    found = [(r['frame'], r['person']) for r in res['results']]
    assert (105, 7) not in found
    assert found[0] == (125, 7)  # the same phase of the motion, a period later
    assert res['results'][0]['distance'] < 20 < res['results'][-1]['distance']
    d = [r['distance'] for r in res['results']]
    assert d == sorted(d)
    # every moment within 2 frames of the query is left out too (anyone)
    res = tool.main([str(path), '--frame', '105', '--person', '7', '-k', '200',
                     '--exclude-window', '2'])
    assert not any(abs(r['position'] - 5) <= 2 for r in res['results'])
    assert len(res['results']) == 80 - 10


def test_untracked_npz_pa_distance_json_and_errors(tool, tmp_path):
    path = tmp_path / 'poses3d.npz'
    frames = _recording(path)
    # npz files carry no frame numbers: --frame is the position; --person the index
    p = int(np.argmax(frames[5]['scores']))  # person 0 of the recording (score 0.9)
    out = tmp_path / 'similar.json'
    res = tool.main([str(path), '--frame', '5', '--person', str(p), '--distance', 'pa',
                     '--json', str(out)])
    assert res['distance'] == 'pa_mpjpe_mm' and not res['tracked']
    top = res['results'][0]
    assert top['frame'] == 25 and int(np.argmax(frames[25]['scores'])) == top['person']
    assert json.loads(out.read_text())['results'] == res['results']
    by_id = tool.main([str(path), '--frame', 'rec/00000005', '--person', str(p)])
    assert by_id['query']['position'] == 5
    with pytest.raises(SystemExit, match='no person 9 in frame 5'):
        tool.main([str(path), '--frame', '5', '--person', '9'])
    with pytest.raises(SystemExit, match='no such frame'):
        tool.main([str(path), '--frame', '999'])
    with pytest.raises(SystemExit):
        tool.main([str(path), '--frame', '5', '--config', 'x.py'])  # without --checkpoint


def test_search_by_mcss_embedding_of_the_frames(tool, tmp_path):
    """The crops of a tiny synthetic recording, embedded by a (random-init) MCSSEmbedder
    checkpoint: the query comes first at distance 0 when included."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    from selfpose3d_mm.datasets.pretext.mcss_batches import MCSSPairDataset
    init_default_scope('mmpose')
    world = dict(num_samples=6, frames_per_sequence=6, frame_interval=15,
                 num_people=(2, 2), outside_prob=0.0,
                 rig=dict(type='ring', num_views=3, image_size=(240, 136)))
    cfg_path = tmp_path / 'mcss_tiny.py'
    cfg_path.write_text(
        f"_base_ = ['{(ROOT / 'configs' / 'pretext' / 'mcss_synthetic.py').as_posix()}']\n"
        f'test_dataloader = dict(dataset=dict(crop_size=32, dataset=dict(**{world!r})))\n'
        "model = dict(backbone=dict(base_channels=8))\n")
    cfg = Config.fromfile(str(cfg_path))
    pairs = MCSSPairDataset(dict(cfg.test_dataloader.dataset.dataset, pipeline=[]),
                            crop_size=32, mode='views')
    src = pairs.clips.dataset
    frames = []
    for f in range(len(src)):  # the triangulated people as the recording's predictions
        people = {d['person']: d['keypoints_3d'] for d in pairs.data_list if d['frame'] == f}
        X = np.stack([people[k] for k in sorted(people)] or [np.zeros((0, J, 3))])
        frames.append(dict(frame_id=src.get_data_info(f)['frame_id'],
                           keypoints_3d=X.astype(np.float32), scores=np.ones(len(X)),
                           root_centers=X[:, 2]))
    poses = tmp_path / 'poses3d.json'
    save_predictions_json(str(poses), HEADER, frames)
    model = MODELS.build(cfg.model)
    ckpt = tmp_path / 'mcss.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), str(ckpt))
    args = [str(poses), '--frame', '2', '--person', '0', '--config', str(cfg_path),
            '--checkpoint', str(ckpt), '-k', '4']
    res = tool.main(args + ['--include-query'])
    assert res['distance'] == 'embedding'
    assert (res['results'][0]['position'], res['results'][0]['person']) == (2, 0)
    assert res['results'][0]['distance'] < 1e-5
    res = tool.main(args)
    assert all((r['position'], r['person']) != (2, 0) for r in res['results'])
    assert all(0 < r['distance'] <= 2 for r in res['results'])
