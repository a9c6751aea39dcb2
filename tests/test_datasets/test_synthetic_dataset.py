"""The synthetic multi-view world as a registered dataset: structure, determinism,
splits, GT vs bystanders, pseudo poses near the truth, images, real rigs."""
import time

import numpy as np
import pytest
import torch
from mmpose.registry import DATASETS

import selfpose3d_mm  # noqa: F401  (registers the datasets when this file runs alone)

from ..conftest import fixture_path

PIPELINE = [
    dict(type='MultiViewRandomAffinePair', input_size=(320, 192)),
    dict(type='MultiViewAffine'),
    dict(type='PackMultiViewInputs'),
]


def _build(**kw):
    cfg = dict(type='SyntheticMultiViewDataset', num_samples=40, frames_per_sequence=10)
    cfg.update(kw)
    return DATASETS.build(cfg)


def test_sample_structure_and_meta():
    ds = _build(split='val')
    assert len(ds) == 40
    assert ds.metainfo['num_keypoints'] == 15  # mmpose's panoptic_body3d meta
    assert len(ds.metainfo['skeleton_links']) == 14
    info = ds.get_data_info(3)
    C = info['cameras'].num_views
    assert C == 5 and info['image_sizes'].shape == (5, 2)
    for key in ('pseudo_keypoints', 'pseudo_keypoint_scores', 'pseudo_bbox_scores'):
        assert len(info[key]) == C
    for k, s in zip(info['pseudo_keypoints'], info['pseudo_keypoint_scores']):
        assert k.shape[1:] == (15, 2) and s.shape == k.shape[:2]
        assert ((s >= 0) & (s <= 1)).all()
    gt = info['gt_keypoints_3d']
    assert gt.ndim == 3 and gt.shape[1:] == (15, 3) and 1 <= len(gt) <= 5
    c, half = np.array(ds.space_center), np.array(ds.space_size) / 2
    assert (np.abs(gt[:, 2] - c) <= half).all()  # GT roots inside the capture space


def test_deterministic_and_splits_differ():
    a = _build(split='train', seed=5).get_data_info(7)
    b = _build(split='train', seed=5).get_data_info(7)
    assert np.array_equal(a['gt_keypoints_3d'], b['gt_keypoints_3d'])
    for ka, kb in zip(a['pseudo_keypoints'], b['pseudo_keypoints']):
        assert np.array_equal(ka, kb)
    for other in (_build(split='test', seed=5).get_data_info(7),
                  _build(split='train', seed=6).get_data_info(7)):
        assert (other['gt_keypoints_3d'].shape != a['gt_keypoints_3d'].shape
                or not np.allclose(other['gt_keypoints_3d'], a['gt_keypoints_3d']))
    # same studio across splits and seeds
    assert torch.equal(_build(split='test', seed=9).cameras.R, _build().cameras.R)


def test_motion_is_smooth_within_a_sequence():
    ds = _build(split='val', frame_interval=1, fps=30.0)
    g0, g1 = ds.get_data_info(0)['gt_keypoints_3d'], ds.get_data_info(1)['gt_keypoints_3d']
    if g0.shape == g1.shape:
        assert np.abs(g1 - g0).max() < 150  # mm in 1/30 s


def test_bystanders_are_seen_but_not_gt():
    ds = _build(split='val', outside_prob=1.0, max_outside=2, num_samples=10)
    found = False
    for i in range(0, 10, 5):
        info = ds.get_data_info(i)
        allp, gt = info['all_keypoints_3d'], info['gt_keypoints_3d']
        assert len(allp) > len(gt)
        c, half = np.array(ds.space_center), np.array(ds.space_size) / 2
        outside = ~(np.abs(allp[:, 2] - c) <= half).all(-1)
        assert outside.sum() == len(allp) - len(gt)
        # the pseudo-2D simulator sees them: some pseudo person comes from a bystander
        idx = np.nonzero(outside)[0]
        found |= any(np.isin(s, idx).any() for s in info['pseudo_source'])
    assert found


def test_pseudo_poses_are_close_to_gt_projections():
    ds = _build(split='val', num_samples=20)
    errs, counts = [], []
    for i in range(0, 20, 4):
        info = ds.get_data_info(i)
        allp = torch.from_numpy(info['all_keypoints_3d'])
        uv = info['cameras'].project(allp.reshape(-1, 3)).numpy().reshape(
            5, len(allp), 15, 2)
        for c in range(5):
            counts.append(len(info['pseudo_keypoints'][c]))
            for k, src, s in zip(info['pseudo_keypoints'][c], info['pseudo_source'][c],
                                 info['pseudo_keypoint_scores'][c]):
                if src >= 0:
                    good = s > 0.5
                    errs.append(np.linalg.norm(k[good] - uv[c, src][good], axis=-1))
    e = np.concatenate(errs)
    assert np.median(e) < 15  # px at 1920x1080: a decent 2D detector
    assert len(set(counts)) > 1  # person counts differ between views


def test_pipeline_output_and_speed():
    ds = _build(split='train', pipeline=PIPELINE)
    t = time.time()
    out = [ds[i] for i in range(10)]
    per_sample = (time.time() - t) / 10
    assert per_sample < 0.2, per_sample  # cheap enough to generate on the fly
    s = out[0]['data_samples']
    assert s.affines.shape == (3, 5, 2, 3)
    assert s.pseudo_keypoints.shape[:2] == (3, 5)


def test_rendered_images():
    ds = _build(split='val', with_images=True, num_samples=2,
                rig=dict(type='ring', num_views=3, image_size=(480, 270)))
    info = ds.get_data_info(0)
    assert len(info['img']) == 3
    assert all(im.shape == (270, 480, 3) and im.dtype == np.uint8 for im in info['img'])
    assert np.array_equal(info['img'][1], ds.get_data_info(0)['img'][1])


def test_real_calibration_rig():
    path = fixture_path('panoptic', '160906_band1', 'calibration_160906_band1.json')
    ds = _build(split='val', num_samples=2, space_center=(0.0, -500.0, 800.0),
                space_size=(8000.0, 8000.0, 2000.0),
                rig=dict(type='file', path=str(path), camera_names=['00_03', '00_06', '00_12']))
    info = ds.get_data_info(0)
    assert info['cameras'].names == ['00_03', '00_06', '00_12']
    assert len(info['pseudo_keypoints']) == 3


def test_bad_config_is_named():
    with pytest.raises(ValueError, match='split'):
        _build(split='bogus')
    with pytest.raises(ValueError, match='num_people'):
        _build(num_people=(0, 3))
