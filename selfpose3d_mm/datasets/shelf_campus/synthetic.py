"""VoxelPose's synthetic training for Shelf / Campus, in the real rig: 3D people placed at
random in the capture space, projected with the real cameras, their 2D evidence
perturbed like VoxelPose's input heatmaps. Same sample structure as the real frames."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from mmpose.registry import DATASETS

from selfpose3d_mm.io import load_shelf_campus_calibration
from selfpose3d_mm.utils import merge_knobs
from ..base_multiview import BaseMultiViewDataset
from .defaults import dataset_defaults, resolve
from .placement import AMPLITUDE_DEFAULTS, PLACEMENT_DEFAULTS, joint_amplitudes, place_people
from .poses import build_pose_source

__all__ = ['ShelfCampusSyntheticDataset']


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


@DATASETS.register_module()
class ShelfCampusSyntheticDataset(BaseMultiViewDataset):
    """Synthetic training frames in the Shelf / Campus rig (heatmap-input mode).

    Per sample (a pure function of ``(seed, index)``): U{``num_people``} people from the
    pose source placed by :func:`~.placement.place_people`; projected with the real
    cameras (distortion included); a joint's 2D evidence is visible when it is in front
    of the camera and inside the original image; its score is the VoxelPose amplitude
    (:func:`~.placement.joint_amplitudes`), 0 when not visible; a person is dropped from
    a view's evidence with ``person_drop_prob`` (Shelf) and from every view it has no
    visible joint in. The box score is the mean visible amplitude.

    Sample: ``pseudo_keypoints`` C × (P_c, 15, 2) px, ``pseudo_keypoint_scores``
    C × (P_c, 15), ``pseudo_bbox_scores`` C × (P_c,), ``gt_keypoints_3d`` (G, 15, 3)
    Panoptic-15 world mm (all placed people: the supervised root/pose targets),
    ``gt_keypoints_3d_visible`` (G, 15), ``cameras``, ``image_sizes``.

    Args:
        data_root: folder of the calibration file (``data/Shelf``, ``data/CampusSeq1``).
        dataset: ``'shelf'`` or ``'campus'``: defaults of the rig, the space and the draws.
        calibration: calibration file under ``data_root`` (or absolute).
        poses: the pose source (``poses.py``): ``dict(type='bank', path=...)``,
            ``dict(type='generator', ...)`` or ``dict(type='predictions', path=...,
            score_threshold=...)``; paths are used as given (not under ``data_root``).
        num_samples: samples per epoch (VoxelPose: 3000).
        seed: base seed of the draws and of the generator source.
        placement: overrides of ``PLACEMENT_DEFAULTS[dataset]`` (``num_people``, ranges,
            IoU threshold, view check, ``person_drop_prob``).
        amplitude: overrides of ``AMPLITUDE_DEFAULTS[dataset]``.
        image_size, views, space_center, space_size: as :class:`ShelfCampusDataset`.
    """

    def __init__(self, data_root: Optional[str] = None, dataset: str = 'shelf',
                 calibration: Optional[str] = None, poses: Optional[dict] = None,
                 num_samples: int = 3000, seed: int = 0, placement: Optional[dict] = None,
                 amplitude: Optional[dict] = None, image_size: Optional[Sequence[int]] = None,
                 views: Optional[Sequence[int]] = None,
                 space_center: Optional[Sequence[float]] = None,
                 space_size: Optional[Sequence[float]] = None, **kwargs):
        d = dataset_defaults(dataset)
        self.dataset = dataset
        self.root = d['data_root'] if data_root is None else data_root
        self.seed, self.num_samples = int(seed), int(num_samples)
        self.placement = merge_knobs(PLACEMENT_DEFAULTS[dataset], placement or {},
                                     'ShelfCampusSyntheticDataset.placement')
        lo, hi = self.placement['num_people']
        if not 1 <= int(lo) <= int(hi):
            raise ValueError(f'placement.num_people must be (min, max) with 1 <= min <= '
                             f'max, got {self.placement["num_people"]}')
        self.amplitude = merge_knobs(AMPLITUDE_DEFAULTS[dataset], amplitude or {},
                                     'ShelfCampusSyntheticDataset.amplitude')
        self.calibration_file = resolve(self.root, calibration or d['calibration'])
        cams = load_shelf_campus_calibration(self.calibration_file,
                                             d['image_size'] if image_size is None
                                             else image_size)
        self.cameras = cams.select_views(list(views)) if views is not None else cams
        self.poses_cfg = dict(poses or dict(type='generator'))
        self.source_poses, self.source_valid = build_pose_source(
            self.poses_cfg, _rng(self.seed, 104729))
        super().__init__(space_center=d['space_center'] if space_center is None
                         else space_center,
                         space_size=d['space_size'] if space_size is None else space_size,
                         **kwargs)

    def load_data_list(self) -> list:
        return [dict(sample_idx=i) for i in range(self.num_samples)]

    def draw(self, idx: int) -> Tuple[np.ndarray, np.ndarray]:
        """The placed people of sample ``idx``: (G, 15, 3) mm and validity (G, 15)."""
        rng = _rng(self.seed, int(idx))
        lo, hi = self.placement['num_people']
        n = int(rng.integers(int(lo), int(hi) + 1))
        return place_people(rng, self.source_poses, self.source_valid, n, self.placement,
                            self.space_center, self.space_size, self.cameras)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        poses, valid = self.draw(idx)
        rng = _rng(self.seed, int(idx), 1)
        cams = self.cameras
        C, (G, J) = cams.num_views, valid.shape
        uv, front = cams.project(torch.from_numpy(poses.reshape(-1, 3)), return_valid=True)
        vis = (front & cams.in_image(uv)).numpy().reshape(C, G, J) & valid[None]
        uv = uv.numpy().reshape(C, G, J, 2).astype(np.float32)
        scores = joint_amplitudes(rng, (C, G), self.amplitude, J) * vis
        keep = vis.any(-1) & (rng.random((C, G)) >= self.placement['person_drop_prob'])
        box = scores.sum(-1) / np.maximum(vis.sum(-1), 1)
        info.update(
            self._common_info(),
            dataset_name=f'{self.dataset}_synthetic',
            frame_id=f'{self.dataset}_synthetic_{self.seed}_{idx:06d}',
            sequence=f'{self.dataset}_synthetic',
            cameras=cams,
            image_sizes=cams.image_size.numpy().astype(np.float32),
            pseudo_keypoints=[uv[c, keep[c]] for c in range(C)],
            pseudo_keypoint_scores=[scores[c, keep[c]].astype(np.float32) for c in range(C)],
            pseudo_bbox_scores=[box[c, keep[c]].astype(np.float32) for c in range(C)],
            gt_keypoints_3d=poses.astype(np.float32),
            gt_keypoints_3d_visible=valid.copy(),
        )
        return info
