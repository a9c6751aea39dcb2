"""What the importers of other tools' calibrations share (generic JSON, EasyMocap, TOML,
Qualisys): the source's length units and up axis, the image size a file may lack, a
principal-point check, and the rig built from the validated cameras.

Each importer reads its cameras in the file's own units and world axes, validates them
(:func:`~.common.validate_camera`, with the file's field names) and hands them to
:func:`build_rig`, which converts them to the internal convention exactly like the rig file
does (:mod:`.rig_file`): ``t_int = s t`` (``s`` mm per unit), ``R_int = R Aᵀ`` with ``A``
the rotation that brings the file's up axis to +z (:func:`~.rig_file.world_axes`).
"""
from __future__ import annotations

import warnings
from typing import List, Optional, Sequence

import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from .common import LENGTH_UNITS, CalibrationError, check_internal, compact_distortion
from .rig_file import WORLD_UP_AXES, world_axes

__all__ = ['UNIT_SPELLINGS', 'CalibrationImportWarning', 'normalise_units',
           'check_world_up', 'resolve_image_size', 'check_principal_point', 'build_rig',
           'warn']

# spellings of a length unit a file may use → the key of LENGTH_UNITS
UNIT_SPELLINGS = {
    **{s: 'mm' for s in ('mm', 'millimeter', 'millimeters', 'millimetre', 'millimetres')},
    **{s: 'cm' for s in ('cm', 'centimeter', 'centimeters', 'centimetre', 'centimetres')},
    **{s: 'm' for s in ('m', 'meter', 'meters', 'metre', 'metres')},
}


class CalibrationImportWarning(UserWarning):
    """Something of an imported calibration was ignored (an unknown field, an inactive
    camera); the importer went on without it."""


def warn(message: str):
    """Issue a :class:`CalibrationImportWarning` (the tool prints them)."""
    warnings.warn(message, CalibrationImportWarning, stacklevel=3)


def normalise_units(units, path: str, field: str = 'units') -> str:
    """``'m'``, ``'meters'``, ``'MM'``, ... → ``'mm' | 'cm' | 'm'``; an error naming the
    file and the field otherwise."""
    key = units.strip().lower() if isinstance(units, str) else None
    if key not in UNIT_SPELLINGS:
        raise CalibrationError(f'{path}: {field} must be one of {list(LENGTH_UNITS)} (or '
                               f'spelled out, e.g. "meters"), got {units!r}')
    return UNIT_SPELLINGS[key]


def check_world_up(world_up, path: str, field: str = 'world_up') -> str:
    if world_up not in WORLD_UP_AXES:
        raise CalibrationError(f'{path}: {field} must be one of {list(WORLD_UP_AXES)}, '
                               f'got {world_up!r}')
    return world_up


def resolve_image_size(path: str, where: str, in_file, given, field: str) -> np.ndarray:
    """A camera's (W, H): the file's (``in_file``, or None) or the caller's ``given``
    (``image_size=``, the tool's ``--image-size``); both must agree when both exist."""
    if given is not None:
        given = np.asarray(given, np.float64).ravel()
        if given.size != 2 or not (given > 0).all():
            raise CalibrationError(f'{path}: image_size must be two positive numbers '
                                   f'(W, H), got {given.tolist()}')
    if in_file is None:
        if given is None:
            raise CalibrationError(f'{path}: {where} has no image size (field {field}) '
                                   'and none was given: pass image_size=(W, H) '
                                   '(convert_calibration: --image-size W H)')
        return given
    in_file = np.asarray(in_file, np.float64).ravel()
    if given is not None and not np.allclose(in_file, given):
        raise CalibrationError(f'{path}: {where} field {field} is {in_file.tolist()} but '
                               f'image_size {given.tolist()} was given; drop the argument '
                               '(--image-size) or fix the file')
    return in_file


def check_principal_point(path: str, where: str, K: np.ndarray, image_size, field: str,
                          size_field: str):
    """The principal point must lie inside the image, and not where only the size read as
    (H, W) makes sense: catches a size written (H, W) and intrinsics in other units than
    pixels (sub-pixels, a binned sensor)."""
    c = np.array([K[0, 2], K[1, 2]], np.float64)
    wh = np.ravel(np.asarray(image_size, np.float64))
    off = np.abs(c - wh / 2) / wh  # 0 at the centre, 0.5 on the border
    off_swapped = np.abs(c - wh[::-1] / 2) / wh[::-1]
    swapped = off.max() > 0.25 and off_swapped.max() < 0.1
    if off.max() <= 0.5 and not swapped:
        return
    where_pp = 'far from the centre of' if off.max() <= 0.5 else 'outside'
    hint = (f' (the size looks like (H, W): the field {size_field} is (W, H))'
            if off_swapped.max() <= 0.5 else '')
    raise CalibrationError(f'{path}: {where} field {field} puts the principal point at '
                           f'({c[0]:g}, {c[1]:g}) px, {where_pp} the {wh[0]:g} x {wh[1]:g} '
                           f'image of {size_field}{hint}')


def build_rig(path: str, cameras: Sequence[dict], units: str, world_up: str = '+z',
              note: Optional[str] = None) -> MultiViewCameras:
    """Validated cameras in the file's units and axes → rig in the internal convention.

    Args:
        cameras: per camera a dict with ``name``, ``K`` (3, 3), ``R`` (3, 3) world→camera,
            ``t`` (3,) in ``units``, ``dist`` (14,) zero-padded, ``image_size`` (2,), and
            ``t_field`` (how the file names the translation, for overflow messages).
        units: ``'mm' | 'cm' | 'm'``.
        world_up: the file's up axis (see :func:`~.rig_file.world_axes`).
        note: what the conversion was, for messages (default ``'<units> -> mm'``).
    """
    if not cameras:
        raise CalibrationError(f'{path}: no cameras')
    scale, A = LENGTH_UNITS[units], world_axes(world_up)
    names: List[str] = []
    K, R, t, dist, size = [], [], [], [], []
    for c in cameras:
        name, where = str(c['name']), f'camera `{c["name"]}`'
        if name in names:
            raise CalibrationError(f'{path}: {where} appears more than once (camera names '
                                   'must be unique)')
        t_int = np.asarray(c['t'], np.float64) * scale
        check_internal(path, where, {c.get('t_field', 't'): t_int},
                       note or f'{units} -> mm')
        names.append(name)
        K.append(np.asarray(c['K'], np.float64))
        R.append(np.asarray(c['R'], np.float64) @ A.T)
        t.append(t_int)
        dist.append(np.asarray(c['dist'], np.float64))
        size.append(np.asarray(c['image_size'], np.float64))
    return MultiViewCameras(np.stack(K), np.stack(R), np.stack(t),
                            compact_distortion(np.stack(dist)), np.stack(size), names=names)
