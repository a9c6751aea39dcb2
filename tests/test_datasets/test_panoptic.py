"""CMU Panoptic: the body-file rules, frame sampling, the cached index, errors naming the
missing file (or counted skips), the real fixture's units and axes against
``cv2.projectPoints``, real images through the image pipeline, and one evaluation step
(pseudo labels → triangulation → AP) on the fixture frames."""
import json
import os
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.datasets import multiview_collate, panoptic
from selfpose3d_mm.datasets.panoptic import BODY_DIR
from selfpose3d_mm.evaluation import MultiViewPoseAPMetric
from selfpose3d_mm.io import (CalibrationError, PseudoLabelError, load_panoptic_bodies,
                              save_pseudo_labels)
from selfpose3d_mm.skeleton import COCO17_NAMES, PANOPTIC15_NAMES, coco17_to_panoptic15

from ..conftest import fixture_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CAMS = ['00_03', '00_06', '00_12', '00_13', '00_23']
SEQ = '160906_band1'
# COCO-17 joint k <- Panoptic-15 joint COCO_FROM_PAN[k]; eyes and ears take the nose
COCO_FROM_PAN = [PANOPTIC15_NAMES.index(n if n in PANOPTIC15_NAMES else 'nose')
                 for n in COCO17_NAMES]


def _joints(shift=0.0, conf=0.5):
    """(19, 4) Panoptic joints (cm, y down): joint j at (shift + j, -100 - 5j, 2j)."""
    j = np.arange(19.0)
    return np.stack([shift + j, -100 - 5 * j, 2 * j, np.full(19, conf)], 1)


def _write_body(path, bodies):
    data = dict(version=0.7, univTime=0.0, fpsType='hd_29_97',
                bodies=[dict(id=i, joints19=b.ravel().tolist()) for i, b in enumerate(bodies)])
    path.write_text(json.dumps(data))


def _make_sequence(root, seq, frames, cams=CAMS, missing_images=()):
    """A hand-made sequence: a simple 5-camera calibration, one body file per
    ``frames[frame]`` (a list of (19, 4) bodies) and empty image files."""
    d = root / seq
    (d / BODY_DIR).mkdir(parents=True)
    cameras = [dict(name=c, type='hd', resolution=[1920, 1080], panel=0, node=int(c[3:]),
                    K=[[1400, 0, 960], [0, 1400, 540], [0, 0, 1]],
                    distCoef=[0, 0, 0, 0, 0], R=np.eye(3).tolist(), t=[[0], [0], [500]])
               for c in cams]
    (d / f'calibration_{seq}.json').write_text(json.dumps(dict(cameras=cameras)))
    for frame, bodies in frames.items():
        _write_body(d / BODY_DIR / f'body3DScene_{frame:08d}.json', bodies)
        for c in cams:
            (d / 'hdImgs' / c).mkdir(parents=True, exist_ok=True)
            if (c, frame) not in missing_images:
                (d / 'hdImgs' / c / f'{c}_{frame:08d}.jpg').write_bytes(b'')
    return d


def _build(root, sequences=('seqA', ), **kw):
    cfg = dict(type='PanopticMultiViewDataset', data_root=str(root),
               sequences=list(sequences), interval=1, with_images=False)
    cfg.update(kw)
    return DATASETS.build(cfg)


@pytest.fixture
def logs(monkeypatch):
    out = []
    monkeypatch.setattr(panoptic, 'print_log', lambda msg, **kw: out.append(msg))
    return out


def test_body_file_rules(tmp_path):
    a = _joints(conf=0.5)
    a[4, 3], a[7, 3], a[16, 3] = 0.1, 0.11, -1.0  # 0.1 is not visible; 16 is dropped
    b = _joints(conf=0.5)
    b[2, 3] = 0.05  # root not visible -> dropped
    c = _joints(conf=0.5)
    c[2] = (0, 0, 0, -1)
    path = tmp_path / 'body3DScene_00000001.json'
    _write_body(path, [a, b, c])
    out = load_panoptic_bodies(str(path))
    assert out['num_bodies'] == 3 and out['ids'].tolist() == [0]
    kp, vis = out['keypoints_3d'], out['visible']
    assert kp.shape == (1, 15, 3) and kp.dtype == np.float32 and vis.shape == (1, 15)
    j = np.arange(15.0)
    # (x, y, z) cm, y down -> (x, z, -y) mm, z up
    np.testing.assert_allclose(kp[0], np.stack([10 * j, 20 * j, 1000 + 50 * j], 1),
                               rtol=1e-6)
    assert vis[0].tolist() == [k not in (4, ) for k in range(15)]
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(bodies=[dict(id=0, joints19=list(range(75)))])))
    with pytest.raises(ValueError, match=re.escape(str(bad)) + r': bodies\[0\]\.joints19 '
                       r'has 75 values'):
        load_panoptic_bodies(str(bad))
    bad.write_text(json.dumps(dict(version=0.7)))
    with pytest.raises(ValueError, match=re.escape(str(bad)) + ': no field `bodies`'):
        load_panoptic_bodies(str(bad))


def _ten_frames(root):
    """seqA: frames 100..109; 103 has no body, 106 only a body with an invisible root,
    frame f has 1 + f % 2 bodies otherwise."""
    dropped = _joints()
    dropped[2, 3] = -1
    frames = {f: [_joints(100 * k) for k in range(1 + f % 2)] for f in range(100, 110)}
    frames[103], frames[106] = [], [dropped]
    d = _make_sequence(root, 'seqA', frames)
    (d / BODY_DIR / 'notes.txt').write_text('not a body file')
    return d


def test_frame_sampling_and_sample_structure(tmp_path):
    _ten_frames(tmp_path)
    ds = _build(tmp_path, interval=3, with_images=True)  # files 0, 3, 6, 9 of the list
    assert [ds.get_data_info(i)['frame_id'] for i in range(len(ds))] == [
        'seqA/00000100', 'seqA/00000109']  # 103 and 106 have no person
    assert len(_build(tmp_path)) == 8
    default = _build(tmp_path, interval=None)  # VoxelPose's intervals: 3 train, 12 test
    assert default.interval == 3 and len(default) == 2
    assert [ds.get_data_info(0)['frame_idx'] for ds in [
        _build(tmp_path, interval=None, test_mode=True)]] == [100]  # interval 12
    info = ds.get_data_info(1)
    assert info['sequence'] == 'seqA' and info['frame_idx'] == 109
    assert info['gt_keypoints_3d'].shape == (2, 15, 3)
    assert info['gt_keypoints_3d_visible'].shape == (2, 15)
    assert info['cameras'].num_views == 5 and info['cameras'].names == CAMS
    assert info['image_sizes'].tolist() == [[1920, 1080]] * 5
    assert info['img_paths'][2] == str(tmp_path / 'seqA' / 'hdImgs' / '00_12' /
                                       '00_12_00000109.jpg')
    for key, shape in (('pseudo_keypoints', (0, 15, 2)), ('pseudo_keypoint_scores', (0, 15)),
                       ('pseudo_bbox_scores', (0, ))):
        assert [a.shape for a in info[key]] == [shape] * 5  # no pseudo-label file
    assert info['space_center'] == (0.0, -500.0, 800.0) and info['num_keypoints'] == 15
    assert 'img_paths' not in _build(tmp_path).get_data_info(0)


def test_index_cache_is_reused_and_rebuilt_when_stale(tmp_path, monkeypatch, logs):
    d = _ten_frames(tmp_path)
    calls = []
    real = panoptic.load_panoptic_bodies
    monkeypatch.setattr(panoptic, 'load_panoptic_bodies',
                        lambda path, *a: (calls.append(path), real(path, *a))[1])
    first = _build(tmp_path, cache_dir=str(tmp_path / 'cache'))
    assert len(calls) == 10 and os.path.isfile(first.cache_path())
    second = _build(tmp_path, cache_dir=str(tmp_path / 'cache'))
    assert len(calls) == 10  # nothing re-read
    assert len(second) == 8 and np.array_equal(second.get_data_info(3)['gt_keypoints_3d'],
                                                first.get_data_info(3)['gt_keypoints_3d'])
    body = d / BODY_DIR / 'body3DScene_00000103.json'
    _write_body(body, [_joints()])  # 103 now has a person
    st = body.stat()
    os.utime(body, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = _build(tmp_path, cache_dir=str(tmp_path / 'cache'))
    assert len(calls) == 20 and len(third) == 9
    assert _build(tmp_path, interval=2, cache_dir=str(tmp_path / 'cache')).cache_path() \
        != third.cache_path()
    # default cache folder; a folder that cannot be created only disables the cache
    assert _build(tmp_path).cache_path().startswith(str(tmp_path / '.selfpose3d_cache'))
    (tmp_path / 'a_file').write_text('')
    assert len(_build(tmp_path, cache_dir=str(tmp_path / 'a_file' / 'cache'))) == 9
    assert any('cannot write the index cache' in m for m in logs)


def test_missing_layout_names_the_file(tmp_path, logs):
    _ten_frames(tmp_path)
    with pytest.raises(FileNotFoundError, match='dataset not found at .*nowhere'):
        _build(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match="'seqB'.*calibration at .*seqB/calibration_"
                                                'seqB.json'):
        _build(tmp_path, sequences=['seqA', 'seqB'])
    with pytest.raises(CalibrationError, match=r'calibration_seqA.json: cameras \[.99_99.\]'):
        _build(tmp_path, cameras=CAMS + ['99_99'])
    seq_c = _make_sequence(tmp_path, 'seqC', {})
    with pytest.raises(FileNotFoundError, match=re.escape(str(seq_c / BODY_DIR)) +
                       r' holds no body3DScene_\*\.json'):
        _build(tmp_path, sequences=['seqC'])
    os.rmdir(seq_c / BODY_DIR)
    with pytest.raises(FileNotFoundError, match='no 3D body folder ' +
                       re.escape(str(seq_c / BODY_DIR))):
        _build(tmp_path, sequences=['seqC'])
    ds = _build(tmp_path, sequences=['seqA', 'seqB', 'seqC'], skip_missing=True)
    assert len(ds) == 8 and ds.sequences == ['seqA']
    assert sorted(ds.skipped_sequences) == ['seqB', 'seqC']
    assert sum('skipped sequence' in m for m in logs) == 2


def test_missing_images_and_unreadable_bodies_raise_or_are_counted(tmp_path, logs):
    d = _ten_frames(tmp_path)
    os.remove(d / 'hdImgs' / '00_12' / '00_12_00000101.jpg')
    with pytest.raises(FileNotFoundError, match='image not found: ' + re.escape(
            str(d / 'hdImgs' / '00_12' / '00_12_00000101.jpg')) + r' \(1 of 8 frames'):
        _build(tmp_path, with_images=True)
    ds = _build(tmp_path, with_images=True, skip_missing=True)
    assert len(ds) == 7 and dict(ds.skipped) == {'image missing': 1}
    assert 101 not in [ds.get_data_info(i)['frame_idx'] for i in range(len(ds))]
    assert logs[-1] == 'PanopticMultiViewDataset: skipped 1 frames: image missing (1)'
    bad = d / BODY_DIR / 'body3DScene_00000104.json'
    bad.write_text('{"bodies": [{"id": 0, "joints19": [1, 2, 3]}]}')
    with pytest.raises(ValueError, match=re.escape(str(bad)) + r'.*joints19'):
        _build(tmp_path)
    ds = _build(tmp_path, with_images=True, skip_missing=True)
    assert len(ds) == 6
    assert dict(ds.skipped) == {'image missing': 1, 'unreadable body file': 1}
    assert logs[-1].startswith('PanopticMultiViewDataset: skipped 2 frames: ')


def _pseudo_file(path, frames, views=CAMS):
    """A pseudo-label file with one person (COCO-17, all joints scored) per view."""
    kp = np.concatenate([np.full((1, 17, 2), 100.0), np.ones((1, 17, 1))], -1).tolist()
    entry = dict(bboxes=[[0, 0, 10, 10]], bbox_scores=[0.9], keypoints=kp)
    save_pseudo_labels(str(path), dict(skeleton='coco17', views=list(views), frames={
        k: [entry] * len(views) for k in frames}))
    return str(path)


def test_pseudo_labels_must_cover_every_frame(tmp_path, logs):
    _make_sequence(tmp_path, 'seqA', {f: [_joints()] for f in (100, 101, 102)})
    path = _pseudo_file(tmp_path / 'pl.json', ['seqA/00000100', 'seqA/00000101'])
    with pytest.raises(PseudoLabelError, match=re.escape(path) + ": frames: no entry for "
                       "frame 'seqA/00000102'"):
        _build(tmp_path, pseudo_labels=path)
    ds = _build(tmp_path, pseudo_labels=path, skip_missing=True)
    assert len(ds) == 2 and dict(ds.skipped) == {'no pseudo labels': 1}
    info = ds.get_data_info(1)
    assert [k.shape for k in info['pseudo_keypoints']] == [(1, 15, 2)] * 5
    assert info['pseudo_bbox_scores'][0].tolist() == [pytest.approx(0.9)]
    four = _pseudo_file(tmp_path / 'four.json', ['seqA/00000100'], views=CAMS[:4])
    with pytest.raises(PseudoLabelError, match='camera count differs from the pseudo-label'):
        _build(tmp_path, pseudo_labels=four)
    with pytest.raises(FileNotFoundError, match='nope.json'):
        _build(tmp_path, pseudo_labels=str(tmp_path / 'nope.json'))


def _fixture_dataset(tmp_path, **kw):
    seq_dir = fixture_path('panoptic', SEQ)
    return _build(seq_dir.parent, sequences=[SEQ], cache_dir=str(tmp_path / 'cache'), **kw)


def test_fixture_gt_units_axes_match_cv2_projection(tmp_path):
    ds = _fixture_dataset(tmp_path)
    assert [ds.get_data_info(i)['frame_id'] for i in range(len(ds))] == [
        f'{SEQ}/00000168', f'{SEQ}/00000169']
    seq_dir = fixture_path('panoptic', SEQ)
    calib = {c['name']: c for c in json.loads(
        (seq_dir / f'calibration_{SEQ}.json').read_text())['cameras']}
    for i, frame in enumerate((168, 169)):
        info = ds.get_data_info(i)
        gt, vis = info['gt_keypoints_3d'], info['gt_keypoints_3d_visible']
        raw = np.array([b['joints19'] for b in json.loads((
            seq_dir / BODY_DIR / f'body3DScene_{frame:08d}.json').read_text())['bodies']])
        raw = raw.reshape(len(raw), 19, 4)[:, :15]
        assert gt.shape == (3, 15, 3) and np.array_equal(vis, raw[..., 3] > 0.1)
        cams = info['cameras']
        uv = cams.project(torch.from_numpy(gt.reshape(1, -1, 3)).double())[0].numpy()
        for c, name in enumerate(CAMS):  # independent path: raw cm points, raw calibration
            cal = calib[name]
            ref = cv2.projectPoints(raw[..., :3].reshape(-1, 1, 3),
                                    cv2.Rodrigues(np.array(cal['R']))[0],
                                    np.array(cal['t'], float), np.array(cal['K'], float),
                                    np.array(cal['distCoef'], float))[0].reshape(-1, 2)
            np.testing.assert_allclose(uv[c][vis.ravel()], ref[vis.ravel()], atol=0.05)
        inside = ((uv >= 0) & (uv < [1920, 1080])).all(-1).reshape(5, 3, 15)
        # feet leave the bottom of some views: every visible joint is seen by >= 3 views
        assert (inside.sum(0)[vis] >= 3).all() and (inside[:, :, 2].sum(0) >= 4).all()
        # mm, z up: root (mid-hip) 0.5-0.7 m high, the neck 0.25-0.7 m above it
        neck, root = gt[:, 0], gt[:, 2]
        assert ((root[:, 2] > 500) & (root[:, 2] < 700)).all()
        assert (neck[:, 2] > root[:, 2]).all()
        assert (np.linalg.norm(neck - root, axis=-1) > 250).all()
        assert (np.linalg.norm(neck - root, axis=-1) < 700).all()
    np.testing.assert_allclose(ds.get_data_info(0)['gt_keypoints_3d'][0, 2],
                               (1270.45, -299.739, 637.183), rtol=1e-6)


def link_demo_sequence(root, num_frames=None):
    """Lay the panoptic_demo fixture (real HD frames + calibration, no GT) out as a
    Panoptic sequence ``demo`` under ``root`` with hand-made bodies; returns its frames."""
    demo = fixture_path('panoptic_demo')
    frames = sorted(int(n[6:14]) for n in os.listdir(demo / '00_03'))[:num_frames]
    seq = root / 'demo'
    (seq / BODY_DIR).mkdir(parents=True)
    (seq / 'hdImgs').mkdir()
    os.symlink(demo / 'camera_parameters.json', seq / 'calibration_demo.json')
    for c in CAMS:
        os.symlink(demo / c, seq / 'hdImgs' / c)
    for f in frames:
        _write_body(seq / BODY_DIR / f'body3DScene_{f:08d}.json', [_joints()])
    return frames


def test_demo_images_through_the_image_pipeline(tmp_path):
    """panoptic_demo: 5 views of real HD frames with a Panoptic-format calibration
    (camera_parameters.json), no GT: linked into a sequence with hand-made bodies."""
    frames = link_demo_sequence(tmp_path)
    ds = _build(tmp_path, sequences=['demo'], with_images=True, pipeline=[
        dict(type='LoadMultiViewImages'), dict(type='MultiViewResize', input_size=(480, 256)),
        dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs')])
    assert len(ds) == len(frames) == 5
    img = cv2.imread(ds.get_data_info(0)['img_paths'][0])
    assert img.shape[1::-1] == tuple(ds.get_data_info(0)['image_sizes'][0]) == (1920, 1080)
    inputs = ds[0]['inputs']
    assert inputs.shape == (1, 5, 3, 256, 480) and inputs.dtype == torch.uint8
    assert inputs[:, :, :, 10:-10].float().mean() > 20  # real pixels (not the border)


def _project_to_pseudo_labels(ds, path):
    """Noise-free COCO-17 pseudo labels from the GT: a joint scores 1 when it is visible
    in 3D and projects inside the image, else 0."""
    frames = {}
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        gt, vis = info['gt_keypoints_3d'], info['gt_keypoints_3d_visible']
        cams = info['cameras']
        G = len(gt)
        uv, ok = cams.project(torch.from_numpy(gt.reshape(1, -1, 3)).double(),
                              return_valid=True)
        ok = (ok & cams.in_image(uv))[0].numpy().reshape(5, G, 15) & vis[None]
        uv = uv[0].numpy().reshape(5, G, 15, 2)
        kp = np.concatenate([uv, ok[..., None]], -1)[:, :, COCO_FROM_PAN]  # (C, G, 17, 3)
        entries = []
        for c in range(5):
            seen = ok[c].any(-1)
            lo = np.where(ok[c][..., None], uv[c], np.inf).min(1)[seen]
            hi = np.where(ok[c][..., None], uv[c], -np.inf).max(1)[seen]
            entries.append(dict(bboxes=np.concatenate([lo, hi], -1).tolist(),
                                bbox_scores=[1.0] * int(seen.sum()),
                                keypoints=kp[c][seen].tolist()))
        frames[info['frame_id']] = entries
    save_pseudo_labels(path, dict(skeleton='coco17', views=CAMS, frames=frames,
                                  image_sizes=[[1920, 1080]] * 5,
                                  models=dict(detector='GT projection', pose='GT')))


def test_fixture_triangulation_of_projected_gt_scores_full_ap(tmp_path):
    gt_ds = _fixture_dataset(tmp_path)
    path = str(tmp_path / 'pseudo_labels.json')
    _project_to_pseudo_labels(gt_ds, path)
    pipeline = Config.fromfile(os.path.join(ROOT, 'configs', 'voxelpose_synthetic.py')
                               ).test_dataloader.dataset.pipeline
    ds = _fixture_dataset(tmp_path, pseudo_labels=path, test_mode=True, pipeline=pipeline)
    model_cfg = Config.fromfile(os.path.join(ROOT, 'configs', 'triangulation_synthetic.py')
                                ).model
    model_cfg.update(space_center=None, space_size=None)  # the dataset's (Panoptic) space
    model = MODELS.build(model_cfg)
    metric = MultiViewPoseAPMetric()
    data = multiview_collate([ds[0], ds[1]])
    samples = model.test_step(data)
    metric.process(data, samples)
    m = metric.compute_metrics(metric.results)
    # The floor: COCO-17 has no neck nor mid-hip; the Panoptic-15 pseudo poses take the
    # shoulders' and hips' mean (the valid hip alone when one is not annotated), so the
    # triangulated neck / mid-hip differ from the annotated ones by exactly that much.
    floor = []
    for i in range(len(gt_ds)):
        info = gt_ds.get_data_info(i)
        gt, vis = info['gt_keypoints_3d'], info['gt_keypoints_3d_visible']
        back, _ = coco17_to_panoptic15(gt[:, COCO_FROM_PAN], vis[:, COCO_FROM_PAN])
        err = np.linalg.norm(back - gt, axis=-1)
        floor += list((err * vis).sum(1) / vis.sum(1))
    floor = float(np.mean(floor))
    assert m['AP25'] == 100 and m['Recall@500'] == 100, m
    assert 1.0 < floor < 10.0
    assert m['MPJPE'] < 10.0 and abs(m['MPJPE'] - floor) < 1.0, (m['MPJPE'], floor)


def test_panoptic_configs_build_their_datasets(tmp_path):
    """The dataset dicts of the Panoptic configs build on real data (the fixture
    sequence standing in for the lists)."""
    seq_dir = fixture_path('panoptic', SEQ)
    gt_ds = _fixture_dataset(tmp_path)
    path = str(tmp_path / 'pseudo_labels.json')
    _project_to_pseudo_labels(gt_ds, path)
    local = dict(data_root=str(seq_dir.parent), sequences=[SEQ], interval=1,
                 cache_dir=str(tmp_path / 'cache'), with_images=False)
    for name, loader, extra in (('voxelpose_panoptic.py', 'train_dataloader', {}),
                                ('voxelpose_panoptic.py', 'val_dataloader', {}),
                                ('selfpose3d_panoptic.py', 'train_dataloader',
                                 dict(pseudo_labels=path))):
        cfg = Config.fromfile(os.path.join(ROOT, 'configs', name))[loader].dataset
        assert cfg.type == 'PanopticMultiViewDataset' and len(cfg.cameras) == 5
        cfg.update(local, **extra)
        ds = DATASETS.build(cfg)
        assert len(ds) == 2 and ds.space_size == (8000.0, 8000.0, 2000.0)
        info = ds.get_data_info(0)
        # 3 people, each seen by the 5 views
        assert sum(len(k) for k in info['pseudo_keypoints']) == (15 if extra else 0)
