"""CMU Panoptic multi-view frames, VoxelPose's protocol.

Layout read under ``data_root`` (the Panoptic toolbox's, images extracted with
``hdImgsExtractor.sh``)::

    <seq>/calibration_<seq>.json                      all cameras, cm, y down
    <seq>/hdPose3d_stage1_coco19/body3DScene_%08d.json 3D bodies (coco19, cm)
    <seq>/hdImgs/00_XX/00_XX_%08d.jpg                 HD frames (image path only)

Protocol (docs/method.md#panoptic): the sorted body files of a sequence are sampled with
``i % interval == 0`` (3 for training, 12 for validation); a body keeps its first 15
joints (Panoptic-15), a joint is visible iff its confidence is > 0.1, a body whose root
(mid-hip, joint 2) is invisible is dropped, and a frame left without a body is skipped.
Bodies are read by :func:`selfpose3d_mm.io.load_panoptic_bodies` (cm, y down → mm, z up).

The frame index (frame ids and 3D GT per sequence) is built once and cached under
``cache_dir`` as an ``.npz`` of plain arrays (read with ``allow_pickle=False``: a planted
cache file cannot run code), keyed by the sequences, cameras, interval and the body
files' names, sizes and modification times; it is rebuilt when any of them changes.
"""
from __future__ import annotations

import hashlib
import logging
import os
import os.path as osp
import re
from collections import Counter
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log
from mmpose.registry import DATASETS

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.io import (PseudoLabelError, load_panoptic_bodies,
                              load_panoptic_calibration, load_pseudo_labels)
from selfpose3d_mm.skeleton import PANOPTIC15_NAMES
from selfpose3d_mm.utils import atomic_open
from .base_multiview import BaseMultiViewDataset
from .pseudo_poses import empty_pseudo_poses, frame_pseudo_poses

__all__ = ['PANOPTIC_CAMERAS', 'PanopticMultiViewDataset']

PANOPTIC_CAMERAS = ('00_03', '00_06', '00_12', '00_13', '00_23')
BODY_DIR = 'hdPose3d_stage1_coco19'
NUM_JOINTS = len(PANOPTIC15_NAMES)   # the first 15 coco19 joints: Panoptic-15
_BODY_FILE = re.compile(r'^body3DScene_(\d+)\.json$')
_CACHE_VERSION = 2  # 2: plain arrays in an npz (1 was a pickle, never read)


def _body_files(body_dir: str, interval: int) -> List[str]:
    """Sampled body files: every ``interval``-th of the sorted list."""
    names = sorted(n for n in os.listdir(body_dir) if _BODY_FILE.match(n))
    return names[::interval]


def _build_sequence_index(seq: str, body_dir: str, names: Sequence[str]) -> dict:
    """Frame ids and GT of the sampled body files of one sequence; unreadable files are
    recorded in ``problems`` (never dropped silently)."""
    frames, kps, vis, ids, problems, empty = [], [], [], [], [], 0
    for name in names:
        frame = int(_BODY_FILE.match(name).group(1))
        try:
            bodies = load_panoptic_bodies(osp.join(body_dir, name))
        except (OSError, ValueError) as e:  # json errors are ValueErrors
            problems.append((f'{seq}/{frame:08d}', 'unreadable body file', str(e)))
            continue
        if len(bodies['ids']) == 0:  # no body, or none with a visible root
            empty += 1
            continue
        frames.append(frame)
        kps.append(bodies['keypoints_3d'])
        vis.append(bodies['visible'])
        ids.append(bodies['ids'])
    return dict(frames=np.asarray(frames, np.int64), keypoints_3d=kps, visible=vis,
                ids=ids, problems=problems, empty=empty)


@DATASETS.register_module()
class PanopticMultiViewDataset(BaseMultiViewDataset):
    """CMU Panoptic multi-view frames (5 HD views by default).

    Each item follows :mod:`~.base_multiview`'s sample structure: ``cameras`` (the
    sequence's rig), ``image_sizes`` (C, 2), ``img_paths`` (``with_images``),
    ``pseudo_keypoints`` / ``pseudo_keypoint_scores`` / ``pseudo_bbox_scores`` from
    ``pseudo_labels`` (frame key ``"{sequence}/{frame:08d}"``; empty per view when no
    file is given), and ``gt_keypoints_3d`` (G, 15, 3) mm with
    ``gt_keypoints_3d_visible`` (G, 15).

    Args:
        data_root: folder of the sequences (``<seq>/calibration_<seq>.json``,
            ``<seq>/hdPose3d_stage1_coco19/``, ``<seq>/hdImgs/``).
        sequences: sequence names (e.g. VoxelPose's train or validation list).
        cameras: HD camera names, in view order.
        interval: keep body file ``i`` of the sorted list iff ``i % interval == 0``;
            None: 12 in ``test_mode``, else 3 (VoxelPose).
        pseudo_labels: pseudo-label file (:mod:`selfpose3d_mm.io.pseudo_labels`) with the same
            cameras; needed for self-supervised training. Every frame must have an
            entry.
        with_images: add ``img_paths`` (and check that every image exists); False for
            heatmap-input mode.
        skip_missing: skip (count and log) frames whose image, pseudo labels or body file
            is missing or unreadable, and sequences without calibration, camera or body
            folder, instead of raising an error naming the file.
        cache_dir: where the frame index is cached (default
            ``<data_root>/.selfpose3d_cache``); a folder that cannot be written only
            disables the cache.
        space_center, space_size: the capture space (mm), VoxelPose's by default.
        kwargs: :class:`~.base_multiview.BaseMultiViewDataset` arguments.
    """

    def __init__(self, data_root: str, sequences: Sequence[str],
                 cameras: Sequence[str] = PANOPTIC_CAMERAS,
                 interval: Optional[int] = None, pseudo_labels: Optional[str] = None,
                 with_images: bool = True, skip_missing: bool = False,
                 cache_dir: Optional[str] = None,
                 space_center: Sequence[float] = (0.0, -500.0, 800.0),
                 space_size: Sequence[float] = (8000.0, 8000.0, 2000.0), **kwargs):
        if not osp.isdir(data_root):
            raise FileNotFoundError(
                f'PanopticMultiViewDataset: dataset not found at {osp.abspath(data_root)!r} '
                '(data_root): lay out the CMU Panoptic sequences there as '
                '<data_root>/<sequence>/{calibration_<sequence>.json, hdImgs/, '
                'hdPose3d_stage1_coco19/}, or set data_root')
        if isinstance(sequences, str) or not sequences:
            raise ValueError(f'PanopticMultiViewDataset: sequences must be a non-empty list '
                             f'of names, got {sequences!r}')
        test_mode = kwargs.get('test_mode', False)
        self.interval = int(interval) if interval is not None else (12 if test_mode else 3)
        if self.interval < 1:
            raise ValueError(f'PanopticMultiViewDataset: interval must be >= 1, got {interval}')
        self.camera_names = [str(c) for c in cameras]
        self.with_images = bool(with_images)
        self.skip_missing = bool(skip_missing)
        self.cache_dir = cache_dir or osp.join(data_root, '.selfpose3d_cache')
        self.skipped: Counter = Counter()  # reason -> frames skipped
        self.skipped_sequences: Dict[str, str] = {}  # sequence -> reason
        self.cameras: Dict[str, MultiViewCameras] = {}  # sequence -> its rig
        self.sequences = []
        for seq in sequences:
            reason = self._load_sequence(data_root, seq)
            if reason is not None:
                self.skipped_sequences[seq] = reason
                print_log(f'PanopticMultiViewDataset: skipped sequence {seq}: {reason}',
                          logger='current', level=logging.WARNING)
        if not self.sequences:
            raise FileNotFoundError(f'PanopticMultiViewDataset: none of the sequences '
                                    f'{list(sequences)} is usable under {data_root}')
        self.pseudo_labels = None
        if pseudo_labels is not None:
            self.pseudo_labels = load_pseudo_labels(pseudo_labels, views=self.camera_names,
                                                    num_joints=NUM_JOINTS)
            self._check_image_sizes()
        super().__init__(space_center=space_center, space_size=space_size,
                         data_root=data_root, **kwargs)

    # ------------------------------------------------------------------ layout
    def _load_sequence(self, root: str, seq: str) -> Optional[str]:
        """Load the sequence's rig; None when usable, else the reason it is skipped
        (``skip_missing``) — without ``skip_missing`` the problem raises."""
        calib = osp.join(root, seq, f'calibration_{seq}.json')
        body_dir = osp.join(root, seq, BODY_DIR)
        try:
            if not osp.isfile(calib):
                raise FileNotFoundError(
                    f'PanopticMultiViewDataset: sequence {seq!r} (sequences) has no '
                    f'calibration at {calib}')
            cams = load_panoptic_calibration(calib, self.camera_names)  # names the file
            if not osp.isdir(body_dir):
                raise FileNotFoundError(
                    f'PanopticMultiViewDataset: sequence {seq!r} has no 3D body folder '
                    f'{body_dir}')
            if not _body_files(body_dir, 1):
                raise FileNotFoundError(
                    f'PanopticMultiViewDataset: {body_dir} holds no body3DScene_*.json')
        except (OSError, ValueError) as e:
            if not self.skip_missing:
                raise
            return str(e)
        self.cameras[seq] = cams
        self.sequences.append(seq)
        return None

    def _check_image_sizes(self):
        sizes = self.pseudo_labels.image_sizes
        if sizes is None:
            return
        for seq in self.sequences:
            calib = self.cameras[seq].image_size.numpy()
            if not np.allclose(sizes, calib):
                raise PseudoLabelError(
                    f'{self.pseudo_labels.path}: field `image_sizes` {sizes.tolist()} '
                    f'differs from the calibration of {seq} {calib.tolist()}')

    def image_path(self, seq: str, camera: str, frame: int) -> str:
        return osp.join(self.data_root, seq, 'hdImgs', camera, f'{camera}_{frame:08d}.jpg')

    # ------------------------------------------------------------------ index
    def _index_files(self) -> Dict[str, List[str]]:
        return {s: _body_files(osp.join(self.data_root, s, BODY_DIR), self.interval)
                for s in self.sequences}

    def _cache_key(self, files: Dict[str, List[str]]) -> str:
        h = hashlib.sha1(repr((_CACHE_VERSION, self.sequences, self.camera_names,
                               self.interval)).encode())
        for seq, names in files.items():
            d = osp.join(self.data_root, seq, BODY_DIR)
            for n in names:
                st = os.stat(osp.join(d, n))
                h.update(f'{seq}/{n}:{st.st_mtime_ns}:{st.st_size};'.encode())
        return h.hexdigest()

    def cache_path(self) -> str:
        name = hashlib.sha1(repr((self.sequences, self.camera_names, self.interval))
                            .encode()).hexdigest()[:16]
        return osp.join(self.cache_dir, f'panoptic_index_{name}.npz')

    def _read_cache(self, path: str, key: str) -> Optional[dict]:
        """The index in the cache file when its key is ``key`` (else None). The file holds
        plain arrays only (read with ``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as z:
            if str(z['key']) != key or int(z['version']) != _CACHE_VERSION:
                return None
            index = {}
            for k, seq in enumerate(z['sequences'].tolist()):
                p = f'seq{k}_'
                counts = z[p + 'counts']
                cuts = np.cumsum(counts)[:-1]
                per_frame = {f: np.split(z[p + f], cuts) if len(counts) else []
                             for f in ('keypoints_3d', 'visible', 'ids')}
                index[seq] = dict(
                    frames=z[p + 'frames'], **per_frame,
                    problems=[tuple(r) for r in z[p + 'problems'].tolist()],
                    empty=int(z[p + 'empty']))
        return index

    @staticmethod
    def _cache_arrays(key: str, index: dict) -> dict:
        """The index as plain arrays: per sequence the frames, the persons per frame and
        the frames' GT concatenated, the problems as an (n, 3) string array."""
        out = dict(version=np.int64(_CACHE_VERSION), key=np.array(key),
                   sequences=np.array(list(index), dtype=str))
        for k, idx in enumerate(index.values()):
            p = f'seq{k}_'
            out[p + 'frames'] = np.asarray(idx['frames'], np.int64)
            out[p + 'counts'] = np.array([len(i) for i in idx['ids']], np.int64)
            out[p + 'keypoints_3d'] = np.concatenate(
                [np.zeros((0, NUM_JOINTS, 3), np.float32)] + list(idx['keypoints_3d']))
            out[p + 'visible'] = np.concatenate(
                [np.zeros((0, NUM_JOINTS), bool)] + list(idx['visible']))
            out[p + 'ids'] = np.concatenate([np.zeros((0, ), np.int64)] + list(idx['ids']))
            out[p + 'problems'] = np.array(
                [list(map(str, r)) for r in idx['problems']], dtype=str).reshape(-1, 3)
            out[p + 'empty'] = np.int64(idx['empty'])
        return out

    def _load_index(self) -> dict:
        """The per-sequence index, from the cache when it is fresh."""
        files = self._index_files()
        key, path = self._cache_key(files), self.cache_path()
        if osp.isfile(path):
            try:
                cached = self._read_cache(path, key)
                if cached is not None:
                    return cached
            except Exception as e:  # a corrupt cache is rebuilt, not fatal
                print_log(f'PanopticMultiViewDataset: rebuilding the unreadable index '
                          f'cache {path} ({e})', logger='current', level=logging.WARNING)
        index = {s: _build_sequence_index(s, osp.join(self.data_root, s, BODY_DIR), n)
                 for s, n in files.items()}
        try:
            with atomic_open(path, 'wb') as f:
                np.savez(f, **self._cache_arrays(key, index))
        except OSError as e:
            print_log(f'PanopticMultiViewDataset: cannot write the index cache under '
                      f'{self.cache_dir} ({e}); the index is rebuilt at every start',
                      logger='current', level=logging.WARNING)
        return index

    def _missing_images(self, seq: str, frames: np.ndarray) -> List[np.ndarray]:
        """Per camera, (F,) bool: the frame's image is missing (one listing per folder)."""
        out = []
        for cam in self.camera_names:
            d = osp.join(self.data_root, seq, 'hdImgs', cam)
            have = set(os.listdir(d)) if osp.isdir(d) else set()
            out.append(np.array([f'{cam}_{f:08d}.jpg' not in have for f in frames], bool))
        return out

    def load_data_list(self) -> List[dict]:
        index = self._load_index()
        self.skipped = Counter()
        data_list = []
        for seq in self.sequences:
            idx = index[seq]
            for _, reason, detail in idx['problems']:
                if not self.skip_missing:
                    raise ValueError(f'PanopticMultiViewDataset: {detail}')
                self.skipped[reason] += 1
            frames, keep = idx['frames'], np.ones(len(idx['frames']), bool)
            keys = [f'{seq}/{f:08d}' for f in frames]
            if self.with_images:
                for cam, miss in zip(self.camera_names, self._missing_images(seq, frames)):
                    if miss.any() and not self.skip_missing:
                        raise FileNotFoundError(
                            'PanopticMultiViewDataset: image not found: '
                            f'{self.image_path(seq, cam, int(frames[miss][0]))} '
                            f'({int(miss.sum())} of {len(frames)} frames; '
                            'skip_missing=True skips them)')
                    self.skipped['image missing'] += int((miss & keep).sum())
                    keep &= ~miss
            if self.pseudo_labels is not None:
                miss = np.array([k not in self.pseudo_labels for k in keys], bool)
                if miss.any() and not self.skip_missing:
                    raise PseudoLabelError(
                        f'{self.pseudo_labels.path}: frames: no entry for frame '
                        f'{keys[int(np.flatnonzero(miss)[0])]!r} ({int(miss.sum())} of '
                        f'{len(keys)} frames of {seq}; skip_missing=True skips them)')
                self.skipped['no pseudo labels'] += int((miss & keep).sum())
                keep &= ~miss
            for i in np.flatnonzero(keep):
                data_list.append(dict(
                    sequence=seq, frame_idx=int(frames[i]), frame_id=keys[i],
                    gt_keypoints_3d=idx['keypoints_3d'][i],
                    gt_keypoints_3d_visible=idx['visible'][i], gt_ids=idx['ids'][i]))
        self.skipped = Counter({k: v for k, v in self.skipped.items() if v})
        if self.skipped:
            reasons = ', '.join(f'{k} ({v})' for k, v in self.skipped.items())
            print_log(f'PanopticMultiViewDataset: skipped {sum(self.skipped.values())} '
                      f'frames: {reasons}', logger='current', level=logging.WARNING)
        if not data_list:
            raise FileNotFoundError(f'PanopticMultiViewDataset: no frame left in '
                                    f'{self.sequences} under {self.data_root}')
        return data_list

    # ------------------------------------------------------------------ items
    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        seq, frame = info['sequence'], info['frame_idx']
        cams = self.cameras[seq]
        C = cams.num_views
        if self.pseudo_labels is not None:
            kps, scores, boxes = frame_pseudo_poses(self.pseudo_labels, info['frame_id'])
        else:
            kps, scores, boxes = empty_pseudo_poses(C, NUM_JOINTS)
        info.update(
            self._common_info(),
            cameras=cams,
            image_sizes=cams.image_size.numpy().astype(np.float32),
            pseudo_keypoints=kps, pseudo_keypoint_scores=scores, pseudo_bbox_scores=boxes,
            pseudo_key=info['frame_id'])  # where tools/pseudo_label.py stores this frame
        if self.with_images:
            info['img_paths'] = [self.image_path(seq, c, frame) for c in self.camera_names]
        return info
