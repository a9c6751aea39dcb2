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
is > 0. Every malformed field raises :class:`PseudoLabelError` whose message starts with
the file path and names the field, e.g. ``frames[160906_band1/00000168][00_03].keypoints``.
"""
from __future__ import annotations

import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from selfpose3d_mm.skeleton import COCO17_NAMES, PANOPTIC15_NAMES
from selfpose3d_mm.utils import atomic_open

__all__ = ['PSEUDO_LABEL_FORMAT', 'PSEUDO_LABEL_VERSION', 'SKELETON_JOINTS',
           'PseudoLabelError', 'PseudoLabelFileNotFoundError', 'PseudoLabels',
           'load_pseudo_labels', 'save_pseudo_labels']

PSEUDO_LABEL_FORMAT = 'selfpose3d_mm/pseudo_labels'
PSEUDO_LABEL_VERSION = 1
SKELETON_JOINTS = {'coco17': len(COCO17_NAMES), 'panoptic15': len(PANOPTIC15_NAMES)}


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


def _parse_entry(entry, where: str, num_joints: int, skeleton: str) -> dict:
    if not isinstance(entry, dict):
        raise PseudoLabelError(f'{where}: missing view entry (got {entry!r}); write an '
                               'entry with empty lists for a view without detections')
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
    out = {}
    for name, tail in (('bboxes', (4, )), ('bbox_scores', ())):
        out[name] = _array(entry[name], f'{where}.{name}', tail)
        if len(out[name]) != len(kp):
            raise PseudoLabelError(f'{where}.{name}: {len(out[name])} persons, but '
                                   f'keypoints has {len(kp)}')
    out['keypoints'] = kp
    return out


def _parse(data, path: str, num_joints: Optional[int] = None) -> PseudoLabels:
    """Validate the JSON structure of a pseudo-label file into :class:`PseudoLabels`."""
    if not isinstance(data, dict):
        raise PseudoLabelError(f'{path}: the top level must be a JSON object')
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
    parsed, seen = {}, np.zeros(C, bool)
    for key, entries in frames.items():
        where = f'{path}: frames[{key}]'
        if not isinstance(entries, list) or len(entries) != C:
            n = len(entries) if isinstance(entries, list) else type(entries).__name__
            raise PseudoLabelError(f'{where}: {n} entries for the {C} views {views}')
        parsed[key] = [_parse_entry(e, f'{where}[{v}]', J, skeleton)
                       for v, e in zip(views, entries)]
        seen |= np.array([len(e['keypoints']) > 0 for e in parsed[key]])
    if not seen.all():
        empty = [v for v, s in zip(views, seen) if not s]
        raise PseudoLabelError(
            f'{path}: views: view(s) {empty} have no detection in any of the '
            f'{len(parsed)} frames (empty view: is the camera mapped to the right images?)')
    return PseudoLabels(path, list(views), skeleton, dict(models), sizes, parsed)


def load_pseudo_labels(path: str, views: Optional[Sequence[str]] = None,
                       num_joints: Optional[int] = None) -> PseudoLabels:
    """Read and validate a pseudo-label file.

    Args:
        path: the JSON file.
        views: the dataset's camera names. The file must have the same cameras (an
            error names both lists otherwise); a different order is re-ordered to
            ``views``.
        num_joints: joints the dataset will ask for
            (:func:`selfpose3d_mm.datasets.pseudo_poses.frame_pseudo_poses`; 15 is
            reachable from either skeleton).
    """
    path = str(path)
    if not osp.isfile(path):
        raise PseudoLabelFileNotFoundError(f'{path}: pseudo-label file not found (run '
                                           'tools/pseudo_label.py to write it)')
    try:
        with open(path) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PseudoLabelError(f'{path}: not valid JSON ({e})') from None
    labels = _parse(data, path, num_joints)
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


def save_pseudo_labels(path: str, labels: Union[PseudoLabels, dict]) -> None:
    """Validate and write ``labels`` (a :class:`PseudoLabels` or the file's JSON
    structure) atomically: a temporary file in the same folder, then ``os.replace``.
    Float32 values are written exactly, so ``load(save(x)) == x``."""
    path = str(path)
    data = labels.to_dict() if isinstance(labels, PseudoLabels) else dict(labels)
    data.setdefault('format', PSEUDO_LABEL_FORMAT)
    data.setdefault('version', PSEUDO_LABEL_VERSION)
    data = _parse(data, path).to_dict()  # validates, and plain lists for json
    with atomic_open(path) as f:
        json.dump(data, f, separators=(',', ':'))
