"""CMU Panoptic calibration (``calibration_<seq>.json``) and world axes.

Panoptic's world is in centimetres with y pointing down; ours is millimetres, z up.
"""
from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from .common import CalibrationError, read_field, validate_camera

__all__ = ['PANOPTIC_AXES', 'panoptic_points_to_world', 'load_panoptic_calibration']

# Panoptic's world is y-down, in cm. Row vectors X·M give (x, z, -y): z up.
PANOPTIC_AXES = np.array([[1., 0., 0.], [0., 0., -1.], [0., 1., 0.]])


def panoptic_points_to_world(points_cm: np.ndarray) -> np.ndarray:
    """Panoptic world points (..., 3) in cm, y down → our world, mm, z up."""
    return np.asarray(points_cm, dtype=np.float64) @ PANOPTIC_AXES * 10.0


def load_panoptic_calibration(path: str,
                              camera_names: Sequence[str] = ('00_03', '00_06', '00_12',
                                                             '00_13', '00_23')
                              ) -> MultiViewCameras:
    """CMU Panoptic ``calibration_<seq>.json`` → rig of the named (HD) cameras.

    The file's ``R, t`` map Panoptic world (cm) to camera; with ``X_pan = M X / 10`` the
    camera sees ``x_cam[mm] = (R M) X + 10 t``.
    """
    with open(path) as f:
        data = json.load(f)
    if 'cameras' not in data:
        raise CalibrationError(f'{path}: no field `cameras`')
    by_name = {c.get('name'): c for c in data['cameras']}
    missing = [n for n in camera_names if n not in by_name]
    if missing:
        raise CalibrationError(f'{path}: cameras {missing} not found (the file has '
                               f'{len(by_name)} cameras)')
    K, R, t, dist, size = [], [], [], [], []
    for n in camera_names:
        c, where = by_name[n], f'camera `{n}`'
        Kc, Rc, tc = (read_field(c, n, path, where, s) for n, s in
                      (('K', (3, 3)), ('R', (3, 3)), ('t', (3, ))))
        dc = read_field(c, 'distCoef', path, where, (5, ))
        sc = read_field(c, 'resolution', path, where, (2, ))
        validate_camera(path, where, Kc, Rc, tc, dc, sc,
                        dict(dist='distCoef', image_size='resolution'))
        K.append(Kc)
        R.append(Rc @ PANOPTIC_AXES)
        t.append(tc * 10.0)
        dist.append(dc)
        size.append(sc)
    return MultiViewCameras(np.stack(K), np.stack(R), np.stack(t), np.stack(dist),
                            np.stack(size), names=list(camera_names))
