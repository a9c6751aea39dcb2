"""2D detections of other tools (OpenPose, MMPose) → the pseudo-label file
(:mod:`selfpose3d_mm.io.pseudo_labels`, skeleton ``coco17``): ``tools/import_2d.py``.

Per camera a folder of per-frame JSON files (or, for MMPose, one video prediction file);
frames matched across cameras by :mod:`.matching`; keypoints mapped to COCO-17 by
:func:`selfpose3d_mm.skeleton.keypoint_sets.to_coco17` (the joint of the same name). A joint
is kept iff its score is > 0 and >= ``min_score``; others are written 0, 0, 0 (invalid).
Scores above 1 (mmpose's heatmap / SimCC confidences can leave [0, 1] a little) are
clipped to 1 and counted. People with no valid COCO-17 joint are dropped and counted.
Boxes: the file's (MMPose) or the extent of the person's valid joints (all joints of its
set, feet and hands included); box scores per ``box_score``.
"""
from __future__ import annotations

import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from selfpose3d_mm.skeleton.keypoint_sets import (KEYPOINT_SETS, keypoint_set_of_count,
                                                  to_coco17)
from ..pseudo_labels import PseudoLabels
from .common import Frame2D, Keypoints2DError, describe_count, known_counts, list_json_files
from .matching import MATCH_MODES, number_files, parse_offsets, resolve_match, rig_frames
from .mmpose import read_mmpose_json
from .openpose import read_openpose_json

__all__ = ['FORMATS_2D', 'BOX_SCORES', 'FRAME_KEY', 'import_2d', 'format_summary']

FORMATS_2D = ('openpose', 'mmpose')
# box score of a person: 'file' = the file's (MMPose bbox_score), 1 where the format has
# none (OpenPose); 'mean' = mean score of its valid COCO-17 joints; 'one' = 1
BOX_SCORES = ('file', 'mean', 'one')
FRAME_KEY = '{frame:08d}'  # the custom rig's frame keys


def _list_view(name: str, path: str, fmt: str, match: str):
    """(refs, numbers): the files (or, for a video file, the parsed frames) of a view,
    and their numbers (None: the names carry none)."""
    what = f'--views {name}'
    if fmt == 'mmpose' and osp.isfile(path):
        frames = read_mmpose_json(path)
        ids = [fid for fid, _ in frames]
        numbered = all(i is not None for i in ids) and len(set(ids)) == len(ids)
        if match == 'number' and not numbered:
            raise Keypoints2DError(f'{path}: {what}: frame_id: missing or repeated, so the '
                                   'frames cannot be numbered (use --match index)')
        nums = ids if numbered and match != 'index' else list(range(len(frames)))
        return [f for _, f in frames], nums
    if not osp.exists(path):
        raise Keypoints2DError(f'{path}: {what}: no such folder or file')
    files = list_json_files(path, what)
    return files, number_files(files, match, what)


def _load(ref, fmt: str, view: str) -> Frame2D:
    if isinstance(ref, Frame2D):
        return ref
    if fmt == 'openpose':
        return read_openpose_json(ref)
    frames = read_mmpose_json(ref)
    if len(frames) != 1:
        raise Keypoints2DError(f'{ref}: holds {len(frames)} frames (a video\'s prediction '
                               f'file): give this file itself as the path of view {view}')
    return frames[0][1]


class _KeypointSet:
    """The keypoint set of the import: the requested one, or the first file's; every
    file is checked against it."""

    def __init__(self, requested: str):
        self.requested = requested
        self.name = None if requested == 'auto' else requested
        self.first = None

    def check(self, frame: Frame2D):
        K = frame.num_joints
        if K is None:
            return
        where = f'{frame.source}: {frame.field}'
        if self.name is None:
            self.name = keypoint_set_of_count(K)
            if self.name is None:
                raise Keypoints2DError(f'{where}: {K} joints is no known keypoint set '
                                       f'({known_counts()})')
        want = len(KEYPOINT_SETS[self.name])
        if K == want:
            self.first = self.first or where
        elif self.requested == 'auto':
            raise Keypoints2DError(f'{where}: mixed keypoint sets: {describe_count(K)}, but '
                                   f'{self.first} has {describe_count(want)}')
        else:
            raise Keypoints2DError(f'{where}: wrong keypoint count: {describe_count(K)}, '
                                   f'but keypoint set {self.name} (--keypoint-set) has '
                                   f'{want}')


def _convert(frame: Frame2D, kset: str, min_score: float, box_score: str):
    """One view's pseudo-label entry and (kept, dropped, missing joints, clipped scores,
    largest |coordinate| of a valid joint)."""
    src = frame.keypoints
    if not len(src):
        return dict(keypoints=np.zeros((0, 17, 3), np.float32),
                    bboxes=np.zeros((0, 4), np.float32),
                    bbox_scores=np.zeros(0, np.float32)), (0, 0, 0, 0, 0.0)
    src_valid = (src[..., 2] > 0) & (src[..., 2] >= min_score)
    kp = to_coco17(src, kset).copy()
    valid = to_coco17(src_valid[..., None], kset)[..., 0]
    clipped = int((valid & (kp[..., 2] > 1)).sum())
    kp[..., 2] = np.clip(kp[..., 2], 0, 1)
    kp[~valid] = 0
    keep = valid.any(-1)
    if frame.bboxes is not None:
        boxes = frame.bboxes
    else:  # the extent of the valid joints (people without any are dropped below)
        lo = np.where(src_valid[..., None], src[..., :2], np.inf).min(-2)
        hi = np.where(src_valid[..., None], src[..., :2], -np.inf).max(-2)
        boxes = np.concatenate([lo, hi], -1)
    if box_score == 'file' and frame.bbox_scores is not None:
        scores = np.clip(frame.bbox_scores, 0, 1)
    elif box_score == 'mean':
        scores = kp[..., 2].sum(-1) / np.maximum(valid.sum(-1), 1)
    else:
        scores = np.ones(len(src), np.float32)
    entry = dict(keypoints=kp[keep], bboxes=boxes[keep].astype(np.float32),
                 bbox_scores=scores[keep].astype(np.float32))
    extent = float(np.abs(kp[..., :2][valid]).max(initial=0))
    return entry, (int(keep.sum()), int((~keep).sum()), int((~valid[keep]).sum()), clipped,
                   extent)


def import_2d(views: Dict[str, str], fmt: str, keypoint_set: str = 'auto',
              offsets: Optional[Sequence[str]] = None, match: str = 'auto',
              min_score: float = 0.0, box_score: str = 'file',
              image_sizes: Optional[np.ndarray] = None) -> Tuple[PseudoLabels, dict]:
    """Read the 2D detections of every camera into one pseudo-label structure.

    Args:
        views: camera name → folder of per-frame JSON files (MMPose: or a video's
            prediction file), in the order the file lists the views.
        fmt: ``'openpose'`` or ``'mmpose'``.
        keypoint_set: ``'auto'`` (from the joint count) or a key of
            :data:`~selfpose3d_mm.skeleton.keypoint_sets.KEYPOINT_SETS`.
        offsets: ``CAM=N`` items or ``[file]`` (:func:`.matching.parse_offsets`).
        match: ``'auto'``, ``'number'`` (frame numbers of the file names) or ``'index'``.
        min_score: joints scored below it are invalid.
        box_score: one of :data:`BOX_SCORES`.
        image_sizes: optional (C, 2) (W, H) per view (from the calibration).

    Returns:
        (labels, summary): a :class:`~selfpose3d_mm.io.pseudo_labels.PseudoLabels` (frame
        keys :data:`FRAME_KEY`, skeleton ``coco17``) and the numbers
        :func:`format_summary` prints.
    """
    if fmt not in FORMATS_2D:
        raise Keypoints2DError(f'--format: {fmt!r} is not one of {list(FORMATS_2D)}')
    if keypoint_set != 'auto' and keypoint_set not in KEYPOINT_SETS:
        raise Keypoints2DError(f'--keypoint-set: {keypoint_set!r} is not one of '
                               f'{["auto"] + list(KEYPOINT_SETS)}')
    if match not in MATCH_MODES:
        raise Keypoints2DError(f'--match: {match!r} is not one of {list(MATCH_MODES)}')
    if box_score not in BOX_SCORES:
        raise Keypoints2DError(f'--box-score: {box_score!r} is not one of {list(BOX_SCORES)}')
    if not 0 <= min_score <= 1:
        raise Keypoints2DError(f'--min-score: {min_score} is outside [0, 1]')
    if not views:
        raise Keypoints2DError('--views: no camera given')
    names = list(views)
    listed = {v: _list_view(v, str(views[v]), fmt, match) for v in names}
    mode, numbers = resolve_match({v: listed[v][1] for v in names},
                                  {v: len(listed[v][0]) for v in names})
    offs = parse_offsets(offsets, names)
    frames, skipped = rig_frames(numbers, offs)
    if not frames:
        raise Keypoints2DError(f'--offsets: every file of every view lands before frame 0 '
                               f'(offsets {offs})')
    refs = {v: dict(zip(numbers[v], listed[v][0])) for v in names}
    kset = _KeypointSet(keypoint_set)
    out: Dict[str, List[dict]] = {}
    stats = {v: dict(path=str(views[v]), offset=offs[v], files=len(listed[v][0]),
                     skipped_files=skipped[v], missing_frames=[], people=0,
                     dropped_people=0, joints=0, missing_joints=0, clipped_scores=0,
                     extent=0.0, people_hist={}) for v in names}
    for f in frames:
        entries = []
        for v in names:
            s, ref = stats[v], refs[v].get(f + offs[v])
            if ref is None:
                s['missing_frames'].append(f)
                frame = Frame2D(f'{views[v]}', 'people', np.zeros((0, 0, 3), np.float32))
            else:
                frame = _load(ref, fmt, v)
                kset.check(frame)
            entry, (kept, dropped, missing, clipped, extent) = _convert(
                frame, kset.name or 'coco17', min_score, box_score)
            entries.append(entry)
            s['people'] += kept
            s['dropped_people'] += dropped + frame.empty
            s['joints'] += kept * 17
            s['missing_joints'] += missing
            s['clipped_scores'] += clipped
            s['extent'] = max(s['extent'], extent)
            s['people_hist'][kept] = s['people_hist'].get(kept, 0) + 1
        out[FRAME_KEY.format(frame=f)] = entries
    empty = [v for v in names if stats[v]['people'] == 0]
    if empty:
        raise Keypoints2DError(f'{views[empty[0]]}: --views {empty[0]}: no person in any of '
                               f'its {stats[empty[0]]["files"]} files (views without any: '
                               f'{empty})')
    for s in stats.values():
        s['missing_joint_fraction'] = s['missing_joints'] / max(s['joints'], 1)
        s['people_hist'] = dict(sorted(s['people_hist'].items()))
    models = dict(detector=f'{fmt} (imported by tools/import_2d.py)',
                  pose=f'{fmt} {kset.name} -> coco17', min_score=str(min_score),
                  box_score=box_score)
    labels = PseudoLabels('', names, 'coco17', models,
                          None if image_sizes is None else np.asarray(image_sizes, float),
                          out)
    summary = dict(format=fmt, keypoint_set=kset.name, match=mode, frames=len(frames),
                   first_frame=frames[0], last_frame=frames[-1], views=stats)
    return labels, summary


def _few(items: list, n: int = 8) -> str:
    return ', '.join(map(str, items[:n])) + (f', ... ({len(items)} in all)'
                                             if len(items) > n else '')


def format_summary(summary: dict) -> str:
    """The summary of :func:`import_2d` as text lines."""
    lines = [f'{summary["frames"]} frames ({summary["first_frame"]}..'
             f'{summary["last_frame"]}), {len(summary["views"])} views, {summary["format"]} '
             f'{summary["keypoint_set"]} -> coco17, frames matched by {summary["match"]}']
    for v, s in summary['views'].items():
        n = summary['frames']
        hist = ', '.join(f'{k}: {c}' for k, c in s['people_hist'].items())
        missing = 100 * s['missing_joint_fraction']
        lines.append(f'  {v}: {s["files"]} files (offset {s["offset"]}), {s["people"]} '
                     f'people ({s["people"] / max(n, 1):.2f}/frame; frames by people '
                     f'count {{{hist}}}), missing joints {missing:.1f} %')
        if s['missing_frames']:
            lines.append(f'    {len(s["missing_frames"])} frames without a file (nobody '
                         f'seen): {_few(s["missing_frames"])}')
        if s['skipped_files']:
            lines.append(f'    {len(s["skipped_files"])} files before frame 0 skipped '
                         f'(numbers {_few(s["skipped_files"])})')
        if s['dropped_people']:
            lines.append(f'    {s["dropped_people"]} person(s) without a valid COCO-17 '
                         'joint (or without any keypoint) dropped')
        if s['clipped_scores']:
            lines.append(f'    {s["clipped_scores"]} joint score(s) above 1 clipped to 1')
        if s['extent'] <= 1.5:
            lines.append('    WARNING: every coordinate is within [-1.5, 1.5]: normalised '
                         'coordinates? pixels are needed (OpenPose: --keypoint_scale 0)')
    return '\n'.join(lines)
