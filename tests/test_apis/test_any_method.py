"""Any method through the same inferencer and tools/demo.py, with the same files: the
triangulation baseline (no checkpoint; alias or config), a learned model, a learned
model with refinement; and the pictures: input 2D poses, ids, legends, space box."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from scipy.optimize import linear_sum_assignment

from selfpose3d_mm.apis import MultiViewPoseInferencer
from selfpose3d_mm.models import SelfPose3D
from selfpose3d_mm.visualization import (CAMERA_COLOR, PERSON_PALETTE, draw_prediction_views,
                                         id_colors, plot_prediction_scene)
from tests.conftest import load_tool
from tests.rig_files import IMAGE_SIZE, SPACE, write_rig

ROOT = Path(__file__).resolve().parents[2]


def _learned_config() -> dict:
    """A tiny heatmap-input SelfPose3D (reads the pseudo labels, no image network)."""
    model = dict(type='SelfPose3D', input_size=(160, 96), heatmap_size=(40, 24),
                 root_channels='root',
                 root_head=dict(cube_shape=(16, 16, 8), mid_channels=8, max_proposals=4,
                                threshold=0.0, **SPACE),
                 pose_head=dict(cube_shape=(8, 8, 8), mid_channels=8))
    return dict(default_scope='mmpose', model=model)


@pytest.fixture(scope='module')
def rig(tmp_path_factory):
    root = tmp_path_factory.mktemp('any_method')
    files = write_rig(root)
    torch.manual_seed(0)
    learned = MultiViewPoseInferencer(_learned_config(), None, device='cpu')
    with torch.no_grad():  # root scores around 1: random proposals pass threshold 0
        learned.model.root_head.net.output_layer.bias.fill_(1.0)
    cfg_path = root / 'tiny_learned.py'
    Config(_learned_config()).dump(str(cfg_path))
    torch.save(dict(state_dict=learned.model.state_dict(), meta={}), str(root / 'tiny.pth'))
    return dict(files, learned=learned, learned_cfg=str(cfg_path),
                learned_ckpt=str(root / 'tiny.pth'))


def _schema(doc: dict) -> dict:
    """The keys of a poses3d.json at every level (values aside)."""
    persons = [set(p) for fr in doc['frames'] for p in fr['persons']]
    return dict(top=set(doc), model=set(doc['model']), skeleton=set(doc['skeleton']),
                source=set(doc['source']), space=set(doc['source']['space']),
                frame=set(doc['frames'][0]), person=set.union(*persons))


def test_triangulation_alias_writes_the_learned_schema_and_finds_the_people(rig):
    tri = MultiViewPoseInferencer('triangulation', device='cpu')
    assert not list(tri.model.parameters())  # nothing to load, nothing to warn about
    out_t, out_l = rig['root'] / 'tri', rig['root'] / 'learned'
    spec = dict(calibration=rig['rig'], pseudo_labels=rig['pseudo'], images=rig['folders'])
    frames = tri.run(**spec, out_dir=str(out_t))['frames']
    rig['learned'].run(**spec, out_dir=str(out_l), draw=False)
    doc_t = json.loads((out_t / 'poses3d.json').read_text())
    doc_l = json.loads((out_l / 'poses3d.json').read_text())
    assert _schema(doc_t) == _schema(doc_l)
    assert doc_t['model']['type'] == 'TriangulationBaseline' and doc_t['model']['input'] \
        == 'pseudo_2d' and doc_t['model']['checkpoint'] is None
    assert doc_l['model']['type'] == 'SelfPose3D'
    # the triangulation baseline's space: estimated from the rig (none was given)
    assert doc_t['source']['space']['origin'].startswith('estimated')
    assert doc_l['source']['space']['origin'] == 'network root cube'
    z = np.load(out_t / 'poses3d.npz')
    assert z['keypoints_3d'].shape[-2:] == (15, 3)
    # the triangulated people are the GT people (simulated detections: a few cm off)
    for r, gt in zip(frames, rig['gt']):
        assert len(r['scores']) == len(gt) == 2
        d = np.linalg.norm(r['keypoints_3d'][:, None] - gt[None], axis=-1).mean(-1)
        rows, cols = linear_sum_assignment(d)
        assert d[rows, cols].max() < 120.0, d
        # the root of a pose without proposal centre: its mid-hip joint
        np.testing.assert_allclose(r['root_centers'], r['keypoints_3d'][:, 2])
    assert len(list((out_t / 'vis').glob('custom_rig_*_views.jpg'))) == 2
    # a score threshold drops poses (the method does not threshold itself)
    top = max(float(r['scores'].max()) for r in frames)
    kept = tri.run(**spec, score_thr=float(frames[0]['scores'].min()))['frames'][0]
    assert len(kept['scores']) == 1  # the lower-scored of frame 0 is gone
    assert all(len(r['scores']) == 0 for r in tri.run(**spec, score_thr=top)['frames'])


def test_triangulation_config_and_space_through_the_demo(rig, tmp_path):
    demo = load_tool('demo')
    out = demo.main([str(ROOT / 'configs' / 'triangulation_synthetic.py'),
                     '--calibration', rig['rig'], '--pseudo-labels', rig['pseudo'],
                     '--out-dir', str(tmp_path / 'cfg'), '--device', 'cpu'])
    doc = json.loads(Path(out['json']).read_text())
    assert doc['model']['type'] == 'TriangulationBaseline' and doc['num_frames'] == 2
    assert all(fr['num_persons'] == 2 for fr in doc['frames'])
    # no config at all, the rig's space given (1.2 m around person 0 of frame 0): it
    # is the one used (the other person's root is outside: dropped) and recorded
    x, y = (float(v) for v in rig['gt'][0][0, 2, :2])
    out = demo.main(['--method', 'triangulation', '--calibration', rig['rig'],
                     '--pseudo-labels', rig['pseudo'], '--images',
                     *[f'{v}={d}' for v, d in rig['folders'].items()],
                     '--space-center', str(x), str(y), '800', '--space-size', '1200', '1200',
                     '2000', '--out-dir', str(tmp_path / 'alias'), '--device', 'cpu'])
    doc = json.loads(Path(out['json']).read_text())
    assert doc['source']['space'] == dict(
        center=[x, y, 800.0], size=[1200.0, 1200.0, 2000.0], origin='given')
    assert doc['model']['config'] == '--method triangulation'
    persons = doc['frames'][0]['persons']
    assert len(persons) == 1
    assert np.abs(np.subtract(persons[0]['root'][:2], (x, y))).max() < 100
    with pytest.raises(SystemExit, match='SelfPose3D'):  # refinement is not for it
        demo.main(['--method', 'triangulation', '--calibration', rig['rig'],
                   '--pseudo-labels', rig['pseudo'], '--refine',
                   '--out-dir', str(tmp_path / 'x')])
    with pytest.raises(SystemExit, match='no CHECKPOINT given'):  # a learned model needs one
        demo.main([rig['learned_cfg'], '--calibration', rig['rig'],
                   '--pseudo-labels', rig['pseudo'], '--out-dir', str(tmp_path / 'y')])


def test_refine_sets_the_test_cfg_for_the_run(rig, tmp_path, monkeypatch):
    seen = []
    original = SelfPose3D.predict

    def recording_predict(self, batch, samples):
        seen.append(dict(self.test_cfg))
        return original(self, batch, samples)

    monkeypatch.setattr(SelfPose3D, 'predict', recording_predict)
    demo = load_tool('demo')
    out = demo.main([rig['learned_cfg'], rig['learned_ckpt'], '--calibration', rig['rig'],
                     '--pseudo-labels', rig['pseudo'], '--refine', '--score-thr', '0.0',
                     '--out-dir', str(tmp_path / 'refined'), '--device', 'cpu',
                     '--no-pictures'])
    assert seen and all(s.get('refine') == {} for s in seen)
    doc = json.loads(Path(out['json']).read_text())
    assert doc['model']['refine'] == {} and doc['num_frames'] == 2
    # --no-refine: the network's own poses, although the config refines them
    seen.clear()
    out = demo.main([rig['learned_cfg'], rig['learned_ckpt'], '--calibration', rig['rig'],
                     '--pseudo-labels', rig['pseudo'], '--no-refine', '--cfg-options',
                     'model.test_cfg.refine={}', '--out-dir', str(tmp_path / 'own'),
                     '--device', 'cpu', '--no-pictures'])
    assert seen and all(s.get('refine') is None for s in seen)
    assert json.loads(Path(out['json']).read_text())['model']['refine'] is None
    with pytest.raises(SystemExit):  # one or the other
        demo.parse_args([rig['learned_cfg'], '--refine', '--no-refine'])
    # through the API: set for the call only, the model's own test_cfg given back
    inf = rig['learned']
    seen.clear()
    inf.run(calibration=rig['rig'], pseudo_labels=rig['pseudo'], refine=True)
    assert seen and seen[0]['refine'] == {} and 'refine' not in inf.model.test_cfg
    # refined people are scored by the 2D poses' evidence: a score threshold filters
    # them, the proposals' root-score threshold stays the model's
    spec = dict(calibration=rig['rig'], pseudo_labels=rig['pseudo'], refine=True)
    full = np.concatenate([r['scores'] for r in inf.run(**spec)['frames']])
    thr = float(np.median(full))
    seen.clear()
    kept = inf.run(**spec, score_thr=thr)['frames']
    assert 'threshold' not in seen[0]
    assert sum(len(r['scores']) for r in kept) == int((full > thr).sum()) > 0
    seen.clear()
    inf.run(**dict(spec, refine=dict(score='network')), score_thr=thr)
    assert seen[0]['threshold'] == thr and 'threshold' not in inf.model.test_cfg
    with pytest.raises(ValueError, match='pseudo_labels'):  # refinement needs the 2D poses
        inf(calibration=rig['rig'], images=rig['folders'], refine=True)


def test_pictures_show_inputs_ids_and_legends(rig):
    cams, gt = rig['cams'], rig['gt'][0]
    images = [np.full((IMAGE_SIZE[1], IMAGE_SIZE[0], 3), 30, np.uint8)] * 3
    # input 2D: the GT of person 0 shifted 60 px right in every view (a disagreement)
    uv = cams.double().project(torch.as_tensor(gt[0]).double()).numpy()  # (C, J, 2)
    inputs = [(uv[c] + [60.0, 0.0])[None] for c in range(3)]
    pic, entries = draw_prediction_views(cams, images, [[0, 1], [0, 2]], gt, [0.9, 0.8],
                                         scale=1.0, track_ids=[7, 3], inputs=inputs,
                                         return_legend=True)
    labels = [e.label for e in entries]
    assert labels[0] == 'input 2D poses'
    assert any('#7 0.90' in s for s in labels) and any('#3 0.80' in s for s in labels)
    assert [e.color for e in entries[1:]] == id_colors([7, 3])
    H = IMAGE_SIZE[1] + 8  # the montage: one row of tiles, then the legend band
    assert pic.shape[0] > H + 10
    band = pic[H:]
    assert band.std() > 10 and (band.max(-1) > 200).mean() > 0.005  # text and marks
    # the shifted input neck->nose segment is drawn, light grey, away from the 3D pose
    c = 0
    a, b = inputs[c][0, 0], inputs[c][0, 1]
    mid = np.round((a + b) / 2).astype(int) + [4, 4]  # tile 0 at (4, 4)
    patch = pic[mid[1] - 1:mid[1] + 2, mid[0] - 1:mid[0] + 2].astype(int)
    assert patch.max() > 120 and np.ptp(patch[..., :3].reshape(-1, 3).mean(0)) < 20
    # the 3D scene: the rig's space box, the network's cube (different), cameras
    cube = ((0.0, 0.0, 800.0), (8000.0, 8000.0, 2000.0))
    img, ent = plot_prediction_scene(cams, [[0, 1]], gt, SPACE['space_center'],
                                     SPACE['space_size'], track_ids=[7, 3], search_cube=cube,
                                     return_legend=True)
    names = [e.label for e in ent]
    assert names == ['track #7', 'track #3', 'capture space', 'network search cube',
                     'cameras']
    assert ent[-1].color == CAMERA_COLOR and CAMERA_COLOR not in PERSON_PALETTE
    plain = plot_prediction_scene(cams, [[0, 1]], gt, SPACE['space_center'],
                                  SPACE['space_size'], track_ids=[7, 3], search_cube=cube,
                                  legend=False)
    corner = (slice(0, img.shape[0] // 4), slice(0, img.shape[1] // 3))  # legend: upper left
    assert np.abs(img[corner].astype(int) - plain[corner]).max() > 100
