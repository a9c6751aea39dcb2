"""VoxelPose's Shelf / Campus settings per dataset (file names, image size, frames,
capture space) and path resolution under ``data_root``."""
from __future__ import annotations

import os.path as osp

__all__ = ['SHELF_CAMPUS_DEFAULTS', 'dataset_defaults', 'resolve']

# VoxelPose's settings per dataset (docs/method.md#shelf-and-campus). Frame ranges are
# inclusive; the image pattern is formatted with ``cam`` (int) and ``frame`` (int).
SHELF_CAMPUS_DEFAULTS = dict(
    shelf=dict(
        data_root='data/Shelf',
        calibration='calibration_shelf.json',
        actors_gt='actorsGT.mat',
        detections='pred_shelf_maskrcnn_hrnet_coco.pkl',
        image_size=(1032, 776),
        frame_ranges=((300, 600), ),
        image_pattern='Camera{cam}/img_{frame:06d}.png',
        space_center=(450.0, -320.0, 800.0),
        space_size=(8000.0, 8000.0, 2000.0),
    ),
    campus=dict(
        data_root='data/CampusSeq1',
        calibration='calibration_campus.json',
        actors_gt='actorsGT.mat',
        detections='pred_campus_maskrcnn_hrnet_coco.pkl',
        image_size=(360, 288),
        frame_ranges=((350, 470), (650, 750)),
        image_pattern='Camera{cam}/campus4-c{cam}-{frame:05d}.png',
        space_center=(3000.0, 4500.0, 1000.0),
        space_size=(12000.0, 12000.0, 2000.0),
    ),
)


def dataset_defaults(dataset: str) -> dict:
    if dataset not in SHELF_CAMPUS_DEFAULTS:
        raise ValueError(f"dataset must be one of {sorted(SHELF_CAMPUS_DEFAULTS)}, got "
                         f'{dataset!r}')
    return dict(SHELF_CAMPUS_DEFAULTS[dataset])


def resolve(root: str, path: str) -> str:
    """``path`` under ``root`` unless absolute."""
    return path if osp.isabs(path) or not root else osp.join(root, path)
