"""The pseudo poses of a sample from a pseudo-label file: COCO-17 → Panoptic-15 per frame
(the neck and the mid-hip from the valid shoulders / hips), the file's own skeleton, and
the empty frame."""
import numpy as np
import pytest

from selfpose3d_mm.datasets import empty_pseudo_poses, frame_pseudo_poses
from selfpose3d_mm.io import PseudoLabelError, load_pseudo_labels
from tests.test_io.test_pseudo_labels import raw_labels, write_json


def test_frame_converts_coco17_to_panoptic15(tmp_path):
    kp = np.zeros((1, 17, 3))
    kp[0, :, :2] = np.arange(34).reshape(17, 2)
    kp[0, :, 2] = 0.5
    kp[0, 5] = (10, 20, 0.8)   # left shoulder
    kp[0, 6] = (30, 40, 0.6)   # right shoulder
    kp[0, 11] = (50, 60, 0.9)  # left hip
    kp[0, 12, 2] = 0.0         # right hip invalid -> mid-hip = left hip
    kp[0, 9, 2] = -1.0         # left wrist invalid
    data = raw_labels()
    data['frames']['seq/00000000'][1]['keypoints'] = kp.tolist()
    labels = load_pseudo_labels(write_json(tmp_path, data))
    kps, scores, boxes = frame_pseudo_poses(labels, 'seq/00000000')
    assert len(kps) == len(scores) == len(boxes) == 3
    assert [k.shape for k in kps] == [(2, 15, 2), (1, 15, 2), (0, 15, 2)]
    assert [s.shape for s in scores] == [(2, 15), (1, 15), (0, 15)]
    assert all(k.dtype == np.float32 for k in kps + scores + boxes)
    k, s = kps[1][0], scores[1][0]
    np.testing.assert_allclose(k[0], (20, 30))   # neck = mean of the shoulders
    np.testing.assert_allclose(s[0], 0.7, rtol=1e-6)
    np.testing.assert_allclose(k[1], kp[0, 0, :2])  # nose
    np.testing.assert_allclose(k[2], (50, 60))   # mid-hip from the valid hip only
    np.testing.assert_allclose(s[2], 0.9, rtol=1e-6)
    assert s[5] == 0 and (k[5] == 0).all()      # invalid left wrist: score 0, zeros
    np.testing.assert_allclose(k[9], (30, 40))   # right shoulder
    np.testing.assert_allclose(boxes[1], data['frames']['seq/00000000'][1]['bbox_scores'],
                               rtol=1e-6)
    # the file's own skeleton, and a Panoptic-15 file read as it is
    k17, s17, _ = frame_pseudo_poses(labels, 'seq/00000000', skeleton='coco17')
    assert k17[1].shape == (1, 17, 2) and s17[1][0, 9] == 0
    np.testing.assert_allclose(s17[1][0, 5], 0.8, rtol=1e-6)
    p15 = load_pseudo_labels(write_json(tmp_path, raw_labels('panoptic15'), 'p15.json'))
    k, s, _ = frame_pseudo_poses(p15, 'seq/00000003')
    raw = np.asarray(raw_labels('panoptic15')['frames']['seq/00000003'][2]['keypoints'],
                     np.float32)
    assert np.array_equal(k[2], raw[..., :2]) and np.array_equal(s[2], raw[..., 2])
    with pytest.raises(PseudoLabelError, match='p15.json: skeleton'):
        frame_pseudo_poses(p15, 'seq/00000003', skeleton='coco17')
    with pytest.raises(KeyError, match='seq/99999999'):
        frame_pseudo_poses(labels, 'seq/99999999')


def test_empty_frame_has_the_sample_structure():
    kps, scores, boxes = empty_pseudo_poses(3, 15)
    assert [k.shape for k in kps] == [(0, 15, 2)] * 3
    assert [s.shape for s in scores] == [(0, 15)] * 3
    assert [b.shape for b in boxes] == [(0, )] * 3
    assert all(a.dtype == np.float32 for a in kps + scores + boxes)
