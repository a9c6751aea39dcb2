"""OpenCV ``FileStorage`` calibration files (YAML or XML) with a ``cameras`` sequence."""
from __future__ import annotations

import os.path as osp

import cv2
import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.utils import atomic_path
from .common import LENGTH_UNITS, CalibrationError, validate_camera

__all__ = ['load_opencv_yaml', 'save_opencv_yaml']

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
    if not osp.isfile(path):
        raise FileNotFoundError(f'calibration file not found: {path}')
    fs = cv2.FileStorage(path, cv2.FILE_STORAGE_READ)
    if not fs.isOpened():
        raise CalibrationError(f'{path}: OpenCV cannot parse it as YAML/XML FileStorage')
    try:
        units = _read_node(fs, path, 'the file', ('units', ), required=False) or 'mm'
        if units not in LENGTH_UNITS:
            raise CalibrationError(f'{path}: field `units` must be one of '
                                   f'{list(LENGTH_UNITS)}, got {units!r}')
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
            t.append(ti * LENGTH_UNITS[units])
            dist.append(d)
            size.append(wh)
            names.append(name)
    finally:
        fs.release()
    return MultiViewCameras(np.stack(K), np.stack(R), np.stack(t), np.stack(dist),
                            np.array(size), names=names)


def save_opencv_yaml(cameras: MultiViewCameras, path: str):
    """Write an unbatched rig in the format :func:`load_opencv_yaml` reads (atomically)."""
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
