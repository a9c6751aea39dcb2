"""CMU Panoptic 3D bodies: one ``hdPose3d_stage1_coco19/body3DScene_<frame>.json`` → the
GT people of the frame (VoxelPose's protocol: the first 15 coco19 joints, i.e.
Panoptic-15, a joint visible iff its confidence is > 0.1, bodies whose root is invisible
dropped; cm, y down → mm, z up)."""
from __future__ import annotations

import json

import numpy as np

from selfpose3d_mm.skeleton import PANOPTIC15_NAMES, PANOPTIC15_ROOT_INDEX
from .calibration.panoptic import panoptic_points_to_world

__all__ = ['PANOPTIC_VISIBLE_THR', 'load_panoptic_bodies']

PANOPTIC_VISIBLE_THR = 0.1  # a joint is visible iff its confidence is above it


def load_panoptic_bodies(path: str, num_joints: int = len(PANOPTIC15_NAMES)) -> dict:
    """One ``body3DScene_*.json`` → the GT people of the frame.

    Returns:
        dict with ``keypoints_3d`` (G, J, 3) float32 world mm (z up), ``visible``
        (G, J) bool (confidence > 0.1), ``ids`` (G,) int64 body ids, ``num_bodies`` (the
        file's body count before bodies with an invisible root are dropped).
    """
    with open(path) as f:
        data = json.load(f)
    bodies = data.get('bodies') if isinstance(data, dict) else None
    if not isinstance(bodies, list):
        raise ValueError(f'{path}: no field `bodies` (a list)')
    rows = []
    for i, b in enumerate(bodies):
        j = b.get('joints19') if isinstance(b, dict) else None
        if not isinstance(j, list) or len(j) % 4 or len(j) < 4 * num_joints:
            n = len(j) if isinstance(j, list) else j
            raise ValueError(f'{path}: bodies[{i}].joints19 has {n} values, expected '
                             f'4 (x, y, z, confidence) per joint, at least {num_joints} '
                             'joints')
        rows.append(j[:4 * num_joints])
    arr = np.asarray(rows, np.float64).reshape(len(rows), num_joints, 4)
    visible = arr[..., 3] > PANOPTIC_VISIBLE_THR
    keep = visible[:, PANOPTIC15_ROOT_INDEX]
    ids = np.asarray([b.get('id', i) for i, b in enumerate(bodies)], np.int64)
    return dict(keypoints_3d=panoptic_points_to_world(arr[keep, :, :3]).astype(np.float32),
                visible=visible[keep], ids=ids[keep], num_bodies=len(bodies))
