"""Any calibration file: its format guessed from its content, then read.

=================  ====================================================================
format             file
=================  ====================================================================
``rig``            this package's rig file (:mod:`.rig_file`), JSON or YAML
``panoptic``       CMU Panoptic ``calibration_<seq>.json`` (:mod:`.panoptic`)
``shelf_campus``   VoxelPose's Shelf / Campus ``calibration_*.json`` (:mod:`.shelf_campus`)
``opencv``         OpenCV ``FileStorage`` YAML/XML (:mod:`.opencv_yaml`)
=================  ====================================================================

All loaders return world coordinates in **millimetres, z up** where the source defines
an up axis (Panoptic, the rig format), and the OpenCV convention ``x_cam = R X + t``.
"""
from __future__ import annotations

import os.path as osp
from typing import Optional, Tuple

from selfpose3d_mm.geometry import MultiViewCameras
from ..json_yaml import load_json, load_yaml, read_text
from .common import CalibrationError
from .opencv_yaml import load_opencv_yaml
from .panoptic import load_panoptic_calibration
from .rig_file import RIG_FORMAT, is_rig_dict, load_rig
from .shelf_campus import load_shelf_campus_calibration

__all__ = ['CALIBRATION_FORMATS', 'guess_calibration_format', 'load_cameras']

CALIBRATION_FORMATS = ('rig', 'panoptic', 'shelf_campus', 'opencv')

_EXPECTED = (f'a rig file (`"format": "{RIG_FORMAT}"`, or top-level `units`, `world_up` '
             'and a `cameras` list), a CMU Panoptic file (an object with a `cameras` list), '
             'a Shelf/Campus file (an object keyed by camera, "0", "1", ..., each with `R`, '
             '`T`, `fx`, ...) or an OpenCV FileStorage .yml/.yaml/.xml')


def _describe(data) -> str:
    if data is None:
        return 'empty (null)'
    if isinstance(data, dict):
        keys = list(data)
        return f'an object with keys {keys[:8]}{" ..." if len(keys) > 8 else ""}'
    return f'{"a list" if isinstance(data, list) else "a " + type(data).__name__} ' \
           f'({str(data)[:40]})'


def _rig_reason(data: dict) -> str:
    return (f'it has `"format": "{RIG_FORMAT}"`' if data.get('format') == RIG_FORMAT
            else 'it has top-level `units`, `world_up` and a `cameras` list')


def _guess(path: str) -> Tuple[str, str]:
    """(format, why it was chosen) from the file's content; :class:`CalibrationError`
    when the content fits none of the formats."""
    if path.endswith('.xml'):
        read_text(path, CalibrationError, 'XML text')
        return 'opencv', 'a .xml file (OpenCV FileStorage)'
    if path.endswith(('.yml', '.yaml')):
        text = read_text(path, CalibrationError, 'YAML text')
        if text.lstrip().startswith('%YAML:'):
            return 'opencv', 'it starts with `%YAML:` (OpenCV FileStorage)'
        if '!!opencv-matrix' in text:
            return 'opencv', 'it contains `!!opencv-matrix` (OpenCV FileStorage)'
        try:
            data = load_yaml(path, CalibrationError)
        except CalibrationError as e:
            if 'nested too deeply' in str(e):
                raise
            return 'opencv', 'PyYAML cannot parse it, so it was left to OpenCV\'s reader'
        if is_rig_dict(data):
            return 'rig', _rig_reason(data)
        if not isinstance(data, dict):
            raise CalibrationError(
                f'{path}: cannot guess the calibration format: the YAML document is '
                f'{_describe(data)}; expected {_EXPECTED}')
        return 'opencv', ('a YAML mapping that is not a rig file (no `format`, or no '
                          '`units` + `world_up`), read as OpenCV FileStorage')
    data = load_json(path, CalibrationError)
    if not isinstance(data, dict):
        raise CalibrationError(f'{path}: cannot guess the calibration format: the JSON top '
                               f'level is {_describe(data)}; expected {_EXPECTED}')
    if is_rig_dict(data):
        return 'rig', _rig_reason(data)
    if 'cameras' in data:
        return 'panoptic', ('a JSON object with a `cameras` field but neither `format` '
                            'nor `units` + `world_up` (so not a rig file)')
    if data and all(isinstance(v, dict) and ('T' in v or 'fx' in v) for v in data.values()):
        return 'shelf_campus', ('a JSON object whose every value is a camera object with '
                                '`T` or `fx` (VoxelPose\'s Shelf/Campus layout)')
    raise CalibrationError(f'{path}: cannot guess the calibration format: the JSON top '
                           f'level is {_describe(data)}; expected {_EXPECTED}; or pass '
                           'the format (fmt=..., --from)')


def guess_calibration_format(path: str) -> str:
    """The format of a calibration file from its content (see :func:`load_cameras`).

    Raises:
        CalibrationError: the file is not text of a supported format, or its content fits
            none of them (the message says what it found and what each format needs).
    """
    return _guess(path)[0]


def load_cameras(path: str, fmt: Optional[str] = None, **kwargs) -> MultiViewCameras:
    """Load a rig from any supported file, guessing the format from its content.

    Args:
        fmt: ``'rig'`` (this package's format, :mod:`.rig_file`), ``'panoptic'``,
            ``'shelf_campus'`` or ``'opencv'`` (``'opencv_yaml'`` is an alias); guessed
            when ``None``: a JSON/YAML file with ``"format": "selfpose3d_mm/rig"`` (or a
            top-level ``units``, ``world_up`` and a ``cameras`` list) is a rig file, a
            ``.xml`` file or a YAML file with ``%YAML:`` or ``!!opencv-matrix`` (or that
            PyYAML cannot read, or any other YAML mapping) OpenCV's, a JSON object with
            ``cameras`` Panoptic's, a JSON object of camera objects (with ``T`` or
            ``fx``) Shelf/Campus's; anything else is refused with what was found. When a
            guessed format's loader fails, its message ends with the guess and why.
        kwargs: passed to the loader (``camera_names`` for Panoptic, ``image_size`` for
            Shelf/Campus).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'calibration file not found: {path}')
    fmt = {'opencv_yaml': 'opencv'}.get(fmt, fmt)
    loaders = {'rig': load_rig,
               'panoptic': load_panoptic_calibration,
               'shelf_campus': load_shelf_campus_calibration,
               'opencv': load_opencv_yaml}
    if fmt is not None:
        if fmt not in loaders:
            raise ValueError(f'unknown calibration format {fmt!r}; one of {list(loaders)}')
        return loaders[fmt](path, **kwargs)
    fmt, why = _guess(path)
    if fmt == 'shelf_campus' and 'image_size' not in kwargs:
        raise CalibrationError(f'{path}: format guessed as \'shelf_campus\' because {why}; '
                               'that format does not store the image size: pass '
                               'image_size=(W, H) (Shelf 1032 776, Campus 360 288)')
    try:
        return loaders[fmt](path, **kwargs)
    except CalibrationError as e:
        raise CalibrationError(f'{e} [format guessed as {fmt!r} because {why}; pass the '
                               'format explicitly to read it as another one]') from None
