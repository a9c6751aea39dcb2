"""The label-free quality report on a synthetic case with known answers: 3D people seen
by a 5-view ring, pseudo 2D poses = their projections + 1.5 px noise; one view shifted
by 50 px, one bone that jitters, three frames with nobody."""
import json

import numpy as np
import pytest
import torch

from selfpose3d_mm.apis.quality_report import (bone_stability, match_and_measure,
                                               quality_report)
from selfpose3d_mm.datasets.synthetic.body import PeopleSequence
from selfpose3d_mm.io import rig_to_dict, save_pseudo_labels, save_rig
from selfpose3d_mm.io.predictions import save_predictions_json, save_predictions_npz
from selfpose3d_mm.skeleton import PANOPTIC15_LIMBS, PANOPTIC15_NAMES
from tests.conftest import load_tool

F, SIGMA, SHIFTED = 40, 1.5, 2
EMPTY = (30, 31, 32)
L_ELB, L_WRI = PANOPTIC15_NAMES.index('left_elbow'), PANOPTIC15_NAMES.index('left_wrist')


@pytest.fixture
def scene(ring_rig, tmp_path):
    rng = np.random.default_rng(0)
    poses = PeopleSequence(rng, 3, (0, -500, 800), (4000, 4000, 2000)).joints(
        np.arange(F) / 10.0)                                            # (F, 3, 15, 3)
    # person 0's forearm length jitters by up to +-30 %
    fore = poses[:, 0, L_WRI] - poses[:, 0, L_ELB]
    poses[:, 0, L_WRI] = poses[:, 0, L_ELB] + fore * rng.uniform(0.7, 1.3, (F, 1))
    cams = ring_rig
    W, H = cams.image_size[0].tolist()
    frames, pseudo = [], {}
    for f in range(F):
        kp3 = poses[f] if f not in EMPTY else np.zeros((0, 15, 3))
        frames.append(dict(frame_id=f'seq/{f:08d}', frame=f, keypoints_3d=kp3,
                           scores=np.full(len(kp3), 0.9), root_centers=kp3[:, 2]))
        uv, front = cams.double().project(torch.as_tensor(poses[f].reshape(-1, 3)),
                                          return_valid=True)
        uv = uv.numpy().reshape(5, 3, 15, 2) + rng.normal(0, SIGMA, (5, 3, 15, 2))
        uv[SHIFTED, ..., 0] += 50.0
        ok = (front.numpy().reshape(5, 3, 15) & (uv[..., 0] > 0) & (uv[..., 0] < W - 1)
              & (uv[..., 1] > 0) & (uv[..., 1] < H - 1))
        views = []
        for c in range(5):
            keep = ok[c].sum(-1) >= 3
            kp = np.concatenate([uv[c], np.where(ok[c], 0.9, 0.0)[..., None]], -1)[keep]
            kp[..., :2] *= kp[..., 2:] > 0
            lo, hi = uv[c, keep].min(1), uv[c, keep].max(1)
            views.append(dict(keypoints=kp, bboxes=np.concatenate([lo, hi], -1),
                              bbox_scores=np.full(keep.sum(), 0.9)))
        pseudo[f'{f:08d}'] = views
    save_pseudo_labels(str(tmp_path / 'pl.json'), dict(skeleton='panoptic15',
                                                       views=cams.names, frames=pseudo))
    header = dict(skeleton=dict(name='panoptic_body3d', joints=list(PANOPTIC15_NAMES),
                                links=[list(x) for x in PANOPTIC15_LIMBS]),
                  cameras=[rig_to_dict(cams)])
    save_predictions_json(str(tmp_path / 'poses3d.json'), header, frames)
    return tmp_path, frames


def test_report_finds_the_noise_the_shifted_view_the_jittery_bone_and_empty_frames(scene):
    root, _ = scene
    rep = quality_report(str(root / 'poses3d.json'), str(root / 'pl.json'),
                         str(root / 'out'))
    # the JSON on disk is the report, strict JSON
    disk = json.loads((root / 'out' / 'quality.json').read_text())
    assert disk['summary'] == rep['summary'] and disk['format'] == 'selfpose3d_mm/quality_report'
    expected = SIGMA * np.sqrt(2 * np.log(2))          # median of |2D Gaussian| = 1.77 px
    views = {v['name']: v for v in rep['per_view']}
    names = rep['views']
    for c, name in enumerate(names):
        if c != SHIFTED:
            assert views[name]['median_px'] == pytest.approx(expected, rel=0.15), name
    assert views[names[SHIFTED]]['median_px'] == pytest.approx(50.0, abs=3.0)
    assert rep['summary']['worst_view'] == names[SHIFTED]
    med = np.array([[np.nan if v is None else v for v in r]
                    for r in rep['reprojection']['median_px']])
    assert med.shape == (5, 15) and np.nanargmax(np.nanmedian(med, 1)) == SHIFTED
    # every 3D person visible in a view is matched; supports: the 4 clean views
    assert all(v['unmatched_3d'] == 0 and v['matched'] > 0 for v in rep['per_view'])
    j = {p['name']: p for p in rep['per_joint']}['neck']
    assert 3.0 <= j['mean_support_views'] <= 4.0 and j['supported_by_2_or_more'] > 0.95
    # bones: only person 0's left forearm is flagged (the tracker found the 3 people)
    tracks = rep['bones']['tracks']
    assert len(tracks) == 3
    flagged = [(t['track_id'], b) for t in tracks for b in t['flagged']]
    assert len(flagged) == 1 and flagged[0][1] == 'left_elbow-left_wrist'
    assert rep['summary']['flagged_bones'] == 1
    # the timeline
    assert rep['timeline']['frames_without_people'] == list(EMPTY)
    assert rep['summary']['frames_without_people'] == 3
    assert rep['timeline']['num_persons'][:3] == [3, 3, 3]
    for name in ('quality.json', 'quality_heatmap.png', 'quality_bone_cv.png',
                 'quality_timeline.png'):
        p = root / 'out' / name
        assert p.is_file() and p.stat().st_size > 1000
        assert str(p) in rep['files']


def test_tool_reads_an_npz_with_a_calibration_file(scene, ring_rig, capsys):
    root, frames = scene
    save_predictions_npz(str(root / 'poses3d.npz'), frames, list(PANOPTIC15_NAMES),
                         PANOPTIC15_LIMBS)
    save_rig(str(root / 'rig.json'), ring_rig)
    tool = load_tool('quality_report')
    with pytest.raises(SystemExit, match="poses3d.npz: no field `cameras`"):
        tool.main([str(root / 'poses3d.npz'), '--pseudo-labels', str(root / 'pl.json'),
                   '-o', str(root / 'o')])
    rep = tool.main([str(root / 'poses3d.npz'), '--pseudo-labels', str(root / 'pl.json'),
                     '--calibration', str(root / 'rig.json'), '-o', str(root / 'o2'),
                     '--no-plots'])
    assert rep['summary']['worst_view'] == ring_rig.names[SHIFTED]
    assert rep['files'] == [str(root / 'o2' / 'quality.json')]
    assert 'worst view synth_02' in capsys.readouterr().out


def test_matching_is_per_view_and_gated():
    rng = np.random.default_rng(1)
    uv = np.zeros((2, 3, 15, 2))                        # 3 people 400 px apart, 300 tall
    uv[..., 0] = np.array([100.0, 500.0, 900.0])[:, None] + rng.uniform(0, 100, (2, 3, 15))
    uv[..., 1] = 200.0 + np.linspace(0, 300, 15)
    vis = np.ones((2, 3, 15), bool)
    order = np.array([2, 0, 1])
    kp = uv[:, order] + rng.normal(0, 2, (2, 3, 15, 2))
    ok = np.ones((2, 3, 15), bool)
    kp[1, 1] += 400.0                                   # view 1: person 0's pseudo far off
    err, size, match = match_and_measure(uv, vis, kp, ok, match_gate=0.5)
    assert (match[0] == [1, 2, 0]).all()
    assert match[1, 0] == -1 and np.isnan(err[1, 0]).all()
    assert np.nanmax(err[0]) < 10 and np.allclose(size, 300.0)


def test_bone_stability_flags_only_the_varying_bone():
    T = 50
    rng = np.random.default_rng(2)
    p = np.zeros((T, 3, 3))
    p[:, 1, 0] = 300.0
    p[:, 2, 0] = 300.0 + 250.0 * rng.uniform(0.7, 1.3, T)
    out = bone_stability({5: (np.arange(T), p, np.ones((T, 3), bool))},
                         np.array([[0, 1], [1, 2]]), cv_threshold=0.1)
    assert out[0]['track_id'] == 5 and out[0]['flagged'] == ['1-2']
    assert out[0]['cv'][0] == pytest.approx(0.0) and out[0]['mean_mm'][0] == pytest.approx(300)
