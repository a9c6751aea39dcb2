"""Calibration files of every supported format → :class:`~selfpose3d_mm.geometry.MultiViewCameras`
(internal convention: millimetres, z up, ``x_cam = R X + t``), each camera validated.
Other tools' calibrations (a generic K + [R|t] JSON, EasyMocap, Pose2Sim / anipose TOML,
Qualisys) are imported too; ``tools/convert_calibration.py`` writes any of them as a rig
file (docs/calibration.md)."""
from .assemble import CalibrationImportWarning
from .common import (DIST_COUNTS, LENGTH_UNITS, ROTATION_TOLERANCE, CalibrationError,
                     check_duplicates, check_internal, compact_distortion, read_distortion,
                     read_field, validate_camera)
from .easymocap import easymocap_paths, load_easymocap, save_easymocap
from .formats import (CALIBRATION_FORMATS, CALIBRATION_LOADERS, guess_calibration,
                      guess_calibration_format, load_cameras)
from .generic_json import load_generic_json
from .opencv_yaml import load_opencv_yaml, save_opencv_yaml
from .panoptic import PANOPTIC_AXES, load_panoptic_calibration, panoptic_points_to_world
from .qualisys import load_qualisys_calibration
from .rig_file import (RIG_FORMAT, RIG_UNITS, WORLD_UP_AXES, is_rig_dict, load_rig,
                       rig_from_dict, rig_to_dict, save_rig, to_internal_points, world_axes)
from .shelf_campus import load_shelf_campus_calibration
from .toml_calibration import load_toml_calibration, save_toml_calibration

__all__ = [
    'CalibrationError', 'LENGTH_UNITS', 'ROTATION_TOLERANCE', 'DIST_COUNTS', 'read_field',
    'read_distortion', 'compact_distortion', 'check_duplicates', 'validate_camera',
    'check_internal', 'CALIBRATION_FORMATS', 'guess_calibration_format', 'load_cameras',
    'load_opencv_yaml', 'save_opencv_yaml', 'PANOPTIC_AXES', 'load_panoptic_calibration',
    'panoptic_points_to_world', 'RIG_FORMAT', 'RIG_UNITS', 'WORLD_UP_AXES', 'is_rig_dict',
    'load_rig', 'rig_from_dict', 'rig_to_dict', 'save_rig', 'to_internal_points',
    'world_axes', 'load_shelf_campus_calibration',
    # other tools' calibrations
    'CALIBRATION_LOADERS', 'CalibrationImportWarning', 'guess_calibration',
    'load_generic_json', 'easymocap_paths', 'load_easymocap', 'save_easymocap',
    'load_toml_calibration', 'save_toml_calibration', 'load_qualisys_calibration'
]
