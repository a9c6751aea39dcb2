"""The multi-view inferencer and tools/demo.py on rendered synthetic frames.

A tiny randomly initialised image-path model (ResNet-18 at 1/4 width, 160x96 input) runs
on 2 rendered frames of a 3-camera ring, read either from the config's dataset split or,
as a user would give them, from a rig file plus one image folder per camera.
"""
import copy
import json
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from mmpose.registry import DATASETS

from selfpose3d_mm.apis import HeatmapInputError, MultiViewPoseInferencer
from selfpose3d_mm.datasets import multiview_collate
from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.io import load_predictions, load_rig, save_rig
from selfpose3d_mm.visualization import person_colors
from tests.conftest import load_tool
from tests.rig_files import write_rig

SPACE = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))
INPUT, HEATMAP = (160, 96), (40, 24)
IMAGE_SIZE = (480, 270)
PIPELINE = [dict(type='MultiViewResize', input_size=INPUT), dict(type='MultiViewAffine'),
            dict(type='PackMultiViewInputs')]


def _config(image_model: bool = True) -> dict:
    net_2d = dict(
        backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16),
        head=dict(type='HeatmapHead', in_channels=128, out_channels=15,
                  deconv_out_channels=(32, 32, 32), deconv_kernel_sizes=(4, 4, 4)))
    model = dict(type='SelfPose3D', input_size=INPUT, heatmap_size=HEATMAP,
                 heatmap_net_2d=net_2d if image_model else None, root_channels='root',
                 root_head=dict(cube_shape=(16, 16, 8), mid_channels=8, max_proposals=4,
                                threshold=0.0, **SPACE),
                 pose_head=dict(cube_shape=(8, 8, 8), mid_channels=8))
    world = dict(type='SyntheticMultiViewDataset', split='test', seed=0, num_samples=2,
                 frames_per_sequence=2, num_people=(2, 2), outside_prob=0.0,
                 rig=dict(type='ring', num_views=3, image_size=IMAGE_SIZE),
                 with_images=image_model, test_mode=True, pipeline=PIPELINE, **SPACE)
    return dict(default_scope='mmpose', model=model,
                test_dataloader=dict(batch_size=2, collate_fn=dict(type='multiview_collate'),
                                     dataset=world))


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """The inferencer, and the 2 frames written as a user's rig: rig file + folders."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp('demo')
    inferencer = MultiViewPoseInferencer(_config(), None, device='cpu')
    with torch.no_grad():  # root scores around 1: random proposals pass threshold 0
        inferencer.model.root_head.net.output_layer.bias.fill_(1.0)
    # the same world as the inferencer's test split, written as a user's rig
    return dict(write_rig(root, frames=2, people=2), inferencer=inferencer)


def test_rig_images_give_the_dataset_predictions_and_the_documented_files(setup):
    inf, root = setup['inferencer'], setup['root']
    out = root / 'out_rig'
    res = inf.run(calibration=setup['rig'], images=setup['folders'], out_dir=str(out),
                  batch_size=2)
    frames = res['frames']
    ref = inf.run('test', batch_size=1)['frames']  # the same frames from the dataset
    assert [f['frame'] for f in frames] == [0, 1] and len(ref) == 2
    # ... and those of the runner's test loop: config pipeline, collate, test_step
    ds = DATASETS.build(copy.deepcopy(inf.cfg.test_dataloader.dataset))
    with torch.no_grad():
        loop = inf.model.test_step(multiview_collate([ds[0], ds[1]]))
    for a, s in zip(frames, loop):
        order = torch.argsort(s.pred_instances.scores, descending=True, stable=True)
        np.testing.assert_allclose(a['keypoints_3d'],
                                   s.pred_instances.keypoints_3d[order].numpy(), atol=1.0)
    for a, b in zip(frames, ref):
        assert a['keypoints_3d'].shape[1:] == (15, 3) and 0 < len(a['scores']) <= 4
        assert np.all(np.diff(a['scores']) <= 0)  # by decreasing score
        np.testing.assert_allclose(a['keypoints_3d'], b['keypoints_3d'], atol=1.0)
        np.testing.assert_allclose(a['scores'], b['scores'], atol=1e-4)
    # poses3d.json: header and per-frame persons
    doc = json.loads((out / 'poses3d.json').read_text())
    assert doc['format'] == 'selfpose3d_mm/predictions3d' and doc['units'] == 'mm'
    assert doc['world_up'] == '+z' and doc['num_frames'] == 2
    assert doc['skeleton']['joints'][:3] == ['neck', 'nose', 'mid_hip']
    assert len(doc['skeleton']['joints']) == 15 and [2, 6] in doc['skeleton']['links']
    assert doc['model']['input'] == 'images' and doc['model']['score_threshold'] == 0.0
    assert doc['source']['views'] == setup['cams'].names
    assert osp.samefile(doc['source']['calibration'], setup['rig'])
    rig = load_rig_doc(root, doc['cameras'][0])
    np.testing.assert_allclose(rig.K.numpy(), setup['cams'].K.numpy(), rtol=1e-6)
    for fr, r in zip(doc['frames'], frames):
        assert fr['frame_id'] == r['frame_id'] and fr['num_persons'] == len(r['scores'])
        p = fr['persons'][0]
        assert set(p) == {'index', 'score', 'root', 'keypoints_3d'}
        assert np.asarray(p['keypoints_3d']).shape == (15, 3)
        np.testing.assert_allclose(p['keypoints_3d'], r['keypoints_3d'][0], atol=0.051)
    # poses3d.npz: padded arrays
    z = np.load(out / 'poses3d.npz')
    P = max(len(r['scores']) for r in frames)
    assert z['keypoints_3d'].shape == (2, P, 15, 3) and z['scores'].shape == (2, P)
    assert list(z['num_persons']) == [len(r['scores']) for r in frames]
    assert str(z['units']) == 'mm' and len(z['joint_names']) == 15
    # pictures: one views montage (3 tiles of 480x270 at scale 0.4) and one 3D plot each
    for r in frames:
        views, scene = cv2.imread(r['pictures']['views']), cv2.imread(r['pictures']['scene'])
        assert views.shape[0] > 100 and views.shape[1] > 3 * 0.4 * IMAGE_SIZE[0]
        assert views.std() > 10 and scene.std() > 5 and scene.shape[0] > 300
    assert not list(out.rglob('*.tmp*'))


def load_rig_doc(root, doc):
    path = root / 'rig_from_json.json'
    path.write_text(json.dumps(doc))
    return load_rig(str(path))


def test_known_poses_are_written_padded_and_drawn_through_the_distortion(setup, monkeypatch):
    """Predictions replaced by known poses: the files hold them (NaN padding), and the
    overlays put every joint where MultiViewCameras.project (distortion incl.) does."""
    inf, root = setup['inferencer'], setup['root']
    c0 = setup['cams']
    # each camera turned 25 deg about its vertical axis (the people move off-centre,
    # where the strong barrel distortion shifts them by many pixels)
    a = np.radians(25.0)
    turn = torch.tensor([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]],
                        dtype=c0.R.dtype)
    dist = torch.tensor([-0.5, 0.15, 0.002, -0.002, 0.0]).expand(3, 5)
    cams = MultiViewCameras(c0.K, turn @ c0.R, c0.t @ turn.T, dist, c0.image_size,
                            names=c0.names)
    save_rig(str(root / 'rig_distorted.json'), cams)
    gt = setup['gt']  # (2, 15, 3) per frame: real bodies inside the views
    known = [gt[0], gt[1][:1]]  # frame 0: 2 persons, frame 1: 1

    def fake_predict(inputs, samples):
        for s in samples:
            kp = torch.as_tensor(known[int(s.frame_id[-1])])
            s.pred_instances = InstanceData(keypoints_3d=kp, scores=torch.tensor(
                [0.9, 0.6][:len(kp)]), root_centers=kp[:, 2])
        return samples

    monkeypatch.setattr(inf.model, 'predict', fake_predict)
    out = root / 'out_known'
    frames = inf.run(calibration=str(root / 'rig_distorted.json'), images=setup['folders'],
                     out_dir=str(out), vis_scale=1.0)['frames']
    z = np.load(out / 'poses3d.npz')
    assert z['keypoints_3d'].shape == (2, 2, 15, 3)
    np.testing.assert_allclose(z['keypoints_3d'][0], known[0], atol=1e-3)
    np.testing.assert_allclose(z['keypoints_3d'][1, 0], known[1][0], atol=1e-3)
    assert np.isnan(z['keypoints_3d'][1, 1]).all() and np.isnan(z['scores'][1, 1])
    assert list(z['num_persons']) == [2, 1]
    back = load_predictions(str(out / 'poses3d.json'))['arrays']
    np.testing.assert_allclose(back['keypoints_3d'], z['keypoints_3d'], atol=0.051)
    # the overlays of frame 1 (one person): every joint lies where project() puts it
    img = cv2.imread(frames[1]['pictures']['views'])[..., ::-1].astype(int)
    pose = torch.as_tensor(known[1][0]).double()
    uv = cams.double().project(pose).numpy()  # (C, 15, 2) incl. distortion
    xc = cams.double().world_to_camera(pose).numpy()  # pinhole, for comparison
    shift = np.linalg.norm(xc[..., :2] / xc[..., 2:] * cams.K[:, None, [0, 1], [0, 1]].numpy()
                           + cams.K[:, None, :2, 2].numpy() - uv, axis=-1)
    inside = ((uv >= 8) & (uv < np.array(IMAGE_SIZE) - 8)).all(-1)
    assert max(shift[c][inside[c]].max() for c in range(3) if inside[c].any()) > 8
    color = np.array(person_colors(1)[0])
    for c in range(3):  # montage tiles at (4 + c * (W + 4), 4)
        tile = np.array([4 + c * (IMAGE_SIZE[0] + 4), 4])
        px = np.round(uv[c][inside[c]]).astype(int) + tile
        err = np.abs(img[px[:, 1], px[:, 0]] - color).max(-1)
        assert (err < 60).all(), (c, err)
    assert inside.sum() >= 20


def test_heatmap_input_model_needs_pseudo_labels(setup):
    inf = MultiViewPoseInferencer(_config(image_model=False), None, device='cpu')
    with pytest.raises(HeatmapInputError, match='heatmap-input model.*pseudo-label'):
        inf(calibration=setup['rig'], images=setup['folders'])
    with pytest.raises(ValueError, match='needs the frames'):
        setup['inferencer'](calibration=setup['rig'])
    # with the pseudo-label file it runs (the images only drawn on)
    with torch.no_grad():
        inf.model.root_head.net.output_layer.bias.fill_(1.0)
    out = setup['root'] / 'out_heatmap'
    res = inf.run(calibration=setup['rig'], images=setup['folders'],
                  pseudo_labels=setup['pseudo'], out_dir=str(out), draw=False)
    assert len(res['frames']) == 2 and len(res['frames'][0]['scores']) > 0
    doc = json.loads((out / 'poses3d.json').read_text())
    assert doc['model']['input'] == 'pseudo_2d' and doc['source']['pseudo_labels']
    assert not (out / 'vis').exists()


def test_videos_input(setup):
    folder = setup['root'] / 'videos'
    folder.mkdir()
    videos = {}
    for view, images in setup['folders'].items():
        videos[view] = str(folder / f'{view}.mp4')
        w = cv2.VideoWriter(videos[view], cv2.VideoWriter_fourcc(*'mp4v'), 5, IMAGE_SIZE)
        for f in sorted(Path(images).glob('*.png')):
            w.write(cv2.imread(str(f)))
        w.release()
    frames = setup['inferencer'].run(calibration=setup['rig'], videos=videos)['frames']
    assert [f['frame'] for f in frames] == [0, 1]
    assert all(np.isfinite(f['keypoints_3d']).all() for f in frames)


def test_demo_cli_writes_files_and_video(setup):
    root = setup['root']
    cfg_path = str(root / 'tiny_images.py')
    Config(_config()).dump(cfg_path)
    ckpt = str(root / 'tiny.pth')
    torch.save(dict(state_dict=setup['inferencer'].model.state_dict(), meta={}), ckpt)
    demo = load_tool('demo')
    images = [f'{v}={d}' for v, d in setup['folders'].items()]
    out = demo.main([cfg_path, ckpt, '--calibration', setup['rig'], '--images', *images,
                     '--out-dir', str(root / 'cli'), '--device', 'cpu', '--video',
                     '--score-thr', '0.0', '--frames', '2'])
    assert set(out) == {'json', 'npz', 'video', 'vis_dir'}
    assert json.loads(Path(out['json']).read_text())['model']['checkpoint'] == ckpt
    cap = cv2.VideoCapture(out['video'])
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 2
    assert len(list(Path(out['vis_dir']).glob('*_views.jpg'))) == 2
    with pytest.raises(SystemExit):
        demo.parse_args([cfg_path, ckpt, '--images', 'a=b'])  # no --calibration
