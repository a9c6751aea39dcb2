"""CMU Panoptic calibration (``calibration_<seq>.json``) and world axes.

Panoptic's world is in centimetres with y pointing down; ours is millimetres, z up.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from ..json_yaml import load_json
from .common import (DIST_COUNTS, CalibrationError, check_duplicates, check_internal,
                     compact_distortion, read_distortion, read_field, validate_camera)

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
    camera sees ``x_cam[mm] = (R M) X + 10 t``. ``distCoef``: OpenCV's 5 coefficients
    (4, 8, 12 or 14 are read too).
    """
    data = load_json(path, CalibrationError)
    if not isinstance(data, dict) or 'cameras' not in data:
        raise CalibrationError(f'{path}: no field `cameras` (a Panoptic calibration is an '
                               'object with a `cameras` list)')
    if not isinstance(data['cameras'], list):
        raise CalibrationError(f'{path}: field `cameras` must be a list of camera objects, '
                               f'got {type(data["cameras"]).__name__}')
    by_name = {}
    for i, c in enumerate(data['cameras']):
        if not isinstance(c, dict) or not isinstance(c.get('name'), str):
            raise CalibrationError(f'{path}: camera #{i} of field `cameras` is not an object '
                                   'with a string `name`')
        if c['name'] in by_name:
            raise CalibrationError(f'{path}: camera `{c["name"]}` field `name` is '
                                   'duplicated')
        by_name[c['name']] = c
    missing = [n for n in camera_names if n not in by_name]
    if missing:
        raise CalibrationError(f'{path}: cameras {missing} not found (the file has '
                               f'{len(by_name)} cameras)')
    K, R, t, dist, size = [], [], [], [], []
    for n in camera_names:
        c, where = by_name[n], f'camera `{n}`'
        check_duplicates(c, path, where)
        Kc, Rc, tc = (read_field(c, n, path, where, s) for n, s in
                      (('K', (3, 3)), ('R', (3, 3)), ('t', (3, ))))
        dc = read_distortion(c, 'distCoef', path, where, DIST_COUNTS)
        sc = read_field(c, 'resolution', path, where, (2, ))
        validate_camera(path, where, Kc, Rc, tc, dc, sc,
                        dict(dist='distCoef', image_size='resolution'))
        check_internal(path, where, dict(t=tc * 10.0, K=Kc, distCoef=dc, resolution=sc),
                       'cm -> mm')
        K.append(Kc)
        R.append(Rc @ PANOPTIC_AXES)
        t.append(tc * 10.0)
        dist.append(dc)
        size.append(sc)
    return MultiViewCameras(np.stack(K), np.stack(R), np.stack(t),
                            compact_distortion(np.stack(dist)), np.stack(size),
                            names=list(camera_names))
