"""The 3D pose file (``selfpose3d_mm/poses3d``): 3D ground truth of a custom rig, for
evaluation (frames without an entry have no GT)::

    {"format": "selfpose3d_mm/poses3d", "version": 1,
     "units": "mm", "world_up": "+z",      # the world of the file, as in rig files
     "skeleton": "panoptic15",             # or "coco17" (converted to Panoptic-15)
     "frames": {"00000123": [[[x, y, z, visible], ... J], ... P]}}   # visible optional

Points are converted to the internal world (mm, z up) like the cameras of a rig file
(:func:`~selfpose3d_mm.io.calibration.to_internal_points`).
"""
from __future__ import annotations

import os.path as osp
from typing import Dict

import numpy as np

from selfpose3d_mm.skeleton import PANOPTIC15_NAMES, coco17_to_panoptic15
from selfpose3d_mm.utils import load_json_document
from .calibration.rig_file import RIG_UNITS, WORLD_UP_AXES, to_internal_points
from .pseudo_labels import SKELETON_JOINTS

__all__ = ['POSES3D_FORMAT', 'load_poses3d']

POSES3D_FORMAT = 'selfpose3d_mm/poses3d'


def load_poses3d(path: str, num_joints: int = len(PANOPTIC15_NAMES)) -> Dict[str, tuple]:
    """Read a 3D GT file (format in the module docstring) into the internal world.

    Returns:
        frame key → ((P, 15, 3) float32 world mm, (P, 15) bool visible).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'3D GT file not found: {path} (gt_3d)')
    data = load_json_document(path, POSES3D_FORMAT)
    for key, allowed in (('units', RIG_UNITS), ('world_up', WORLD_UP_AXES),
                         ('skeleton', ('panoptic15', 'coco17'))):
        if data.get(key) not in allowed:
            raise ValueError(f'{path}: field `{key}` must be one of {list(allowed)}, got '
                             f'{data.get(key)!r}')
    J = SKELETON_JOINTS[data['skeleton']]
    frames = data.get('frames')
    if not isinstance(frames, dict):
        raise ValueError(f'{path}: field `frames` must be an object keyed by frame')
    out = {}
    for key, people in frames.items():
        where = f'{path}: frames[{key}]'
        try:
            a = np.asarray(people, np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f'{where}: not a numeric (P, {J}, 3|4) array ({e})') from None
        if a.size == 0:
            a = a.reshape(0, J, 4)
        if a.ndim != 3 or a.shape[1] != J or a.shape[2] not in (3, 4):
            raise ValueError(f'{where}: expected shape (P, {J}, 3|4), got {a.shape}')
        if not np.isfinite(a).all():
            raise ValueError(f'{where}: non-finite values (NaN or inf)')
        vis = a[..., 3] > 0 if a.shape[2] == 4 else np.ones(a.shape[:2], bool)
        xyz = to_internal_points(a[..., :3], data['units'], data['world_up'])
        if data['skeleton'] == 'coco17':
            xyz, vis = coco17_to_panoptic15(xyz, vis)
        out[str(key)] = (xyz[:, :num_joints].astype(np.float32), vis[:, :num_joints])
    return out
