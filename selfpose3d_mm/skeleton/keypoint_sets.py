"""The 2D keypoint sets users bring from other detectors, and their mapping to COCO-17.

==============  ====  ========================================================================
set             K     joint order
==============  ====  ========================================================================
``coco17``      17    COCO (:data:`~.joints.COCO17_NAMES`; mmpose ``coco.py``)
``coco18``      18    OpenPose COCO: nose, neck, r/l arm, r/l leg, r/l eye, r/l ear (mmpose
                      ``coco_openpose.py``)
``body25``      25    OpenPose BODY_25: the COCO-18 body with a mid-hip after the left wrist,
                      then the feet (l big toe, l small toe, l heel, r ...). mmpose has no
                      meta file for it; the order is OpenPose's ``pose_keypoints_2d`` one.
``halpe26``     26    HALPE-26: COCO-17, then head, neck, hip, big toes, small toes, heels
                      (mmpose ``halpe26.py``)
``wholebody``   133   COCO-WholeBody: COCO-17, 6 foot, 68 face, 2 x 21 hand joints (mmpose
                      ``coco_wholebody.py``)
==============  ====  ========================================================================

The sets have different joint counts, so a set is known from K alone
(:func:`keypoint_set_of_count`). Each COCO-17 joint is taken from the joint *of the same
name* (:data:`COCO17_FROM`); the sets' extra joints (neck, mid-hip, feet, face, hands) are
dropped. The names mirror mmpose's dataset meta files (:data:`MMPOSE_META_FILES`;
``tests/test_io/test_import_2d.py`` asserts they agree).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from .joints import COCO17_NAMES

__all__ = ['COCO18_NAMES', 'BODY25_NAMES', 'HALPE26_NAMES', 'WHOLEBODY133_NAMES',
           'KEYPOINT_SETS', 'MMPOSE_META_FILES', 'COCO17_FROM', 'keypoint_set_of_count',
           'to_coco17']

COCO18_NAMES = ('nose', 'neck', 'right_shoulder', 'right_elbow', 'right_wrist',
                'left_shoulder', 'left_elbow', 'left_wrist', 'right_hip', 'right_knee',
                'right_ankle', 'left_hip', 'left_knee', 'left_ankle', 'right_eye',
                'left_eye', 'right_ear', 'left_ear')
_FEET = ('left_big_toe', 'left_small_toe', 'left_heel', 'right_big_toe', 'right_small_toe',
         'right_heel')
BODY25_NAMES = (COCO18_NAMES[:8] + ('mid_hip', ) + COCO18_NAMES[8:] + _FEET)
HALPE26_NAMES = COCO17_NAMES + ('head', 'neck', 'hip', 'left_big_toe', 'right_big_toe',
                                'left_small_toe', 'right_small_toe', 'left_heel',
                                'right_heel')
_HAND = ('hand_root', ) + tuple(
    f'{finger}{i}' for finger in ('thumb', 'forefinger', 'middle_finger', 'ring_finger',
                                  'pinky_finger') for i in range(1, 5))
WHOLEBODY133_NAMES = (COCO17_NAMES + _FEET + tuple(f'face-{i}' for i in range(68))
                      + tuple('left_' + n for n in _HAND) + tuple('right_' + n for n in _HAND))

KEYPOINT_SETS: Dict[str, Tuple[str, ...]] = {
    'coco17': COCO17_NAMES, 'coco18': COCO18_NAMES, 'body25': BODY25_NAMES,
    'halpe26': HALPE26_NAMES, 'wholebody': WHOLEBODY133_NAMES}
# the mmpose dataset meta file of each set (None: mmpose has none)
MMPOSE_META_FILES: Dict[str, Optional[str]] = {
    'coco17': 'coco.py', 'coco18': 'coco_openpose.py', 'body25': None,
    'halpe26': 'halpe26.py', 'wholebody': 'coco_wholebody.py'}
# COCO-17 joint j <- joint COCO17_FROM[set][j] of that set (the joint of the same name)
COCO17_FROM: Dict[str, Tuple[int, ...]] = {
    name: tuple(names.index(n) for n in COCO17_NAMES) for name, names in KEYPOINT_SETS.items()}
_BY_COUNT = {len(names): name for name, names in KEYPOINT_SETS.items()}
assert len(_BY_COUNT) == len(KEYPOINT_SETS), 'keypoint sets must differ in joint count'


def keypoint_set_of_count(num_joints: int) -> Optional[str]:
    """The keypoint set with ``num_joints`` joints (``None`` if no set has that many)."""
    return _BY_COUNT.get(int(num_joints))


def to_coco17(keypoints: np.ndarray, keypoint_set: str) -> np.ndarray:
    """Keypoints of ``keypoint_set`` → COCO-17 (a gather: no joint is interpolated).

    Args:
        keypoints: (..., K, C) with K the set's joint count (any trailing columns, e.g.
            x, y, score, are carried along).
        keypoint_set: a key of :data:`KEYPOINT_SETS`.

    Returns:
        A new (..., 17, C) array of the same dtype.
    """
    if keypoint_set not in KEYPOINT_SETS:
        raise ValueError(f'unknown keypoint set {keypoint_set!r}; one of '
                         f'{list(KEYPOINT_SETS)}')
    keypoints = np.asarray(keypoints)
    K = len(KEYPOINT_SETS[keypoint_set])
    if keypoints.ndim < 2 or keypoints.shape[-2] != K:
        raise ValueError(f'to_coco17: {keypoint_set} keypoints are (..., {K}, C), got '
                         f'{keypoints.shape}')
    return keypoints[..., COCO17_FROM[keypoint_set], :]
