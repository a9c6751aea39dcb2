"""Shelf / Campus real frames (VoxelPose's test protocol): the rig from the calibration
file, the Mask R-CNN + HRNet detections as 2D pseudo poses (COCO-17 → Panoptic-15), and
the ``actorsGT.mat`` ground truth (Shelf-14, mm) for the PCP metric."""
from __future__ import annotations

import os.path as osp
from typing import Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log
from mmpose.registry import DATASETS

from selfpose3d_mm.io import (detections_to_panoptic15, load_actors_gt, load_detections,
                              load_shelf_campus_calibration)
from ..base_multiview import BaseMultiViewDataset
from .defaults import dataset_defaults, resolve

__all__ = ['ShelfCampusDataset']


def _frames(frame_ranges) -> np.ndarray:
    """Inclusive ``[(start, end), ...]`` → sorted unique frame numbers."""
    out = []
    for r in frame_ranges:
        if len(r) != 2 or int(r[0]) > int(r[1]):
            raise ValueError(f'frame_ranges: each range must be (start, end) with start <= '
                             f'end (inclusive), got {r}')
        out.append(np.arange(int(r[0]), int(r[1]) + 1))
    return np.unique(np.concatenate(out)) if out else np.zeros(0, int)


@DATASETS.register_module()
class ShelfCampusDataset(BaseMultiViewDataset):
    """Real multi-view frames of Shelf or Campus.

    Sample (see :mod:`..base_multiview`): ``cameras`` (C views), ``image_sizes`` (C, 2),
    ``pseudo_keypoints`` C × (P_c, 15, 2) original px, ``pseudo_keypoint_scores``
    C × (P_c, 15) (0 = invalid), ``pseudo_bbox_scores`` C × (P_c,),
    ``gt_keypoints_3d`` (G, 14, 3) Shelf-14 world mm of the actors present,
    ``gt_keypoints_3d_visible`` (G, 14), ``gt_instance_ids`` (G,) actor indices,
    ``img_paths`` (C,) with ``with_images``; ``frame_index`` = the frame number.

    Args:
        data_root: the dataset folder (``data/Shelf``, ``data/CampusSeq1``).
        dataset: ``'shelf'`` or ``'campus'``: picks the defaults of every argument below
            left at None (``SHELF_CAMPUS_DEFAULTS`` in ``io.py``).
        calibration, actors_gt, detections: file names under ``data_root`` (or absolute).
        frame_ranges: inclusive ``[(start, end), ...]``; Shelf 300–600, Campus 350–470
            and 650–750 (VoxelPose's test frames).
        image_size: original (W, H): Shelf (1032, 776), Campus (360, 288).
        image_pattern: image path under ``data_root`` formatted with ``cam``, ``frame``.
        views: camera indices to keep (all when None).
        with_images: add ``img_paths`` (for ``LoadMultiViewImages``).
        with_gt: read ``actorsGT.mat`` (False for unlabelled frames).
        skip_missing: a frame whose detections lack a view's key is skipped (counted and
            logged) instead of raising ``KeyError`` naming the file and the key.
        space_center, space_size: capture space (mm); VoxelPose's per dataset.
        kwargs: :class:`BaseMultiViewDataset` arguments (``pipeline``, ``test_mode``...).
    """

    def __init__(self, data_root: Optional[str] = None, dataset: str = 'shelf',
                 calibration: Optional[str] = None, actors_gt: Optional[str] = None,
                 detections: Optional[str] = None,
                 frame_ranges: Optional[Sequence[Tuple[int, int]]] = None,
                 image_size: Optional[Sequence[int]] = None,
                 image_pattern: Optional[str] = None, views: Optional[Sequence[int]] = None,
                 with_images: bool = False, with_gt: bool = True, skip_missing: bool = False,
                 space_center: Optional[Sequence[float]] = None,
                 space_size: Optional[Sequence[float]] = None, **kwargs):
        d = dataset_defaults(dataset)
        self.dataset = dataset
        self.root = d['data_root'] if data_root is None else data_root
        pick = lambda v, k: d[k] if v is None else v  # noqa: E731
        self.calibration_file = resolve(self.root, pick(calibration, 'calibration'))
        self.actors_gt_file = resolve(self.root, pick(actors_gt, 'actors_gt'))
        self.detections_file = resolve(self.root, pick(detections, 'detections'))
        self.frame_numbers = _frames(pick(frame_ranges, 'frame_ranges'))
        self.image_pattern = pick(image_pattern, 'image_pattern')
        self.with_images, self.with_gt = bool(with_images), bool(with_gt)
        self.skip_missing = bool(skip_missing)
        self.num_skipped, self.skipped_keys = 0, []
        if not osp.isdir(self.root):
            raise FileNotFoundError(
                f'ShelfCampusDataset: dataset not found at {osp.abspath(self.root)!r} '
                f'(data_root): lay out {dataset} there as in VoxelPose '
                f'({osp.basename(self.calibration_file)}, '
                f'{osp.basename(self.actors_gt_file)}, '
                f'{osp.basename(self.detections_file)}, Camera0..), or set data_root')
        if not osp.isfile(self.calibration_file):
            raise FileNotFoundError(f'ShelfCampusDataset: calibration not found at '
                                    f'{self.calibration_file} (calibration)')
        cams = load_shelf_campus_calibration(self.calibration_file,
                                             pick(image_size, 'image_size'))
        self.cameras = cams.select_views(list(views)) if views is not None else cams
        self.view_ids = [int(n) for n in self.cameras.names]
        super().__init__(space_center=pick(space_center, 'space_center'),
                         space_size=pick(space_size, 'space_size'), **kwargs)

    def load_data_list(self) -> list:
        det = load_detections(self.detections_file)
        if self.with_gt:
            gt, present = load_actors_gt(self.actors_gt_file)
            if len(self.frame_numbers) and self.frame_numbers[-1] >= gt.shape[1]:
                raise ValueError(f'{self.actors_gt_file}: field `actor3D` has '
                                 f'{gt.shape[1]} frames, frame {self.frame_numbers[-1]} '
                                 '(frame_ranges) is beyond them')
        data_list, skipped = [], []
        for frame in self.frame_numbers:  # one entry per frame (hundreds)
            keys = [f'{v}_{frame}' for v in self.view_ids]
            missing = [k for k in keys if k not in det]
            if missing:
                if not self.skip_missing:
                    raise KeyError(f'{self.detections_file}: no detections for key '
                                   f'{missing[0]!r} (view {missing[0].split("_")[0]}, frame '
                                   f'{frame}); pass skip_missing=True to skip such frames')
                skipped += missing
                self.num_skipped += 1
                continue
            views = [detections_to_panoptic15(det[k], self.detections_file, k) for k in keys]
            info = dict(sample_idx=len(data_list), frame_index=int(frame),
                        frame_id=f'{self.dataset}_{frame:06d}',
                        pseudo_keypoints=[v[0] for v in views],
                        pseudo_keypoint_scores=[v[1] for v in views],
                        pseudo_bbox_scores=[v[2] for v in views])
            if self.with_gt:
                ids = np.flatnonzero(present[:, frame])
                info.update(gt_keypoints_3d=gt[ids, frame],
                            gt_keypoints_3d_visible=np.ones((len(ids), 14), bool),
                            gt_instance_ids=ids.astype(np.int64))
            if self.with_images:
                info['img_paths'] = [osp.join(self.root, self.image_pattern.format(
                    cam=v, frame=int(frame))) for v in self.view_ids]
            data_list.append(info)
        self.skipped_keys = skipped
        if skipped:
            print_log(f'ShelfCampusDataset: skipped {self.num_skipped} of '
                      f'{len(self.frame_numbers)} frames missing from '
                      f'{self.detections_file} (first keys: {skipped[:5]})',
                      logger='current', level=30)
        return data_list

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info.update(self._common_info(), dataset_name=self.dataset, sequence=self.dataset,
                    cameras=self.cameras,
                    image_sizes=self.cameras.image_size.numpy().astype(np.float32))
        return info
