"""MMPose inferencer predictions (``MMPoseInferencer(...)(inputs, pred_out_dir=DIR)``).

Images: one JSON file per image, ``DIR/<image name>.json``, a list of instances::

    [{"keypoints": [[x, y], ...K], "keypoint_scores": [s, ...K],
      "bbox": [[x1, y1, x2, y2]], "bbox_score": s}, ...]     # bbox fields optional

A video: one file ``DIR/<video name>.json`` for all its frames::

    [{"frame_id": 0, "instances": [...as above...]}, ...]

Both are read, and so is the inferencer's result object dumped as is
(``{"predictions": [[instances of image 0], [instances of image 1], ...]}``).
``bbox`` is a list holding one box (mmpose writes a 1-tuple) or the box itself;
``bbox_score`` a number or a one-element list. K is the model's keypoint set (COCO-17,
HALPE-26, COCO-WholeBody-133, ...).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from ..json_yaml import load_json
from ..pseudo_labels import SCORE_TOLERANCE
from .common import (Frame2D, Keypoints2DError, check_no_duplicates, describe_count,
                     numeric_array)

__all__ = ['read_mmpose_json']


def _instances(items, path: str, prefix: str, source: str) -> Frame2D:
    """The instance list of one image; ``prefix`` is the list's field, e.g. ``[3].instances``."""
    if not isinstance(items, list):
        raise Keypoints2DError(f'{path}: {prefix or "top level"}: expected a list of '
                               f'instances, got {type(items).__name__}')
    kps, boxes, scores, first = [], [], [], None
    for i, inst in enumerate(items):
        where = f'{path}: {prefix}[{i}]'
        if not isinstance(inst, dict):
            raise Keypoints2DError(f'{where}: expected an instance object with `keypoints` '
                                   f'and `keypoint_scores`, got {type(inst).__name__}')
        check_no_duplicates(inst, where)
        for name in ('keypoints', 'keypoint_scores'):
            if name not in inst:
                raise Keypoints2DError(f'{where}.{name}: missing field')
        xy = numeric_array(inst['keypoints'], f'{where}.keypoints', (-1, 2))
        K = len(xy)
        if first is None:
            first = (K, f'{prefix}[{i}].keypoints')
        elif K != first[0]:
            raise Keypoints2DError(f'{where}.keypoints: mixed keypoint sets: '
                                   f'{describe_count(K)}, but {first[1]} has '
                                   f'{describe_count(first[0])}')
        s = numeric_array(inst['keypoint_scores'], f'{where}.keypoint_scores', (K, ))
        kps.append(np.concatenate([xy, s[:, None]], axis=1))
        box = inst.get('bbox')
        if box is not None:
            box = numeric_array(box, f'{where}.bbox').reshape(-1)
            if box.shape != (4, ):
                raise Keypoints2DError(f'{where}.bbox: expected one box x1, y1, x2, y2, got '
                                       f'{box.size} values')
        boxes.append(box)
        sc = inst.get('bbox_score')
        if sc is not None:
            sc = numeric_array(sc, f'{where}.bbox_score').reshape(-1)
            if sc.shape != (1, ):
                raise Keypoints2DError(f'{where}.bbox_score: expected one number, got '
                                       f'{sc.size} values')
            sc = sc[0]
            if not -SCORE_TOLERANCE <= sc <= 1 + SCORE_TOLERANCE:
                raise Keypoints2DError(f'{where}.bbox_score: {float(sc):g} is outside [0, 1] '
                                       '(a detector confidence)')
        scores.append(sc)
    kp = np.stack(kps).astype(np.float32) if kps else np.zeros((0, 0, 3), np.float32)
    bb = bs = None
    if boxes and all(b is not None for b in boxes):
        bb = np.stack(boxes).astype(np.float32)
    if scores and all(s is not None for s in scores):
        bs = np.asarray(scores, np.float32)
    return Frame2D(source, first[1] if first else prefix or 'top level', kp, bb, bs)


def read_mmpose_json(path: str) -> List[Tuple[Optional[int], Frame2D]]:
    """The frames of one MMPose prediction file.

    Returns:
        ``[(None, frame)]`` for a per-image file; ``[(frame_id, frame), ...]`` for a video
        file (``frame_id`` None where an entry has none) or a ``predictions`` object.

    Raises:
        Keypoints2DError: naming the file and the field (``[i].keypoints``,
            ``[f].instances[i].keypoint_scores`` ...).
    """
    path = str(path)
    data = load_json(path, Keypoints2DError)
    prefix = ''
    if isinstance(data, dict):
        check_no_duplicates(data, path)
        if 'predictions' not in data:
            raise Keypoints2DError(f'{path}: predictions: missing field (an MMPose '
                                   'prediction file is a list of instances, a list of '
                                   f'{{frame_id, instances}}, or {{"predictions": [...]}}; '
                                   f'keys: {list(data)[:8]})')
        data, prefix = data['predictions'], 'predictions'
        if not isinstance(data, list):
            raise Keypoints2DError(f'{path}: predictions: expected a list, got '
                                   f'{type(data).__name__}')
    if not isinstance(data, list):
        raise Keypoints2DError(f'{path}: the top level must be a list of instances (MMPose '
                               f'prediction file), got {type(data).__name__}')
    if prefix and all(isinstance(d, list) for d in data):  # one instance list per image
        return [(None, _instances(d, path, f'{prefix}[{f}]', f'{path}[frame {f}]'))
                for f, d in enumerate(data)]
    if not (data and all(isinstance(d, dict) and 'instances' in d for d in data)):
        return [(None, _instances(data, path, prefix, path))]
    out = []
    for f, entry in enumerate(data):
        where = f'{prefix}[{f}]'
        check_no_duplicates(entry, f'{path}: {where}')
        fid = entry.get('frame_id')
        if fid is not None and (not isinstance(fid, int) or isinstance(fid, bool)):
            raise Keypoints2DError(f'{path}: {where}.frame_id: expected an integer, got '
                                   f'{fid!r}')
        out.append((fid, _instances(entry['instances'], path, f'{where}.instances',
                                    f'{path}[frame {f}]')))
    return out
