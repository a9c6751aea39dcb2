"""Loaders of the calibration formats in use into one :class:`MultiViewCameras`.

All loaders return world coordinates in **millimetres, z up** where the source defines
an up axis (Panoptic, the rig format of :mod:`.rig_file`), and the OpenCV convention
``x_cam = R X + t``.

Every loader validates each camera it returns (:func:`validate_camera`): all values
finite, ``R`` a proper rotation (``‖RᵀR − I‖_F ≤ 1e-3`` and ``det R > 0``), positive focal
lengths, a ``K`` whose last row is ``0 0 1``, 5 distortion coefficients and a positive
image size. A violation raises :class:`CalibrationError` naming the file, the camera and
the field.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Optional, Sequence

import numpy as np

from .camera import MultiViewCameras
from selfpose3d_mm.utils import atomic_path

__all__ = [
    'CalibrationError',
    'PANOPTIC_AXES', 'panoptic_points_to_world', 'load_panoptic_calibration',
    'load_shelf_campus_calibration', 'load_opencv_yaml', 'save_opencv_yaml',
    'load_cameras', 'validate_camera', 'guess_calibration_format', 'CALIBRATION_FORMATS'
]

# Panoptic's world is y-down, in cm. Row vectors X·M give (x, z, -y): z up.
PANOPTIC_AXES = np.array([[1., 0., 0.], [0., 0., -1.], [0., 1., 0.]])


class CalibrationError(ValueError):
    """A calibration file is missing a field or has a malformed one."""


def _field(d: dict, key: str, path: str, where: str, shape=None):
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
        Kc, Rc, tc = (_field(c, n, path, where, s) for n, s in
                      (('K', (3, 3)), ('R', (3, 3)), ('t', (3, ))))
        dc = _field(c, 'distCoef', path, where, (5, ))
        sc = _field(c, 'resolution', path, where, (2, ))
        validate_camera(path, where, Kc, Rc, tc, dc, sc,
                        dict(dist='distCoef', image_size='resolution'))
        K.append(Kc)
        R.append(Rc @ PANOPTIC_AXES)
        t.append(tc * 10.0)
        dist.append(dc)
        size.append(sc)
    return MultiViewCameras(np.stack(K), np.stack(R), np.stack(t), np.stack(dist),
                            np.stack(size), names=list(camera_names))


def load_shelf_campus_calibration(path: str, image_size) -> MultiViewCameras:
    """Shelf / Campus ``calibration_*.json`` (VoxelPose's): keys ``"0".."C-1"``, each with
    ``R`` (world→cam), ``T`` (the camera *centre*, mm), ``fx, fy, cx, cy``,
    ``k`` (k1, k2, k3), ``p`` (p1, p2).

    Args:
        image_size: ``(W, H)`` (the file does not store it): Shelf (1032, 776),
            Campus (360, 288); or a (C, 2) array.
    """
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise CalibrationError(f'{path}: expected an object keyed by camera ("0", "1", ...)')
    keys = sorted(data, key=lambda k: (0, int(k), '') if str(k).isdigit() else (1, 0, k))
    if not keys:
        raise CalibrationError(f'{path}: no cameras')
    size = np.array(np.broadcast_to(np.asarray(image_size, np.float64), (len(keys), 2)))
    K, R, t, dist = [], [], [], []
    for i, k in enumerate(keys):
        c, where = data[k], f'camera `{k}`'
        Rk = _field(c, 'R', path, where, (3, 3))
        T = _field(c, 'T', path, where, (3, ))
        fx, fy, cx, cy = (float(_field(c, n, path, where, (1, ))[0])
                          for n in ('fx', 'fy', 'cx', 'cy'))
        kk = _field(c, 'k', path, where, (3, )) if 'k' in c else np.zeros(3)
        pp = _field(c, 'p', path, where, (2, )) if 'p' in c else np.zeros(2)
        Kk = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
        dk = np.array([kk[0], kk[1], pp[0], pp[1], kk[2]])
        validate_camera(path, where, Kk, Rk, T, dk, size[i],
                        dict(K='fx/fy/cx/cy', fx='fx', fy='fy', t='T', dist='k/p',
                             image_size='image_size (argument)'))
        K.append(Kk)
        R.append(Rk)
        t.append(-Rk @ T)
        dist.append(dk)
    return MultiViewCameras(np.array(K), np.stack(R), np.stack(t), np.array(dist), size,
                            names=[str(k) for k in keys])


_UNITS = {'mm': 1.0, 'cm': 10.0, 'm': 1000.0}
# Accepted spellings of each field in OpenCV-style YAML files.
_YAML_ALIASES = {
    'K': ('camera_matrix', 'K', 'intrinsics'),
    'dist': ('distortion_coefficients', 'dist_coeffs', 'D', 'dist'),
    'R': ('rotation_matrix', 'R'),
    'rvec': ('rvec', 'rotation_vector'),
    't': ('translation', 'tvec', 't', 'T'),
}


def _read_node(fs_node, path, where, names, required=True):
    for n in names:
        node = fs_node.getNode(n)
        if not node.empty():
            if node.isString():
                return node.string()
            if node.isSeq():  # plain YAML list ([a, b, c]); .mat() asserts on these
                return np.array([node.at(i).real() for i in range(node.size())])
            if node.isMap():  # !!opencv-matrix
                return np.asarray(node.mat(), np.float64)
            return node.real()
    if required:
        raise CalibrationError(f'{path}: {where} has none of the fields {list(names)}')
    return None


def load_opencv_yaml(path: str) -> MultiViewCameras:
    """OpenCV ``FileStorage`` YAML with a ``cameras`` sequence (see :func:`save_opencv_yaml`).

    Per camera: ``name``; ``image_width``, ``image_height``; ``camera_matrix`` (3×3);
    ``distortion_coefficients`` (k1 k2 p1 p2 [k3], optional); ``rotation_matrix`` (3×3,
    world→cam) or ``rvec`` (Rodrigues); ``translation`` (3, world→cam ``t``). Top-level
    ``units``: ``mm`` (default), ``cm`` or ``m`` for the translation.
    """
    import cv2
    if not osp.isfile(path):
        raise FileNotFoundError(f'calibration file not found: {path}')
    fs = cv2.FileStorage(path, cv2.FILE_STORAGE_READ)
    if not fs.isOpened():
        raise CalibrationError(f'{path}: OpenCV cannot parse it as YAML/XML FileStorage')
    try:
        units = _read_node(fs, path, 'the file', ('units', ), required=False) or 'mm'
        if units not in _UNITS:
            raise CalibrationError(f'{path}: field `units` must be one of '
                                   f'{list(_UNITS)}, got {units!r}')
        seq = fs.getNode('cameras')
        if seq.empty() or not seq.isSeq() or seq.size() == 0:
            raise CalibrationError(f'{path}: no field `cameras` (a non-empty sequence)')
        K, R, t, dist, size, names = [], [], [], [], [], []
        for i in range(seq.size()):
            node = seq.at(i)
            name = _read_node(node, path, f'camera #{i}', ('name', ), required=False)
            name = str(name) if name is not None else str(i)
            where = f'camera `{name}`'
            Ki = _read_node(node, path, where, _YAML_ALIASES['K'])
            if np.size(Ki) != 9:
                raise CalibrationError(f'{path}: {where} field `camera_matrix` must be 3x3')
            d = _read_node(node, path, where, _YAML_ALIASES['dist'], required=False)
            d = np.zeros(5) if d is None else np.ravel(d)
            if d.size not in (4, 5, 8, 12, 14) or np.any(d[5:] != 0):
                raise CalibrationError(f'{path}: {where} field `distortion_coefficients` '
                                       f'must be k1 k2 p1 p2 [k3] (got {d.size} values)')
            d = np.concatenate([d, np.zeros(5)])[:5]
            Ri = _read_node(node, path, where, _YAML_ALIASES['R'], required=False)
            if Ri is None:
                rv = _read_node(node, path, where, _YAML_ALIASES['rvec'] +
                                _YAML_ALIASES['R'])
                Ri = cv2.Rodrigues(np.asarray(rv, np.float64).reshape(3, 1))[0]
            ti = np.ravel(_read_node(node, path, where, _YAML_ALIASES['t']))
            if ti.size != 3:
                raise CalibrationError(f'{path}: {where} field `translation` needs 3 values')
            w = _read_node(node, path, where, ('image_width', 'width'))
            h = _read_node(node, path, where, ('image_height', 'height'))
            if np.size(Ri) != 9:
                raise CalibrationError(f'{path}: {where} field `rotation_matrix` must be '
                                       f'3x3 (got {np.size(Ri)} values)')
            try:
                wh = [float(w), float(h)]
            except (TypeError, ValueError):
                raise CalibrationError(f'{path}: {where} fields `image_width`/'
                                       f'`image_height` must be numbers, got {w!r}, {h!r}')
            validate_camera(path, where, Ki, Ri, ti, d, wh,
                            dict(K='camera_matrix', fx='camera_matrix',
                                 fy='camera_matrix', R='rotation_matrix/rvec',
                                 t='translation', dist='distortion_coefficients',
                                 image_size='image_width/image_height'))
            K.append(np.reshape(Ki, (3, 3)))
            R.append(np.reshape(Ri, (3, 3)))
            t.append(ti * _UNITS[units])
            dist.append(d)
            size.append(wh)
            names.append(name)
    finally:
        fs.release()
    return MultiViewCameras(np.stack(K), np.stack(R), np.stack(t), np.stack(dist),
                            np.array(size), names=names)


def save_opencv_yaml(cameras: MultiViewCameras, path: str):
    """Write an unbatched rig in the format :func:`load_opencv_yaml` reads (atomically)."""
    import cv2
    if len(cameras.batch_shape):
        raise ValueError('save_opencv_yaml expects an unbatched rig')
    d = cameras.to_dict()
    with atomic_path(path) as tmp:
        fs = cv2.FileStorage(tmp, cv2.FILE_STORAGE_WRITE)
        fs.write('units', 'mm')
        fs.startWriteStruct('cameras', cv2.FileNode_SEQ)
        for i in range(cameras.num_views):
            fs.startWriteStruct('', cv2.FileNode_MAP)
            fs.write('name', (cameras.names or [str(j) for j in range(cameras.num_views)])[i])
            fs.write('image_width', int(d['image_size'][i, 0]))
            fs.write('image_height', int(d['image_size'][i, 1]))
            fs.write('camera_matrix', d['K'][i].astype(np.float64))
            fs.write('distortion_coefficients', d['dist'][i].astype(np.float64).reshape(1, 5))
            fs.write('rotation_matrix', d['R'][i].astype(np.float64))
            fs.write('translation', d['t'][i].astype(np.float64).reshape(3, 1))
            fs.endWriteStruct()
        fs.endWriteStruct()
        fs.release()


CALIBRATION_FORMATS = ('rig', 'panoptic', 'shelf_campus', 'opencv')


def guess_calibration_format(path: str) -> str:
    """The format of a calibration file from its content (see :func:`load_cameras`)."""
    if path.endswith(('.yml', '.yaml', '.xml')):
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read()
        if (path.endswith('.xml') or text.lstrip().startswith('%YAML:')
                or '!!opencv-matrix' in text):
            return 'opencv'  # OpenCV FileStorage (PyYAML cannot parse it)
        import yaml
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            return 'opencv'  # let OpenCV's reader say what is wrong
        from .rig_file import is_rig_dict
        return 'rig' if is_rig_dict(data) else 'opencv'
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise CalibrationError(f'{path}: not a valid JSON file: {e}') from None
    from .rig_file import is_rig_dict
    if is_rig_dict(data):
        return 'rig'
    return 'panoptic' if isinstance(data, dict) and 'cameras' in data else 'shelf_campus'


def load_cameras(path: str, fmt: Optional[str] = None, **kwargs) -> MultiViewCameras:
    """Load a rig from any supported file, guessing the format from its content.

    Args:
        fmt: ``'rig'`` (this package's format, :mod:`.rig_file`), ``'panoptic'``,
            ``'shelf_campus'`` or ``'opencv'`` (``'opencv_yaml'`` is an alias); guessed
            when ``None``: a JSON/YAML file with ``"format": "selfpose3d_mm/rig"`` (or a
            top-level ``units``, ``world_up`` and a ``cameras`` list) is a rig file, a
            ``.xml`` file or a YAML file with ``%YAML:`` or ``!!opencv-matrix`` (or that
            PyYAML cannot read) OpenCV's, a JSON object with ``cameras`` Panoptic's, any
            other JSON Shelf/Campus's.
        kwargs: passed to the loader (``camera_names`` for Panoptic, ``image_size`` for
            Shelf/Campus).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'calibration file not found: {path}')
    fmt = {'opencv_yaml': 'opencv'}.get(fmt, fmt)
    if fmt is None:
        fmt = guess_calibration_format(path)
    from .rig_file import load_rig
    loaders = {'rig': load_rig,
               'panoptic': load_panoptic_calibration,
               'shelf_campus': load_shelf_campus_calibration,
               'opencv': load_opencv_yaml}
    if fmt not in loaders:
        raise ValueError(f'unknown calibration format {fmt!r}; one of {list(loaders)}')
    return loaders[fmt](path, **kwargs)
