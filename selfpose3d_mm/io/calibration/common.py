"""What every calibration reader shares: the error type, the field reader and the
validation of one camera.

Every loader of :mod:`selfpose3d_mm.io.calibration` validates each camera it returns
(:func:`validate_camera`): all values finite, ``R`` a proper rotation
(``‖RᵀR − I‖_F ≤ 1e-3`` and ``det R > 0``), positive focal lengths, a ``K`` whose last row
is ``0 0 1``, 5 distortion coefficients and a positive image size. A violation raises
:class:`CalibrationError` naming the file, the camera and the field.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ['CalibrationError', 'LENGTH_UNITS', 'ROTATION_TOLERANCE', 'read_field',
           'validate_camera']

# millimetres per unit of the lengths a calibration file may be written in
LENGTH_UNITS = {'mm': 1.0, 'cm': 10.0, 'm': 1000.0}


class CalibrationError(ValueError):
    """A calibration file is missing a field or has a malformed one."""


def read_field(d: dict, key: str, path: str, where: str, shape=None):
    """``d[key]`` as float64 (reshaped to ``shape`` if given); errors name the file, the
    camera (``where``) and the field. Shared by every calibration reader."""
    if key not in d:
        raise CalibrationError(f'{path}: {where} has no field `{key}`')
    try:
        arr = np.asarray(d[key], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise CalibrationError(f'{path}: {where} field `{key}` is not numeric '
                               f'(or ragged): {e}') from None
    if shape is not None:
        if arr.size != int(np.prod(shape)):
            raise CalibrationError(f'{path}: {where} field `{key}` has {arr.size} '
                                   f'values, expected shape {shape}')
        arr = arr.reshape(shape)
    return arr


# canonical field -> how the file names it (per loader); used in error messages
_FIELD_NAMES = dict(K='K', fx='K', fy='K', R='R', t='t', dist='dist',
                    image_size='image_size')
ROTATION_TOLERANCE = 1e-3


def validate_camera(path: str, where: str, K, R, t, dist, image_size,
                    fields: Optional[dict] = None, tol: float = ROTATION_TOLERANCE):
    """Check one camera; raise :class:`CalibrationError` naming file, camera and field.

    Args:
        path: the calibration file (for the message).
        where: the camera, e.g. ``"camera `00_03`"``.
        K: (3, 3) intrinsics (px); R: (3, 3) world→camera rotation; t: (3,) translation;
        dist: (5,) k1 k2 p1 p2 k3; image_size: (2,) W, H (px).
        fields: how the file names each field (keys ``K, fx, fy, R, t, dist,
            image_size``), e.g. ``dict(dist='distCoef')`` for Panoptic.
        tol: bound of ``‖RᵀR − I‖_F``.
    """
    f = {**_FIELD_NAMES, **(fields or {})}
    arrays = dict(K=K, R=R, t=t, dist=dist, image_size=image_size)
    shapes = dict(K=(3, 3), R=(3, 3), t=(3, ), dist=(5, ), image_size=(2, ))
    for key, value in arrays.items():
        a = np.asarray(value, np.float64)
        if a.size != int(np.prod(shapes[key])):
            raise CalibrationError(f'{path}: {where} field `{f[key]}` has {a.size} values, '
                                   f'expected shape {shapes[key]}')
        if not np.isfinite(a).all():
            raise CalibrationError(f'{path}: {where} field `{f[key]}` has a non-finite '
                                   f'value (NaN or inf): {a.ravel().tolist()}')
        arrays[key] = a.reshape(shapes[key])
    R = arrays['R']
    err = float(np.linalg.norm(R.T @ R - np.eye(3)))
    if err > tol:
        raise CalibrationError(f'{path}: {where} field `{f["R"]}` is not a rotation: '
                               f'||R^T R - I|| = {err:.3g} > {tol:g} (not orthonormal)')
    det = float(np.linalg.det(R))
    if det <= 0:
        raise CalibrationError(f'{path}: {where} field `{f["R"]}` has det {det:.3g} <= 0 '
                               '(a reflection, not a rotation: check the handedness)')
    K = arrays['K']
    for key, v in (('fx', K[0, 0]), ('fy', K[1, 1])):
        if not v > 0:
            raise CalibrationError(f'{path}: {where} field `{f[key]}` has a non-positive '
                                   f'focal length {key} = {v:g}')
    if not np.allclose(K[2], [0, 0, 1], atol=1e-9) or abs(K[1, 0]) > 1e-9:
        raise CalibrationError(f'{path}: {where} field `{f["K"]}` must be [[fx, s, cx], '
                               f'[0, fy, cy], [0, 0, 1]] (transposed?), got {K.tolist()}')
    if not (arrays['image_size'] > 0).all():
        raise CalibrationError(f'{path}: {where} field `{f["image_size"]}` must be '
                               f'positive (W, H), got {arrays["image_size"].tolist()}')
