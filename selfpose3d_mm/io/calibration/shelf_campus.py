"""Shelf / Campus calibration (VoxelPose's ``calibration_<dataset>.json``)."""
from __future__ import annotations

import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from ..json_yaml import duplicate_keys, load_json
from .common import (CalibrationError, check_duplicates, check_internal, read_field,
                     validate_camera)

__all__ = ['load_shelf_campus_calibration']


def load_shelf_campus_calibration(path: str, image_size) -> MultiViewCameras:
    """Shelf / Campus ``calibration_*.json`` (VoxelPose's): keys ``"0".."C-1"``, each with
    ``R`` (world→cam), ``T`` (the camera *centre*, mm), ``fx, fy, cx, cy``,
    ``k`` (k1, k2, k3), ``p`` (p1, p2).

    Args:
        image_size: ``(W, H)`` (the file does not store it): Shelf (1032, 776),
            Campus (360, 288); or a (C, 2) array.
    """
    data = load_json(path, CalibrationError)
    if not isinstance(data, dict):
        raise CalibrationError(f'{path}: expected an object keyed by camera ("0", "1", ...)')
    dups = [f'`{k}`' for k in duplicate_keys(data)]
    if dups:
        raise CalibrationError(f'{path}: camera {", ".join(dups)} appears more than once '
                               '(a parser would keep only the last one silently)')
    keys = sorted(data, key=lambda k: (0, int(k), '') if str(k).isdigit() else (1, 0, k))
    if not keys:
        raise CalibrationError(f'{path}: no cameras')
    size = np.array(np.broadcast_to(np.asarray(image_size, np.float64), (len(keys), 2)))
    K, R, t, dist = [], [], [], []
    for i, k in enumerate(keys):
        c, where = data[k], f'camera `{k}`'
        check_duplicates(c, path, where)
        Rk = read_field(c, 'R', path, where, (3, 3))
        T = read_field(c, 'T', path, where, (3, ))
        fx, fy, cx, cy = (float(read_field(c, n, path, where, (1, ))[0])
                          for n in ('fx', 'fy', 'cx', 'cy'))
        kk = read_field(c, 'k', path, where, (3, )) if 'k' in c else np.zeros(3)
        pp = read_field(c, 'p', path, where, (2, )) if 'p' in c else np.zeros(2)
        Kk = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
        dk = np.array([kk[0], kk[1], pp[0], pp[1], kk[2]])
        validate_camera(path, where, Kk, Rk, T, dk, size[i],
                        dict(K='fx/fy/cx/cy', fx='fx', fy='fy', t='T', dist='k/p',
                             image_size='image_size (argument)'))
        check_internal(path, where, dict(T=-Rk @ T, fx=Kk, image_size=size[i]))
        K.append(Kk)
        R.append(Rk)
        t.append(-Rk @ T)
        dist.append(dk)
    return MultiViewCameras(np.array(K), np.stack(R), np.stack(t), np.array(dist), size,
                            names=[str(k) for k in keys])
