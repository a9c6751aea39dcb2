"""OpenCV ``FileStorage`` calibration files (YAML or XML) with a ``cameras`` sequence."""
from __future__ import annotations

import os.path as osp
from typing import Optional

import cv2
import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.utils import atomic_path
from ..json_yaml import read_text
from .common import (DIST_COUNTS, LENGTH_UNITS, CalibrationError, check_internal,
                     compact_distortion, validate_camera)

__all__ = ['load_opencv_yaml', 'save_opencv_yaml', 'open_file_storage', 'read_fs_node']

# Accepted spellings of each field in OpenCV-style YAML files.
_YAML_ALIASES = {
    'K': ('camera_matrix', 'K', 'intrinsics'),
    'dist': ('distortion_coefficients', 'dist_coeffs', 'D', 'dist'),
    'R': ('rotation_matrix', 'R'),
    'rvec': ('rvec', 'rotation_vector'),
    't': ('translation', 'tvec', 't', 'T'),
}


def _cv_message(e: BaseException) -> str:
    """The useful line of an OpenCV exception (``error: (-212:Parsing error) ...``)."""
    if isinstance(e, SystemError):  # cv2 sets the real error as the cause
        e = e.__cause__ or e.__context__ or e
    text = ' '.join(str(e).split())
    return text[text.find('error: ') + 7:] if 'error: ' in text else text


def _numbers(node, path: str, where: str, name: str, depth: int = 0) -> list:
    """The numbers of a (nested) FileNode sequence, or an error naming the field."""
    out = []
    for i in range(node.size()):
        e = node.at(i)
        if e.isSeq() and depth < 3:
            out += _numbers(e, path, where, name, depth + 1)
        elif e.isInt() or e.isReal():
            out.append(e.real())
        else:
            raise CalibrationError(f'{path}: {where} field `{name}` has a non-numeric '
                                   f'element #{i}')
    return out


def _read_node(fs_node, path, where, names, required=True, text=False):
    """The first present field of ``names``: a string (``text``) or a float64 number /
    array; errors name the file, the camera and the field."""
    for n in names:
        node = fs_node.getNode(n)
        if node.empty() or node.isNone():
            continue
        try:
            if text:
                if node.isString():
                    return node.string()
                if node.isInt():
                    return str(int(node.real()))
                raise CalibrationError(f'{path}: {where} field `{n}` must be a string')
            if node.isSeq():  # plain YAML list ([a, b, c]); .mat() asserts on these
                return np.array(_numbers(node, path, where, n), np.float64)
            if node.isMap():  # !!opencv-matrix
                mat = node.mat()
                if mat is None:
                    raise CalibrationError(f'{path}: {where} field `{n}` is a mapping but '
                                           'not an !!opencv-matrix')
                return np.asarray(mat, np.float64)
            if node.isInt() or node.isReal():
                return np.float64(node.real())
            raise CalibrationError(f'{path}: {where} field `{n}` is not numeric')
        except cv2.error as e:
            raise CalibrationError(f'{path}: {where} field `{n}`: OpenCV cannot read it '
                                   f'({_cv_message(e)})') from None
    if required:
        raise CalibrationError(f'{path}: {where} has none of the fields {list(names)}')
    return None


def _open(path: str):
    read_text(path, CalibrationError, 'YAML/XML text')  # binary, UTF-16: a clear error
    try:
        fs = cv2.FileStorage(path, cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as e:  # a truncated or malformed file
        raise CalibrationError(f'{path}: OpenCV cannot parse it as a YAML/XML FileStorage '
                               f'file: {_cv_message(e)}') from None
    if not fs.isOpened():
        raise CalibrationError(f'{path}: OpenCV cannot parse it as YAML/XML FileStorage')
    return fs


# for this package's other FileStorage formats (EasyMocap's intri.yml / extri.yml)
open_file_storage = _open
read_fs_node = _read_node


def _camera(node, path: str, where: str, scale: float):
    """One camera node → (K, R, t in mm, dist padded to 14, (W, H))."""
    Ki = _read_node(node, path, where, _YAML_ALIASES['K'])
    if np.size(Ki) != 9:
        raise CalibrationError(f'{path}: {where} field `camera_matrix` must be 3x3 '
                               f'(got {np.size(Ki)} values)')
    d = _read_node(node, path, where, _YAML_ALIASES['dist'], required=False)
    d = np.zeros(0) if d is None else np.ravel(d)
    if d.size and d.size not in DIST_COUNTS:
        raise CalibrationError(
            f'{path}: {where} field `distortion_coefficients` has {d.size} values: '
            'OpenCV\'s models have 4 / 5 / 8 / 12 / 14 (k1 k2 p1 p2 [k3 [k4 k5 k6 '
            '[s1 s2 s3 s4 [tau_x tau_y]]]])')
    d = np.concatenate([d, np.zeros(14 - d.size)])
    Ri = _read_node(node, path, where, _YAML_ALIASES['R'], required=False)
    if Ri is None:
        rv = _read_node(node, path, where, _YAML_ALIASES['rvec'] + _YAML_ALIASES['R'])
        if np.size(rv) != 3 or not np.isfinite(rv).all():
            raise CalibrationError(f'{path}: {where} field `rvec` must be 3 finite values '
                                   f'(a Rodrigues vector), got {np.ravel(rv).tolist()}')
        Ri = cv2.Rodrigues(np.asarray(rv, np.float64).reshape(3, 1))[0]
    ti = np.ravel(_read_node(node, path, where, _YAML_ALIASES['t']))
    if ti.size != 3:
        raise CalibrationError(f'{path}: {where} field `translation` needs 3 values')
    w = _read_node(node, path, where, ('image_width', 'width'))
    h = _read_node(node, path, where, ('image_height', 'height'))
    if np.size(Ri) != 9:
        raise CalibrationError(f'{path}: {where} field `rotation_matrix` must be '
                               f'3x3 (got {np.size(Ri)} values)')
    if np.size(w) != 1 or np.size(h) != 1:
        raise CalibrationError(f'{path}: {where} fields `image_width`/`image_height` '
                               f'must be numbers, got {w!r}, {h!r}')
    wh = [float(w), float(h)]
    validate_camera(path, where, Ki, Ri, ti, d, wh,
                    dict(K='camera_matrix', fx='camera_matrix', fy='camera_matrix',
                         R='rotation_matrix/rvec', t='translation',
                         dist='distortion_coefficients',
                         image_size='image_width/image_height'))
    check_internal(path, where, dict(translation=ti * scale, camera_matrix=Ki,
                                     distortion_coefficients=d), 'units -> mm')
    return np.reshape(Ki, (3, 3)), np.reshape(Ri, (3, 3)), ti * scale, d, wh


def load_opencv_yaml(path: str) -> MultiViewCameras:
    """OpenCV ``FileStorage`` YAML with a ``cameras`` sequence (see :func:`save_opencv_yaml`).

    Per camera: ``name`` (unique); ``image_width``, ``image_height``; ``camera_matrix``
    (3×3); ``distortion_coefficients`` (optional; OpenCV's 4, 5, 8, 12 or 14 values:
    k1 k2 p1 p2 [k3 [k4 k5 k6 [s1 s2 s3 s4 [τx τy]]]]); ``rotation_matrix`` (3×3,
    world→cam) or ``rvec`` (Rodrigues); ``translation`` (3, world→cam ``t``). Top-level
    ``units``: ``mm`` (default), ``cm`` or ``m`` for the translation. A binary, UTF-16,
    truncated or malformed file, a duplicated camera name, or any invalid camera field
    raises :class:`CalibrationError` naming the file (and the camera and the field).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'calibration file not found: {path}')
    fs = _open(path)
    try:
        units = _read_node(fs, path, 'the file', ('units', ), required=False,
                           text=True) or 'mm'
        if units not in LENGTH_UNITS:
            raise CalibrationError(f'{path}: field `units` must be one of '
                                   f'{list(LENGTH_UNITS)}, got {units!r}')
        seq = fs.getNode('cameras')
        if seq.empty() or not seq.isSeq() or seq.size() == 0:
            raise CalibrationError(f'{path}: no field `cameras` (a non-empty sequence)')
        cams, names = [], []
        for i in range(seq.size()):
            node = seq.at(i)
            if not node.isMap():
                raise CalibrationError(f'{path}: camera #{i} of field `cameras` is not a '
                                       'mapping of fields')
            name: Optional[str] = _read_node(node, path, f'camera #{i}', ('name', ),
                                             required=False, text=True)
            name = str(i) if name is None else name
            where = f'camera `{name}`'
            if name in names:
                raise CalibrationError(f'{path}: {where} field `name` is duplicated (camera '
                                       f'#{names.index(name)} and #{i}; unnamed cameras '
                                       'are named by their index)')
            cams.append(_camera(node, path, where, LENGTH_UNITS[units]))
            names.append(name)
    finally:
        fs.release()
    K, R, t, dist, size = (np.array(a) for a in zip(*cams))
    return MultiViewCameras(K, R, t, compact_distortion(dist), size, names=names)


def save_opencv_yaml(cameras: MultiViewCameras, path: str):
    """Write an unbatched rig in the format :func:`load_opencv_yaml` reads (atomically);
    each camera's ``distortion_coefficients`` up to its last non-zero model group (5, 8,
    12 or 14 values)."""
    if len(cameras.batch_shape):
        raise ValueError('save_opencv_yaml expects an unbatched rig')
    d = cameras.to_dict()
    names = cameras.names or [str(j) for j in range(cameras.num_views)]
    if len(set(names)) != len(names):
        raise ValueError(f'save_opencv_yaml: camera names must be unique, got {names}')
    with atomic_path(path) as tmp:
        fs = cv2.FileStorage(tmp, cv2.FILE_STORAGE_WRITE)
        fs.write('units', 'mm')
        fs.startWriteStruct('cameras', cv2.FileNode_SEQ)
        for i in range(cameras.num_views):
            fs.startWriteStruct('', cv2.FileNode_MAP)
            fs.write('name', names[i])
            fs.write('image_width', int(d['image_size'][i, 0]))
            fs.write('image_height', int(d['image_size'][i, 1]))
            fs.write('camera_matrix', d['K'][i].astype(np.float64))
            fs.write('distortion_coefficients',
                     compact_distortion(d['dist'][i]).astype(np.float64).reshape(1, -1))
            fs.write('rotation_matrix', d['R'][i].astype(np.float64))
            fs.write('translation', d['t'][i].astype(np.float64).reshape(3, 1))
            fs.endWriteStruct()
        fs.endWriteStruct()
        fs.release()
