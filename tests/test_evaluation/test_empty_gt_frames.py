"""Frames without a valid GT person: VoxelPose's 'skip' (default) vs 'false_positive'.

Hand-computed data set D (two frames, 3 valid GT persons A, B, C):
    frame 1: GT A, B; predictions A exact (0.9), a ghost 20 m away (0.8)
    frame 2: GT C;    prediction C + 30 mm (0.6)
so the score-sorted records are TP(0 mm), FP, TP(30 mm) and B is missed.
    t = 25: TP FP FP -> recall 1/3 at precision 1           -> AP = 1/3
    t >= 50: TP FP TP -> recall 1/3, 1/3, 2/3; prec 1, 1/2, 2/3 -> AP = 1/3 + 2/9 = 5/9
An empty-GT frame E (between them) holds one prediction with score 0.95, the highest.
'false_positive' puts that FP in front of everything:
    t = 25: FP TP FP FP -> recall 1/3 at best precision 1/2    -> AP = 1/6 (-1/6)
    t >= 50: FP TP FP TP -> recall 0, 1/3, 1/3, 2/3; prec 0, 1/2, 1/3, 1/2
             monotone precision 1/2 at both recall steps          -> AP = 1/3 (-2/9)
Recall@500, recall@t and MPJPE ignore unmatched records, so they agree in both modes.
"""
import logging
import math

import numpy as np
import pytest

from selfpose3d_mm.evaluation.functional.multiview_ap import (
    EMPTY_GT_FRAMES, check_empty_gt_frames, collect_records, frame_has_valid_gt,
    multiview_pose_ap, valid_gt_mask)
from selfpose3d_mm.evaluation.metrics.panoptic_metric import MultiViewPoseAPMetric

J = 15
THRESHOLDS = (25, 50, 75, 100, 125, 150)
AP_D = [100 / 3] + [500 / 9] * 5                       # D alone, percent
AP_D_FP = [100 / 6] + [100 / 3] * 5                    # D + E as a false positive


def person(x: float) -> np.ndarray:
    """(J, 3) pose standing at x mm; people 2 m apart never get confused."""
    rng = np.random.default_rng(int(x) % 1000 + 7)
    return rng.uniform(-300, 300, (J, 3)) + np.array([x, 0.0, 900.0])


def fdict(gt, pred, scores, vis=None):
    """A frame in :func:`multiview_pose_ap`'s form."""
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, J, 3)
    vis = np.ones(gt.shape[:2], bool) if vis is None else np.asarray(vis, bool)
    return dict(gt=gt, gt_visible=vis,
                pred=np.asarray(pred, dtype=np.float64).reshape(-1, J, 3),
                scores=np.asarray(scores, dtype=np.float64))


def to_sample(f):
    """The same frame as a data sample in its ``to_dict()`` form."""
    return dict(gt_instances=dict(keypoints_3d=f['gt'], keypoints_3d_visible=f['gt_visible']),
                pred_instances=dict(keypoints_3d=f['pred'], scores=f['scores']))


A, B, C = person(0), person(2000), person(4000)
FRAME1 = fdict([A, B], [A, person(20000)], [0.9, 0.8])
FRAME2 = fdict([C], [C + np.array([30.0, 0, 0])], [0.6])


def empty_frames():
    """Kinds of 'no valid GT person', each with one prediction of score 0.95."""
    nan_person = np.full((J, 3), np.nan)
    return {
        'no_rows': fdict(np.zeros((0, J, 3)), [A], [0.95]),
        'padding': fdict(np.zeros((2, J, 3)), [A], [0.95], np.zeros((2, J))),
        'invisible_nan': fdict([nan_person], [A], [0.95], np.zeros((1, J))),
    }


def assert_aps(m, expected):
    for t, v in zip(THRESHOLDS, expected):
        assert m[f'AP{t}'] == pytest.approx(v), t


@pytest.mark.parametrize('kind', sorted(empty_frames()))
def test_function_skip_vs_false_positive(kind):
    empty = empty_frames()[kind]
    assert not frame_has_valid_gt(empty)
    base = multiview_pose_ap([FRAME1, FRAME2])
    assert_aps(base, AP_D)
    assert base['MPJPE'] == pytest.approx(15.0)
    assert base['Recall@500'] == pytest.approx(200 / 3)

    data = [FRAME1, empty, FRAME2]
    skip = multiview_pose_ap(data)                       # the default is 'skip'
    assert skip == multiview_pose_ap(data, empty_gt_frames='skip')
    assert skip == base                                  # exactly D without E

    fp = multiview_pose_ap(data, empty_gt_frames='false_positive')
    assert fp.keys() == base.keys()
    assert_aps(fp, AP_D_FP)
    for t, drop in zip(THRESHOLDS, [100 / 6] + [200 / 9] * 5):
        assert base[f'AP{t}'] - fp[f'AP{t}'] == pytest.approx(drop), t
    assert fp['mAP'] == pytest.approx(base['mAP'] - (100 / 6 + 5 * 200 / 9) / 6)
    for k in ['MPJPE', 'Recall@500', 'mAR'] + [f'recall@{t}' for t in THRESHOLDS]:
        assert fp[k] == pytest.approx(base[k]), k


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def run_metric(samples, **kwargs):
    from mmengine.logging import MMLogger
    metric = MultiViewPoseAPMetric(**kwargs)
    metric.process(None, samples)
    logger = MMLogger.get_current_instance()
    handler = _Collect()
    logger.addHandler(handler)
    try:
        return metric.compute_metrics(metric.results), handler.messages
    finally:
        logger.removeHandler(handler)


def test_metric_default_skips_and_logs():
    empty = empty_frames()
    samples = [to_sample(FRAME1), to_sample(empty['padding']), to_sample(FRAME2),
               to_sample(empty['no_rows'])]
    base, base_log = run_metric([to_sample(FRAME1), to_sample(FRAME2)])
    assert not any('no valid GT' in msg for msg in base_log)     # nothing to report

    m, log = run_metric(samples)
    assert m == base
    assert any('2 of 4 frames have no valid GT person: skipped' in msg for msg in log)

    fp, log = run_metric(samples, empty_gt_frames='false_positive')
    assert fp.keys() == base.keys()
    # Two FPs (0.95, 0.95) now lead: t=25: recall 1/3 at precision 1/3 -> AP 1/9.
    # t>=50: FP FP TP FP TP -> prec 1/3 at recall 1/3, 2/5 at 2/3 -> 2/5 * 1/3 * 2.
    assert_aps(fp, [100 / 9] + [100 * 4 / 15] * 5)
    assert fp['MPJPE'] == pytest.approx(15.0) and fp['Recall@500'] == base['Recall@500']
    assert any('2 of 4 frames' in msg and 'false positives' in msg for msg in log)


def test_all_empty_dataset():
    """Documented: every AP / recall 0.0, MPJPE NaN (no match), usual keys, no crash."""
    empty = list(empty_frames().values())
    keys = multiview_pose_ap([FRAME1]).keys()
    for mode in EMPTY_GT_FRAMES:
        for frames in (empty, []):
            m = multiview_pose_ap(frames, empty_gt_frames=mode)
            assert m.keys() == keys
            assert math.isnan(m['MPJPE'])
            assert all(v == 0.0 for k, v in m.items() if k != 'MPJPE'), m
        m, _ = run_metric([to_sample(f) for f in empty], empty_gt_frames=mode)
        assert m.keys() == keys and math.isnan(m['MPJPE']) and m['mAP'] == 0.0


def test_option_validation():
    assert EMPTY_GT_FRAMES == ('skip', 'false_positive')
    for mode in EMPTY_GT_FRAMES:
        assert check_empty_gt_frames(mode) == mode
        assert MultiViewPoseAPMetric(empty_gt_frames=mode).empty_gt_frames == mode
    assert MultiViewPoseAPMetric().empty_gt_frames == 'skip'
    for bad in ('ignore', 'SKIP', 'fp', '', None, True):
        with pytest.raises(ValueError, match='empty_gt_frames'):
            multiview_pose_ap([FRAME1], empty_gt_frames=bad)
        with pytest.raises(ValueError, match='empty_gt_frames'):
            MultiViewPoseAPMetric(empty_gt_frames=bad)
    from mmpose.registry import METRICS
    built = METRICS.build(dict(type='MultiViewPoseAPMetric',
                               empty_gt_frames='false_positive'))
    assert built.empty_gt_frames == 'false_positive'


def test_empty_means_what_total_gt_counts():
    # A frame with one valid person among padding rows is not empty.
    vis = np.zeros((3, J), bool)
    vis[1, 4] = True                                  # one visible joint is enough
    f = fdict([B, A, B], [A], [0.9], vis)
    assert frame_has_valid_gt(f)
    assert valid_gt_mask(f['gt'], f['gt_visible']).tolist() == [False, True, False]
    # valid_gt_mask agrees with collect_records' total_gt on random visibilities.
    rng = np.random.default_rng(0)
    frames = [fdict(np.zeros((g, J, 3)), np.zeros((0, J, 3)), np.zeros(0),
                    rng.random((g, J)) < 0.05) for g in rng.integers(0, 4, 50)]
    assert collect_records(frames)[3] == sum(
        int(valid_gt_mask(fr['gt'], fr['gt_visible']).sum()) for fr in frames)
    # In the metric, "valid" follows use_visibility, like the recall denominator:
    # a fully invisible GT person makes the frame empty only when visibility is used.
    hit = to_sample(fdict([A], [A], [0.5]))
    ghost = to_sample(fdict([B], [B + 1000.0], [0.9], np.zeros((1, J))))
    assert run_metric([hit, ghost])[0]['AP25'] == pytest.approx(100.0)   # skipped
    # use_visibility=False: B counts (total_gt 2); FP (0.9), TP (0.5) -> AP 1/2 * 1/2.
    m, _ = run_metric([hit, ghost], use_visibility=False)
    assert m['AP25'] == pytest.approx(25.0)
