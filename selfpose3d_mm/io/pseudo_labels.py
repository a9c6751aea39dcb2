"""The pseudo-label file: per frame and view, the 2D poses of an off-the-shelf detector.

Written by ``tools/pseudo_label.py`` and read by every real-data dataset (Panoptic, the
custom rig). One JSON file, written atomically::

    {"format": "selfpose3d_mm/pseudo_labels", "version": 1,
     "skeleton": "coco17",              # joint order of "keypoints": coco17 | panoptic15
     "views": ["00_03", "00_06", ...],   # camera names: the order of every frame's list
     "image_sizes": [[1920, 1080], ...], # optional, per view (W, H)
     "models": {"detector": "...", "pose": "..."},   # provenance (free text)
     "frames": {"<frame key>": [        # one entry per view, in "views" order
         {"bboxes": [[x1, y1, x2, y2], ...], "bbox_scores": [s, ...],
          "keypoints": [[[x, y, score], ...J], ...P]}, ...]}}

Frame keys are chosen by the dataset (Panoptic ``"{sequence}/{frame:08d}"``, a custom rig
``"{frame:08d}"``). Coordinates are original-image pixels; a joint is valid iff its score
is > 0 (write 0, or the common "missing" marker -1, for a joint without a detection).
Every malformed field raises :class:`PseudoLabelError` whose message starts with the file
path and names the field, e.g. ``frames[160906_band1/00000168][00_03].keypoints``.

Besides the structure, the reader refuses what no detector writes (limits are arguments of
:func:`load_pseudo_labels` / :func:`save_pseudo_labels`):

* a file that is not UTF-8 JSON text (binary, UTF-16), or nested absurdly deep;
* a key given twice in one object, e.g. a frame key (JSON keeps the last one silently);
* more than ``max_persons_per_view`` persons (default :data:`MAX_PERSONS_PER_VIEW` = 100)
  in one view of one frame: the training step's cost grows with it (500 persons: 10x);
* a ``bbox_scores`` value outside [0, 1], a keypoint score below 0 (other than the -1
  marker) or above ``max_keypoint_score`` (default :data:`MAX_KEYPOINT_SCORE` = 1), with
  a float tolerance of :data:`SCORE_TOLERANCE`; NaN / inf anywhere. Scores are
  confidences: percentages or logits are refused. The raw confidences of mmpose's heatmap
  and SimCC models can leave [0, 1] a little (open-mmlab/mmpose#2755): writers clip them
  (``apis/pseudo_labeling.py`` does): validity is score > 0 and the label sets threshold
  scores below 1, so no decision on a stored joint changes.
"""
from __future__ import annotations

import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from selfpose3d_mm.skeleton import COCO17_NAMES, PANOPTIC15_NAMES
from selfpose3d_mm.utils import atomic_open
from .json_yaml import duplicate_keys, load_json, refuse_duplicate_keys

__all__ = ['PSEUDO_LABEL_FORMAT', 'PSEUDO_LABEL_VERSION', 'SKELETON_JOINTS',
           'MAX_PERSONS_PER_VIEW', 'MAX_KEYPOINT_SCORE', 'SCORE_TOLERANCE',
           'PseudoLabelError', 'PseudoLabelFileNotFoundError', 'PseudoLabels',
           'load_pseudo_labels', 'save_pseudo_labels']

PSEUDO_LABEL_FORMAT = 'selfpose3d_mm/pseudo_labels'
PSEUDO_LABEL_VERSION = 1
SKELETON_JOINTS = {'coco17': len(COCO17_NAMES), 'panoptic15': len(PANOPTIC15_NAMES)}
MAX_PERSONS_PER_VIEW = 100
MAX_KEYPOINT_SCORE = 1.0
SCORE_TOLERANCE = 1e-5


class PseudoLabelError(ValueError):
    """A pseudo-label file is missing, malformed, or does not fit the dataset."""


class PseudoLabelFileNotFoundError(PseudoLabelError, FileNotFoundError):
    """The pseudo-label file does not exist (both a ``PseudoLabelError`` and a
    ``FileNotFoundError``)."""


@dataclass
class PseudoLabels:
    """A loaded pseudo-label file.

    Attributes:
        path: the file it was read from ('' when built in memory).
        views: C camera names, the order of every frame's per-view list.
        skeleton: joint order of the stored keypoints, ``'coco17'`` or ``'panoptic15'``.
        models: provenance (free text, e.g. the detector and pose model names).
        image_sizes: optional (C, 2) float64 image (W, H) per view.
        frames: frame key → C dicts with ``keypoints`` (P, J, 3) float32 (x, y, score),
            ``bboxes`` (P, 4) float32 (x1, y1, x2, y2) and ``bbox_scores`` (P,) float32.
    """
    path: str = ''
    views: List[str] = field(default_factory=list)
    skeleton: str = 'coco17'
    models: dict = field(default_factory=dict)
    image_sizes: Optional[np.ndarray] = None
    frames: Dict[str, List[dict]] = field(default_factory=dict)

    def keys(self):
        return self.frames.keys()

    def __contains__(self, key) -> bool:
        return key in self.frames

    def __len__(self) -> int:
        return len(self.frames)

    def subset_views(self, names: Sequence[str]) -> 'PseudoLabels':
        """A copy holding only the views ``names``, in that order (arrays are shared)."""
        names = [str(n) for n in names]
        missing = [n for n in names if n not in self.views]
        if missing:
            raise PseudoLabelError(f'{self.path}: views: {missing} not in the file\'s '
                                   f'views {self.views}')
        idx = [self.views.index(n) for n in names]
        sizes = None if self.image_sizes is None else self.image_sizes[idx]
        frames = {k: [v[i] for i in idx] for k, v in self.frames.items()}
        return PseudoLabels(self.path, names, self.skeleton, dict(self.models), sizes,
                            frames)

    def to_dict(self) -> dict:
        """The file's JSON structure (plain lists)."""
        out = dict(format=PSEUDO_LABEL_FORMAT, version=PSEUDO_LABEL_VERSION,
                   skeleton=self.skeleton, views=list(self.views))
        if self.image_sizes is not None:
            out['image_sizes'] = np.asarray(self.image_sizes).tolist()
        out['models'] = dict(self.models)
        out['frames'] = {
            k: [{n: np.asarray(e[n]).tolist() for n in ('bboxes', 'bbox_scores',
                                                        'keypoints')} for e in v]
            for k, v in self.frames.items()}
        return out


def _array(value, where: str, tail: tuple) -> np.ndarray:
    """``value`` as a float32 (P, *tail) array, or an error naming ``where``."""
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise PseudoLabelError(f'{where}: not a numeric array ({e})') from None
    if arr.size == 0:
        arr = arr.reshape((0, ) + tail)
    if arr.ndim != 1 + len(tail) or arr.shape[1:] != tail:
        shape = ', '.join(['P'] + [str(t) for t in tail])
        raise PseudoLabelError(f'{where}: expected shape ({shape}), got {arr.shape}')
    if not np.isfinite(arr).all():
        raise PseudoLabelError(f'{where}: non-finite values (NaN or inf)')
    return arr


def _check_duplicates(obj, where: str):
    refuse_duplicate_keys(obj, where, PseudoLabelError)


def _check_range(values: np.ndarray, where: str, lo: float, hi: float, what: str,
                 hint: str = ''):
    """Refuse scores outside [lo, hi] (± SCORE_TOLERANCE), naming the first offender."""
    bad = (values < lo - SCORE_TOLERANCE) | (values > hi + SCORE_TOLERANCE)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise PseudoLabelError(f'{where}: {what} {float(values[idx]):g} at {list(idx)} is '
                               f'outside [{lo:g}, {hi:g}]{hint}')


def _parse_entry(entry, where: str, num_joints: int, skeleton: str,
                 max_persons: int, max_score: float) -> dict:
    if not isinstance(entry, dict):
        raise PseudoLabelError(f'{where}: missing view entry (got {entry!r}); write an '
                               'entry with empty lists for a view without detections')
    _check_duplicates(entry, where)
    for name in ('keypoints', 'bboxes', 'bbox_scores'):
        if name not in entry:
            raise PseudoLabelError(f'{where}.{name}: missing field')
    kp = entry['keypoints']
    try:
        kp = np.asarray(kp, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise PseudoLabelError(f'{where}.keypoints: not a numeric array ({e})') from None
    if kp.size == 0:
        kp = kp.reshape(0, num_joints, 3)
    if kp.ndim != 3:
        raise PseudoLabelError(f'{where}.keypoints: expected shape (P, {num_joints}, 3), '
                               f'got {kp.shape}')
    if kp.shape[1] != num_joints:
        raise PseudoLabelError(f'{where}.keypoints: expected {num_joints} joints for '
                               f'skeleton {skeleton!r}, got {kp.shape[1]}')
    if kp.shape[2] != 3:
        raise PseudoLabelError(f'{where}.keypoints: expected (x, y, score) per joint, '
                               f'got last dimension {kp.shape[2]}')
    if not np.isfinite(kp).all():
        raise PseudoLabelError(f'{where}.keypoints: non-finite values (NaN or inf)')
    if len(kp) > max_persons:
        raise PseudoLabelError(
            f'{where}.keypoints: {len(kp)} persons, more than max_persons_per_view='
            f'{max_persons} (a detector without a score threshold? every person costs '
            'training time; raise the limit if the scene really holds that many)')
    _check_range(np.where(kp[..., 2] == -1, 0, kp[..., 2]), f'{where}.keypoints', 0.0,
                 max_score, 'keypoint score', ' (a confidence: 0 or -1 mark a missing joint; '
                 'the upper bound is max_keypoint_score)')
    out = {}
    for name, tail in (('bboxes', (4, )), ('bbox_scores', ())):
        out[name] = _array(entry[name], f'{where}.{name}', tail)
        if len(out[name]) != len(kp):
            raise PseudoLabelError(f'{where}.{name}: {len(out[name])} persons, but '
                                   f'keypoints has {len(kp)}')
    _check_range(out['bbox_scores'], f'{where}.bbox_scores', 0.0, 1.0, 'box score')
    out['keypoints'] = kp
    return out


def _parse(data, path: str, num_joints: Optional[int] = None,
           max_persons_per_view: int = MAX_PERSONS_PER_VIEW,
           max_keypoint_score: float = MAX_KEYPOINT_SCORE) -> PseudoLabels:
    """Validate the JSON structure of a pseudo-label file into :class:`PseudoLabels`."""
    if not isinstance(data, dict):
        raise PseudoLabelError(f'{path}: the top level must be a JSON object, got '
                               f'{"null" if data is None else type(data).__name__}')
    _check_duplicates(data, path)
    if data.get('format') != PSEUDO_LABEL_FORMAT:
        raise PseudoLabelError(f'{path}: field `format` must be {PSEUDO_LABEL_FORMAT!r}, '
                               f'got {data.get("format")!r}')
    if data.get('version') != PSEUDO_LABEL_VERSION:
        raise PseudoLabelError(f'{path}: field `version` {data.get("version")!r} is not '
                               f'supported (this reader reads {PSEUDO_LABEL_VERSION})')
    skeleton = data.get('skeleton')
    if skeleton not in SKELETON_JOINTS:
        raise PseudoLabelError(f'{path}: field `skeleton` must be one of '
                               f'{list(SKELETON_JOINTS)}, got {skeleton!r}')
    J = SKELETON_JOINTS[skeleton]
    reachable = (J, SKELETON_JOINTS['panoptic15']) if skeleton == 'coco17' else (J, )
    if num_joints is not None and num_joints not in reachable:
        raise PseudoLabelError(f'{path}: field `skeleton`: {skeleton!r} keypoints cannot '
                               f'give the {num_joints} joints the dataset needs')
    views = data.get('views')
    if (not isinstance(views, list) or not views
            or not all(isinstance(v, str) for v in views) or len(set(views)) != len(views)):
        raise PseudoLabelError(f'{path}: field `views` must be a non-empty list of '
                               f'distinct camera names, got {views!r}')
    C = len(views)
    sizes = data.get('image_sizes')
    if sizes is not None:
        try:
            sizes = np.asarray(sizes, dtype=np.float64)
        except (TypeError, ValueError):
            sizes = np.zeros(0)
        if sizes.shape != (C, 2) or not np.isfinite(sizes).all() or (sizes <= 0).any():
            raise PseudoLabelError(f'{path}: field `image_sizes` must be {C} positive '
                                   f'(W, H) pairs, one per view, got {data["image_sizes"]!r}')
    models = data.get('models', {})
    if not isinstance(models, dict):
        raise PseudoLabelError(f'{path}: field `models` must be an object, got {models!r}')
    frames = data.get('frames')
    if not isinstance(frames, dict) or not frames:
        raise PseudoLabelError(f'{path}: field `frames` must be a non-empty object '
                               'keyed by frame')
    dups = duplicate_keys(frames)
    if dups:
        raise PseudoLabelError(f'{path}: frames[{dups[0]}]: the frame key appears more than '
                               'once (JSON keeps only the last entry silently; '
                               f'{len(dups)} duplicated key(s))')
    parsed, seen = {}, np.zeros(C, bool)
    for key, entries in frames.items():
        where = f'{path}: frames[{key}]'
        if not isinstance(entries, list) or len(entries) != C:
            n = len(entries) if isinstance(entries, list) else type(entries).__name__
            raise PseudoLabelError(f'{where}: {n} entries for the {C} views {views}')
        parsed[key] = [_parse_entry(e, f'{where}[{v}]', J, skeleton, max_persons_per_view,
                                    max_keypoint_score) for v, e in zip(views, entries)]
        seen |= np.array([len(e['keypoints']) > 0 for e in parsed[key]])
    if not seen.all():
        empty = [v for v, s in zip(views, seen) if not s]
        raise PseudoLabelError(
            f'{path}: views: view(s) {empty} have no detection in any of the '
            f'{len(parsed)} frames (empty view: is the camera mapped to the right images?)')
    return PseudoLabels(path, list(views), skeleton, dict(models), sizes, parsed)


def load_pseudo_labels(path: str, views: Optional[Sequence[str]] = None,
                       num_joints: Optional[int] = None,
                       max_persons_per_view: int = MAX_PERSONS_PER_VIEW,
                       max_keypoint_score: float = MAX_KEYPOINT_SCORE) -> PseudoLabels:
    """Read and validate a pseudo-label file.

    Args:
        path: the JSON file.
        views: the dataset's camera names. The file must have the same cameras (an
            error names both lists otherwise); a different order is re-ordered to
            ``views``.
        num_joints: joints the dataset will ask for
            (:func:`selfpose3d_mm.datasets.pseudo_poses.frame_pseudo_poses`; 15 is
            reachable from either skeleton).
        max_persons_per_view: most persons one view of one frame may hold.
        max_keypoint_score: upper bound of the keypoint scores (lower bound 0; box scores
            are bounded by [0, 1]).
    """
    path = str(path)
    if not osp.isfile(path):
        raise PseudoLabelFileNotFoundError(f'{path}: pseudo-label file not found (run '
                                           'tools/pseudo_label.py to write it)')
    data = load_json(path, PseudoLabelError)
    labels = _parse(data, path, num_joints, max_persons_per_view, max_keypoint_score)
    if views is not None:
        views = [str(v) for v in views]
        if len(views) != len(labels.views):
            raise PseudoLabelError(
                f'{path}: field `views`: camera count differs from the pseudo-label file: '
                f'the dataset has {len(views)} cameras {views}, the file '
                f'{len(labels.views)} {labels.views}')
        if set(views) != set(labels.views):
            raise PseudoLabelError(
                f'{path}: field `views`: camera names differ from the pseudo-label file: '
                f'the dataset has {views}, the file {labels.views}')
        if views != labels.views:
            labels = labels.subset_views(views)
    return labels


def save_pseudo_labels(path: str, labels: Union[PseudoLabels, dict],
                       max_persons_per_view: int = MAX_PERSONS_PER_VIEW,
                       max_keypoint_score: float = MAX_KEYPOINT_SCORE) -> None:
    """Validate (the limits as in :func:`load_pseudo_labels`) and write ``labels`` (a
    :class:`PseudoLabels` or the file's JSON structure) atomically: a temporary file in
    the same folder, then ``os.replace``. Float32 values are written exactly, so
    ``load(save(x)) == x``."""
    path = str(path)
    data = labels.to_dict() if isinstance(labels, PseudoLabels) else dict(labels)
    data.setdefault('format', PSEUDO_LABEL_FORMAT)
    data.setdefault('version', PSEUDO_LABEL_VERSION)
    data = _parse(data, path, None, max_persons_per_view,
                  max_keypoint_score).to_dict()  # validates, and plain lists for json
    with atomic_open(path) as f:
        json.dump(data, f, separators=(',', ':'))
