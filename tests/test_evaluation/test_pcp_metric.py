"""PCPMetric / pcp core against hand-computed Shelf / Campus PCP cases."""
import math

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from selfpose3d_mm.skeleton import coco17_to_shelf14, panoptic15_to_shelf14
from selfpose3d_mm.evaluation.functional.pcp import (PCP_BONE_GROUPS, pcp_part_endpoints,
                                                     pcp_parts)
from selfpose3d_mm.evaluation.metrics.pcp_metric import PCPMetric
from ..conftest import fixture_path

# A Shelf-14 pose with exact part lengths (mm): lower/upper legs 400, lower/upper
# arms 300, head 200, torso (hip centre (0, 0, 800) to neck) 900.
BASE = np.array([
    [-100, 0, 0], [-100, 0, 400], [-100, 0, 800],          # r-ank, r-knee, r-hip
    [100, 0, 800], [100, 0, 400], [100, 0, 0],             # l-hip, l-knee, l-ank
    [-300, 0, 1000], [-300, 0, 1300], [-300, 0, 1600],     # r-wri, r-elb, r-sho
    [300, 0, 1600], [300, 0, 1300], [300, 0, 1000],        # l-sho, l-elb, l-wri
    [0, 0, 1700], [0, 0, 1900]], dtype=np.float64)         # bottom-head, top-head
ALL = np.ones(10, bool)


def person(x: float = 0.0) -> np.ndarray:
    """BASE standing x mm along the x axis; people 3 m apart never get confused."""
    return BASE + np.array([x, 0.0, 0.0])


def moved(pose: np.ndarray, joints, offset) -> np.ndarray:
    out = pose.copy()
    out[list(joints)] += np.asarray(offset, dtype=np.float64)
    return out


def frame(gt, ids, pred=None, scores=None):
    """A data sample in its ``to_dict()`` form (``pred=None``: no pred_instances)."""
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 14, 3)
    sample = dict(gt_instances=dict(keypoints_3d=gt, instance_ids=np.asarray(ids)))
    if pred is not None:
        pred = np.asarray(pred, dtype=np.float64)
        sample['pred_instances'] = dict(
            keypoints_3d=pred,
            scores=np.ones(len(pred)) if scores is None else np.asarray(scores))
    return sample


def run(samples, **kwargs):
    metric = PCPMetric(**kwargs)
    metric.process(None, samples)
    return metric.compute_metrics(metric.results)


def parts_of(pred, gt=None):
    """Correct-part flags of the single GT ``gt`` (default BASE)."""
    gt = BASE if gt is None else gt
    return pcp_parts(pred[None], gt[None])[2][0]


def expect(*wrong):
    out = ALL.copy()
    out[list(wrong)] = False
    return out


def test_perfect_prediction():
    gts = [person(0), person(3000), person(6000)]
    m = run([frame(gts, [0, 1, 2], gts), frame(gts[:2], [0, 1], gts[::-1])])
    keys = ['PCP', 'PCP_actor0', 'PCP_actor1', 'PCP_actor2', 'Recall@500'] + [
        f'PCP_{g}' for g in PCP_BONE_GROUPS]
    assert all(m[k] == 100.0 for k in keys), m
    assert m['frames'] == 2
    assert set(m) == set(keys) | {'frames'}


def test_limb_boundary_flips_exactly_that_part():
    # Right wrist moved 300 mm: mean end error 150 = 0.5 * 300 (lower arm) -> correct.
    assert np.array_equal(parts_of(moved(BASE, [6], [0, 300, 0])), ALL)
    assert np.array_equal(parts_of(moved(BASE, [6], [0, 300.001, 0])), expect(4))
    # Top of head moved 200 mm: 100 = 0.5 * 200 (head) is in, just over is out.
    assert np.array_equal(parts_of(moved(BASE, [13], [200, 0, 0])), ALL)
    assert np.array_equal(parts_of(moved(BASE, [13], [200.001, 0, 0])), expect(8))


def test_torso_uses_the_hip_centre():
    starts, ends = pcp_part_endpoints(BASE)
    assert np.array_equal(starts[9], [0, 0, 800]) and np.array_equal(ends[9], BASE[12])
    # Hips spread by +-1 m: the hip centre stays, so only the upper legs break
    # (a torso from the right hip alone would be 500 mm > 450 mm off).
    spread = moved(moved(BASE, [2], [-1000, 0, 0]), [3], [1000, 0, 0])
    assert np.array_equal(parts_of(spread), expect(1, 2))
    # Both hips shifted by w: torso error w / 2 against 0.5 * 900.
    assert np.array_equal(parts_of(moved(BASE, [2, 3], [0, 900, 0])), expect(1, 2))
    assert np.array_equal(parts_of(moved(BASE, [2, 3], [0, 900.001, 0])), expect(1, 2, 9))


def test_duplicate_prediction_changes_nothing():
    gts = [person(0), person(3000)]
    preds = [moved(person(0), [6], [0, 400, 0]), moved(person(3000), [13], [0, 0, 500])]
    ref = run([frame(gts, [0, 1], preds)])
    assert ref['PCP_actor0'] == 90.0 and ref['PCP_actor1'] == 90.0
    assert run([frame(gts, [0, 1], preds + preds[:1] + preds)]) == ref
    matched = pcp_parts(np.stack(preds[:1] + preds), np.stack(gts))[0]
    assert matched.tolist() == [0, 2]          # ties go to the first prediction


def test_missing_prediction_for_one_actor():
    gts = [person(0), person(3000)]
    m = run([frame(gts, [0, 1], [person(0)])])
    # Actor 1 is matched to actor 0's pose 3 m away: every part wrong.
    assert m['PCP_actor0'] == 100.0 and m['PCP_actor1'] == 0.0
    assert m['PCP'] == 50.0 and m['Recall@500'] == 50.0


def test_frames_without_predictions_count_as_wrong():
    gts = [person(0), person(3000)]
    samples = [frame(gts, [0, 1], gts),
               frame(gts, [0, 1]),                                   # no pred_instances
               frame(gts, [0, 1], np.zeros((0, 15, 3)), np.zeros(0))]  # empty
    m = run(samples)
    assert m['PCP_actor0'] == pytest.approx(100 / 3)
    assert m['PCP_actor1'] == pytest.approx(100 / 3)
    assert m['Recall@500'] == pytest.approx(100 / 3) and m['frames'] == 3
    matched, mpjpe, correct = pcp_parts(np.zeros((0, 14, 3)), np.stack(gts))
    assert matched.tolist() == [-1, -1] and np.isinf(mpjpe).all() and not correct.any()


def test_absent_actor_is_not_counted():
    samples = [frame([person(0), person(3000)], [0, 1], [person(0), person(3000)]),
               frame([person(0)], [0], [moved(person(0), [6], [0, 1000, 0])])]
    m = run(samples)
    assert m['PCP_actor0'] == 95.0 and m['PCP_actor1'] == 100.0
    assert m['PCP'] == 97.5 and m['PCP_lower_arms'] == pytest.approx((75 + 100) / 2)
    assert 'PCP_actor2' not in m


@pytest.mark.parametrize('variant', ['shelf', 'campus'])
def test_panoptic15_and_coco17_predictions_are_converted(variant):
    rng = np.random.default_rng(0)
    pan = rng.uniform(-500, 500, (2, 15, 3)) + np.array([[[0, 0, 1000]], [[3000, 0, 1000]]])
    gt = panoptic15_to_shelf14(pan, variant)
    noisy = pan + rng.normal(0, 30, pan.shape)
    metric = PCPMetric(variant=variant)
    metric.process(None, [frame(gt, [0, 1], pan), frame(gt, [0, 1], noisy)])
    expected = np.linalg.norm(panoptic15_to_shelf14(noisy, variant) - gt, axis=-1).mean(-1)
    np.testing.assert_allclose(metric.results[1]['mpjpe'], expected)
    assert metric.results[0]['correct'].all()
    other = 'campus' if variant == 'shelf' else 'shelf'     # the head estimate differs
    assert not np.allclose(metric.results[1]['mpjpe'], np.linalg.norm(
        panoptic15_to_shelf14(noisy, other) - gt, axis=-1).mean(-1))
    coco = rng.uniform(-500, 500, (1, 17, 3))
    assert run([frame(coco17_to_shelf14(coco, variant), [0], coco)],
               variant=variant)['PCP'] == 100.0


def test_mean_over_actors_ignores_the_fourth():
    gts = [person(3000 * k) for k in range(4)]
    samples = [frame(gts, [0, 1, 2, 3], gts[:3])]
    m = run(samples)
    assert m['PCP'] == 100.0 and m['PCP_actor3'] == 0.0 and m['PCP_head'] == 100.0
    assert m['Recall@500'] == 75.0                 # the recall counts every actor
    assert run(samples, actors=(0, 1, 2, 3))['PCP'] == 75.0


def test_recall_at_500():
    gts = [person(0), person(3000), person(6000)]
    preds = [g + np.array([0, 0, dz]) for g, dz in zip(gts, (400, 500, 600))]
    m = run([frame(gts, [0, 1, 2], preds)])
    assert m['Recall@500'] == pytest.approx(100 / 3)      # 500 itself is not < 500
    # Every end is dz off: only the torso (900 mm, tolerance 450) survives dz = 400.
    assert m['PCP_actor0'] == 10.0 and m['PCP_actor1'] == m['PCP_actor2'] == 0.0
    assert m['PCP_torso'] == pytest.approx(100 / 3) and m['PCP_head'] == 0.0


def test_built_from_registry_with_data_samples():
    import selfpose3d_mm  # noqa: F401  (registers the metric)
    from mmpose.registry import METRICS
    from selfpose3d_mm.structures import MultiViewPoseDataSample

    metric = METRICS.build(dict(type='PCPMetric', variant='campus', score_threshold=0.5,
                                prefix='campus'))
    assert isinstance(metric, PCPMetric)
    gts = np.stack([person(0), person(3000)])
    sample = MultiViewPoseDataSample(frame_id=350)
    sample.gt_instances = InstanceData(keypoints_3d=torch.tensor(gts),
                                       instance_ids=torch.tensor([0, 1]))
    # The perfect pose of actor 1 scores below the threshold and is dropped.
    sample.pred_instances = InstanceData(keypoints_3d=torch.tensor(gts),
                                         scores=torch.tensor([0.9, 0.2]))
    metric.process({}, [sample])
    m = metric.evaluate(1)
    assert m['campus/PCP_actor0'] == 100.0 and m['campus/PCP_actor1'] == 0.0
    assert m['campus/Recall@500'] == 50.0 and m['campus/frames'] == 1


def test_bad_input_names_the_field():
    with pytest.raises(KeyError, match='instance_ids'):
        PCPMetric().process(None, [dict(gt_instances=dict(keypoints_3d=BASE[None]))])
    with pytest.raises(ValueError, match='16 joints'):
        PCPMetric().process(None, [frame(BASE, [0], np.zeros((1, 16, 3)))])
    with pytest.raises(ValueError, match='gt_instances.keypoints_3d'):
        PCPMetric().process(None, [dict(gt_instances=dict(
            keypoints_3d=np.zeros((1, 15, 3)), instance_ids=[0]))])
    with pytest.raises(ValueError, match='variant'):
        PCPMetric(variant='panoptic')


def _actors_gt(path):
    """actorsGT.mat -> per frame (G, 14, 3) mm poses and (G,) actor ids."""
    import scipy.io
    cells = scipy.io.loadmat(str(path), simplify_cells=False)['actor3D'][0]
    num_frames = cells[0].shape[0]
    frames = range(300, 311) if num_frames > 310 else range(num_frames)
    out = []
    for f in frames:
        ids = [a for a in range(len(cells)) if cells[a][f, 0].size]
        out.append((np.stack([cells[a][f, 0] * 1000.0 for a in ids]).reshape(-1, 14, 3),
                    np.array(ids, dtype=np.int64)))
    return out


@pytest.mark.parametrize('dataset', ['shelf', 'campus'])
def test_real_gt_against_itself(dataset):
    frames = _actors_gt(fixture_path(dataset, 'actorsGT.mat'))
    m = run([frame(gt, ids, gt) for gt, ids in frames], variant=dataset)
    seen = np.unique(np.concatenate([ids for _, ids in frames]))
    assert m['PCP'] == 100.0 and m['Recall@500'] == 100.0
    assert all(m[f'PCP_actor{k}'] == 100.0 for k in seen)
    assert m['frames'] == len(frames)
    # Every prediction 1 m off: MPJPE 1000, and no real limb is 2 m long.
    m = run([frame(gt, ids, gt + np.array([0, 1000.0, 0])) for gt, ids in frames])
    assert m['PCP'] == 0.0 and m['Recall@500'] == 0.0
    assert not math.isnan(m['PCP_torso'])
