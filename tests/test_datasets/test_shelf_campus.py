"""Shelf / Campus: file readers on the real fixtures (calibration, actorsGT, detections),
the real-frame dataset (errors, skip mode), VoxelPose's synthetic training in the real
rig (determinism, placement, projections, pose sources) and one evaluation step."""
import copy
import pickle

import numpy as np
import pytest
import scipy.io
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmpose.registry import METRICS, MODELS

from selfpose3d_mm.datasets import (ShelfCampusDataset, ShelfCampusSyntheticDataset,
                                    multiview_collate)
from selfpose3d_mm.datasets.shelf_campus import (AMPLITUDE_DEFAULTS, build_pose_source,
                                                 joint_amplitudes)
from selfpose3d_mm.datasets.shelf_campus.placement import box_iou, xy_boxes
from selfpose3d_mm.io import (ShelfCampusFileError, detections_to_panoptic15,
                              load_actors_gt, load_pose_bank, load_predicted_poses)
from selfpose3d_mm.skeleton import COCO17_NAMES

from ..conftest import fixture_path

PIPELINE = [dict(type='MultiViewResize', input_size=(400, 304)),
            dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs')]


def _real(dataset='shelf', **kw):
    root = str(fixture_path(dataset))
    kw.setdefault('frame_ranges', [(0, 2)])  # the fixtures hold frames 0-2
    return ShelfCampusDataset(data_root=root, dataset=dataset, **kw)


def _synth(dataset='shelf', **kw):
    root = str(fixture_path(dataset))
    kw.setdefault('num_samples', 20)
    return ShelfCampusSyntheticDataset(data_root=root, dataset=dataset, **kw)


# ---------------------------------------------------------------- files
@pytest.mark.parametrize('dataset,views,size', [('shelf', 5, (1032, 776)),
                                                ('campus', 3, (360, 288))])
def test_gt_projects_onto_the_annotated_2d(dataset, views, size):
    """The calibration + actorsGT (metres → mm, world axes) reproduce the dataset's own
    2D annotation ``actor2D`` to a pixel: wrong units/axes/centre would be 100s of px."""
    ds = _real(dataset)
    cams = ds.cameras
    assert cams.num_views == views and cams.image_size[0].tolist() == list(size)
    a2d = scipy.io.loadmat(str(fixture_path(dataset, 'actorsGT.mat')))['actor2D'][0]
    info = ds.get_data_info(0)
    uv = cams.project(torch.from_numpy(info['gt_keypoints_3d']).double().reshape(-1, 3))
    uv = uv.reshape(views, -1, 14, 2).numpy()
    for g, a in enumerate(info['gt_instance_ids']):
        ann = np.stack([np.asarray(a2d[a][0, 0][0, c], float) for c in range(views)])
        err = np.linalg.norm(uv[:, g] - ann, axis=-1)  # Campus cam 0 is rounded to px
        assert np.median(err) < 0.5 and err.max() < 3.0


def test_actors_gt_units_absent_actors_and_counts():
    path = str(fixture_path('shelf', 'actorsGT.mat'))
    poses, present = load_actors_gt(path)
    assert poses.shape == (4, 3, 14, 3) and present.shape == (4, 3)
    # Shelf fixture: actors 0 and 2 present in all 3 frames, 1 and 3 absent
    assert present.tolist() == [[True] * 3, [False] * 3, [True] * 3, [False] * 3]
    raw = scipy.io.loadmat(path)['actor3D'][0, 0][0, 0]
    np.testing.assert_allclose(poses[0, 0], raw * 1000.0, rtol=1e-6)
    top_head = poses[present][:, 13, 2]
    assert (top_head > 1400).all() and (top_head < 2100).all()  # mm, z up
    assert (poses[~present] == 0).all()
    ds = _real('shelf')
    assert [ds.get_data_info(i)['gt_instance_ids'].tolist() for i in range(3)] == \
        [[0, 2]] * 3
    assert _real('campus').get_data_info(1)['gt_instance_ids'].tolist() == [0]


def test_detections_convert_coco_to_panoptic():
    det = pickle.load(open(fixture_path('shelf', 'pred_shelf_maskrcnn_hrnet_coco.pkl'), 'rb'))
    pred = np.asarray(det['0_0'][0]['pred'])
    kp, sc, box = detections_to_panoptic15(det['0_0'], 'f.pkl', '0_0')
    assert kp.shape == (3, 15, 2) and sc.shape == (3, 15) and box.shape == (3, )
    c = COCO17_NAMES.index
    np.testing.assert_allclose(kp[0, 0], (pred[c('left_shoulder'), :2]
                                          + pred[c('right_shoulder'), :2]) / 2, rtol=1e-6)
    np.testing.assert_allclose(kp[0, 1], pred[c('nose'), :2], rtol=1e-6)
    np.testing.assert_allclose(kp[0, 14], pred[c('right_ankle'), :2], rtol=1e-6)
    np.testing.assert_allclose(sc[0, 5], pred[c('left_wrist'), 2], rtol=1e-6)
    np.testing.assert_allclose(box[0], pred[:, 2].mean(), rtol=1e-6)
    # a zero-score shoulder: the neck is the other shoulder; a file box score wins
    p = pred.copy()
    p[c('left_shoulder'), 2] = 0
    kp, sc, box = detections_to_panoptic15([dict(pred=p, score=0.8)], 'f.pkl', 'k')
    np.testing.assert_allclose(kp[0, 0], p[c('right_shoulder'), :2], rtol=1e-6)
    assert sc[0, 3] == 0 and kp[0, 3].tolist() == [0, 0] and box[0] == pytest.approx(0.8)
    with pytest.raises(ShelfCampusFileError, match=r"f\.pkl.*'3_7'.*`pred`"):
        detections_to_panoptic15([dict(pred=np.zeros((15, 3)))], 'f.pkl', '3_7')


def test_detections_triangulate_inside_the_rig():
    """The fixture's detections agree with its calibration: triangulated people stand in
    the Shelf space (hips at 0.6-1.1 m: mm, z up) and reproject onto the detections."""
    init_default_scope('mmpose')
    ds = _real('shelf', pipeline=PIPELINE)
    model = MODELS.build(dict(type='TriangulationBaseline'))
    data = model.data_preprocessor(multiview_collate([ds[0]]), False)
    out = model(**data, mode='predict')[0].pred_instances
    kp = out.keypoints_3d.double()
    assert len(kp) >= 2 and (kp[:, 2, 2] > 600).all() and (kp[:, 2, 2] < 1100).all()
    info = ds.get_data_info(0)
    uv = ds.cameras.project(kp.reshape(-1, 3)).reshape(5, len(kp), 15, 2).numpy()
    errs = []
    for c in range(5):  # best-matching detection of every reprojected person
        det, sc = info['pseudo_keypoints'][c], info['pseudo_keypoint_scores'][c]
        d = np.linalg.norm(det[:, None] - uv[c][None], axis=-1)  # (P_c, N, 15)
        med = np.nanmedian(np.where(sc[:, None] > 0, d, np.nan), -1)
        errs.append(med.min(0))
    assert np.median(np.concatenate(errs)) < 15.0


# ---------------------------------------------------------------- real dataset
def test_missing_frame_names_file_and_key_or_is_skipped_and_counted():
    with pytest.raises(KeyError, match=r"pred_shelf_maskrcnn_hrnet_coco\.pkl.*'0_3'"):
        _real('shelf', frame_ranges=[(0, 3)], with_gt=False)
    ds = _real('shelf', frame_ranges=[(0, 4)], with_gt=False, skip_missing=True)
    assert len(ds) == 3 and ds.num_skipped == 2 and '0_3' in ds.skipped_keys
    with pytest.raises(ValueError, match=r'actorsGT\.mat.*3 frames'):
        _real('shelf', frame_ranges=[(0, 3)], skip_missing=True)
    with pytest.raises(FileNotFoundError, match='dataset not found at .*nowhere'):
        ShelfCampusDataset(data_root='/nowhere/Shelf')


def test_real_sample_structure_and_defaults():
    ds = _real('shelf', with_images=True)
    info = ds.get_data_info(0)
    assert ds.space_center == (450.0, -320.0, 800.0)
    assert [len(k) for k in info['pseudo_keypoints']] == [3, 3, 5, 4, 4]
    assert info['pseudo_keypoints'][2].shape == (5, 15, 2)
    assert info['img_paths'][3].endswith('Camera3/img_000000.png')
    assert _real('campus', with_images=True).get_data_info(0)['img_paths'][2].endswith(
        'Camera2/campus4-c2-00000.png')
    camp = _real('campus')
    assert camp.space_center == (3000.0, 4500.0, 1000.0)
    assert len(camp) == 3 and all(len(k) == 0 for k in camp.get_data_info(0)[
        'pseudo_keypoints'])  # the Campus fixture has no detections
    ds = _real('shelf', pipeline=PIPELINE)
    gt = ds[1]['data_samples'].gt_instances
    assert gt.instance_ids.tolist() == [0, 2] and gt.keypoints_3d.shape == (2, 14, 3)


# ---------------------------------------------------------------- synthetic
def test_synthetic_is_deterministic_per_seed_and_index():
    a, b, c = _synth(), _synth(), _synth(seed=1)
    ia, ib, ic = a.get_data_info(7), b.get_data_info(7), c.get_data_info(7)
    np.testing.assert_array_equal(ia['gt_keypoints_3d'], ib['gt_keypoints_3d'])
    for x, y in zip(ia['pseudo_keypoint_scores'], ib['pseudo_keypoint_scores']):
        np.testing.assert_array_equal(x, y)
    assert ia['gt_keypoints_3d'].shape != ic['gt_keypoints_3d'].shape or not np.allclose(
        ia['gt_keypoints_3d'], ic['gt_keypoints_3d'])
    # random access: index 3 is the same whether or not other indices were drawn before
    np.testing.assert_array_equal(a.get_data_info(3)['gt_keypoints_3d'],
                                  _synth().get_data_info(3)['gt_keypoints_3d'])


@pytest.mark.parametrize('dataset', ['shelf', 'campus'])
def test_synthetic_people_in_space_and_projections_match_cameras(dataset):
    ds = _synth(dataset)
    lo = np.array(ds.space_center) - np.array(ds.space_size) / 2
    hi = np.array(ds.space_center) + np.array(ds.space_size) / 2
    counts = []
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        gt = info['gt_keypoints_3d'].astype(np.float64)
        counts.append(len(gt))
        roots = gt[:, 2]
        assert ((roots >= lo) & (roots <= hi)).all()
        assert gt[..., 2].min() > -100 and gt[..., 2].max() < 2300  # on the floor, mm
        boxes = xy_boxes(gt, info['gt_keypoints_3d_visible'])
        iou = box_iou(boxes, boxes)
        assert (iou[~np.eye(len(gt), dtype=bool)] < 0.01).all()
        uv = ds.cameras.project(torch.from_numpy(gt.reshape(-1, 3))).numpy().reshape(
            ds.cameras.num_views, len(gt), 15, 2)
        W, H = ds.cameras.image_size[0].tolist()
        for c, (kp, sc) in enumerate(zip(info['pseudo_keypoints'],
                                         info['pseudo_keypoint_scores'])):
            vis = sc > 0
            assert (sc <= 1).all() and vis.any(-1).all()
            assert ((kp[vis] >= 0) & (kp[vis] < [W, H])).all()
            # each evidence person is the exact projection of a placed person
            d = np.abs(kp[:, None] - uv[c][None]).max(-1)        # (P_c, G, 15)
            d = np.where(vis[:, None], d, 0).max(-1)
            assert (d.min(1) < 1e-2).all()
        if dataset == 'campus':  # VoxelPose: the root column seen by >= 2 views
            pts = torch.from_numpy(np.column_stack([roots[:, :2], np.full(len(gt), 1e3)]))
            uvr = ds.cameras.project(pts).numpy()
            inside = ((uvr >= 10) & (uvr < np.array([W, H]) - 10)).all(-1).sum(0)
            assert (inside >= 2).all()
    assert min(counts) >= 1 and max(counts) <= (5 if dataset == 'shelf' else 9)
    assert len(set(counts)) > 2


def test_amplitudes_follow_voxelpose_perturbations():
    rng = np.random.default_rng(0)
    amp = joint_amplitudes(rng, (20000, ), AMPLITUDE_DEFAULTS['shelf'])
    wrists, elbows, neck = amp[:, [5, 11]], amp[:, [4, 10]], amp[:, 0]
    assert (amp > 0).all() and (amp <= 1).all()
    assert np.mean(wrists < 0.25) == pytest.approx(0.1, abs=0.01)
    assert np.mean((elbows > 0.3) & (elbows < 0.6)) == pytest.approx(0.1, abs=0.01)
    assert np.mean(neck < 0.6) == pytest.approx(0.05, abs=0.01)
    assert np.mean(neck == 1.0) == pytest.approx(0.4 * 0.95, abs=0.015)


def test_pose_sources_bank_generator_predictions(tmp_path):
    bank_path = str(fixture_path('shelf', 'panoptic_training_pose.pkl'))
    raw = pickle.load(open(bank_path, 'rb'))
    poses, valid = load_pose_bank(bank_path)
    assert poses.shape == (3, 15, 3) and valid.all()
    c = COCO17_NAMES.index
    np.testing.assert_allclose(poses[0, 2], (raw[0]['pose'][c('left_hip')]
                                             + raw[0]['pose'][c('right_hip')]) / 2)
    # placed people are rigid copies of bank poses (bone lengths kept)
    ds = _synth(poses=dict(type='bank', path=bank_path))
    def bone(p):  # left upper/lower arm and leg lengths
        return np.linalg.norm(p[..., [4, 5, 7, 8], :] - p[..., [3, 4, 6, 7], :], axis=-1)
    placed = ds.get_data_info(0)['gt_keypoints_3d'].astype(np.float64)
    assert all(np.abs(bone(poses) - bone(p)).max(-1).min() < 1e-2 for p in placed)
    gen, gvalid = build_pose_source(dict(type='generator', num_people=4, num_times=5),
                                    np.random.default_rng(0))
    assert gen.shape == (20, 15, 3) and gvalid.all()
    height = gen[:, [1], 2] - gen[:, [8, 14], 2].min(-1, keepdims=True)
    assert (height > 600).all() and (height < 2000).all() and np.median(height) > 1300
    # tools/test.py --out: mmengine DumpResults dicts
    dump = [dict(frame_id='a', pred_instances=dict(keypoints_3d=torch.from_numpy(
        poses[:2]).float(), scores=torch.tensor([0.9, 0.1]))),
        dict(frame_id='b', pred_instances=dict(keypoints_3d=torch.zeros(0, 15, 3),
                                               scores=torch.zeros(0)))]
    path = tmp_path / 'preds.pkl'
    path.write_bytes(pickle.dumps(dump))
    pred, _ = load_predicted_poses(str(path), score_threshold=0.3)
    np.testing.assert_allclose(pred, poses[:1], rtol=1e-5)
    ds = _synth(poses=dict(type='predictions', path=str(path), score_threshold=0.3))
    assert len(ds.source_poses) == 1
    with pytest.raises(ShelfCampusFileError, match='preds.pkl.*score_threshold'):
        load_predicted_poses(str(path), score_threshold=0.95)
    path.write_bytes(pickle.dumps([dict(frame_id='a')]))
    with pytest.raises(ShelfCampusFileError, match='preds.pkl: sample 0.*pred_instances'):
        load_predicted_poses(str(path))
    with pytest.raises(ValueError, match='unknown knob'):
        _synth(placement=dict(num_peple=(1, 2)))


# ---------------------------------------------------------------- evaluation
def test_one_evaluation_step_on_fixture_frames():
    """dataset → pipeline → collate → triangulation baseline and a (tiny, untrained)
    SelfPose3D in predict mode → PCPMetric; GT-as-prediction scores 100."""
    init_default_scope('mmpose')
    ds = _real('shelf', pipeline=PIPELINE)
    batch = multiview_collate([ds[i] for i in range(len(ds))])
    tri = MODELS.build(dict(type='TriangulationBaseline'))
    samples = tri(**tri.data_preprocessor(copy.deepcopy(batch), False), mode='predict')
    assert all(s.pred_instances.keypoints_3d.shape[1:] == (15, 3) for s in samples)
    metric = METRICS.build(dict(type='PCPMetric', variant='shelf', actors=(0, 1, 2)))
    metric.process({}, samples)
    m = metric.evaluate(len(samples))
    assert m['frames'] == 3 and 'PCP_actor0' in m and 'PCP_actor2' in m
    assert 'PCP_actor1' not in m and 0 <= m['PCP'] <= 100
    # the GT the pipeline carried, fed back as the prediction
    for s in samples:
        s.pred_instances = InstanceData(keypoints_3d=s.gt_instances.keypoints_3d.clone())
    metric.process({}, samples)
    m = metric.evaluate(len(samples))
    assert m['PCP'] == 100.0 and m['Recall@500'] == 100.0
    model = MODELS.build(dict(
        type='SelfPose3D', input_size=(400, 304), heatmap_size=(100, 76),
        root_channels='all', heatmap_input=dict(sigma=2.0),
        root_head=dict(space_center=ds.space_center, space_size=ds.space_size,
                       cube_shape=(16, 16, 4), mid_channels=4, max_proposals=3,
                       threshold=0.0),
        pose_head=dict(cube_size=(2000.0, 2000.0, 2000.0), cube_shape=(8, 8, 8),
                       mid_channels=4)))
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(batch, False), mode='predict')
    assert [s.pred_instances.keypoints_3d.shape for s in out] == [(3, 15, 3)] * 3
    metric.process({}, out)
    assert metric.evaluate(3)['frames'] == 3
