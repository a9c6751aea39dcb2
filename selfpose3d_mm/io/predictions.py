"""The 3D-pose prediction files the inferencer writes: ``poses3d.json`` and ``poses3d.npz``.

``poses3d.json`` (one JSON object, written atomically)::

    {"format": "selfpose3d_mm/predictions3d", "version": 1,
     "units": "mm", "world_up": "+z",        # the package's internal world: the
                                             # calibration's world in mm, rotated z-up
     "skeleton": {"name": "panoptic_body3d",
                  "joints": ["neck", "nose", "mid_hip", ...],     # J names, joint order
                  "links": [[0, 1], ...]},                         # joint index pairs
     "model": {"config": "configs/....py", "checkpoint": "....pth", "type": "SelfPose3D",
               "input": "images" | "pseudo_2d",                  # image path / heatmap-input
               "score_threshold": 0.3},
     "source": {...},                        # what was read: calibration, images/videos,
                                             # pseudo labels, or the config's dataset split
     "cameras": [{rig document}, ...],       # the rig(s) (selfpose3d_mm/rig, mm, +z):
                                             # selfpose3d_mm.io.load_rig reads them back
     "num_frames": F,
     "frames": [{"index": 0,                 # position in this file
                 "frame_id": "custom_rig/00000123", "frame": 123,  # frame: the number
                 "sample_idx": 0, "rig": 0,  # index into "cameras"
                 "persons": [{"index": 0,    # within the frame, by decreasing score
                              "score": 0.93, # root (proposal) confidence in [0, 1]
                              "root": [x, y, z],
                              "keypoints_3d": [[x, y, z], ... J],   # mm, 0.1 mm
                              "track_id": 3,       # optional (tracked files only)
                              "recovered": false}]}]}  # optional: a person the network
                                             # missed, added by the refinement

Tracked files (``poses3d_tracked.json``, ``tools/export_poses.py``) add an identity per
person, ``track_id`` (int, the same person across frames; -1: not in a confirmed track),
and a top-level ``"tracking": {"method": "PoseTracker", ...}`` (the tracker's settings).
The inferencer's own files have neither (no identity across frames).

``poses3d.npz`` (the same predictions as arrays, float32, written atomically):
``keypoints_3d`` (F, P_max, J, 3) mm, ``scores`` (F, P_max), ``root_centers``
(F, P_max, 3) — NaN where a frame has fewer than ``P_max`` persons —, ``num_persons``
(F,) int32, ``frame_ids`` (F,) str, ``joint_names`` (J,) str, ``skeleton_links`` (L, 2)
int32, ``units`` = ``'mm'``; tracked files also ``track_ids`` (F, P_max) int64 (-1 where
padded or untracked). :func:`load_prediction_file` reads either file into per-frame
results (the frames :func:`save_predictions_json` / :func:`save_predictions_npz` take).
"""
from __future__ import annotations

import json
import os.path as osp
from typing import List, Sequence

import numpy as np

from selfpose3d_mm.utils import atomic_open, load_json_document

__all__ = ['PREDICTIONS_FORMAT', 'frames_to_arrays', 'save_predictions_json',
           'save_predictions_npz', 'load_predictions', 'load_predictions_npz',
           'load_prediction_file']

PREDICTIONS_FORMAT = 'selfpose3d_mm/predictions3d'
PREDICTIONS_VERSION = 1


def _frame_doc(i: int, r: dict) -> dict:
    kp = np.asarray(r['keypoints_3d'], np.float64)
    persons = [dict(index=p, score=round(float(r['scores'][p]), 4),
                    root=np.round(np.asarray(r['root_centers'][p], np.float64), 1).tolist(),
                    keypoints_3d=np.round(kp[p], 1).tolist()) for p in range(len(kp))]
    if r.get('track_ids') is not None:
        tids = np.asarray(r['track_ids'], np.int64).reshape(-1)
        for p, person in enumerate(persons):
            person['track_id'] = int(tids[p])
    if r.get('recovered') is not None:
        for person, rec in zip(persons, np.asarray(r['recovered'], bool).reshape(-1)):
            person['recovered'] = bool(rec)
    doc = dict(index=i, frame_id=str(r['frame_id']))
    if r.get('frame') is not None:
        doc['frame'] = int(r['frame'])
    doc.update(sample_idx=int(r.get('sample_idx', i)), rig=int(r.get('rig', 0)),
               num_persons=len(persons), persons=persons)
    return doc


def save_predictions_json(path: str, header: dict, frames: Sequence[dict]) -> dict:
    """Write ``poses3d.json`` (schema in the module docstring).

    Args:
        header: ``skeleton``, ``model``, ``source``, ``cameras`` entries.
        frames: per-frame results: ``frame_id``, ``keypoints_3d`` (P, J, 3) mm, ``scores``
            (P,), ``root_centers`` (P, 3), optional ``frame``, ``sample_idx``, ``rig``,
            ``track_ids`` (P,) ints.
    Returns:
        The document written.
    """
    doc = dict(format=PREDICTIONS_FORMAT, version=PREDICTIONS_VERSION, units='mm',
               world_up='+z', **header, num_frames=len(frames),
               frames=[_frame_doc(i, r) for i, r in enumerate(frames)])
    text = json.dumps(doc, allow_nan=False, separators=(',', ':'))
    with atomic_open(path, 'wb') as f:
        f.write(text.encode('utf-8'))
    return doc


def frames_to_arrays(frames: Sequence[dict], num_joints: int) -> dict:
    """Per-frame results → NaN-padded arrays (the ``poses3d.npz`` fields but names);
    ``track_ids`` too when any frame has them."""
    F = len(frames)
    P = max([len(r['scores']) for r in frames] + [0])
    kp = np.full((F, P, num_joints, 3), np.nan, np.float32)
    sc = np.full((F, P), np.nan, np.float32)
    roots = np.full((F, P, 3), np.nan, np.float32)
    n = np.zeros(F, np.int32)
    for f, r in enumerate(frames):  # F small copies
        k = len(r['scores'])
        n[f] = k
        kp[f, :k] = r['keypoints_3d']
        sc[f, :k] = r['scores']
        roots[f, :k] = r['root_centers']
    out = dict(keypoints_3d=kp, scores=sc, root_centers=roots, num_persons=n,
               frame_ids=np.array([str(r['frame_id']) for r in frames], dtype=str))
    if any(r.get('track_ids') is not None for r in frames):
        tids = np.full((F, P), -1, np.int64)
        for f, r in enumerate(frames):  # F small copies
            if r.get('track_ids') is not None:
                tids[f, :n[f]] = np.asarray(r['track_ids'], np.int64).reshape(-1)
        out['track_ids'] = tids
    return out


def save_predictions_npz(path: str, frames: Sequence[dict], joint_names: List[str],
                         skeleton_links) -> dict:
    """Write ``poses3d.npz`` (fields in the module docstring); returns the arrays."""
    arrays = frames_to_arrays(frames, len(joint_names))
    arrays.update(joint_names=np.array(joint_names, dtype=str),
                  skeleton_links=np.asarray(skeleton_links, np.int32).reshape(-1, 2),
                  units=np.array('mm'))
    with atomic_open(path, 'wb') as f:
        np.savez_compressed(f, **arrays)
    return arrays


def _json_frames(doc: dict, path: str) -> List[dict]:
    """The per-frame results of a loaded ``poses3d.json`` (``track_ids`` when any person
    has a ``track_id``)."""
    J = len(doc['skeleton']['joints'])
    tracked = any('track_id' in p for fr in doc['frames'] for p in fr['persons'])
    frames = []
    for i, fr in enumerate(doc['frames']):
        persons = fr['persons']
        try:
            kp = np.asarray([p['keypoints_3d'] for p in persons], np.float32).reshape(-1, J, 3)
        except ValueError as e:
            raise ValueError(f'{path}: frames[{i}].persons[*].keypoints_3d: expected '
                             f'(P, {J}, 3) ({e})') from None
        r = dict(frame_id=fr['frame_id'], keypoints_3d=kp,
                 scores=np.asarray([p['score'] for p in persons], np.float32),
                 root_centers=np.asarray([p['root'] for p in persons],
                                         np.float32).reshape(-1, 3))
        for key in ('frame', 'sample_idx', 'rig'):
            if fr.get(key) is not None:
                r[key] = fr[key]
        if tracked:
            tids = [p.get('track_id', -1) for p in persons]
            if not all(isinstance(t, int) and not isinstance(t, bool) for t in tids):
                raise ValueError(f'{path}: frames[{i}].persons[*].track_id: integers '
                                 f'expected, got {tids}')
            r['track_ids'] = np.asarray(tids, np.int64)
        if any('recovered' in p for p in persons):
            rec = [p.get('recovered', False) for p in persons]
            if not all(isinstance(v, bool) for v in rec):
                raise ValueError(f'{path}: frames[{i}].persons[*].recovered: true or false '
                                 f'expected, got {rec}')
            r['recovered'] = np.asarray(rec, bool)
        frames.append(r)
    return frames


def load_predictions(path: str) -> dict:
    """Read a ``poses3d.json`` back; adds the NaN-padded arrays of :func:`frames_to_arrays`
    under ``arrays`` (with ``track_ids`` for a tracked file). Errors name the file and
    the field."""
    doc = load_json_document(path, PREDICTIONS_FORMAT)
    doc['arrays'] = frames_to_arrays(_json_frames(doc, path), len(doc['skeleton']['joints']))
    return doc


_NPZ_FIELDS = ('keypoints_3d', 'scores', 'root_centers', 'num_persons', 'frame_ids',
               'joint_names', 'skeleton_links')


def load_predictions_npz(path: str) -> dict:
    """Read a ``poses3d.npz`` (plain arrays only, never pickled objects) and check its
    fields' shapes; errors name the file and the field."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: file not found')
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError) as e:
        raise ValueError(f'{path}: not an npz of plain arrays ({e})') from None
    for k in _NPZ_FIELDS:
        if k not in arrays:
            raise ValueError(f'{path}: no field `{k}`')
    kp = arrays['keypoints_3d']
    J = len(arrays['joint_names'])
    if kp.ndim != 4 or kp.shape[2:] != (J, 3):
        raise ValueError(f'{path}: field `keypoints_3d` has shape {kp.shape}, expected '
                         f'(F, P, {J}, 3)')
    F, P = kp.shape[:2]
    shapes = dict(scores=(F, P), root_centers=(F, P, 3), num_persons=(F, ),
                  frame_ids=(F, ), track_ids=(F, P))
    for k, shape in shapes.items():
        if k in arrays and arrays[k].shape != shape:
            raise ValueError(f'{path}: field `{k}` has shape {arrays[k].shape}, expected '
                             f'{shape}')
    n = arrays['num_persons']
    if ((n < 0) | (n > P)).any():
        raise ValueError(f'{path}: field `num_persons`: values outside [0, {P}]')
    return arrays


def load_prediction_file(path: str) -> dict:
    """A ``poses3d.json`` or ``poses3d.npz`` (by extension) as per-frame results.

    Returns:
        dict: ``header`` (the JSON's ``skeleton``, ``model``, ``source``, ``cameras``,
        ``tracking`` entries that are present; an npz gives ``skeleton`` only),
        ``frames`` (per frame ``frame_id``, ``keypoints_3d`` (P, J, 3), ``scores``,
        ``root_centers``, ``frame`` / ``sample_idx`` / ``rig`` when stored, ``track_ids``
        (P,) when tracked), ``joint_names``, ``skeleton_links`` (L, 2), ``tracked``.
    """
    path = str(path)
    if path.lower().endswith('.npz'):
        a = load_predictions_npz(path)
        names = [str(n) for n in a['joint_names']]
        links = np.asarray(a['skeleton_links'], np.int64).reshape(-1, 2)
        header = dict(skeleton=dict(joints=names, links=links.tolist()))
        frames = []
        for f, k in enumerate(a['num_persons'].astype(int)):  # a loop over frames
            r = dict(frame_id=str(a['frame_ids'][f]), keypoints_3d=a['keypoints_3d'][f, :k],
                     scores=a['scores'][f, :k], root_centers=a['root_centers'][f, :k])
            if 'track_ids' in a:
                r['track_ids'] = a['track_ids'][f, :k].astype(np.int64)
            frames.append(r)
        tracked = 'track_ids' in a
    else:
        doc = load_json_document(path, PREDICTIONS_FORMAT)
        skel = doc.get('skeleton')
        if not isinstance(skel, dict) or not isinstance(skel.get('joints'), list):
            raise ValueError(f'{path}: field `skeleton.joints` must be a list of names')
        if not isinstance(doc.get('frames'), list):
            raise ValueError(f'{path}: field `frames` must be a list')
        frames = _json_frames(doc, path)
        names = [str(n) for n in skel['joints']]
        links = np.asarray(skel.get('links', []), np.int64).reshape(-1, 2)
        header = {k: doc[k] for k in ('skeleton', 'model', 'source', 'cameras', 'tracking')
                  if k in doc}
        tracked = any('track_ids' in r for r in frames)
    return dict(header=header, frames=frames, joint_names=names, skeleton_links=links,
                tracked=tracked)
