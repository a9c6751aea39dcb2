"""A generic calibration JSON: per camera the intrinsics ``K`` and the extrinsics
``[R|t]``, as many calibration scripts write them.

Layouts (all three are read)::

    {"cam0": {...camera...}, "cam1": {...}, "units": "m"}        # an object keyed by name
    [{"name": "cam0", ...camera...}, ...]                          # a list (name optional)
    {"units": "m", "world_up": "+z", "cameras": [...] or {...}}    # cameras under a key

Top level (optional): ``units`` / ``unit`` (``mm``, ``cm``, ``m`` or spelled out) for the
translations; without it the caller declares them (``units=``, the tool's ``--units``):
nothing is assumed. ``world_up`` (default ``+z``, see :func:`~.rig_file.world_axes`).
``image_size`` / ``imgSize`` / ... for every camera that has none.

Per camera (the first column's spelling, or one of the aliases; two aliases of one field
in a camera are refused):

===============  ==============================================================  ========
field            aliases                                                          needed
===============  ==============================================================  ========
``K`` 3×3 px     intrinsic(s), intrinsic_matrix, camera_matrix, cameraMatrix,    yes (or
                 matrix; or the numbers ``fx, fy, cx, cy`` [+ ``skew``]           fx...)
``RT`` 3×4       Rt, R|t, extrinsic(s), extrinsic_matrix, extrinsicMatrix, w2c,   this, or
(or 4×4)         world_to_camera: world→camera ``[R | t]``                       R + t/C
``R`` 3×3        rotation, rotation_matrix, rot; 3 values: a Rodrigues vector;
                 or rvec, rotation_vector (Rodrigues)
``t`` 3          T, tvec, translation: world→camera (``x_cam = R X + t``)
``center`` 3     centre, C, position, camera_center: the camera centre in the
                 world (``t = -R C``); instead of ``t``
``dist``         distortion(s), dist_coeffs, distCoeffs, distCoef, dist_coef, D,  no
                 distortion_coefficients: OpenCV's 4/5/8/12/14 coefficients
image size       image_size, imgSize, imageSize, img_size, size, resolution       yes
(W, H) px        ([W, H]); or width + height, image_width + image_height,         (or the
                 img_width + img_height, imgWidth + imgHeight, W + H, w + h       argument)
``name``         (list layout) the camera's name; default its index               no
===============  ==============================================================  ========

Other fields are ignored with a :class:`~.assemble.CalibrationImportWarning` naming them
(a misspelled optional field would otherwise vanish silently). The principal point must
lie inside the image (a size written as (H, W) is caught).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import cv2
import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from ..json_yaml import load_json
from .assemble import (build_rig, check_principal_point, check_world_up, normalise_units,
                       resolve_image_size, warn)
from .common import (CalibrationError, check_duplicates, read_distortion, read_field,
                     validate_camera)

__all__ = ['GENERIC_FIELDS', 'generic_cameras', 'looks_like_generic_camera',
           'load_generic_json']

GENERIC_FIELDS = dict(
    K=('K', 'intrinsic', 'intrinsics', 'intrinsic_matrix', 'camera_matrix', 'cameraMatrix',
       'matrix'),
    RT=('RT', 'Rt', 'R|t', 'extrinsic', 'extrinsics', 'extrinsic_matrix', 'extrinsicMatrix',
        'w2c', 'world_to_camera'),
    R=('R', 'rotation', 'rotation_matrix', 'rot', 'rvec', 'rotation_vector'),
    t=('t', 'T', 'tvec', 'translation'),
    center=('center', 'centre', 'C', 'position', 'camera_center'),
    dist=('dist', 'distortion', 'distortions', 'dist_coeffs', 'distCoeffs', 'distCoef',
          'dist_coef', 'D', 'distortion_coefficients'),
    size=('image_size', 'imgSize', 'imageSize', 'img_size', 'size', 'resolution'),
)
_WH = (('width', 'height'), ('image_width', 'image_height'), ('img_width', 'img_height'),
       ('imgWidth', 'imgHeight'), ('W', 'H'), ('w', 'h'))
_PIXELS = ('fx', 'fy', 'cx', 'cy')
_TOP = ('units', 'unit', 'world_up', 'cameras') + GENERIC_FIELDS['size']


def _first(c: dict, group: str, path: str, where: str, names=None) -> Optional[str]:
    """The field of ``group`` the camera uses (None if none); two spellings: an error."""
    present = [f for f in (names or GENERIC_FIELDS[group]) if f in c]
    if len(present) > 1:
        raise CalibrationError(f'{path}: {where} has the fields {present}, which mean the '
                               'same thing: keep one')
    return present[0] if present else None


def looks_like_generic_camera(c) -> bool:
    """Whether a parsed object has intrinsics (``K`` or ``fx, fy, cx, cy``) and
    extrinsics (``RT`` or ``R``) under any accepted spelling."""
    if not isinstance(c, dict):
        return False
    has_k = any(f in c for f in GENERIC_FIELDS['K']) or all(f in c for f in _PIXELS)
    return has_k and any(f in c for f in GENERIC_FIELDS['RT'] + GENERIC_FIELDS['R'])


def generic_cameras(data) -> Optional[Tuple[List[Tuple[str, dict]], dict]]:
    """The (name, camera object) pairs and the top-level fields of a parsed document in one
    of the generic layouts, or None when it is in none of them."""
    top = {}
    if isinstance(data, dict) and isinstance(data.get('cameras'), (list, dict)):
        top = {k: v for k, v in data.items() if k != 'cameras'}
        data = data['cameras']
    if isinstance(data, list):
        if not data or not all(isinstance(c, dict) for c in data):
            return None
        pairs = [(str(c['name']) if isinstance(c.get('name'), (str, int)) else str(i), c)
                 for i, c in enumerate(data)]
    elif isinstance(data, dict):
        cams = {k: v for k, v in data.items() if isinstance(v, dict)}
        if any(looks_like_generic_camera(v) for v in cams.values()):  # skip e.g. `meta`
            fields = set(sum(GENERIC_FIELDS.values(), _PIXELS))
            cams = {k: v for k, v in cams.items() if fields & set(v)}
        pairs = [(str(k), v) for k, v in cams.items()]
        top.update({k: v for k, v in data.items() if k not in cams})
    else:
        return None
    return (pairs, top) if pairs else None


def _extrinsics(c: dict, path: str, where: str):
    """(R, t, field names) of one camera, in the file's units."""
    rt = _first(c, 'RT', path, where)
    rf, tf = _first(c, 'R', path, where), _first(c, 't', path, where)
    cf = _first(c, 'center', path, where)
    if rt is not None:
        others = [f for f in (rf, tf, cf) if f is not None]
        if others:
            raise CalibrationError(f'{path}: {where} has both `{rt}` and {others}: give the '
                                   'extrinsics once')
        m = read_field(c, rt, path, where)
        if m.size == 16:
            m = m.reshape(4, 4)
            if not np.allclose(m[3], [0, 0, 0, 1]):
                raise CalibrationError(f'{path}: {where} field `{rt}` is 4x4 but its last '
                                       f'row is {m[3].tolist()}, not [0, 0, 0, 1]')
        elif m.size == 12:
            m = m.reshape(3, 4)
        else:
            raise CalibrationError(f'{path}: {where} field `{rt}` has {m.size} values, '
                                   'expected a 3x4 [R | t] (or 4x4) matrix')
        return m[:3, :3], m[:3, 3], dict(R=rt, t=rt)
    if rf is None:
        raise CalibrationError(f'{path}: {where} has no extrinsics: a 3x4 field (one of '
                               f'{list(GENERIC_FIELDS["RT"])}) or a rotation (one of '
                               f'{list(GENERIC_FIELDS["R"])}) with a translation')
    r = read_field(c, rf, path, where)
    if r.size == 3 and np.isfinite(r).all():
        r = cv2.Rodrigues(r.reshape(3, 1))[0]
    elif r.size != 9:
        raise CalibrationError(f'{path}: {where} field `{rf}` has {r.size} values: a 3x3 '
                               'rotation matrix or a 3-value Rodrigues vector')
    r = r.reshape(3, 3)
    if (tf is None) == (cf is None):
        raise CalibrationError(f'{path}: {where} needs exactly one of a translation (one of '
                               f'{list(GENERIC_FIELDS["t"])}) and a camera centre (one of '
                               f'{list(GENERIC_FIELDS["center"])})')
    if tf is not None:
        return r, read_field(c, tf, path, where, (3, )), dict(R=rf, t=tf)
    return r, -r @ read_field(c, cf, path, where, (3, )), dict(R=rf, t=cf)


def _intrinsics(c: dict, path: str, where: str):
    kf = _first(c, 'K', path, where)
    if kf is not None:
        return read_field(c, kf, path, where, (3, 3)), kf
    if not all(f in c for f in _PIXELS):
        raise CalibrationError(f'{path}: {where} has no intrinsics: one of '
                               f'{list(GENERIC_FIELDS["K"])} (3x3) or fx, fy, cx, cy')
    fx, fy, cx, cy = (float(read_field(c, f, path, where, (1, ))[0]) for f in _PIXELS)
    skew = float(read_field(c, 'skew', path, where, (1, ))[0]) if 'skew' in c else 0.0
    return np.array([[fx, skew, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]), 'fx/fy/cx/cy'


def _size(c: dict, top: dict, path: str, where: str):
    """(W, H) in the file (or None) and how it is named."""
    sf = _first(c, 'size', path, where)
    if sf is not None:
        return read_field(c, sf, path, where, (2, )), f'`{sf}`'
    for w, h in _WH:
        if w in c or h in c:
            if not (w in c and h in c):
                raise CalibrationError(f'{path}: {where} has only one of the fields `{w}` '
                                       f'and `{h}`')
            return np.array([read_field(c, f, path, where, (1, ))[0] for f in (w, h)]), \
                f'`{w}`/`{h}`'
    tf = _first(top, 'size', path, 'the top level')
    if tf is not None:
        return read_field(top, tf, path, 'the top level', (2, )), f'`{tf}` (top level)'
    return None, '`image_size`'


def _camera(path: str, name: str, c: dict, top: dict, image_size) -> dict:
    where = f'camera `{name}`'
    check_duplicates(c, path, where)
    K, kf = _intrinsics(c, path, where)
    R, t, ext = _extrinsics(c, path, where)
    df = _first(c, 'dist', path, where)
    dist = read_distortion(c, df, path, where) if df else np.zeros(14)
    wh, sf = _size(c, top, path, where)
    wh = resolve_image_size(path, where, wh, image_size, sf)
    validate_camera(path, where, K, R, t, dist, wh,
                    dict(K=kf, fx=kf, fy=kf, R=ext['R'], t=ext['t'], dist=df or 'dist',
                         image_size=sf.strip('`')))
    check_principal_point(path, where, K, wh, f'`{kf}`', sf)
    known = set(sum(GENERIC_FIELDS.values(), ())) | set(sum(_WH, ())) | {
        'name', 'skew', *_PIXELS}
    unknown = sorted(set(map(str, c)) - known)
    if unknown:
        warn(f'{path}: {where}: ignored field(s) {unknown} (not part of a generic '
             'K + [R|t] camera)')
    return dict(name=name, K=K, R=R, t=t, dist=dist, image_size=wh, t_field=ext['t'])


def _units(path: str, top: dict, units: Optional[str], cams: List[dict]) -> str:
    uf = _first(top, 'units', path, 'the top level', ('units', 'unit'))
    in_file = normalise_units(top[uf], path, f'field `{uf}`') if uf else None
    given = normalise_units(units, path, 'units (argument)') if units is not None else None
    if in_file and given and in_file != given:
        raise CalibrationError(f'{path}: field `{uf}` says {in_file!r} but units={given!r} '
                               'was given (--units): drop the argument or fix the file')
    if in_file or given:
        return in_file or given
    centres = np.stack([-c['R'].T @ c['t'] for c in cams])
    spread = float(np.median(np.linalg.norm(centres - centres.mean(0), axis=1)))
    raise CalibrationError(
        f'{path}: the file does not state its length units (no top-level `units`): pass '
        "units='m' | 'cm' | 'mm' (convert_calibration: --units m|cm|mm). Its camera "
        f'centres lie a median {spread:.4g} file units from their mean (about 2-10 for '
        'a room in metres, 2000-10000 in millimetres)')


def load_generic_json(path: str, units: Optional[str] = None, image_size=None,
                      world_up: Optional[str] = None) -> MultiViewCameras:
    """Read a generic K + [R|t] calibration JSON (see the module docstring).

    Args:
        units: the translations' units when the file has no top-level ``units`` (if both
            are given they must agree).
        image_size: (W, H) of the cameras whose size the file does not give (a camera
            whose size the file gives must agree).
        world_up: the file's up axis when it has no top-level ``world_up`` (default
            ``+z``).
    """
    data = load_json(path, CalibrationError)
    found = generic_cameras(data)
    if found is None:
        raise CalibrationError(f'{path}: not a generic calibration JSON: expected an object '
                               'keyed by camera name, a list of camera objects, or an '
                               'object with a `cameras` list/object')
    pairs, top = found
    check_duplicates(data, path, 'the top level')
    if isinstance(data, dict) and isinstance(data.get('cameras'), dict):
        check_duplicates(data['cameras'], path, 'field `cameras`')
    unknown = sorted(set(map(str, top)) - set(_TOP))
    if unknown:
        warn(f'{path}: ignored top-level field(s) {unknown}')
    cams = [_camera(path, name, c, top, image_size) for name, c in pairs]
    unit = _units(path, top, units, cams)
    up = top.get('world_up')
    if up is not None and world_up is not None and up != world_up:
        raise CalibrationError(f'{path}: field `world_up` says {up!r} but world_up='
                               f'{world_up!r} was given: drop the argument or fix the file')
    up = check_world_up(up if up is not None else (world_up or '+z'), path,
                        'field `world_up`' if up is not None else 'world_up (argument)')
    return build_rig(path, cams, unit, up)
