"""Frames over time of any multi-view dataset of the package, for the pretext tasks
(multi-view synchronisation, MCSS): frames indexed by (sequence, time), their C images,
the per-view median background of a sequence, the foreground mask, and square crops
centred on the people.

Time. A frame's time is its frame number in the source footage (the synthetic world's
``frame_idx``, a custom rig's frame number, Panoptic's ``frame_idx``, Shelf/Campus's
``frame_index``), read from the dataset's frame list without loading the frame
(:func:`frame_time`); offsets between frames are therefore in source frames whatever the
dataset's sampling ``interval``.

Images. ``img`` (C RGB arrays: the synthetic world with ``with_images=True``, a custom
rig's videos) or ``img_paths`` (image folders); ``frame_scale`` < 1 works on smaller
copies (full-HD footage). Every pixel quantity below is in the loaded images' pixels;
``Frame.scale[v]`` maps the calibration's pixels (pseudo poses, cameras) to them.

Background and foreground. The background of view v of a sequence is the per-pixel
median of ``background_frames`` frames spread over the sequence (cached per process);
a pixel is foreground when the largest channel difference of a frame to it exceeds the
per-pixel threshold ``max(fg_threshold, fg_spread_factor × spread)``, ``spread`` being
1.4826 × the median absolute deviation of the pixel over those frames (max over RGB);
an opening and a closing clean the mask. ``fg_spread_factor`` is 0 by default (a single
threshold): raise it (2-3) for backgrounds that flicker (leaves, screens); where people
stand still most of the sequence their ghost in the median raises the spread too.

People. From the frame's pseudo 2D poses when the view has any (``pseudo_keypoints``),
else from the connected components of the foreground mask; the same person in two
views by epipolar geometry (:func:`~.people.match_views`).

Example::

    clips = MultiViewClips(dict(type='SyntheticMultiViewDataset', with_images=True))
    f = clips.frame(0)
    people = clips.people(f, 0)                   # boxes, matching points, source
    pairs = clips.matches(f, 0, 1)                # [(i in view 0, j in view 1), ...]
    img, mask = clips.crop(f, 0, people['boxes'][pairs[0][0]], size=128)
    later = clips.index.partners(0, d_min=4, d_max=128)   # frames 4 < |dt| < 128 away
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmpose.registry import DATASETS

from .people import (box_points, boxes_from_keypoints, boxes_from_mask, crop_square,
                     match_views, square_box)

__all__ = ['frame_time', 'FrameIndex', 'Frame', 'load_frame_images', 'median_background',
           'foreground_mask', 'MultiViewClips']

SEQUENCE_KEYS = ('sequence', 'seq_idx')
TIME_KEYS = ('frame_idx', 'frame', 'frame_index')


def frame_time(dataset, idx: int) -> Tuple[str, int]:
    """(sequence, time) of frame ``idx`` of a dataset, from its frame list alone (no
    image is read): the first of ``sequence``/``seq_idx`` of the entry, else the
    dataset's ``sequence`` attribute, else ``''``; the first of
    ``frame_idx``/``frame``/``frame_index``, else ``idx``."""
    raw = BaseDataset.get_data_info(dataset, idx) if isinstance(dataset, BaseDataset) \
        else dataset.get_data_info(idx)
    seq = next((raw[k] for k in SEQUENCE_KEYS if k in raw), getattr(dataset, 'sequence', ''))
    t = next((raw[k] for k in TIME_KEYS if k in raw), idx)
    return str(seq), int(t)


class FrameIndex:
    """The frames of a dataset by (sequence, time).

    Attributes:
        keys: (sequence, time) of every dataset index.
        sequences: sequence → (times (T,) int64 sorted, dataset indices (T,) int64).
    """

    def __init__(self, dataset):
        self.keys: List[Tuple[str, int]] = [frame_time(dataset, i) for i in range(len(dataset))]
        groups: Dict[str, List[Tuple[int, int]]] = {}
        for i, (seq, t) in enumerate(self.keys):
            groups.setdefault(seq, []).append((t, i))
        self.sequences: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
        for seq, items in groups.items():
            items.sort()
            self.sequences[seq] = (np.array([t for t, _ in items], np.int64),
                                   np.array([i for _, i in items], np.int64))

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, sequence: str, time: int) -> Optional[int]:
        """Dataset index of the frame at ``time`` of ``sequence`` (None: no such frame)."""
        times, idx = self.sequences.get(str(sequence), (np.zeros(0, np.int64), None))
        k = int(np.searchsorted(times, int(time)))
        return int(idx[k]) if k < len(times) and times[k] == int(time) else None

    def partners(self, idx: int, d_min: float, d_max: float) -> np.ndarray:
        """Dataset indices of the frames of ``idx``'s sequence with
        ``d_min < |t - t_idx| < d_max`` (source frames), sorted by time."""
        seq, t = self.keys[idx]
        times, ids = self.sequences[seq]
        dt = np.abs(times - t)
        return ids[(dt > d_min) & (dt < d_max)]

    def frame_step(self, sequence: str) -> int:
        """Median time step between consecutive indexed frames of a sequence (1 when it
        has a single frame): the dataset's sampling interval in source frames."""
        times = self.sequences[str(sequence)][0]
        return int(np.median(np.diff(times))) if len(times) > 1 else 1

    def spread(self, sequence: str, count: int) -> np.ndarray:
        """Dataset indices of up to ``count`` frames evenly spread over a sequence."""
        ids = self.sequences[str(sequence)][1]
        if len(ids) <= count:
            return ids
        return ids[np.round(np.linspace(0, len(ids) - 1, int(count))).astype(np.int64)]


@dataclass
class Frame:
    """One loaded multi-view frame: C RGB images (loaded size), the pseudo poses
    (calibration px; None when the dataset has none), the cameras, and per view the
    factor ``scale[v]`` from calibration px to loaded px. ``masks`` caches foregrounds."""

    index: int
    sequence: str
    time: int
    images: List[np.ndarray]
    keypoints: Optional[List[np.ndarray]]
    scores: Optional[List[np.ndarray]]
    cameras: object
    scale: np.ndarray
    masks: Dict[int, np.ndarray] = field(default_factory=dict)


def load_frame_images(info: dict, scale: float = 1.0) -> List[np.ndarray]:
    """The C RGB uint8 images of a sample (``img``, else ``img_paths``), resized by
    ``scale``."""
    if info.get('img') is not None:
        imgs = [np.asarray(im) for im in info['img']]
    elif info.get('img_paths') is not None:
        imgs = [mmcv.imread(p, channel_order='rgb') for p in info['img_paths']]
        missing = [p for p, im in zip(info['img_paths'], imgs) if im is None]
        if missing:
            raise FileNotFoundError(f'MultiViewClips: cannot read image {missing[0]}')
    else:
        raise ValueError('MultiViewClips: the dataset gives no images (neither `img` nor '
                         '`img_paths`): build it with with_images=True and images or '
                         'videos')
    if scale != 1.0:
        imgs = [cv2.resize(im, (max(1, round(im.shape[1] * scale)),
                                max(1, round(im.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA) for im in imgs]
    return [np.ascontiguousarray(im, dtype=np.uint8) for im in imgs]


def median_background(stack: Sequence[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """Per-pixel median (H, W, 3) uint8 of N images of one view and their spread (H, W)
    float32: 1.4826 × the median absolute deviation, the largest over the channels."""
    s = np.stack([np.asarray(im) for im in stack]).astype(np.int16)
    med = np.median(s, axis=0)
    mad = np.median(np.abs(s - med[None]), axis=0).max(-1)
    return np.round(med).astype(np.uint8), (1.4826 * mad).astype(np.float32)


def foreground_mask(image: np.ndarray, background: np.ndarray, threshold: float = 25.0,
                    spread: Optional[np.ndarray] = None, spread_factor: float = 0.0,
                    open_px: int = 3, close_px: int = 7) -> np.ndarray:
    """(H, W) bool: pixels whose largest channel difference to the background exceeds
    the per-pixel threshold ``max(threshold, spread_factor × spread)``; then an opening
    (``open_px``: speckles) and a closing (``close_px``: holes)."""
    diff = np.abs(image.astype(np.int16) - background.astype(np.int16)).max(-1)
    thr = np.float32(threshold)
    if spread is not None:
        thr = np.maximum(thr, np.float32(spread_factor) * spread)
    m = (diff > thr).astype(np.uint8)
    for op, k in ((cv2.MORPH_OPEN, open_px), (cv2.MORPH_CLOSE, close_px)):
        if k and k > 1:
            m = cv2.morphologyEx(m, op, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return m.astype(bool)


class MultiViewClips:
    """Frame, background, foreground, people and crop access of a multi-view dataset.

    Args:
        dataset: a multi-view dataset (``BaseMultiViewDataset``) or its config; it must
            give images (``with_images=True``).
        frame_scale: images are loaded resized by this factor.
        background_frames: frames per sequence in the median background.
        fg_threshold, fg_spread_factor, fg_open, fg_close: :func:`foreground_mask`.
        min_keypoint_score, min_joints: joints and poses used for boxes and matching.
        min_blob_area, blob_dilate, max_blobs: :func:`~.people.boxes_from_mask`
            (``blob_dilate`` None: 2 % of the image's longer side, which joins the parts
            of one person the foreground split).
        box_padding: the crop square's margin around the person box.
        match_threshold, match_ratio: :func:`~.people.match_views`.
        frame_cache, background_cache: frames and sequences kept in memory.
    """

    def __init__(self, dataset: Union[dict, BaseDataset], frame_scale: float = 1.0,
                 background_frames: int = 16, fg_threshold: float = 25.0,
                 fg_spread_factor: float = 0.0, fg_open: int = 3, fg_close: int = 7,
                 min_keypoint_score: float = 0.1, min_joints: int = 4,
                 min_blob_area: float = 0.004, blob_dilate: Optional[int] = None,
                 max_blobs: Optional[int] = 8, box_padding: float = 0.25,
                 match_threshold: float = 0.15, match_ratio: float = 0.8,
                 frame_cache: int = 4, background_cache: int = 8):
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        if not 0 < float(frame_scale) <= 1:
            raise ValueError(f'MultiViewClips: frame_scale must be in (0, 1], got {frame_scale}')
        self.frame_scale = float(frame_scale)
        self.background_frames = max(1, int(background_frames))
        self.fg = dict(threshold=float(fg_threshold), spread_factor=float(fg_spread_factor),
                       open_px=int(fg_open), close_px=int(fg_close))
        self.min_keypoint_score, self.min_joints = float(min_keypoint_score), int(min_joints)
        self.blobs = dict(min_area=float(min_blob_area), max_people=max_blobs)
        self.blob_dilate = None if blob_dilate is None else int(blob_dilate)
        self.box_padding = float(box_padding)
        self.match_threshold, self.match_ratio = float(match_threshold), float(match_ratio)
        self.index = FrameIndex(self.dataset)
        self._frames: 'OrderedDict[int, Frame]' = OrderedDict()
        self._backgrounds: 'OrderedDict[str, tuple]' = OrderedDict()
        self._cache_sizes = (max(1, int(frame_cache)), max(1, int(background_cache)))
        self._warned: set = set()

    def __len__(self) -> int:
        return len(self.index)

    @property
    def num_views(self) -> int:
        cams = getattr(self.dataset, 'cameras', None)
        if cams is not None and hasattr(cams, 'num_views'):
            return int(cams.num_views)
        return len(self.frame(0).images)

    # ------------------------------------------------------------------ frames
    def frame(self, idx: int) -> Frame:
        """Frame ``idx`` of the dataset (kept in a small LRU cache)."""
        idx = int(idx)
        hit = self._frames.get(idx)
        if hit is not None:
            self._frames.move_to_end(idx)
            return hit
        f = self._load(idx)
        self._frames[idx] = f
        while len(self._frames) > self._cache_sizes[0]:
            self._frames.popitem(last=False)
        return f

    def _load(self, idx: int) -> Frame:
        info = self.dataset.get_data_info(idx)
        imgs = load_frame_images(info, self.frame_scale)
        sizes = info.get('image_sizes')
        if sizes is None:
            sizes = info['cameras'].image_size.cpu().numpy()
        scale = np.array([im.shape[1] / float(np.asarray(sizes)[v][0])
                          for v, im in enumerate(imgs)], np.float64)
        kps = info.get('pseudo_keypoints')
        seq, t = self.index.keys[idx]
        return Frame(idx, seq, t, imgs,
                     None if kps is None else [np.asarray(k, np.float32) for k in kps],
                     info.get('pseudo_keypoint_scores'), info.get('cameras'), scale)

    # ------------------------------------------------------------------ background
    def background(self, sequence: str) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """Per-view median backgrounds (C × (H, W, 3) uint8) and spreads (C × (H, W)) of a
        sequence (cached)."""
        seq = str(sequence)
        hit = self._backgrounds.get(seq)
        if hit is not None:
            self._backgrounds.move_to_end(seq)
            return hit
        ids = self.index.spread(seq, self.background_frames)
        if len(ids) < 3 and seq not in self._warned:
            self._warned.add(seq)
            print_log(f'MultiViewClips: sequence {seq!r} has {len(ids)} frames: its median '
                      'background still shows the people (foreground masks are poor)',
                      logger='current', level=30)
        per_view = None
        for i in ids:
            imgs = self._frames[int(i)].images if int(i) in self._frames else \
                load_frame_images(self.dataset.get_data_info(int(i)), self.frame_scale)
            per_view = [[] for _ in imgs] if per_view is None else per_view
            for v, im in enumerate(imgs):
                per_view[v].append(im)
        meds, spreads = zip(*(median_background(s) for s in per_view))
        hit = (list(meds), list(spreads))
        self._backgrounds[seq] = hit
        while len(self._backgrounds) > self._cache_sizes[1]:
            self._backgrounds.popitem(last=False)
        return hit

    def foreground(self, frame: Frame, view: int) -> np.ndarray:
        """(H, W) bool foreground of a view of a frame (cached on the frame)."""
        if view not in frame.masks:
            bg, spread = self.background(frame.sequence)
            frame.masks[view] = foreground_mask(frame.images[view], bg[view],
                                                spread=spread[view], **self.fg)
        return frame.masks[view]

    # ------------------------------------------------------------------ people
    def people(self, frame: Frame, view: int) -> dict:
        """The people of a view: ``boxes`` (K, 4) loaded px, ``points`` (K, N, 2)
        calibration px and ``valid`` (K, N) for :func:`~.people.match_views` (the
        joints, or the top/centre/bottom of a foreground box), ``source``
        (``'keypoints'`` or ``'foreground'``)."""
        s = frame.scale[view]
        if frame.keypoints is not None and len(frame.keypoints[view]):
            kp = frame.keypoints[view]
            sc = None if frame.scores is None else np.asarray(frame.scores[view])
            boxes, keep = boxes_from_keypoints(kp * s, sc, self.min_keypoint_score,
                                               self.min_joints)
            if len(keep):
                valid = np.isfinite(kp[keep]).all(-1)
                if sc is not None:
                    valid &= sc[keep] > self.min_keypoint_score
                return dict(boxes=boxes, points=kp[keep], valid=valid, source='keypoints')
        mask = self.foreground(frame, view)
        dilate = self.blob_dilate if self.blob_dilate is not None else \
            max(3, int(round(0.02 * max(mask.shape))))
        boxes = boxes_from_mask(mask, dilate=dilate, **self.blobs)
        pts = box_points(boxes) / s
        return dict(boxes=boxes, points=pts, valid=np.ones(pts.shape[:2], bool),
                    source='foreground')

    def matches(self, frame: Frame, view_a: int, view_b: int) -> List[Tuple[int, int]]:
        """(i, j): person i of ``people(frame, view_a)`` is person j of view b."""
        a, b = self.people(frame, view_a), self.people(frame, view_b)
        if not len(a['boxes']) or not len(b['boxes']):
            return []
        if a['points'].shape[1] != b['points'].shape[1]:  # keypoints vs foreground boxes
            a = dict(a, points=box_points(a['boxes']) / frame.scale[view_a])
            b = dict(b, points=box_points(b['boxes']) / frame.scale[view_b])
            a['valid'] = np.ones(a['points'].shape[:2], bool)
            b['valid'] = np.ones(b['points'].shape[:2], bool)
        return match_views(frame.cameras, view_a, view_b, a['points'], b['points'],
                           a['valid'], b['valid'], threshold=self.match_threshold,
                           ratio=self.match_ratio)

    # ------------------------------------------------------------------ crops
    def square(self, box: Sequence[float]) -> Tuple[float, float, float]:
        """(cx, cy, side) of the crop square of a person box."""
        return square_box(box, self.box_padding)

    def crop(self, frame: Frame, view: int, box: Sequence[float], size: int,
             flip: bool = False, with_mask: bool = True
             ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """The (size, size, 3) crop centred on a person box, and its foreground mask
        (size, size) bool (None with ``with_mask=False``); ``flip`` mirrors both."""
        cx, cy, side = self.square(box)
        img = crop_square(frame.images[view], (cx, cy), side, size, flip)
        if not with_mask:
            return img, None
        m = crop_square(self.foreground(frame, view).astype(np.uint8), (cx, cy), side, size,
                        flip, nearest=True)
        return img, m.astype(bool)
