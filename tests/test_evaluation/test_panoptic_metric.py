"""MultiViewPoseAPMetric against hand-computed Panoptic AP / recall / MPJPE."""
import math

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from selfpose3d_mm.evaluation.functional.multiview_ap import (
    greedy_match, multiview_pose_ap, voc_average_precision)
from selfpose3d_mm.evaluation.metrics.panoptic_metric import MultiViewPoseAPMetric

J = 15
THRESHOLDS = (25, 50, 75, 100, 125, 150)
OFFSET_60 = np.array([36.0, 48.0, 0.0])     # |(36, 48, 0)| = 60 mm exactly


def person(x: float) -> np.ndarray:
    """(J, 3) pose standing at x mm; people 2 m apart never get confused."""
    rng = np.random.default_rng(int(x) % 1000 + 7)
    return rng.uniform(-300, 300, (J, 3)) + np.array([x, 0.0, 900.0])


def frame(gt, pred=None, scores=None, vis=None):
    """A data sample in its ``to_dict()`` form."""
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, J, 3)
    vis = np.ones(gt.shape[:2], bool) if vis is None else np.asarray(vis)
    sample = dict(gt_instances=dict(keypoints_3d=gt, keypoints_3d_visible=vis))
    if pred is not None:
        sample['pred_instances'] = dict(
            keypoints_3d=np.asarray(pred, dtype=np.float64).reshape(-1, J, 3),
            scores=np.asarray(scores, dtype=np.float64))
    return sample


def run(samples, **kwargs):
    metric = MultiViewPoseAPMetric(**kwargs)
    metric.process(None, samples)
    return metric.compute_metrics(metric.results)


def assert_aps(m, expected):
    for t, v in zip(THRESHOLDS, expected):
        assert m[f'AP{t}'] == pytest.approx(v), t


def test_perfect_predictions():
    samples = [frame([person(0), person(2000)], [person(0), person(2000)], [0.9, 0.6]),
               frame([person(4000)], [person(4000)], [0.5])]
    m = run(samples)
    assert_aps(m, [100.0] * 6)
    assert m['mAP'] == 100.0 and m['MPJPE'] == 0.0 and m['Recall@500'] == 100.0
    assert all(m[f'recall@{t}'] == 100.0 for t in THRESHOLDS)


def test_constant_60mm_offset():
    # Every joint is 60 mm off, so MPJPE = 60: a TP only where 60 < t.
    gts = [person(0), person(2000)]
    m = run([frame(gts, [g + OFFSET_60 for g in gts], [0.9, 0.8])])
    assert_aps(m, [0, 0, 100, 100, 100, 100])
    assert m['mAP'] == pytest.approx(400 / 6)
    assert m['MPJPE'] == pytest.approx(60.0)
    assert m['recall@50'] == 0.0 and m['recall@75'] == 100.0


def test_duplicate_is_false_positive():
    # 2 GT; scores 0.9 (A, TP), 0.8 (A + 10 mm, GT taken: FP), 0.7 (B, TP).
    # recall 1/2, 1/2, 1; precision 1, 1/2, 2/3 -> monotone 1, 2/3, 2/3
    # AP = 0.5 * 1 + 0.5 * 2/3 = 83.33 %, at every threshold.
    a, b = person(0), person(2000)
    m = run([frame([a, b], [a, a + 10.0, b], [0.9, 0.8, 0.7])])
    assert_aps(m, [250 / 3] * 6)
    assert m['MPJPE'] == 0.0 and m['Recall@500'] == 100.0


def test_missed_person_and_far_false_positive():
    # 3 GT (A, B, C); A exact (0.9), a ghost 20 m away (0.8), B + 30 mm (0.6); C missed.
    # t=25: TP FP FP -> recall 1/3 at precision 1 -> AP = 1/3.
    # t=50: TP FP TP -> recall 1/3, 1/3, 2/3; precision 1, 1/2, 2/3
    #       AP = 1/3 * 1 + 1/3 * 2/3 = 5/9.  t >= 75: same as 50.
    a, b, c = person(0), person(2000), person(4000)
    ghost = person(20000)
    m = run([frame([a, b, c], [a, ghost, b + np.array([30.0, 0, 0])], [0.9, 0.8, 0.6])])
    assert_aps(m, [100 / 3] + [500 / 9] * 5)
    assert m['recall@25'] == pytest.approx(100 / 3)
    assert m['recall@50'] == pytest.approx(200 / 3)
    assert m['MPJPE'] == pytest.approx(15.0)        # (0 + 30) / 2; the ghost is > 500
    assert m['Recall@500'] == pytest.approx(200 / 3)


def test_equal_scores_keep_dataset_order():
    # Equal scores: stable sort, frames in processing order, then predictions in order.
    a, b = person(0), person(2000)
    miss = frame([a], [a + 1000.0], [0.5])   # 1000 mm off: FP
    hit = frame([b], [b], [0.5])
    # FP first: recall 0, 1/2; precision 0, 1/2 -> AP = 1/2 * 1/2 = 25 %.
    assert run([miss, hit])['AP25'] == pytest.approx(25.0)
    # TP first: recall 1/2, 1/2; precision 1, 1/2 -> AP = 1/2 * 1 = 50 %.
    assert run([hit, miss])['AP25'] == pytest.approx(50.0)
    # Within a frame: the first emitted prediction takes the GT, even if worse.
    off = a + np.array([30.0, 0, 0])
    assert run([frame([a], [off, a], [0.5, 0.5])])['MPJPE'] == pytest.approx(30.0)
    assert run([frame([a], [a, off], [0.5, 0.5])])['MPJPE'] == 0.0


def test_empty_frames():
    a, b, c = person(0), person(2000), person(4000)
    samples = [
        frame(np.zeros((0, J, 3)), [a], [0.9]),             # no GT: skipped / an FP
        frame([a, b], np.zeros((0, J, 3)), np.zeros(0)),    # no predictions: 2 misses
        frame([c], [c], [0.8]),                             # a TP
        frame([a]),                                         # no pred_instances: a miss
    ]
    # Default (skip): 4 GT; TP (0.8) alone: recall 1/4 at precision 1 -> AP = 1/4.
    m = run(samples)
    assert_aps(m, [25.0] * 6)
    assert m['MPJPE'] == 0.0 and m['Recall@500'] == pytest.approx(25.0)
    # 'false_positive': FP (0.9), TP (0.8): recall 0, 1/4; precision 0, 1/2 -> 1/8.
    m = run(samples, empty_gt_frames='false_positive')
    assert_aps(m, [12.5] * 6)
    assert m['MPJPE'] == 0.0 and m['Recall@500'] == pytest.approx(25.0)


def test_no_predictions_at_all():
    m = run([frame([person(0)], np.zeros((0, J, 3)), np.zeros(0)), frame([person(0)])])
    assert_aps(m, [0.0] * 6)
    assert m['mAP'] == 0.0 and m['Recall@500'] == 0.0
    assert math.isnan(m['MPJPE'])          # documented: mean over no match is NaN
    empty = multiview_pose_ap([])          # no frames, no GT: zeros, no crash
    assert empty['mAP'] == 0.0 and math.isnan(empty['MPJPE'])


def test_score_threshold_drops_predictions():
    a = person(0)
    assert run([frame([a], [a], [0.0])])['mAP'] == 0.0       # score <= 0.0 dropped
    assert run([frame([a], [a], [0.4])], score_threshold=0.5)['mAP'] == 0.0
    assert run([frame([a], [a], [0.6])], score_threshold=0.5)['mAP'] == 100.0


def test_invisible_joints_ignored():
    a, b = person(0), person(2000)
    pred = a.copy()
    pred[5] += 1e6                                 # a huge error on an invisible joint
    gt_b = b.copy()
    gt_b[:] = np.nan                               # B: nothing visible (and NaN data)
    vis = np.ones((2, J), bool)
    vis[0, 5] = False
    vis[1] = False
    m = run([frame([a, gt_b], [pred], [0.9], vis)])
    # B has no visible joint: not in total_gt (= 1), never assigned.
    assert_aps(m, [100.0] * 6)
    assert m['MPJPE'] == 0.0 and m['Recall@500'] == 100.0
    # Without visibility joint 5 counts: MPJPE = 1e6 / 15 to A, and B (NaN) can't win.
    m = run([frame([a, gt_b], [pred, b], [0.9, 0.8], vis)], use_visibility=False)
    # Only the second prediction can match: at B it sees NaN (treated as inf), and
    # at A it is 2 m off, so both records are FP; total_gt = 2.
    assert m['mAP'] == 0.0 and m['Recall@500'] == 0.0 and math.isnan(m['MPJPE'])
    m = run([frame([a], [pred], [0.9], vis[:1])], use_visibility=False)
    assert m['mAP'] == 0.0 and m['Recall@500'] == 0.0 and math.isnan(m['MPJPE'])


def test_root_only_joint_indices():
    a = person(0)
    pred = a + 200.0 / math.sqrt(3)               # every joint 200 mm off ...
    pred[2] = a[2]                                # ... except the root (joint 2)
    full = run([frame([a], [pred], [0.9])])
    assert full['AP150'] == 0.0                   # 14 * 200 / 15 = 186.7 mm
    assert full['MPJPE'] == pytest.approx(14 * 200 / 15)
    root = run([frame([a], [pred], [0.9])], joint_indices=[2])
    assert_aps(root, [100.0] * 6)
    assert root['MPJPE'] == pytest.approx(0.0)


def test_greedy_match_equals_loop():
    rng = np.random.default_rng(0)
    for _ in range(20):
        err = rng.uniform(0, 200, 30)
        ids = rng.integers(-1, 6, 30)
        taken, ref = set(), []
        for e, g in zip(err, ids):                # the protocol, literally
            ok = e < 100 and g >= 0 and g not in taken
            taken |= {g} if ok else set()
            ref.append(ok)
        np.testing.assert_array_equal(greedy_match(err, ids, 100), ref)
    assert voc_average_precision(np.zeros(0, bool), 3) == (0.0, 0.0)


def _data_sample(gt, pred, scores):
    from selfpose3d_mm.structures import MultiViewPoseDataSample
    s = MultiViewPoseDataSample(metainfo=dict(sample_idx=0))
    s.gt_instances = InstanceData(
        keypoints_3d=torch.as_tensor(gt), keypoints_3d_visible=torch.ones(len(gt), J,
                                                                          dtype=torch.bool))
    s.pred_instances = InstanceData(keypoints_3d=torch.as_tensor(pred),
                                    scores=torch.as_tensor(scores))
    return s


def test_through_mmengine_evaluator():
    from mmengine.evaluator import Evaluator
    from mmpose.registry import METRICS
    a, b = person(0), person(2000)
    samples = [_data_sample(np.stack([a, b]), np.stack([a, a + 10.0, b]), [0.9, 0.8, 0.7]),
               _data_sample(np.stack([a]), np.zeros((0, J, 3)), np.zeros(0))]
    metric = METRICS.build(dict(type='MultiViewPoseAPMetric', prefix='panoptic'))
    metric.process(data_batch=None, data_samples=samples)
    m = metric.evaluate(len(samples))
    keys = {f'panoptic/AP{t}' for t in THRESHOLDS} | {f'panoptic/recall@{t}' for t in THRESHOLDS}
    assert keys | {'panoptic/mAP', 'panoptic/Recall@500', 'panoptic/MPJPE'} <= set(m)
    # 3 GT; TP, FP, TP: recall 1/3, 1/3, 2/3; precision 1, 1/2, 2/3 -> AP = 5/9.
    assert m['panoptic/AP25'] == pytest.approx(500 / 9)
    evaluator = Evaluator(MultiViewPoseAPMetric())       # converts samples via to_dict()
    evaluator.process(samples)
    assert evaluator.evaluate(len(samples))['AP25'] == pytest.approx(500 / 9)
