"""Pose2Sim / anipose calibration TOML (``Calib*.toml``, ``calibration.toml``).

One table per camera, any table name (``[cam_01]``, ``[cam_0]``, ...)::

    [cam_01]
    name = "cam_01"                 # optional: the table name otherwise
    size = [ 1088.0, 1920.0 ]       # [W, H] px
    matrix = [ [ 1681.2, 0.0, 533.0 ], [ 0.0, 1681.1, 948.1 ], [ 0.0, 0.0, 1.0 ] ]
    distortions = [ -0.046, 0.14, 0.0006, 0.0007 ]   # OpenCV's 4/5/8/12/14 coefficients
    rotation = [ 1.61, 0.44, -0.35 ]     # world→camera, Rodrigues vector
    translation = [ 0.38, 0.74, 2.93 ]   # world→camera, metres (Pose2Sim)
    fisheye = false                 # true (OpenCV's fisheye model) is refused

    [metadata]                      # ignored (anipose: adjusted, error)

Read with the standard library's ``tomllib``, written with ``tomli_w``. Units: Pose2Sim
writes metres (the default here); anipose writes the units of its board's square size
(often mm): pass ``units=``. Tables without ``matrix`` (e.g. Pose2Sim's ``Config.toml``
project settings) are not cameras.
"""
from __future__ import annotations

import tomllib
from typing import Optional, Sequence

import cv2
import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.utils import atomic_open
from ..json_yaml import read_text
from .assemble import (build_rig, check_principal_point, check_world_up, normalise_units,
                       warn)
from .common import (LENGTH_UNITS, CalibrationError, compact_distortion, read_distortion,
                     read_field, validate_camera)

__all__ = ['TOML_CAMERA_FIELDS', 'toml_camera_tables', 'load_toml_calibration',
           'save_toml_calibration']

TOML_CAMERA_FIELDS = ('name', 'size', 'matrix', 'distortions', 'rotation', 'translation',
                      'fisheye')


def _parse(path: str) -> dict:
    text = read_text(path, CalibrationError, 'TOML text')
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CalibrationError(f'{path}: not valid TOML: {e}') from None


def toml_camera_tables(data: dict) -> dict:
    """The camera tables of a parsed calibration TOML: the tables with a ``matrix``."""
    return {k: v for k, v in data.items()
            if k != 'metadata' and isinstance(v, dict) and 'matrix' in v}


def _camera(path: str, key: str, c: dict) -> dict:
    name = c.get('name', key)
    if not isinstance(name, (str, int)) or isinstance(name, bool):
        raise CalibrationError(f'{path}: table [{key}] field `name` must be a string')
    where = f'camera `{name}` (table [{key}])'
    if c.get('fisheye', False) is not False:
        raise CalibrationError(f'{path}: {where} field `fisheye` is {c["fisheye"]!r}: '
                               'OpenCV\'s fisheye model is not supported (only its pinhole '
                               'models); recalibrate without fisheye or undistort the videos')
    K = read_field(c, 'matrix', path, where, (3, 3))
    wh = read_field(c, 'size', path, where, (2, ))
    dist = read_distortion(c, 'distortions', path, where)
    rv = read_field(c, 'rotation', path, where)
    if rv.size == 3 and np.isfinite(rv).all():
        R = cv2.Rodrigues(rv.reshape(3, 1))[0]
    elif rv.size == 9:
        R = rv.reshape(3, 3)
    else:
        raise CalibrationError(f'{path}: {where} field `rotation` must be 3 finite values '
                               f'(a Rodrigues vector), got {rv.ravel().tolist()}')
    t = read_field(c, 'translation', path, where, (3, ))
    validate_camera(path, where, K, R, t, dist, wh,
                    dict(K='matrix', fx='matrix', fy='matrix', R='rotation',
                         t='translation', dist='distortions', image_size='size'))
    check_principal_point(path, where, K, wh, '`matrix`', '`size`')
    unknown = sorted(set(c) - set(TOML_CAMERA_FIELDS))
    if unknown:
        warn(f'{path}: {where}: ignored field(s) {unknown}')
    return dict(name=str(name), K=K, R=R, t=t, dist=dist, image_size=wh,
                t_field='translation')


def load_toml_calibration(path: str, units: str = 'm',
                          world_up: str = '+z') -> MultiViewCameras:
    """Read a Pose2Sim / anipose calibration TOML (cameras in table order).

    Args:
        units: of ``translation``: ``'m'`` (Pose2Sim), or anipose's board units.
        world_up: the calibration world's up axis.
    """
    units = normalise_units(units, path, 'units (argument)')
    world_up = check_world_up(world_up, path, 'world_up (argument)')
    data = _parse(path)
    tables = toml_camera_tables(data)
    if not tables:
        hint = (' (it looks like Pose2Sim\'s Config.toml, the project settings: the '
                'calibration is calibration/Calib*.toml)' if 'project' in data else '')
        raise CalibrationError(f'{path}: no camera table (a [table] with `matrix`, `size`, '
                               f'`distortions`, `rotation`, `translation`){hint}; '
                               f'found {list(data)[:8]}')
    others = sorted(set(data) - set(tables) - {'metadata'})
    if others:
        warn(f'{path}: ignored table(s)/field(s) {others} (not cameras: no `matrix`)')
    cams = [_camera(path, k, c) for k, c in tables.items()]
    return build_rig(path, cams, units, world_up)


def save_toml_calibration(cameras: MultiViewCameras, path: str, units: str = 'm',
                          names: Optional[Sequence[str]] = None) -> dict:
    """Write an unbatched rig as a Pose2Sim / anipose TOML (atomically): one table per
    camera named after it, ``translation`` in ``units``, world axes as they are (z up).

    Returns:
        the document written.
    """
    try:
        import tomli_w
    except ImportError:  # pragma: no cover - a requirement; reading needs only tomllib
        raise ImportError('save_toml_calibration needs tomli-w (pip install tomli-w)') \
            from None
    if len(cameras.batch_shape):
        raise ValueError('save_toml_calibration expects an unbatched rig')
    scale = LENGTH_UNITS[normalise_units(units, path, 'units')]
    names = [str(n) for n in
             (names or cameras.names or [f'cam_{i + 1:02d}' for i in range(cameras.num_views)])]
    if len(set(names)) != len(names) or len(names) != cameras.num_views \
            or 'metadata' in names:
        raise ValueError(f'save_toml_calibration: need {cameras.num_views} unique names '
                         f'(not "metadata"), got {names}')
    d = {k: np.asarray(v, np.float64) for k, v in cameras.to_dict().items() if k != 'names'}
    doc = {}
    for i, n in enumerate(names):
        doc[n] = dict(name=n, size=d['image_size'][i].tolist(), matrix=d['K'][i].tolist(),
                      distortions=compact_distortion(d['dist'][i]).tolist(),
                      rotation=cv2.Rodrigues(d['R'][i])[0].ravel().tolist(),
                      translation=(d['t'][i] / scale).tolist(), fisheye=False)
    doc['metadata'] = dict(adjusted=False, error=0.0)
    with atomic_open(path, 'wb') as f:
        tomli_w.dump(doc, f)
    return doc
