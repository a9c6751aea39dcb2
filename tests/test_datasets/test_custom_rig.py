"""CustomRigDataset: a generated 3-camera studio written to disk as a user would have it
(a rig file in metres with a y-up world, a pseudo-label file, images or videos, a 3D GT
file), and the custom-rig config built on it."""
import copy
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, TRANSFORMS

from selfpose3d_mm.datasets import CustomRigDataset, multiview_collate
from selfpose3d_mm.datasets.synthetic.body import PeopleSequence
from selfpose3d_mm.datasets.synthetic.rig import make_ring_rig
from selfpose3d_mm.io import PseudoLabelError, save_rig, world_axes
from tests.test_apis.test_capture_space import write_pseudo_labels

ROOT = Path(__file__).resolve().parents[2]
FRAMES = list(range(12))


@pytest.fixture
def studio(tmp_path):
    """3 cameras around a 4 x 4 m space, 2 people for 12 frames, written to tmp_path
    with the file names of configs/selfpose3d_custom_rig.py."""
    cams = make_ring_rig(np.random.default_rng(2), (0.0, 0.0, 800.0), (4000.0, 4000.0, 2000.0),
                         num_views=3, image_size=(320, 240))
    people = PeopleSequence(np.random.default_rng(5), 2, (0.0, 0.0, 800.0),
                            (3000.0, 3000.0, 2000.0))
    joints = people.joints(np.array(FRAMES) / 10.0)  # (T, 2, 15, 3) internal mm
    save_rig(str(tmp_path / 'calibration.json'), cams, units='m', world_up='-y')
    labels = tmp_path / 'pseudo_labels.json'
    write_pseudo_labels(labels, cams, joints, FRAMES)
    doc = json.loads(labels.read_text())
    doc['frames']['00000003'][2] = dict(bboxes=[], bbox_scores=[], keypoints=[])
    labels.write_text(json.dumps(doc))
    # 3D GT of frames 0..5 in the file's own world (metres, y up... down: -y)
    A = world_axes('-y')
    gt = {f'{f:08d}': np.concatenate([joints[f] @ A / 1000.0, np.ones((2, 15, 1))], -1)
          .tolist() for f in FRAMES[:6]}
    (tmp_path / 'poses3d.json').write_text(json.dumps(dict(
        format='selfpose3d_mm/poses3d', version=1, units='m', world_up='-y',
        skeleton='panoptic15', frames=gt)))
    return dict(root=tmp_path, cams=cams, joints=joints,
                calib=str(tmp_path / 'calibration.json'), labels=str(labels),
                gt=str(tmp_path / 'poses3d.json'))


def _projected(cams, joints):
    """(C, P, 15, 2) projections of (P, 15, 3) joints."""
    uv = cams.double().project(torch.from_numpy(joints.reshape(1, -1, 3)))[0]
    return uv.numpy().reshape(cams.num_views, *joints.shape[:2], 2)


def test_sample_structure_and_values(studio):
    ds = CustomRigDataset(calibration=studio['calib'], pseudo_labels=studio['labels'],
                          gt_3d=studio['gt'], frame_range=(2, 11), interval=3,
                          space_center=(0.0, 0.0, 800.0), space_size=(4000.0, 4000.0, 2000.0))
    assert [d['frame'] for d in ds.data_list] == [2, 5, 8]
    info = ds.get_data_info(0)
    assert info['frame_id'] == 'custom_rig/00000002' and info['sequence'] == 'custom_rig'
    assert info['num_keypoints'] == 15 and info['space_size'] == (4000.0, 4000.0, 2000.0)
    assert 'img' not in info and 'img_paths' not in info  # heatmap-input mode
    cams = info['cameras']
    assert cams.names == studio['cams'].names
    assert np.allclose(info['image_sizes'], [[320, 240]] * 3)
    # the rig file was in metres with y up: converted back to the internal world
    truth = _projected(studio['cams'], studio['joints'][2])
    assert np.abs(_projected(cams, studio['joints'][2]) - truth).max() < 1e-2
    for c in range(3):
        kp, sc, bs = (info[k][c] for k in ('pseudo_keypoints', 'pseudo_keypoint_scores',
                                            'pseudo_bbox_scores'))
        assert kp.dtype == np.float32 and kp.shape[1:] == (15, 2) and sc.shape == kp.shape[:2]
        assert bs.shape == (len(kp), )
        for p in range(len(kp)):  # each pseudo person is a projected person
            err = np.abs(truth[c] - kp[p]).max(-1)  # (P, 15)
            vis = sc[p] > 0
            assert (err[:, vis] < 1e-2).all(-1).any()
    gt, vis = info['gt_keypoints_3d'], info['gt_keypoints_3d_visible']
    assert gt.shape == (2, 15, 3) and gt.dtype == np.float32 and vis.all()
    assert np.abs(gt - studio['joints'][2]).max() < 0.05  # m, -y world → mm, z up
    assert ds.get_data_info(2)['gt_keypoints_3d'].shape == (0, 15, 3)  # frame 8: no GT
    pipeline = [TRANSFORMS.build(t) for t in (
        dict(type='MultiViewResize', input_size=(160, 128)), dict(type='MultiViewAffine'),
        dict(type='PackMultiViewInputs'))]
    out = ds.get_data_info(1)
    for t in pipeline:
        out = t(out)
    assert out['inputs'].shape == (1, 3, 0)
    assert out['data_samples'].gt_instances.keypoints_3d.shape == (2, 15, 3)


def test_a_view_without_detections_is_fine(studio):
    ds = CustomRigDataset(calibration=studio['calib'], pseudo_labels=studio['labels'],
                          frame_range=(3, 4), space_center=(0.0, 0.0, 800.0),
                          space_size=(4000.0, 4000.0, 2000.0),
                          pipeline=[dict(type='MultiViewRandomAffinePair', input_size=(160, 128)),
                                    dict(type='MultiViewAffine'),
                                    dict(type='PackMultiViewInputs')])
    info = ds.get_data_info(0)
    assert info['pseudo_keypoints'][2].shape == (0, 15, 2)
    assert len(info['pseudo_keypoints'][0]) == 2
    sample = ds[0]['data_samples']
    assert sample.pseudo_keypoints.shape[:2] == (3, 3)  # S view-sets, C views
    assert not sample.pseudo_person_mask[2].any() and sample.pseudo_person_mask[0].all()


def test_cameras_must_match_the_pseudo_labels(studio):
    doc = json.loads(Path(studio['labels']).read_text())
    renamed = copy.deepcopy(doc)
    renamed['views'][2] = 'cam_x'
    bad = studio['root'] / 'renamed.json'
    bad.write_text(json.dumps(renamed))
    with pytest.raises(PseudoLabelError, match=r'calibration\.json.*views.*renamed\.json'):
        CustomRigDataset(calibration=studio['calib'], pseudo_labels=str(bad))
    fewer = copy.deepcopy(doc)
    fewer['views'] = fewer['views'][:2]
    fewer['frames'] = {k: v[:2] for k, v in fewer['frames'].items()}
    bad.write_text(json.dumps(fewer))
    with pytest.raises(PseudoLabelError, match=r'calibration\.json.*`views`.*renamed\.json'):
        CustomRigDataset(calibration=studio['calib'], pseudo_labels=str(bad))
    unpadded = copy.deepcopy(doc)
    unpadded['frames'] = {str(int(k)): v for k, v in unpadded['frames'].items()}
    bad.write_text(json.dumps(unpadded))
    with pytest.raises(PseudoLabelError, match=r'renamed\.json: frames\[0\].*08d'):
        CustomRigDataset(calibration=studio['calib'], pseudo_labels=str(bad))
    # a subset of the cameras, in another order, reads the matching label columns
    ds = CustomRigDataset(calibration=studio['calib'], pseudo_labels=studio['labels'],
                          views=['synth_02', 'synth_00'], frame_range=(0, 1),
                          space_center=(0.0, 0.0, 800.0), space_size=(4000.0, 4000.0, 2000.0))
    info = ds.get_data_info(0)
    assert info['cameras'].names == ['synth_02', 'synth_00'] and len(info['image_sizes']) == 2
    full = CustomRigDataset(calibration=studio['calib'], pseudo_labels=studio['labels'],
                            frame_range=(0, 1), space_center=(0.0, 0.0, 800.0),
                            space_size=(4000.0, 4000.0, 2000.0)).get_data_info(0)
    assert np.array_equal(info['pseudo_keypoints'][0], full['pseudo_keypoints'][2])


def _write_images(root: Path, template: str, frames, views, skip=()):
    for v_i, v in enumerate(views):
        for f in frames:
            if (v, f) in skip:
                continue
            p = root / template.format(view=v, frame=f)
            p.parent.mkdir(parents=True, exist_ok=True)
            img = np.zeros((24, 32, 3), np.uint8)
            img[..., 2] = 10 * f  # red in RGB (cv2 writes BGR)
            img[..., 1] = 50 * v_i
            cv2.imwrite(str(p), img)


def test_image_templates_and_folders(studio):
    root, views = studio['root'], studio['cams'].names
    _write_images(root, 'images/{view}/{frame:06d}.png', FRAMES, views)
    space = dict(space_center=(0.0, 0.0, 800.0), space_size=(4000.0, 4000.0, 2000.0))
    ds = CustomRigDataset(calibration='calibration.json', pseudo_labels='pseudo_labels.json',
                          images='images/{view}/{frame:06d}.png', data_root=str(root),
                          interval=4, **space)
    info = ds.get_data_info(1)  # frame 4
    assert info['img_paths'] == [str(root / 'images' / v / '000004.png') for v in views]
    img = TRANSFORMS.build(dict(type='LoadMultiViewImages'))(info)['img']
    assert [int(i[0, 0, 0]) for i in img] == [40] * 3 and int(img[2][0, 0, 1]) == 100
    # no pseudo labels: the frames are those with an image in every view
    ds = CustomRigDataset(calibration=studio['calib'], data_root=str(root),
                          images='images/{view}/{frame:06d}.png', **space)
    assert len(ds) == 12 and len(ds.get_data_info(0)['pseudo_keypoints'][0]) == 0
    # per-view folders: the frame is the last number of the file name; a frame missing
    # in one view is skipped
    _write_images(root, 'shots/{view}/img_{frame:04d}.png', FRAMES, views,
                  skip={(views[1], 5)})
    ds = CustomRigDataset(calibration=studio['calib'], pseudo_labels=studio['labels'],
                          images={v: str(root / 'shots' / v) for v in views}, **space)
    assert [d['frame'] for d in ds.data_list] == [f for f in FRAMES if f != 5]
    assert ds.get_data_info(5)['img_paths'][1].endswith('img_0006.png')
    with pytest.raises(FileNotFoundError, match='nowhere.*images'):
        CustomRigDataset(calibration=studio['calib'], images={v: 'nowhere' for v in views},
                         **space)


def test_videos_are_decoded_in_the_dataset(studio):
    root, views = studio['root'], studio['cams'].names
    for v_i, v in enumerate(views):
        w = cv2.VideoWriter(str(root / f'{v}.avi'), cv2.VideoWriter_fourcc(*'MJPG'), 10,
                            (64, 48))
        assert w.isOpened()
        for f in FRAMES:
            img = np.zeros((48, 64, 3), np.uint8)
            img[..., 2] = 20 * f  # red (BGR order when written)
            img[..., 0] = 60 * v_i
            w.write(img)
        w.release()
    ds = CustomRigDataset(calibration=studio['calib'], pseudo_labels=studio['labels'],
                          videos=str(root / '{view}.avi'), frame_range=(6, 12), interval=3,
                          space_center=(0.0, 0.0, 800.0), space_size=(4000.0, 4000.0, 2000.0))
    info = ds.get_data_info(1)  # frame 9
    assert info['frame_id'].endswith('00000009') and 'img_paths' not in info
    img = info['img']
    assert len(img) == 3 and img[0].shape == (48, 64, 3)
    assert [abs(int(i[..., 0].mean()) - 180) <= 6 for i in img] == [True] * 3  # RGB
    assert abs(int(img[2][..., 2].mean()) - 120) <= 6
    import pickle
    assert ds.videos.open_readers == 3
    assert pickle.loads(pickle.dumps(ds)).videos.open_readers == 0  # workers open theirs
    heatmap_mode = CustomRigDataset(
        calibration=studio['calib'], pseudo_labels=studio['labels'], with_images=False,
        videos=str(root / '{view}.avi'), space_center=(0.0, 0.0, 800.0),
        space_size=(4000.0, 4000.0, 2000.0))
    assert 'img' not in heatmap_mode.get_data_info(0)


def test_space_is_the_root_cube_unless_given_and_gt_frames_in_test_mode(studio):
    cube = dict(space_center=(0.0, 0.0, 800.0), space_size=(2000.0, 2000.0, 2000.0))
    ds = CustomRigDataset(calibration=studio['calib'], pseudo_labels=studio['labels'],
                          gt_3d=studio['gt'], test_mode=True, root_cube_space=cube)
    assert [d['frame'] for d in ds.data_list] == FRAMES[:6]  # the GT's frames
    assert ds.space_center == cube['space_center'] and ds.space_size == cube['space_size']
    assert ds.get_data_info(0)['space_center'] == cube['space_center']
    with pytest.raises(ValueError, match='both space_center and space_size'):
        CustomRigDataset(calibration=studio['calib'], pseudo_labels=studio['labels'],
                         space_center=(0.0, 0.0, 800.0))
    with pytest.raises(ValueError, match=r'no capture space.*tools/estimate_space\.py'):
        CustomRigDataset(calibration=studio['calib'], pseudo_labels=studio['labels'])
    # a given space that sticks out of the root cube: a warning with the lines to paste
    messages = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        CustomRigDataset(calibration=studio['calib'], pseudo_labels=studio['labels'],
                         space_center=(0.0, 0.0, 800.0), space_size=(4000.0, 4000.0, 2000.0),
                         root_cube_space=cube)
    finally:
        logger.removeHandler(handler)
    assert any('does not contain' in m and 'space_size = (4000.0' in m for m in messages)


def test_config_builds_on_a_generated_rig(studio):
    init_default_scope('mmpose')
    cfg = Config.fromfile(str(ROOT / 'configs' / 'selfpose3d_custom_rig.py'))
    assert cfg.train_dataloader.dataset.space_center is None  # the root cube's
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = str(studio['root'])  # calibration.json, pseudo_labels.json there
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 12 and ds.space_center == tuple(cfg.root_cube['space_center'])
    batch = multiview_collate([ds[0], ds[1]])
    assert batch['inputs'].shape == (2, 3, 3, 0)  # heatmap-input mode, 3 view-sets
    s = batch['data_samples'][0]
    assert s.pseudo_keypoints.shape[:2] == (3, 3) and s.pseudo_keypoints.shape[-2:] == (15, 2)
    assert s.metainfo['input_size'] == tuple(cfg.input_size)
    assert s.metainfo['space_size'] == ds.space_size
