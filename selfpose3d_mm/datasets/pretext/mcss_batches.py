"""Anchor/positive crop pairs for MCSS (Mitra et al.) and the batch sampler that draws
its mini-batches from one sequence (docs/mcss.md).

People and identities come from the frame's *pseudo-3D* poses, the project's own output:

* ``poses=dict(type='triangulation', **knobs)`` (default): the triangulation baseline
  (:func:`selfpose3d_mm.geometry.triangulate_people`) run on the frame's pseudo 2D
  poses, once per frame when the dataset is built (a few ms a frame; images are not
  read for it); the views that supported a person are the views it was detected in;
* ``poses=dict(type='predictions', path=..., min_score=0.3)``: a ``poses3d.json`` /
  ``.npz`` of ``tools/test.py --out`` / ``tools/demo.py`` (:mod:`selfpose3d_mm.io.
  predictions`), matched to the dataset's frames by ``frame_id`` (else by frame number).

Each person is projected into every view; a view *sees* it when at least ``min_joints``
projected joints fall inside the image (in front of the camera), the box of those joints
is at least ``min_box_px`` (loaded px) tall or wide, and — for triangulated people — the
view supported it. The crop is the square of :mod:`.people` around that box
(``MultiViewClips.crop``). ``canonical_pose`` (J, 3), metres
(:func:`~selfpose3d_mm.geometry.canonical_pose.canonicalize_poses` of the pseudo-3D
pose), rides along: the canonical head's target and the pose distance of the β rule.

Modes: ``'pairs'`` (training): one item per person-instant seen by ≥ 2 views; two of its
views drawn per access (random order), ``inputs`` (2, 3, S, S); ``'views'`` (evaluation
of cross-view retrieval): one item per (person-instant, view), ``inputs`` (1, 3, S, S).
Metainfo: ``sequence``, ``time``, ``frame`` (source index), ``person``, ``views``,
``frame_id``; fields ``canonical_pose`` and ``keypoints_3d`` (world mm), and in
``test_mode`` ``gt_keypoints_3d`` (the source's GT person nearest to the pseudo-3D one,
within ``gt_match_mm`` MPJPE; NaN otherwise) for evaluation only.

:class:`MCSSBatchSampler` (``batch_sampler`` of the dataloader): every mini-batch is
drawn from one sequence (chosen in proportion to its items) and holds no two items of
different instants less than ``min_frame_gap`` source frames apart.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, List, Optional, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.dist import get_dist_info
from mmengine.structures import BaseDataElement
from mmpose.registry import DATA_SAMPLERS, DATASETS

from selfpose3d_mm.geometry import triangulate_people
from selfpose3d_mm.geometry.canonical_pose import canonicalize_poses
from selfpose3d_mm.io.predictions import load_prediction_file
from ..samplers import sample_seed
from ..transforms.affine import pad_views
from .clips import MultiViewClips
from .people import boxes_from_keypoints

__all__ = ['MCSSPairDataset', 'MCSSBatchSampler', 'pad_pseudo_poses']

POSE_SOURCES = ('triangulation', 'predictions')


def pad_pseudo_poses(info: dict, num_joints: int):
    """A sample's per-view pseudo poses → (C, Q, J, 2), (C, Q, J), (C, Q) padded tensors."""
    kps = info['pseudo_keypoints']
    kp = pad_views(kps, (num_joints, 2), np.float32)
    sc = pad_views(info['pseudo_keypoint_scores'], (num_joints, ), np.float32)
    mask = pad_views([np.ones(len(k), bool) for k in kps], (), bool)
    return torch.from_numpy(kp), torch.from_numpy(sc), torch.from_numpy(mask)


@contextmanager
def _no_images(dataset):
    """Frames without reading or rendering images (datasets with ``with_images``)."""
    had = getattr(dataset, 'with_images', None)
    if had:
        dataset.with_images = False
    try:
        yield
    finally:
        if had:
            dataset.with_images = had


@DATASETS.register_module()
class MCSSPairDataset(BaseDataset):
    """Anchor/positive person crops of a multi-view dataset (module docstring).

    Args:
        dataset: config (or instance) of a multi-view dataset with images.
        poses: pseudo-3D source, ``dict(type='triangulation', **TRIANGULATION knobs)`` or
            ``dict(type='predictions', path=..., min_score=0.3)``.
        mode: ``'pairs'`` or ``'views'``.
        crop_size: side of the square crops (px).
        min_joints: projected joints inside the image for a view to see a person.
        min_box_px: smallest box side (loaded px) of a seen person.
        gt_match_mm: MPJPE under which a GT person is the pseudo-3D person (test_mode).
        max_frames: use at most this many frames, evenly spread (None: all).
        seed: seed of the view draw of a plain index.
        clips: arguments of :class:`~.clips.MultiViewClips` (``frame_scale``,
            ``box_padding``, ...).
        kwargs: mmengine ``BaseDataset`` arguments.
    """

    def __init__(self, dataset: Union[dict, BaseDataset], poses: Optional[dict] = None,
                 mode: str = 'pairs', crop_size: int = 128, min_joints: int = 8,
                 min_box_px: float = 16.0, gt_match_mm: float = 300.0,
                 max_frames: Optional[int] = None, seed: int = 0,
                 clips: Optional[dict] = None, **kwargs):
        if mode not in ('pairs', 'views'):
            raise ValueError(f"MCSSPairDataset: mode must be 'pairs' or 'views', got "
                             f'{mode!r}')
        self.poses_cfg = dict(poses or dict(type='triangulation'))
        if self.poses_cfg.get('type') not in POSE_SOURCES:
            raise ValueError(f'MCSSPairDataset: poses.type must be one of {POSE_SOURCES}, '
                             f'got {self.poses_cfg.get("type")!r}')
        self.mode, self.crop_size = mode, int(crop_size)
        self.min_joints, self.min_box_px = int(min_joints), float(min_box_px)
        self.gt_match_mm, self.seed = float(gt_match_mm), int(seed)
        self.max_frames = None if max_frames is None else int(max_frames)
        self.clips = MultiViewClips(dataset, **(clips or {}))
        kwargs.setdefault('serialize_data', False)
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ index
    def _frames(self) -> np.ndarray:
        n = len(self.clips)
        if self.max_frames is None or self.max_frames >= n:
            return np.arange(n)
        return np.unique(np.round(np.linspace(0, n - 1, self.max_frames)).astype(np.int64))

    def _predictions(self) -> dict:
        data = load_prediction_file(self.poses_cfg['path'])
        by_id = {str(r['frame_id']): r for r in data['frames']}
        by_num = {int(r['frame']): r for r in data['frames'] if r.get('frame') is not None}
        return dict(by_id=by_id, by_num=by_num)

    def _people(self, info: dict, time: int, preds: Optional[dict]):
        """Pseudo-3D people of a frame: (P, J, 3) mm, (P, C) supporting views (None:
        unknown) and (P,) person ids (the index in the predictions file's frame, or in
        the triangulation's output)."""
        src = self.poses_cfg
        J = int(info.get('num_keypoints', 15))
        if src['type'] == 'predictions':
            r = preds['by_id'].get(str(info.get('frame_id')), preds['by_num'].get(time))
            if r is None:
                return np.zeros((0, J, 3), np.float32), None, np.zeros(0, np.int64)
            scores = np.asarray(r['scores'])
            keep = np.nonzero(scores >= float(src.get('min_score', 0.3)))[0]
            return np.asarray(r['keypoints_3d'], np.float32)[keep], None, keep
        knobs = {k: v for k, v in src.items() if k != 'type'}
        kp, sc, mask = pad_pseudo_poses(info, J)
        out = triangulate_people(kp, sc, mask, info['cameras'], info.get('space_center'),
                                 info.get('space_size'), **knobs)
        X = out['keypoints_3d'].numpy()
        return X, (out['person_index'] >= 0).numpy(), np.arange(len(X))

    def load_data_list(self) -> list:
        preds = self._predictions() if self.poses_cfg['type'] == 'predictions' else None
        ds, out = self.clips.dataset, []
        for f in self._frames().tolist():  # one triangulation per frame
            seq, time = self.clips.index.keys[f]
            with _no_images(ds):
                info = ds.get_data_info(f)
            X, support, ids = self._people(info, time, preds)
            if not len(X):
                continue
            cams = info['cameras']
            uv, valid = cams.project(torch.from_numpy(X).float(), return_valid=True)
            uv, valid = uv.numpy(), valid.numpy()  # (P, C, J, 2), (P, C, J)
            size = cams.image_size.cpu().numpy()  # (C, 2) calibration px
            inside = valid & (uv >= 0).all(-1) & (uv < size[None, :, None]).all(-1)
            canon = canonicalize_poses(torch.from_numpy(X).double(), scale=1e-3).float()
            gt = info.get('gt_keypoints_3d') if self.test_mode else None
            for p in range(len(X)):  # a few people
                seen = inside[p].sum(-1) >= self.min_joints
                if support is not None:
                    seen &= support[p]
                views = [v for v in np.nonzero(seen)[0].tolist()
                         if self._box_side(uv[p, v][inside[p, v]]) >= self.min_box_px]
                if len(views) < (2 if self.mode == 'pairs' else 1):
                    continue
                item = dict(frame=f, sequence=seq, time=time, person=int(ids[p]),
                            views=views, frame_id=str(info.get('frame_id', f)), uv=uv[p],
                            inside=inside[p],
                            keypoints_3d=X[p], canonical_pose=canon[p].numpy(),
                            gt_keypoints_3d=self._match_gt(X[p], gt))
                if self.mode == 'pairs':
                    out.append(item)
                else:
                    out += [dict(item, views=[v]) for v in views]
        if not out:
            raise ValueError('MCSSPairDataset: no person seen by enough views in any frame '
                             '(check the pseudo poses / predictions file and the cameras)')
        return out

    def _box_side(self, pts: np.ndarray) -> float:
        if len(pts) < 2:
            return 0.0
        return float((pts.max(0) - pts.min(0)).max() * self.clips.frame_scale)  # loaded px

    def _match_gt(self, pose: np.ndarray, gt) -> Optional[np.ndarray]:
        if gt is None:
            return None
        gt = np.asarray(gt, np.float32).reshape(-1, *pose.shape)
        nan = np.full(pose.shape, np.nan, np.float32)
        if not len(gt):
            return nan
        err = np.nanmean(np.linalg.norm(gt - pose[None], axis=-1), axis=-1)
        k = int(np.nanargmin(err)) if np.isfinite(err).any() else -1
        return gt[k] if k >= 0 and err[k] <= self.gt_match_mm else nan

    def item_keys(self) -> np.ndarray:
        """(N, 3) int64 per item: sequence number, time, person (for the batch sampler)."""
        if not self._fully_initialized:
            self.full_init()
        names = dict.fromkeys(d['sequence'] for d in self.data_list)
        seqs = {s: i for i, s in enumerate(names)}
        return np.array([(seqs[d['sequence']], d['time'], d['person'])
                         for d in self.data_list], np.int64).reshape(-1, 3)

    # ------------------------------------------------------------------ items
    def __getitem__(self, idx):
        """``dataset[i]`` or ``dataset[(i, seed)]`` (:class:`MCSSBatchSampler`,
        ``EpochSeededSampler``): the two views of a pair are drawn from that seed."""
        index, seed = idx if isinstance(idx, tuple) else (idx,
                                                          sample_seed(self.seed, 0, idx))
        if not self._fully_initialized:
            self.full_init()
        item = self.get_data_info(int(index))
        views = list(item['views'])
        if self.mode == 'pairs':
            rng = np.random.default_rng(int(seed))
            views = [views[i] for i in rng.choice(len(views), 2, replace=False)]
        frame = self.clips.frame(item['frame'])
        crops = []
        for v in views:
            pts = item['uv'][v][item['inside'][v]] * frame.scale[v]
            box = boxes_from_keypoints(pts[None], min_joints=2)[0][0]
            crops.append(self.clips.crop(frame, v, box, self.crop_size, with_mask=False)[0])
        inputs = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
        meta = {k: item[k] for k in ('sequence', 'time', 'frame', 'person', 'frame_id')}
        sample = BaseDataElement(metainfo=dict(meta, views=tuple(views)))
        sample.canonical_pose = torch.from_numpy(item['canonical_pose'])
        sample.keypoints_3d = torch.from_numpy(item['keypoints_3d'])
        if item.get('gt_keypoints_3d') is not None:
            sample.gt_keypoints_3d = torch.from_numpy(item['gt_keypoints_3d'])
        return dict(inputs=inputs, data_samples=sample)


@DATA_SAMPLERS.register_module()
class MCSSBatchSampler:
    """Mini-batches from one sequence, temporally close instants excluded (MCSS).

    Each batch: a sequence drawn in proportion to its items, then its items in random
    order, an item kept when its time differs by at least ``min_frame_gap`` source
    frames from every kept item of another instant (items of the same instant —
    other people — are kept when ``same_instant`` is True), until ``batch_size``
    items (fewer when the sequence runs out). ``len(dataset) // batch_size`` batches an
    epoch (at least one), split across ranks; yields ``(index, seed)`` pairs, the seeds
    a pure function of (seed, epoch, rank, position). Built by mmengine's Runner as the
    dataloader's ``batch_sampler`` from its ``sampler`` (whose ``seed``, ``epoch`` and
    dataset it uses) and ``batch_size``.
    """

    def __init__(self, sampler, batch_size: int, min_frame_gap: int = 30,
                 same_instant: bool = True, seed: Optional[int] = None):
        if int(batch_size) < 2:
            raise ValueError(f'MCSSBatchSampler: batch_size must be >= 2 (negatives come '
                             f'from the batch), got {batch_size}')
        self.sampler, self.batch_size = sampler, int(batch_size)
        self.min_frame_gap, self.same_instant = int(min_frame_gap), bool(same_instant)
        self.dataset = sampler.dataset
        self.seed = int(seed if seed is not None else getattr(sampler, 'seed', 0) or 0)
        self.keys = self.dataset.item_keys()
        self.rank, self.world_size = get_dist_info()
        seqs, counts = np.unique(self.keys[:, 0], return_counts=True)
        self.members = {int(s): np.nonzero(self.keys[:, 0] == s)[0] for s in seqs}
        self.seq_ids, self.seq_p = seqs, counts / counts.sum()

    def __len__(self) -> int:
        return max(1, len(self.keys) // self.batch_size // self.world_size)

    def batch(self, rng: np.random.Generator) -> List[int]:
        """Item indices of one mini-batch."""
        seq = int(rng.choice(self.seq_ids, p=self.seq_p))
        kept: List[int] = []
        times = self.keys[:, 1]
        for i in rng.permutation(self.members[seq]).tolist():
            dt = np.abs(times[kept] - times[i])
            close = (dt < self.min_frame_gap) & ~((dt == 0) & self.same_instant)
            if not close.any():
                kept.append(i)
                if len(kept) == self.batch_size:
                    break
        return kept

    def __iter__(self) -> Iterator[List[tuple]]:
        epoch = int(getattr(self.sampler, 'epoch', 0))
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, epoch, self.rank])
        for b in range(len(self)):
            yield [(i, sample_seed(self.seed, epoch, (b * self.world_size + self.rank)
                                   * self.batch_size + k))
                   for k, i in enumerate(self.batch(rng))]
