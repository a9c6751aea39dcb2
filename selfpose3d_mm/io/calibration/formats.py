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

import json
import os.path as osp
from typing import Optional

import yaml

from selfpose3d_mm.geometry import MultiViewCameras
from .common import CalibrationError
from .opencv_yaml import load_opencv_yaml
from .panoptic import load_panoptic_calibration
from .rig_file import is_rig_dict, load_rig
from .shelf_campus import load_shelf_campus_calibration

__all__ = ['CALIBRATION_FORMATS', 'guess_calibration_format', 'load_cameras']

CALIBRATION_FORMATS = ('rig', 'panoptic', 'shelf_campus', 'opencv')


def guess_calibration_format(path: str) -> str:
    """The format of a calibration file from its content (see :func:`load_cameras`)."""
    if path.endswith(('.yml', '.yaml', '.xml')):
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read()
        if (path.endswith('.xml') or text.lstrip().startswith('%YAML:')
                or '!!opencv-matrix' in text):
            return 'opencv'  # OpenCV FileStorage (PyYAML cannot parse it)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            return 'opencv'  # let OpenCV's reader say what is wrong
        return 'rig' if is_rig_dict(data) else 'opencv'
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise CalibrationError(f'{path}: not a valid JSON file: {e}') from None
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
    loaders = {'rig': load_rig,
               'panoptic': load_panoptic_calibration,
               'shelf_campus': load_shelf_campus_calibration,
               'opencv': load_opencv_yaml}
    if fmt not in loaders:
        raise ValueError(f'unknown calibration format {fmt!r}; one of {list(loaders)}')
    return loaders[fmt](path, **kwargs)
