"""OpenPose JSON: one file per frame per camera (``--write_json``)::

    {"version": 1.3,
     "people": [{"person_id": [-1],                       # or ints; optional
                 "pose_keypoints_2d": [x0, y0, c0, x1, y1, c1, ...],   # K x 3, flat
                 "face_keypoints_2d": [...], "hand_left_keypoints_2d": [...], ...}, ...]}

K = 25 (BODY_25) or 18 (COCO-18) for OpenPose's body models; any K of a known keypoint
set (:data:`~selfpose3d_mm.skeleton.keypoint_sets.KEYPOINT_SETS`) is read. A joint
OpenPose did not find is written ``0, 0, 0``. Files of OpenPose 1.0 name the field
``pose_keypoints``; it is read too. Face and hand keypoints are ignored.
"""
from __future__ import annotations

import numpy as np

from ..json_yaml import load_json
from .common import (Frame2D, Keypoints2DError, check_no_duplicates, describe_count,
                     known_counts, numeric_array)

__all__ = ['read_openpose_json']


def _person_id(value, where: str):
    ok = isinstance(value, int) and not isinstance(value, bool)
    ok = ok or (isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value))
    if not ok:
        raise Keypoints2DError(f'{where}: expected an integer or a list of integers '
                               f'([-1] when not tracked), got {value!r}')


def read_openpose_json(path: str) -> Frame2D:
    """The people of one OpenPose JSON file.

    Returns:
        a :class:`~.common.Frame2D` with ``keypoints`` (P, K, 3) (x, y, confidence as
        written; missing joints 0, 0, 0) and no boxes; people whose
        ``pose_keypoints_2d`` is empty (``[]``) are counted in ``empty``.

    Raises:
        Keypoints2DError: naming the file and the field (``people[i].pose_keypoints_2d``
            ...) for malformed JSON, a value count that is not a multiple of 3, a count
            of no known keypoint set, or people of different keypoint sets in one file.
    """
    path = str(path)
    data = load_json(path, Keypoints2DError)
    if not isinstance(data, dict):
        raise Keypoints2DError(f'{path}: the top level must be an OpenPose JSON object '
                               f'with a `people` list, got {type(data).__name__}')
    check_no_duplicates(data, path)
    if 'people' not in data:
        raise Keypoints2DError(f'{path}: people: missing field (not an OpenPose '
                               f'--write_json file? keys: {list(data)[:8]})')
    people = data['people']
    if not isinstance(people, list):
        raise Keypoints2DError(f'{path}: people: expected a list, got '
                               f'{type(people).__name__}')
    rows, first, empty = [], None, 0
    for i, person in enumerate(people):
        where = f'{path}: people[{i}]'
        if not isinstance(person, dict):
            raise Keypoints2DError(f'{where}: expected an object, got '
                                   f'{type(person).__name__}')
        check_no_duplicates(person, where)
        key = 'pose_keypoints_2d' if 'pose_keypoints_2d' in person else 'pose_keypoints'
        if key not in person:
            raise Keypoints2DError(f'{where}.pose_keypoints_2d: missing field')
        if 'person_id' in person:
            _person_id(person['person_id'], f'{where}.person_id')
        flat = numeric_array(person[key], f'{where}.{key}', (-1, ))
        if len(flat) == 0:  # written for a person with no body joint (e.g. face only)
            empty += 1
            continue
        if len(flat) % 3:
            raise Keypoints2DError(
                f'{where}.{key}: {len(flat)} values: expected x, y, confidence per joint '
                f'(3 x K values; K = {known_counts()})')
        K = len(flat) // 3
        if first is None:
            first = (K, f'people[{i}].{key}')
        elif K != first[0]:
            raise Keypoints2DError(
                f'{where}.{key}: mixed keypoint sets: {describe_count(K)}, but '
                f'{first[1]} has {describe_count(first[0])}')
        rows.append(flat.reshape(K, 3))
    kp = np.stack(rows) if rows else np.zeros((0, 0, 3), np.float32)
    return Frame2D(path, first[1] if first else 'people', kp.astype(np.float32),
                   empty=empty)
