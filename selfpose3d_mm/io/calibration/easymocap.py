"""EasyMocap's cameras: ``intri.yml`` + ``extri.yml``, two OpenCV ``FileStorage`` YAML files.

=============  =======================================================================
file           fields (``<n>``: each camera name listed in ``names``)
=============  =======================================================================
``intri.yml``  ``names`` (sequence of camera names); ``K_<n>`` 3×3 px;
               ``dist_<n>`` (or ``D_<n>``) OpenCV's 4/5/8/12/14 coefficients (optional);
               ``H_<n>``, ``W_<n>`` image height and width (optional: EasyMocap writes them
               when it knows them; otherwise pass ``image_size=``)
``extri.yml``  ``names``; ``R_<n>`` world→camera rotation as a Rodrigues vector (3×1),
               ``Rot_<n>`` the same as a 3×3 matrix (either; both must agree,
               the matrix is used);
               ``T_<n>`` world→camera translation (3×1), metres
=============  =======================================================================

Both files are read with ``cv2.FileStorage`` (never PyYAML: ``!!opencv-matrix`` nodes are
OpenCV's). EasyMocap's convention is OpenCV's ``x_cam = R X + t`` in metres; the world
is the calibration board's (``world_up='+z'`` by default: a board on the floor, z up).
"""
from __future__ import annotations

import os
import os.path as osp
import re
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.utils import atomic_path
from .assemble import (build_rig, check_principal_point, normalise_units, resolve_image_size,
                       warn)
from .common import (DIST_COUNTS, LENGTH_UNITS, CalibrationError, compact_distortion,
                     validate_camera)
from .opencv_yaml import open_file_storage, read_fs_node

__all__ = ['EASYMOCAP_FILES', 'easymocap_paths', 'load_easymocap', 'save_easymocap']

EASYMOCAP_FILES = ('intri.yml', 'extri.yml')
_NAME = re.compile(r'^[A-Za-z0-9_-]+$')  # what a FileStorage key may hold after `K_`


def easymocap_paths(path: str, path2: Optional[str] = None) -> Tuple[str, str]:
    """(intri, extri) from a folder holding both, from one of the two files (the other is
    its sibling) or from both files (told apart by name, else taken in that order)."""
    path = os.fspath(path)
    if path2 is None and osp.isdir(path):
        found = []
        for stem in ('intri', 'extri'):
            cands = [osp.join(path, stem + e) for e in ('.yml', '.yaml')]
            found.append(next((c for c in cands if osp.isfile(c)), None))
        if None in found:
            raise CalibrationError(f'{path}: an EasyMocap camera folder holds intri.yml and '
                                   f'extri.yml; found {sorted(os.listdir(path))[:12]}')
        return found[0], found[1]
    if path2 is None:
        folder, base = osp.split(path)
        for a, b in (('intri', 'extri'), ('extri', 'intri')):
            if base.startswith(a):
                other = osp.join(folder, b + base[len(a):])
                if not osp.isfile(other):
                    raise CalibrationError(f'{path}: EasyMocap cameras need both files; '
                                           f'{other} is missing (give both, or the folder)')
                return (path, other) if a == 'intri' else (other, path)
        raise CalibrationError(f'{path}: EasyMocap cameras are two files, intri.yml and '
                               'extri.yml: give both (or their folder)')
    path2 = os.fspath(path2)
    names = [osp.basename(p).lower() for p in (path, path2)]
    if 'extri' in names[0] and 'intri' in names[1]:
        path, path2 = path2, path
    for p in (path, path2):
        if not osp.isfile(p):
            raise FileNotFoundError(f'calibration file not found: {p}')
    return path, path2


def _names(fs, path: str) -> List[str]:
    node = fs.getNode('names')
    if node.empty() or node.isNone() or not node.isSeq() or node.size() == 0:
        raise CalibrationError(f'{path}: no field `names` (the sequence of camera names)')
    out = []
    for i in range(node.size()):
        e = node.at(i)
        if e.isString():
            out.append(e.string())
        elif e.isInt():
            out.append(str(int(e.real())))
        else:
            raise CalibrationError(f'{path}: field `names` element #{i} is not a name')
    dups = sorted({n for n in out if out.count(n) > 1})
    if dups:
        raise CalibrationError(f'{path}: field `names` lists {dups} more than once')
    return out


def _rotation(fe, extri: str, where: str, n: str) -> np.ndarray:
    rv = read_fs_node(fe, extri, where, (f'R_{n}', ), required=False)
    rm = read_fs_node(fe, extri, where, (f'Rot_{n}', ), required=False)
    if rv is None and rm is None:
        raise CalibrationError(f'{extri}: {where} has none of the fields `R_{n}` (Rodrigues) '
                               f'and `Rot_{n}` (3x3)')
    out = None
    if rv is not None:
        if np.size(rv) == 3 and np.isfinite(rv).all():
            out = cv2.Rodrigues(np.asarray(rv, np.float64).reshape(3, 1))[0]
        elif np.size(rv) == 9:
            out = np.reshape(rv, (3, 3))
        else:
            raise CalibrationError(f'{extri}: {where} field `R_{n}` must be 3 finite values '
                                   f'(Rodrigues), got {np.ravel(rv).tolist()}')
    if rm is not None:
        if np.size(rm) != 9:
            raise CalibrationError(f'{extri}: {where} field `Rot_{n}` must be 3x3, got '
                                   f'{np.size(rm)} values')
        rm = np.reshape(rm, (3, 3))
        if out is not None and np.isfinite(rm).all() and np.abs(out - rm).max() > 1e-4:
            raise CalibrationError(f'{extri}: {where} fields `R_{n}` and `Rot_{n}` are '
                                   f'different rotations (max difference '
                                   f'{np.abs(out - rm).max():.3g})')
        out = rm  # the matrix itself: no Rodrigues round trip
    return out


def _camera(fi, fe, intri: str, extri: str, n: str, image_size) -> dict:
    where = f'camera `{n}`'
    K = read_fs_node(fi, intri, where, (f'K_{n}', ))
    if np.size(K) != 9:
        raise CalibrationError(f'{intri}: {where} field `K_{n}` must be 3x3, got '
                               f'{np.size(K)} values')
    K = np.reshape(K, (3, 3))
    d = read_fs_node(fi, intri, where, (f'dist_{n}', f'D_{n}'), required=False)
    d = np.zeros(0) if d is None else np.ravel(d)
    if d.size and d.size not in DIST_COUNTS:
        raise CalibrationError(f'{intri}: {where} field `dist_{n}` has {d.size} values: '
                               'OpenCV\'s models have 4 / 5 / 8 / 12 / 14')
    d = np.concatenate([d, np.zeros(14 - d.size)])
    h = read_fs_node(fi, intri, where, (f'H_{n}', ), required=False)
    w = read_fs_node(fi, intri, where, (f'W_{n}', ), required=False)
    wh = None if h is None or w is None else np.array([np.ravel(w)[0], np.ravel(h)[0]])
    if wh is not None and not (wh > 0).all():  # EasyMocap writes -1 when unknown
        wh = None
    wh = resolve_image_size(intri, where, wh, image_size, f'`W_{n}`/`H_{n}`')
    validate_camera(intri, where, K, np.eye(3), np.zeros(3), d, wh,
                    dict(K=f'K_{n}', fx=f'K_{n}', fy=f'K_{n}', dist=f'dist_{n}',
                         image_size=f'W_{n}/H_{n}'))
    check_principal_point(intri, where, K, wh, f'`K_{n}`', f'`W_{n}`/`H_{n}`')
    R = _rotation(fe, extri, where, n)
    t = np.ravel(read_fs_node(fe, extri, where, (f'T_{n}', )))
    if t.size != 3:
        raise CalibrationError(f'{extri}: {where} field `T_{n}` needs 3 values, got {t.size}')
    validate_camera(extri, where, K, R, t, d, wh, dict(R=f'R_{n}/Rot_{n}', t=f'T_{n}'))
    return dict(name=n, K=K, R=R, t=t, dist=d, image_size=wh, t_field=f'T_{n}')


def _unused(fs, path: str, names: Sequence[str], prefixes: Sequence[str]):
    keys = set(fs.root().keys()) - {'names'}
    keys -= {p + n for p in prefixes for n in names}
    if keys:
        warn(f'{path}: ignored field(s) {sorted(keys)[:10]} (cameras not listed in '
             '`names`, or not EasyMocap fields)')


def load_easymocap(path: str, path2: Optional[str] = None, units: str = 'm',
                   world_up: str = '+z', image_size=None) -> MultiViewCameras:
    """EasyMocap ``intri.yml`` + ``extri.yml`` → rig (cameras in ``names`` order).

    Args:
        path, path2: the folder, one of the files, or both (see :func:`easymocap_paths`).
        units: of ``T_<n>`` (EasyMocap: metres).
        world_up: the calibration world's up axis.
        image_size: (W, H) of the cameras without ``H_<n>``/``W_<n>``.
    """
    intri, extri = easymocap_paths(path, path2)
    units = normalise_units(units, extri, 'units (argument)')
    fi = open_file_storage(intri)
    try:
        fe = open_file_storage(extri)
        try:
            names = _names(fi, intri)
            cams = [_camera(fi, fe, intri, extri, n, image_size) for n in names]
            _unused(fi, intri, names, ('K_', 'dist_', 'D_', 'H_', 'W_'))
            _unused(fe, extri, names, ('R_', 'Rot_', 'T_'))
        finally:
            fe.release()
    finally:
        fi.release()
    return build_rig(extri, cams, units, world_up)


def save_easymocap(cameras: MultiViewCameras, folder: str, units: str = 'm',
                   names: Optional[Sequence[str]] = None) -> Tuple[str, str]:
    """Write an unbatched rig as EasyMocap's ``intri.yml`` + ``extri.yml`` in ``folder``
    (each atomically), world axes as they are (z up), ``T_<n>`` in ``units``.

    Returns:
        the two paths written.
    """
    if len(cameras.batch_shape):
        raise ValueError('save_easymocap expects an unbatched rig')
    scale = LENGTH_UNITS[normalise_units(units, folder, 'units')]
    names = list(names or cameras.names or [f'{i:02d}' for i in range(cameras.num_views)])
    bad = [n for n in names if not _NAME.match(str(n))]
    if bad or len(set(names)) != len(names) or len(names) != cameras.num_views:
        raise ValueError(f'save_easymocap: need {cameras.num_views} unique names of letters, '
                         f'digits, _ and - (FileStorage keys), got {names}')
    d = {k: np.asarray(v, np.float64) for k, v in cameras.to_dict().items() if k != 'names'}
    paths = tuple(osp.join(folder, f) for f in EASYMOCAP_FILES)

    def write(path, fields):
        with atomic_path(path) as tmp:
            fs = cv2.FileStorage(tmp, cv2.FILE_STORAGE_WRITE)
            fs.startWriteStruct('names', cv2.FileNode_SEQ)
            for n in names:
                fs.write('', str(n))
            fs.endWriteStruct()
            for i, n in enumerate(names):
                for key, value in fields(i):
                    fs.write(f'{key}_{n}', value)
            fs.release()

    write(paths[0], lambda i: [('K', d['K'][i]),
                               ('dist', compact_distortion(d['dist'][i]).reshape(1, -1)),
                               ('H', int(round(d['image_size'][i, 1]))),
                               ('W', int(round(d['image_size'][i, 0])))])
    write(paths[1], lambda i: [('R', cv2.Rodrigues(d['R'][i])[0]), ('Rot', d['R'][i]),
                               ('T', (d['t'][i] / scale).reshape(3, 1))])
    return paths
