"""Which file of each camera holds which frame of the rig.

Each camera's files are numbered: by the frame number their names carry
(``cam01.0003.json`` → 3, see :func:`~.common.frame_numbers`; a video file of MMPose: its
``frame_id``s), or by their position in natural name order (``match='index'``, or
``'auto'`` when some camera's names carry no number). Frame ``f`` of the rig is the file
numbered ``f + offset[camera]`` (an offset table says how many frames each camera's
recording started before the rig's frame 0). A rig frame lacking a camera's file is
a frame in which that camera sees nobody; files that land before frame 0 are skipped.

The offsets table is ``CAM=N`` items, or a JSON file ``{"cam01": 0, "cam02": 3}``, or a
CSV file of ``camera,offset`` rows (a header row ``camera,offset`` is allowed).
"""
from __future__ import annotations

import csv
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from ..json_yaml import load_json, read_text
from .common import Keypoints2DError, check_no_duplicates, frame_numbers

__all__ = ['MATCH_MODES', 'number_files', 'resolve_match', 'parse_offsets',
           'read_offsets_file', 'rig_frames']

MATCH_MODES = ('auto', 'number', 'index')


def number_files(files: Sequence[str], match: str, what: str) -> Optional[List[int]]:
    """The number of each file (in ``files`` order, which is natural name order).

    Returns None for ``match='auto'`` when the names carry no frame number (the caller
    then numbers every camera by position, :func:`resolve_match`)."""
    if match == 'index':
        return list(range(len(files)))
    nums = frame_numbers(files)
    if nums is None and match == 'number':
        raise Keypoints2DError(
            f'{osp.dirname(files[0]) or "."}: {what}: the file names carry no frame number '
            f'that tells the frames apart (e.g. {osp.basename(files[0])!r}); use '
            '--match index to number the files by their order')
    return nums


def resolve_match(numbers: Dict[str, Optional[List[int]]],
                  counts: Dict[str, int]) -> Tuple[str, Dict[str, List[int]]]:
    """``('number', numbers)`` when every camera's names carry numbers, else
    ``('index', positions)`` for every camera (one rule for the whole rig)."""
    if all(v is not None for v in numbers.values()):
        return 'number', dict(numbers)
    return 'index', {k: list(range(counts[k])) for k in numbers}


def _offset(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise Keypoints2DError(f'{where}: expected an integer number of frames, got '
                               f'{value!r}')
    try:
        return int(str(value).strip())
    except ValueError:
        raise Keypoints2DError(f'{where}: expected an integer number of frames, got '
                               f'{value!r}') from None


def read_offsets_file(path: str, views: Sequence[str] = ()) -> Dict[str, int]:
    """``{camera: offset_frames}`` from a JSON object or a ``camera,offset`` CSV file
    (its first row is a header when its offset is no integer and its camera none of
    ``views``)."""
    path = str(path)
    if not osp.isfile(path):
        raise Keypoints2DError(f'{path}: offsets file not found')
    if path.lower().endswith('.csv'):
        rows = [r for r in csv.reader(read_text(path, Keypoints2DError, 'CSV text')
                                      .splitlines()) if any(c.strip() for c in r)]
        out = {}
        for i, row in enumerate(rows):
            where = f'{path}: row {i + 1}'
            if len(row) != 2:
                raise Keypoints2DError(f'{where}: expected 2 columns camera,offset, got '
                                       f'{len(row)}: {row}')
            cam, val = row[0].strip(), row[1].strip()
            if i == 0 and not val.lstrip('+-').isdigit() and cam not in views:
                continue  # a header row
            if cam in out:
                raise Keypoints2DError(f'{where}: camera {cam!r} appears twice')
            out[cam] = _offset(val, f'{where}: offset of {cam!r}')
        return out
    data = load_json(path, Keypoints2DError)
    if not isinstance(data, dict):
        raise Keypoints2DError(f'{path}: the top level must be an object {{camera: '
                               f'offset_frames}}, got {type(data).__name__}')
    check_no_duplicates(data, path)
    return {str(k): _offset(v, f'{path}: {k}') for k, v in data.items()}


def parse_offsets(items: Optional[Sequence[str]], views: Sequence[str]) -> Dict[str, int]:
    """Offsets of every view from ``CAM=N`` items or one offsets file (cameras not
    listed: 0); an error for a camera that is not one of ``views``."""
    out, where = {}, '--offsets'
    items = list(items or [])
    if len(items) == 1 and '=' not in items[0]:
        out, where = read_offsets_file(items[0], views), items[0]
    else:
        for item in items:
            cam, sep, val = item.partition('=')
            if not sep or not cam:
                raise Keypoints2DError(f'--offsets: takes CAM=N items or one JSON/CSV file, '
                                       f'got {item!r}')
            if cam in out:
                raise Keypoints2DError(f'--offsets: camera {cam!r} given twice')
            out[cam] = _offset(val, f'--offsets {cam}')
    unknown = [c for c in out if c not in views]
    if unknown:
        raise Keypoints2DError(f'{where}: camera(s) {unknown} are not among the views '
                               f'{list(views)}')
    return {v: out.get(v, 0) for v in views}


def rig_frames(numbers: Dict[str, List[int]], offsets: Dict[str, int]
               ) -> Tuple[List[int], Dict[str, List[int]]]:
    """The rig's frames (every ``number - offset >= 0`` of any camera, sorted) and, per
    camera, the file numbers that land before frame 0 (skipped)."""
    frames, skipped = set(), {}
    for view, nums in numbers.items():
        shifted = [n - offsets[view] for n in nums]
        frames.update(f for f in shifted if f >= 0)
        skipped[view] = [n for n, f in zip(nums, shifted) if f < 0]
    return sorted(frames), skipped
