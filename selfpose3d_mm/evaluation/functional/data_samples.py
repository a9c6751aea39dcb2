"""Reading the fields the metrics need from data samples (``MultiViewPoseDataSample``
objects or their ``to_dict()`` form) as numpy."""
from typing import Any, Optional

import numpy as np
from mmengine.structures import BaseDataElement

from selfpose3d_mm.utils import to_numpy

__all__ = ['get_field', 'as_poses']


def as_poses(x) -> np.ndarray:
    """(K, J, 3+) poses → (K, J, 3) float64; empty inputs become (0, J or 0, 3)."""
    arr = to_numpy(x).astype(np.float64)
    if arr.size == 0:
        return np.zeros((0, arr.shape[1] if arr.ndim == 3 else 0, 3))
    if arr.ndim != 3 or arr.shape[-1] < 3:
        raise ValueError(f'keypoints_3d must be (K, J, 3), got shape {arr.shape}')
    return arr[..., :3]     # extra columns (e.g. packed scores) are not coordinates


def get_field(container, name: str) -> Optional[Any]:
    """``container.name`` for data elements, ``container[name]`` for dicts; None if absent."""
    if container is None:
        return None
    if isinstance(container, BaseDataElement):
        return container.get(name)
    return container.get(name) if isinstance(container, dict) else None
