"""Any calibration: its format guessed from its content (:mod:`.guess`), then read.

=================  ====================================================================
format             input
=================  ====================================================================
``rig``            this package's rig file (:mod:`.rig_file`), JSON or YAML
``panoptic``       CMU Panoptic ``calibration_<seq>.json`` (:mod:`.panoptic`)
``shelf_campus``   VoxelPose's Shelf / Campus ``calibration_*.json`` (:mod:`.shelf_campus`)
``opencv``         OpenCV ``FileStorage`` YAML/XML with a ``cameras`` sequence
                   (:mod:`.opencv_yaml`; alias ``opencv_yaml``)
``generic_json``   a generic K + [R|t] JSON (:mod:`.generic_json`)
``easymocap``      EasyMocap ``intri.yml`` + ``extri.yml``: their folder, one of them, or
                   both as ``(intri, extri)`` (:mod:`.easymocap`)
``toml``           Pose2Sim / anipose ``Calib*.toml`` (:mod:`.toml_calibration`)
``qualisys``       Qualisys QTM ``*.qca.txt`` (:mod:`.qualisys`)
=================  ====================================================================

All loaders return world coordinates in **millimetres, z up** (where the source defines an
up axis; the others take ``world_up=``) and the OpenCV convention ``x_cam = R X + t``.
"""
from __future__ import annotations

import inspect
import os
import os.path as osp
from typing import Optional, Tuple

from selfpose3d_mm.geometry import MultiViewCameras
from .common import CalibrationError
from .easymocap import load_easymocap
from .generic_json import load_generic_json
from .guess import guess_calibration
from .opencv_yaml import load_opencv_yaml
from .panoptic import load_panoptic_calibration
from .qualisys import load_qualisys_calibration
from .rig_file import load_rig
from .shelf_campus import load_shelf_campus_calibration
from .toml_calibration import load_toml_calibration

__all__ = ['CALIBRATION_FORMATS', 'CALIBRATION_LOADERS', 'guess_calibration',
           'guess_calibration_format', 'load_cameras']

CALIBRATION_LOADERS = {
    'rig': load_rig,
    'panoptic': load_panoptic_calibration,
    'shelf_campus': load_shelf_campus_calibration,
    'opencv': load_opencv_yaml,
    'generic_json': load_generic_json,
    'easymocap': load_easymocap,
    'toml': load_toml_calibration,
    'qualisys': load_qualisys_calibration,
}
CALIBRATION_FORMATS = tuple(CALIBRATION_LOADERS)
_ALIASES = {'opencv_yaml': 'opencv', 'json': 'generic_json', 'pose2sim': 'toml',
            'anipose': 'toml', 'qca': 'qualisys'}


def guess_calibration_format(path) -> str:
    """The format of a calibration file (or EasyMocap folder) from its content (see
    :func:`load_cameras`; :func:`guess_calibration` also says why).

    Raises:
        CalibrationError: the file is not text of a supported format, or its content fits
            none of them (the message says what it found and what each format needs).
    """
    return guess_calibration(path)[0]


def _split(path) -> Tuple[str, Optional[str]]:
    if isinstance(path, (list, tuple)):
        if len(path) not in (1, 2):
            raise CalibrationError(f'{path}: give one calibration input, or two for '
                                   'EasyMocap (intri.yml, extri.yml)')
        return os.fspath(path[0]), (os.fspath(path[1]) if len(path) == 2 else None)
    return os.fspath(path), None


def _check_kwargs(path: str, fmt: str, kwargs: dict, why: str = ''):
    """A keyword the format's loader does not take: an error saying so (not a TypeError)."""
    params = inspect.signature(CALIBRATION_LOADERS[fmt]).parameters
    extra = sorted(set(kwargs) - set(params))
    if extra:
        reason = {'image_size': 'it stores the image sizes',
                  'units': 'it states its own units',
                  'world_up': 'its world axes are fixed'}
        because = '; '.join(f'{k}: {reason.get(k, "not an option of this format")}'
                            for k in extra)
        raise CalibrationError(f'{path}: the {fmt!r} format{why} takes no {extra} '
                               f'({because})')


def load_cameras(path, fmt: Optional[str] = None, **kwargs) -> MultiViewCameras:
    """Load a rig from any supported calibration, guessing the format from its content.

    Args:
        path: a file; EasyMocap: their folder, one of the two files, or
            ``(intri, extri)``.
        fmt: one of :data:`CALIBRATION_FORMATS` (aliases: ``opencv_yaml`` → ``opencv``,
            ``pose2sim``/``anipose`` → ``toml``, ``qca`` → ``qualisys``, ``json`` →
            ``generic_json``); guessed when ``None`` (:func:`guess_calibration`: see
            :mod:`.guess` for the rules). When a guessed format's loader fails, its
            message ends with the guess and why.
        kwargs: passed to the loader: ``camera_names`` (Panoptic, rig), ``image_size``
            (Shelf/Campus; generic JSON and EasyMocap cameras without a size),
            ``units`` (generic JSON without ``units``; TOML, EasyMocap: default metres),
            ``world_up`` (generic JSON, TOML, EasyMocap), ``subpixel``/``binning``
            (Qualisys). A keyword the format does not take is a :class:`CalibrationError`.
    """
    path, path2 = _split(path)
    if not (osp.isfile(path) or (osp.isdir(path) and path2 is None)):
        raise FileNotFoundError(f'calibration file not found: {path}')
    fmt = _ALIASES.get(fmt, fmt)
    if fmt is not None:
        if fmt not in CALIBRATION_LOADERS:
            raise ValueError(f'unknown calibration format {fmt!r}; one of '
                             f'{list(CALIBRATION_LOADERS)}')
        if path2 is not None and fmt != 'easymocap':
            raise CalibrationError(f'{path}: two inputs were given, but the {fmt!r} format '
                                   'is one file (only EasyMocap has two)')
        _check_kwargs(path, fmt, kwargs)
        if fmt == 'easymocap':
            return load_easymocap(path, path2, **kwargs)
        return CALIBRATION_LOADERS[fmt](path, **kwargs)
    fmt, why = guess_calibration(path, path2)
    if fmt == 'shelf_campus' and 'image_size' not in kwargs:
        raise CalibrationError(f'{path}: format guessed as \'shelf_campus\' because {why}; '
                               'that format does not store the image size: pass '
                               'image_size=(W, H) (Shelf 1032 776, Campus 360 288)')
    try:
        _check_kwargs(path, fmt, kwargs, f' (guessed because {why})')
        if fmt == 'easymocap':
            return load_easymocap(path, path2, **kwargs)
        return CALIBRATION_LOADERS[fmt](path, **kwargs)
    except CalibrationError as e:
        if 'format guessed as' in str(e) or '(guessed because' in str(e):
            raise
        raise CalibrationError(f'{e} [format guessed as {fmt!r} because {why}; pass the '
                               'format explicitly to read it as another one]') from None
