"""What the 2D-detection readers share: the error type, the parsed frame, the numeric
checks, and the frame numbers carried by file names."""
from __future__ import annotations

import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from selfpose3d_mm.skeleton.keypoint_sets import KEYPOINT_SETS, keypoint_set_of_count
from ..json_yaml import refuse_duplicate_keys

__all__ = ['Keypoints2DError', 'Frame2D', 'numeric_array', 'check_no_duplicates',
           'known_counts', 'describe_count', 'frame_numbers', 'natural_key', 'list_json_files']


class Keypoints2DError(ValueError):
    """A 2D-detection file (OpenPose, MMPose), an offsets table or an import setting is
    malformed; the message starts with the file and names the field."""


@dataclass
class Frame2D:
    """The people of one image as read from a detector's file (its own keypoint set).

    Attributes:
        source: ``file`` or ``file[frame i]`` (for messages).
        field: the keypoint field of the first person, e.g. ``people[0].pose_keypoints_2d``.
        keypoints: (P, K, 3) float32 x, y, score (all people of a file have the same K).
        bboxes: (P, 4) float32 x1 y1 x2 y2, or None when the format has no boxes.
        bbox_scores: (P,) float32, or None when the format has no person score.
        empty: people of the file without any keypoint (not in ``keypoints``).
    """
    source: str
    field: str
    keypoints: np.ndarray
    bboxes: Optional[np.ndarray] = None
    bbox_scores: Optional[np.ndarray] = None
    empty: int = 0

    @property
    def num_joints(self) -> Optional[int]:
        return self.keypoints.shape[1] if len(self.keypoints) else None


def numeric_array(value, where: str, shape: Optional[tuple] = None) -> np.ndarray:
    """``value`` as a finite float32 array (of ``shape`` where given, -1 = any), or a
    :class:`Keypoints2DError` naming ``where``."""
    bad = isinstance(value, (str, bytes, dict)) or value is None
    try:
        arr = None if bad else np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype == object:
        raise Keypoints2DError(f'{where}: expected numbers, got {str(value)[:60]!r}')
    if shape is not None and (arr.ndim != len(shape) or any(
            s not in (-1, a) for s, a in zip(shape, arr.shape))):
        want = ', '.join('N' if s == -1 else str(s) for s in shape)
        raise Keypoints2DError(f'{where}: expected shape ({want}), got {arr.shape}')
    if not np.isfinite(arr).all():
        raise Keypoints2DError(f'{where}: non-finite value (NaN or Infinity)')
    return arr


def check_no_duplicates(obj, where: str):
    refuse_duplicate_keys(obj, where, Keypoints2DError)


def known_counts() -> str:
    """``'coco17: 17, coco18: 18, ...'`` for messages."""
    return ', '.join(f'{n}: {len(v)}' for n, v in KEYPOINT_SETS.items())


def describe_count(num_joints: int) -> str:
    name = keypoint_set_of_count(num_joints)
    return f'{num_joints} joints ({name})' if name else f'{num_joints} joints'


def natural_key(name: str):
    """Sort key ordering ``f2`` before ``f10``."""
    return [(0, int(t), '') if t.isdigit() else (1, 0, t)
            for t in re.split(r'(\d+)', name) if t]


def frame_numbers(names: Sequence[str]) -> Optional[List[int]]:
    """The frame number each file name carries, or None when the names do not tell it.

    The number is the one run of digits whose value changes from file to file
    (``cam01.0003.json`` → 3; ``video_000000000003_keypoints.json`` → 3); one file: its
    last run of digits. None when the names have different runs of digits, no or several
    changing runs, or two files give the same number.
    """
    if not names:
        return []
    groups = [re.findall(r'\d+', osp.splitext(osp.basename(n))[0]) for n in names]
    count = len(groups[0])
    if count == 0 or any(len(g) != count for g in groups):
        return None
    if len(names) == 1:
        return [int(groups[0][-1])]
    varying = [i for i in range(count) if len({g[i] for g in groups}) > 1]
    if len(varying) != 1:
        return None
    nums = [int(g[varying[0]]) for g in groups]
    return nums if len(set(nums)) == len(nums) else None


def list_json_files(folder: str, what: str) -> List[str]:
    """The ``.json`` files of ``folder`` in natural order; an error naming ``what`` (e.g.
    ``--views cam01``) when the folder is missing or holds none."""
    if not osp.isdir(folder):
        raise Keypoints2DError(f'{folder}: {what}: not a folder (give the folder of the '
                               'per-frame JSON files)')
    files = sorted((f for f in os.listdir(folder) if f.lower().endswith('.json')),
                   key=natural_key)
    if not files:
        raise Keypoints2DError(f'{folder}: {what}: no .json file in the folder')
    return [osp.join(folder, f) for f in files]
