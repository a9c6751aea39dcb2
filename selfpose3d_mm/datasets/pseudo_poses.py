"""The pseudo poses of a sample: a frame of a pseudo-label file
(:mod:`selfpose3d_mm.io.pseudo_labels`) in the structure the datasets yield
(``pseudo_keypoints``, ``pseudo_keypoint_scores``, ``pseudo_bbox_scores``: per view lists
of arrays)."""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from selfpose3d_mm.io import PseudoLabelError, PseudoLabels
from selfpose3d_mm.skeleton import coco17_to_panoptic15

__all__ = ['frame_pseudo_poses', 'empty_pseudo_poses']

PseudoPoses = Tuple[List[np.ndarray], List[np.ndarray], List[np.ndarray]]


def frame_pseudo_poses(labels: PseudoLabels, key: str,
                       skeleton: Optional[str] = 'panoptic15') -> PseudoPoses:
    """The pseudo poses of one frame in the sample structure of the datasets.

    Args:
        labels: a loaded pseudo-label file.
        key: frame key.
        skeleton: joint order wanted: ``'panoptic15'`` (COCO-17 files are converted
            with :func:`~selfpose3d_mm.skeleton.coco17_to_panoptic15`: the neck and the
            mid-hip from the valid shoulders / hips), the file's own skeleton, or
            ``None`` for the file's own.

    Returns:
        keypoints: C arrays (P_c, J, 2) float32, original pixels (0 where invalid);
        keypoint_scores: C arrays (P_c, J) float32 (0 where invalid);
        bbox_scores: C arrays (P_c,) float32.
    """
    if key not in labels.frames:
        raise KeyError(f'{labels.path}: frames: no entry for frame {key!r}')
    skeleton = skeleton or labels.skeleton
    if skeleton != labels.skeleton and (skeleton, labels.skeleton) != ('panoptic15',
                                                                       'coco17'):
        raise PseudoLabelError(f'{labels.path}: skeleton: cannot give {skeleton!r} '
                               f'keypoints from {labels.skeleton!r} ones')
    kps, scores, boxes = [], [], []
    for entry in labels.frames[key]:
        kp = entry['keypoints']
        valid = kp[..., 2] > 0
        if skeleton != labels.skeleton:  # coco17 -> panoptic15
            kp, valid = coco17_to_panoptic15(kp, valid)
        kp = np.where(valid[..., None], kp, 0).astype(np.float32)
        kps.append(np.ascontiguousarray(kp[..., :2]))
        scores.append(np.ascontiguousarray(kp[..., 2]))
        boxes.append(entry['bbox_scores'].astype(np.float32))
    return kps, scores, boxes


def empty_pseudo_poses(num_views: int, num_joints: int) -> PseudoPoses:
    """A frame with no pseudo person in any view, in :func:`frame_pseudo_poses`'s
    structure (for datasets read without a pseudo-label file, or frames it lacks)."""
    return ([np.zeros((0, num_joints, 2), np.float32) for _ in range(num_views)],
            [np.zeros((0, num_joints), np.float32) for _ in range(num_views)],
            [np.zeros(0, np.float32) for _ in range(num_views)])
