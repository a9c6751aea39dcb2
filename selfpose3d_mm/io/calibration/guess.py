"""Which calibration format a file (or a folder, or a pair of files) is in, and why.

Checked in this order; the first that fits wins:

=================  ======================================================================
format             recognised by
=================  ======================================================================
``easymocap``      a folder with ``intri.yml`` + ``extri.yml``; two files; a ``.yml``
                   named ``intri*``/``extri*`` or with top-level ``names`` and ``K_<n>`` /
                   ``R_<n>`` / ``Rot_<n>`` / ``T_<n>`` keys
``toml``           a ``.toml`` file with camera tables (``matrix``, ...)
``qualisys``       XML (``.qca.txt``, ``.txt``, ``.xml``) whose root is ``<calibration>``
``opencv``         other ``.xml``; YAML starting ``%YAML:`` or holding ``!!opencv-matrix``,
                   or any YAML mapping that is not a rig file
``rig``            ``"format": "selfpose3d_mm/rig"``, or ``units`` + ``world_up`` +
                   a ``cameras`` list (JSON or YAML)
``panoptic``       a JSON object with a ``cameras`` list (unless its cameras are generic
                   ones and it has none of Panoptic's camera fields nor rig-file keys)
``shelf_campus``   a JSON object of camera objects with only VoxelPose's fields
                   (``R``, ``T``, ``fx``, ``fy``, ``cx``, ``cy``, ``k``, ``p``)
``generic_json``   cameras with intrinsics (``K``, ...) and extrinsics (``RT``, ``R``, ...)
                   in one of :mod:`.generic_json`'s layouts
=================  ======================================================================
"""
from __future__ import annotations

import os
import os.path as osp
import re
from typing import Optional, Tuple

from ..json_yaml import load_json, load_yaml, read_text
from .common import CalibrationError
from .generic_json import generic_cameras, looks_like_generic_camera
from .rig_file import RIG_FORMAT, is_rig_dict

__all__ = ['guess_calibration']

_EXPECTED = (f'a rig file (`"format": "{RIG_FORMAT}"`, or top-level `units`, `world_up` '
             'and a `cameras` list), a CMU Panoptic file (an object with a `cameras` list), '
             'a Shelf/Campus file (an object keyed by camera, "0", "1", ..., each with `R`, '
             '`T`, `fx`, ...), a generic K + [R|t] JSON (cameras with `K` and `RT` or `R` '
             '+ `t`), an OpenCV FileStorage .yml/.yaml/.xml, EasyMocap intri.yml + '
             'extri.yml, a Pose2Sim/anipose .toml or a Qualisys .qca.txt')
_SHELF_FIELDS = {'R', 'T', 'fx', 'fy', 'cx', 'cy', 'k', 'p'}
_PANOPTIC_FIELDS = {'resolution', 'distCoef', 'panel', 'node', 'type'}
_EASYMOCAP_KEY = re.compile(r'^(K|dist|D|H|W|R|Rot|T)_[A-Za-z0-9_-]+\s*:', re.MULTILINE)


def _describe(data) -> str:
    if data is None:
        return 'empty (null)'
    if isinstance(data, dict):
        keys = list(data)
        return f'an object with keys {keys[:8]}{" ..." if len(keys) > 8 else ""}'
    return f'{"a list" if isinstance(data, list) else "a " + type(data).__name__} ' \
           f'({str(data)[:40]})'


def _cannot(path: str, found: str) -> CalibrationError:
    return CalibrationError(f'{path}: cannot guess the calibration format: {found}; '
                            f'expected {_EXPECTED}; or pass the format (fmt=..., --format)')


def _rig_reason(data: dict) -> str:
    return (f'it has `"format": "{RIG_FORMAT}"`' if data.get('format') == RIG_FORMAT
            else 'it has top-level `units`, `world_up` and a `cameras` list')


def _generic_reason(data) -> Optional[str]:
    found = generic_cameras(data)
    if found is None or not all(looks_like_generic_camera(c) for _, c in found[0]):
        return None
    layout = ('a list of camera objects' if isinstance(data, list) else
              'an object with `cameras`' if isinstance(data, dict) and 'cameras' in data
              else 'an object keyed by camera name')
    return (f'{layout}, each with intrinsics (`K` or fx/fy/cx/cy) and extrinsics '
            '(`RT`/`extrinsic` or `R` with `t`/`center`)')


def _guess_json(path: str, data) -> Tuple[str, str]:
    if isinstance(data, dict) and is_rig_dict(data):
        return 'rig', _rig_reason(data)
    generic = _generic_reason(data)
    if isinstance(data, dict) and isinstance(data.get('cameras'), list):
        cams = [c for c in data['cameras'] if isinstance(c, dict)]
        panoptic_like = any(_PANOPTIC_FIELDS & set(c) for c in cams)
        rig_like = {'world_up', 'units', 'format', 'version'} & set(data)
        if generic is None or panoptic_like or rig_like:
            return 'panoptic', ('a JSON object with a `cameras` field but neither `format` '
                                'nor `units` + `world_up` (so not a rig file)')
    if isinstance(data, dict) and data and all(
            isinstance(v, dict) and ('T' in v or 'fx' in v) and set(v) <= _SHELF_FIELDS
            for v in data.values()):
        return 'shelf_campus', ('a JSON object whose every value is a camera object with '
                                'only VoxelPose\'s fields (`R`, `T`, `fx`, ...: the '
                                'Shelf/Campus layout)')
    if generic is not None:
        return 'generic_json', generic
    what = 'the JSON top level is ' + _describe(data)
    raise _cannot(path, what)


def _guess_yaml(path: str, text: str) -> Tuple[str, str]:
    if re.search(r'^names\s*:', text, re.MULTILINE) and _EASYMOCAP_KEY.search(text):
        return 'easymocap', ('a FileStorage YAML with `names` and `K_<name>`/`R_<name>`/'
                             '`T_<name>` keys (EasyMocap; its partner file is beside it)')
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
        raise _cannot(path, 'the YAML document is ' + _describe(data))
    return 'opencv', ('a YAML mapping that is not a rig file (no `format`, or no '
                      '`units` + `world_up`), read as OpenCV FileStorage')


def _guess_xml(path: str, text: str) -> Optional[Tuple[str, str]]:
    """Qualisys or OpenCV from the root element; None if the text is not XML."""
    body = re.sub(r'^\s*(<\?.*?\?>\s*|<!--.*?-->\s*|<!DOCTYPE[^\[>]*(\[.*?\])?\s*>\s*)*',
                  '', text, flags=re.DOTALL)  # (a DTD is refused by the reader)
    m = re.match(r'<\s*([A-Za-z_][\w.-]*)', body)
    if m is None:
        return None
    if m.group(1) == 'calibration':
        return 'qualisys', ('an XML file whose root is <calibration> (a Qualisys QTM '
                            'calibration export)')
    return 'opencv', f'an XML file whose root is <{m.group(1)}> (OpenCV FileStorage)'


def guess_calibration(path, path2=None) -> Tuple[str, str]:
    """(format, why it was chosen) of a calibration file, a folder (EasyMocap) or a pair of
    files (EasyMocap's two); see the module docstring.

    Raises:
        CalibrationError: the input fits none of the formats (the message says what it
            found and what each format needs).
        FileNotFoundError: a path does not exist.
    """
    path = os.fspath(path)
    if path2 is not None:
        names = [osp.basename(os.fspath(p)).lower() for p in (path, path2)]
        if sorted(n[:5] for n in names) == ['extri', 'intri'] or all(
                n.endswith(('.yml', '.yaml')) for n in names):
            return 'easymocap', ('two files were given (EasyMocap\'s intri.yml and '
                                 'extri.yml are the only two-file format)')
        raise CalibrationError(f'{path}: two inputs were given ({path}, {path2}), but only '
                               'EasyMocap\'s intri.yml + extri.yml come as two files')
    if osp.isdir(path):
        entries = set(os.listdir(path))
        if {'intri.yml', 'extri.yml'} <= entries or {'intri.yaml', 'extri.yaml'} <= entries:
            return 'easymocap', 'a folder holding intri.yml and extri.yml (EasyMocap)'
        raise _cannot(path, f'a folder without intri.yml + extri.yml (it holds '
                            f'{sorted(entries)[:10]})')
    if not osp.isfile(path):
        raise FileNotFoundError(f'calibration file not found: {path}')
    base = osp.basename(path).lower()
    if base.endswith('.toml'):
        return 'toml', 'a .toml file (Pose2Sim / anipose camera tables)'
    if base.endswith(('.yml', '.yaml')):
        if base.startswith(('intri.', 'extri.')):
            return 'easymocap', (f'the file is named {osp.basename(path)} (EasyMocap; its '
                                 'partner file is beside it)')
        return _guess_yaml(path, read_text(path, CalibrationError, 'YAML text'))
    if base.endswith(('.xml', '.txt', '.qca')):
        text = read_text(path, CalibrationError, 'XML text')
        found = _guess_xml(path, text)
        if found is not None:
            return found
        if base.endswith('.xml'):
            return 'opencv', 'a .xml file (OpenCV FileStorage)'
        raise _cannot(path, 'a text file that is not XML (a Qualisys .qca.txt is XML with '
                            'a <calibration> root)')
    return _guess_json(path, load_json(path, CalibrationError))
