"""What every calibration reader shares: the error type, the field reader and the
validation of one camera.

Every loader of :mod:`selfpose3d_mm.io.calibration` validates each camera it returns
(:func:`validate_camera`): all values finite, ``R`` a proper rotation
(``‖RᵀR − I‖_F ≤ 1e-3`` and ``det R > 0``), positive focal lengths, a ``K`` whose last row
is ``0 0 1``, OpenCV distortion coefficients (5, 8, 12 or 14 once padded: see
:func:`read_distortion`; tilt angles within ±90°) and a positive image size; after the
conversion to the internal convention (unit scaling, axes) every value must still be finite
in float32 (:func:`check_internal`). A violation raises :class:`CalibrationError` naming the
file, the camera and the field.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from selfpose3d_mm.geometry.camera import DISTORTION_WIDTHS
from ..json_yaml import duplicate_keys

__all__ = ['CalibrationError', 'LENGTH_UNITS', 'ROTATION_TOLERANCE', 'DIST_COUNTS',
           'read_field', 'read_distortion', 'compact_distortion', 'check_duplicates',
           'validate_camera', 'check_internal']

# OpenCV's coefficient counts: k1 k2 p1 p2 [k3 [k4 k5 k6 [s1 s2 s3 s4 [tau_x tau_y]]]]
DIST_COUNTS = (4, 5, 8, 12, 14)

# millimetres per unit of the lengths a calibration file may be written in
LENGTH_UNITS = {'mm': 1.0, 'cm': 10.0, 'm': 1000.0}


class CalibrationError(ValueError):
    """A calibration file is missing a field or has a malformed one."""


def _numeric(v, depth: int = 0) -> bool:
    """Whether ``v`` is a number or a (nested) list of numbers: no str, bool or null."""
    if isinstance(v, (bool, np.bool_)) or v is None:
        return False
    if isinstance(v, (int, float, np.integer, np.floating)):
        return True
    if isinstance(v, np.ndarray):
        return v.dtype.kind in 'iuf'
    return isinstance(v, (list, tuple)) and depth < 4 and all(_numeric(x, depth + 1)
                                                                for x in v)


def check_duplicates(obj, path: str, where: str):
    """Refuse a parsed object in which a key was given twice (the parser kept the last)."""
    dups = duplicate_keys(obj)
    if dups:
        raise CalibrationError(f'{path}: {where} field(s) {dups} appear more than once '
                               '(a parser would keep only the last value silently)')


def read_field(d: dict, key: str, path: str, where: str, shape=None):
    """``d[key]`` as float64 (reshaped to ``shape`` if given); errors name the file, the
    camera (``where``) and the field. Shared by every calibration reader."""
    if not isinstance(d, dict):
        raise CalibrationError(f'{path}: {where} is not an object (a mapping of fields), '
                               f'got {type(d).__name__}')
    if key not in d:
        raise CalibrationError(f'{path}: {where} has no field `{key}`')
    if not _numeric(d[key]):
        raise CalibrationError(f'{path}: {where} field `{key}` is not numeric: '
                               f'{str(d[key])[:80]}')
    try:
        arr = np.asarray(d[key], dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as e:
        raise CalibrationError(f'{path}: {where} field `{key}` is not numeric '
                               f'(or ragged): {e}') from None
    if shape is not None:
        if arr.size != int(np.prod(shape)):
            raise CalibrationError(f'{path}: {where} field `{key}` has {arr.size} '
                                   f'values, expected shape {shape}')
        arr = arr.reshape(shape)
    return arr


def read_distortion(d: dict, key: str, path: str, where: str,
                    counts: Sequence[int] = (0, ) + DIST_COUNTS) -> np.ndarray:
    """``d[key]``: OpenCV distortion coefficients, ``counts`` values allowed (0: the field
    may be absent, empty or null), zero-padded to 14 (:func:`compact_distortion` trims a
    rig's vectors to the narrowest model they need)."""
    value = d.get(key) if isinstance(d, dict) else None
    if value is None or (isinstance(value, (list, tuple)) and not len(value)):
        if 0 in counts:
            return np.zeros(14)
        value = [] if key in d else None
    if value is None:
        raise CalibrationError(f'{path}: {where} has no field `{key}`')
    arr = np.ravel(read_field({key: value}, key, path, where))
    if arr.size not in counts:
        raise CalibrationError(
            f'{path}: {where} field `{key}` has {arr.size} values: OpenCV\'s distortion '
            f'models have {" / ".join(str(c) for c in counts if c)} (k1 k2 p1 p2 [k3 '
            '[k4 k5 k6 [s1 s2 s3 s4 [tau_x tau_y]]]])' + (' or none' if 0 in counts else ''))
    return np.concatenate([arr, np.zeros(14 - arr.size)])


def compact_distortion(dist: np.ndarray) -> np.ndarray:
    """(..., 14) zero-padded coefficients → (..., W), the narrowest width of
    :data:`~selfpose3d_mm.geometry.camera.DISTORTION_WIDTHS` keeping every non-zero one
    (5 for the classic model: its exact fast path in ``MultiViewCameras``)."""
    dist = np.asarray(dist, np.float64)
    nonzero = np.flatnonzero((dist != 0).reshape(-1, dist.shape[-1]).any(0))
    last = int(nonzero[-1]) + 1 if len(nonzero) else 0
    width = next(w for w in DISTORTION_WIDTHS if w >= last)
    pad = np.zeros(dist.shape[:-1] + (max(0, width - dist.shape[-1]), ))
    return np.concatenate([dist, pad], -1)[..., :width]


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
        dist: (W,) OpenCV coefficients, W in 5, 8, 12, 14 (e.g. padded to 14);
        image_size: (2,) W, H (px).
        fields: how the file names each field (keys ``K, fx, fy, R, t, dist,
            image_size``), e.g. ``dict(dist='distCoef')`` for Panoptic.
        tol: bound of ``‖RᵀR − I‖_F``.
    """
    f = {**_FIELD_NAMES, **(fields or {})}
    arrays = dict(K=K, R=R, t=t, dist=dist, image_size=image_size)
    n_dist = np.size(dist)
    shapes = dict(K=(3, 3), R=(3, 3), t=(3, ),
                  dist=(n_dist if n_dist in DISTORTION_WIDTHS else 5, ), image_size=(2, ))
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
    tau = arrays['dist'][12:14]
    if (np.abs(tau) >= np.pi / 2).any():
        raise CalibrationError(f'{path}: {where} field `{f["dist"]}` has tilt angles '
                               f'(tau_x, tau_y) = {tau.tolist()} rad outside (-pi/2, pi/2)')


def check_internal(path: str, where: str, fields: dict, note: str = ''):
    """After the conversion to the internal convention (unit scaling, axes): every value
    must be finite in float32, the rig's default dtype (``t = 1e300`` m is finite in the
    file but not in mm / float32).

    Args:
        fields: file field name → converted array.
        note: what the conversion was (for the message), e.g. ``'m -> mm'``.
    """
    for name, value in fields.items():
        a = np.asarray(value, np.float64)
        with np.errstate(over='ignore', invalid='ignore'):
            ok = np.isfinite(a.astype(np.float32)).all()
        if not ok:
            raise CalibrationError(
                f'{path}: {where} field `{name}` is out of range after the conversion to '
                f'the internal convention{f" ({note})" if note else ""}: '
                f'{np.abs(a).max():.3g} does not fit a float32 (max 3.4e38)')
