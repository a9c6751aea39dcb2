"""The rig calibration file: one documented JSON/YAML format for any studio.

A rig file describes C calibrated cameras in the user's own world frame and units; the
loader converts them to the package's internal convention (millimetres, z up, OpenCV
camera model ``x_cam = R X + t``, OpenCV's distortion models) and validates every camera.

Format (JSON shown; the same keys in YAML for ``.yml``/``.yaml`` files)::

    {
      "format": "selfpose3d_mm/rig",      # recommended (lets load_cameras() detect it)
      "version": 1,                       # optional; only 1 exists
      "units": "m",                       # required: "mm" | "cm" | "m" (t, center)
      "world_up": "+z",                   # required: "+z" "-z" "+y" "-y" "+x" "-x"
      "meta": {...},                      # optional, free-form, ignored
      "cameras": [                        # required, non-empty
        {
          "name": "cam_left",             # required, unique; pseudo-label `views` use it
          "image_size": [1920, 1080],     # required, [W, H] px, > 0
          "K": [[1400.0, 0.0, 960.0],     # required, 3x3 px: [[fx, s, cx],
                [0.0, 1400.0, 540.0],     #                    [0, fy, cy],
                [0.0, 0.0, 1.0]],         #                    [0, 0, 1]], fx, fy > 0
          "dist": [-0.2, 0.1, 0.0, 0.0, 0.0],  # optional, OpenCV's order and models:
                                          # 4 or 5 values k1 k2 p1 p2 [k3], 8 (+ k4 k5 k6,
                                          # rational), 12 (+ s1 s2 s3 s4, thin prism),
                                          # 14 (+ tau_x tau_y, tilted sensor, radians),
                                          # or [] / absent: no distortion
          "R": [[...], [...], [...]],     # required: world -> camera rotation (3x3)
          "t": [0.1, 1.2, 4.5]            # world -> camera translation, in `units` ...
          # "center": [x, y, z]           # ... or instead the camera centre in the world,
                                          #     in `units` (t = -R center); not both
        }
      ]
    }

Conventions. ``x_cam = R X_world + t`` (OpenCV; the camera looks along +z, image x right,
y down). Pixels: ``(x', y') = x_cam[:2] / z``, distorted by OpenCV's model of the given
coefficients (``cv2.projectPoints``'s), then ``u = fx x'' + s y'' + cx``,
``v = fy y'' + cy``. Internally each camera's coefficients are read into a zero-padded
vector of 14; the rig keeps the narrowest model its cameras need (5 for the classic
model), and :func:`save_rig` writes each camera's coefficients up to its last non-zero
model group (at least 5).

World axes. ``world_up`` names the file's axis that points up (against gravity). The
loader rotates the file's world by the proper rotation ``A`` below (``X_int = A X_file``)
so that up becomes +z; the horizontal axes are kept as far as possible (the first file
axis not along ``up`` becomes internal +x, and internal +y = z × x):

=========  =========================  =========================================
world_up   internal (x, y, z) =       e.g.
=========  =========================  =========================================
``+z``     (x, y, z)                  this package, Shelf/Campus, most mocap
``-z``     (x, -y, -z)
``+y``     (x, -z, y)                 OpenGL/Unity/three.js-style worlds
``-y``     (x, z, -y)                 CMU Panoptic (y down), OpenCV-calibrated
                                      worlds anchored on a camera
``+x``     (y, z, x)
``-x``     (y, -z, -x)
=========  =========================  =========================================

and the cameras follow: ``R_int = R Aᵀ``, ``t_int = s t`` (``s`` = mm per unit), so the
projections of corresponding points are unchanged. The capture space (VoxelPose's cube)
is axis-aligned in the internal frame.

Validation (:func:`~.common.validate_camera`): a missing field, a field of the
wrong size, a NaN/inf, a non-orthonormal ``R`` (``‖RᵀR − I‖_F > 1e-3``) or ``det R ≤ 0``,
a non-positive focal length or image size, a distortion list that is not 0, 4, 5, 8, 12
or 14 values, a field given twice, a duplicated camera name, a value that overflows once
converted to mm (float32), an unknown field (typos would otherwise be ignored silently) →
:class:`CalibrationError` naming the file, the camera and the field. A file that is not
UTF-8 JSON/YAML text (binary, UTF-16), has a syntax error or is nested absurdly deep is
refused with its path too.
"""
from __future__ import annotations

import json
import os.path as osp
import re
from typing import Optional, Sequence

import numpy as np
import torch
import yaml

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.utils import atomic_open
from ..json_yaml import load_json, load_yaml
from .common import (LENGTH_UNITS, CalibrationError, check_duplicates, check_internal,
                     compact_distortion, read_distortion, read_field, validate_camera)

__all__ = ['RIG_FORMAT', 'RIG_UNITS', 'WORLD_UP_AXES', 'world_axes', 'to_internal_points',
           'is_rig_dict', 'rig_from_dict', 'rig_to_dict', 'load_rig', 'save_rig']

RIG_FORMAT = 'selfpose3d_mm/rig'
RIG_UNITS = LENGTH_UNITS  # mm per unit
WORLD_UP_AXES = ('+z', '-z', '+y', '-y', '+x', '-x')
_CAMERA_FIELDS = ('name', 'image_size', 'K', 'dist', 'R', 't', 'center', 'meta')
_TOP_FIELDS = ('format', 'version', 'units', 'world_up', 'cameras', 'meta')


def world_axes(world_up: str) -> np.ndarray:
    """(3, 3) proper rotation ``A`` with ``X_internal = A X_file`` (see the table above)."""
    if world_up not in WORLD_UP_AXES:
        raise ValueError(f'world_up must be one of {list(WORLD_UP_AXES)}, got {world_up!r}')
    eye = np.eye(3)
    axis = 'xyz'.index(world_up[1])
    z = eye[axis] * (1.0 if world_up[0] == '+' else -1.0)
    x = eye[1] if axis == 0 else eye[0]
    return np.stack([x, np.cross(z, x), z])


def to_internal_points(points, units: str, world_up: str) -> np.ndarray:
    """File-world points (..., 3) in ``units`` with ``world_up`` → internal mm, z up."""
    if units not in RIG_UNITS:
        raise ValueError(f'units must be one of {list(RIG_UNITS)}, got {units!r}')
    return np.asarray(points, np.float64) @ world_axes(world_up).T * RIG_UNITS[units]


def is_rig_dict(data) -> bool:
    """Whether a parsed JSON/YAML document is a rig file (``format`` or ``units`` +
    ``world_up`` beside a ``cameras`` list)."""
    if not isinstance(data, dict):
        return False
    if data.get('format') == RIG_FORMAT:
        return True
    return 'units' in data and 'world_up' in data and isinstance(data.get('cameras'), list)


def _read(path: str):
    if not osp.isfile(path):
        raise FileNotFoundError(f'rig calibration file not found: {path}')
    if path.endswith(('.yml', '.yaml')):
        return load_yaml(path, CalibrationError)
    return load_json(path, CalibrationError)


def rig_from_dict(data: dict, path: str = '<dict>',
                  camera_names: Optional[Sequence[str]] = None) -> MultiViewCameras:
    """A parsed rig document → :class:`MultiViewCameras` (internal convention).

    Args:
        data: the parsed document (see the module docstring).
        path: the file it came from (for error messages).
        camera_names: keep these cameras, in this order (default all, file order).
    """
    if not isinstance(data, dict):
        raise CalibrationError(f'{path}: a rig file is an object with `units`, '
                               f'`world_up` and `cameras`, got {type(data).__name__}')
    if 'format' in data and data['format'] != RIG_FORMAT:
        raise CalibrationError(f'{path}: field `format` is {data["format"]!r}, expected '
                               f'{RIG_FORMAT!r}')
    if data.get('version', 1) != 1:
        raise CalibrationError(f'{path}: field `version` {data["version"]!r} is not '
                               'supported (only 1)')
    check_duplicates(data, path, 'the top level')
    unknown = sorted(set(map(str, data)) - set(_TOP_FIELDS))
    if unknown:
        raise CalibrationError(f'{path}: unknown top-level field(s) {unknown}; allowed: '
                               f'{list(_TOP_FIELDS)}')
    for key, allowed in (('units', RIG_UNITS), ('world_up', WORLD_UP_AXES)):
        if key not in data:
            raise CalibrationError(f'{path}: no field `{key}` (one of {list(allowed)}; '
                                   'it is required: nothing is assumed)')
        if not isinstance(data[key], str) or data[key] not in allowed:
            raise CalibrationError(f'{path}: field `{key}` must be one of {list(allowed)}, '
                                   f'got {data[key]!r}')
    scale, A = RIG_UNITS[data['units']], world_axes(data['world_up'])
    cams = data.get('cameras')
    if not isinstance(cams, list) or not cams:
        raise CalibrationError(f'{path}: no field `cameras` (a non-empty list)')
    K, R, t, dist, size, names = [], [], [], [], [], []
    for i, c in enumerate(cams):
        where = f'camera #{i}'
        if not isinstance(c, dict):
            raise CalibrationError(f'{path}: {where} is not an object')
        if 'name' not in c:
            raise CalibrationError(f'{path}: {where} has no field `name`')
        if not isinstance(c['name'], (str, int)) or isinstance(c['name'], bool):
            raise CalibrationError(f'{path}: {where} field `name` must be a string, got '
                                   f'{c["name"]!r}')
        name = str(c['name'])
        where = f'camera `{name}`'
        if name in names:
            raise CalibrationError(f'{path}: {where} field `name` is duplicated')
        check_duplicates(c, path, where)
        unknown = sorted(set(map(str, c)) - set(_CAMERA_FIELDS))
        if unknown:
            raise CalibrationError(f'{path}: {where} has unknown field(s) {unknown}; '
                                   f'allowed: {list(_CAMERA_FIELDS)}')
        Kc = read_field(c, 'K', path, where, (3, 3))
        Rc = read_field(c, 'R', path, where, (3, 3))
        wh = read_field(c, 'image_size', path, where, (2, ))
        dc = read_distortion(c, 'dist', path, where)
        if ('t' in c) == ('center' in c):
            raise CalibrationError(f'{path}: {where} needs exactly one of the fields `t` '
                                   '(world->camera translation) and `center`')
        if 't' in c:
            tc = read_field(c, 't', path, where, (3, ))
            validate_camera(path, where, Kc, Rc, tc, dc, wh)
            t_int = tc * scale
        else:
            cc = read_field(c, 'center', path, where, (3, ))
            validate_camera(path, where, Kc, Rc, cc, dc, wh, dict(t='center'))
            t_int = -(Rc @ A.T) @ (A @ cc * scale)
        check_internal(path, where, {'t' if 't' in c else 'center': t_int, 'K': Kc,
                                     'dist': dc, 'image_size': wh},
                       f'{data["units"]} -> mm')
        K.append(Kc)
        R.append(Rc @ A.T)
        t.append(t_int)
        dist.append(dc)
        size.append(wh)
        names.append(name)
    if camera_names is not None:
        missing = [n for n in camera_names if n not in names]
        if missing:
            raise CalibrationError(f'{path}: cameras {missing} not found (the file has '
                                   f'{names})')
        idx = [names.index(n) for n in camera_names]
        K, R, t, dist, size = ([a[j] for j in idx] for a in (K, R, t, dist, size))
        names = list(camera_names)
    return MultiViewCameras(np.stack(K), np.stack(R), np.stack(t),
                            compact_distortion(np.stack(dist)), np.stack(size), names=names)


def load_rig(path: str, camera_names: Optional[Sequence[str]] = None) -> MultiViewCameras:
    """Read a rig file (JSON, or YAML for ``.yml``/``.yaml``) into the internal convention.

    Returns:
        :class:`MultiViewCameras` of the C cameras (file order, or ``camera_names``'),
        their names in ``.names``.
    """
    return rig_from_dict(_read(path), path, camera_names)


def rig_to_dict(cameras: MultiViewCameras, names: Optional[Sequence[str]] = None,
                units: str = 'mm', world_up: str = '+z', pose: str = 't',
                meta: Optional[dict] = None) -> dict:
    """The rig document of an unbatched rig, in the given ``units`` and ``world_up``.

    Args:
        pose: ``'t'`` (write ``R, t``) or ``'center'`` (write ``R, center``).
    """
    if len(cameras.batch_shape):
        raise ValueError('rig_to_dict expects an unbatched rig')
    if units not in RIG_UNITS:
        raise ValueError(f'units must be one of {list(RIG_UNITS)}, got {units!r}')
    if pose not in ('t', 'center'):
        raise ValueError(f"pose must be 't' or 'center', got {pose!r}")
    names = list(names if names is not None else
                 cameras.names or [f'cam{i}' for i in range(cameras.num_views)])
    if len(names) != cameras.num_views or len(set(names)) != len(names):
        raise ValueError(f'rig_to_dict: need {cameras.num_views} unique names, got {names}')
    A, scale = world_axes(world_up), RIG_UNITS[units]
    # float32 rigs (the loaders' default) are written in float32's shortest decimal
    # form, which reads back to the same float32 (1395.71, not 1395.7099609375);
    # values computed here (unit scaling, centres) keep every float64 digit
    short = _shortest if cameras.dtype == torch.float32 else _plain
    d = {k: np.asarray(v, np.float64) for k, v in cameras.to_dict().items()
         if k != 'names'}
    out = []
    for i, name in enumerate(names):
        R_file = d['R'][i] @ A  # R_int = R_file Aᵀ; A permutes axes and signs: exact
        cam = dict(name=str(name), image_size=_plain(d['image_size'][i]),
                   K=short(d['K'][i]), dist=short(compact_distortion(d['dist'][i])),
                   R=short(R_file))
        if pose == 't':
            cam['t'] = (short if scale == 1 else _plain)(d['t'][i] / scale)
        else:
            center = -d['R'][i].T @ d['t'][i]  # internal mm
            cam['center'] = _plain(A.T @ center / scale)
        if all(v == int(v) for v in cam['image_size']):
            cam['image_size'] = [int(v) for v in cam['image_size']]
        out.append(cam)
    doc = dict(format=RIG_FORMAT, version=1, units=units, world_up=world_up)
    if meta:
        doc['meta'] = dict(meta)
    doc['cameras'] = out
    return doc


def _plain(a: np.ndarray) -> list:
    return np.asarray(a, np.float64).tolist()


def _shortest(a: np.ndarray) -> list:
    """Nested list of the shortest decimals that read back to the same float32."""
    a = np.asarray(a, np.float32)
    return np.array([float(str(v)) for v in a.ravel()]).reshape(a.shape).tolist()


def _compact_json(doc: dict) -> str:
    """Indented JSON with every innermost numeric list on one line (K and R rows)."""
    text = json.dumps(doc, indent=2, allow_nan=False)
    return re.sub(r'\[\s*([^\[\]{}"]*?)\s*\]',
                  lambda m: '[' + ', '.join(v.strip() for v in m.group(1).split(',')
                                            if v.strip()) + ']', text)


def save_rig(path: str, cameras: MultiViewCameras, names: Optional[Sequence[str]] = None,
             units: str = 'mm', world_up: str = '+z', pose: str = 't',
             meta: Optional[dict] = None) -> dict:
    """Write an unbatched rig as a rig file (atomically: a temporary file, then a rename).

    YAML for ``.yml``/``.yaml`` paths, JSON otherwise. Values are written in float64
    ``repr``, so :func:`load_rig` gives back the same numbers (``units='mm'``,
    ``world_up='+z'``: bit-exact). Returns the document written.
    """
    doc = rig_to_dict(cameras, names, units, world_up, pose, meta)
    if path.endswith(('.yml', '.yaml')):
        text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)
    else:
        text = _compact_json(doc) + '\n'
    with atomic_open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return doc
