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
                 "persons": [{"index": 0,    # within the frame, by decreasing score (no
                                             # identity across frames: no tracking)
                              "score": 0.93, # root (proposal) confidence in [0, 1]
                              "root": [x, y, z],
                              "keypoints_3d": [[x, y, z], ... J]}]}]}   # mm, 0.1 mm

``poses3d.npz`` (the same predictions as arrays, float32, written atomically):
``keypoints_3d`` (F, P_max, J, 3) mm, ``scores`` (F, P_max), ``root_centers``
(F, P_max, 3) — NaN where a frame has fewer than ``P_max`` persons —, ``num_persons``
(F,) int32, ``frame_ids`` (F,) str, ``joint_names`` (J,) str, ``skeleton_links`` (L, 2)
int32, ``units`` = ``'mm'``.
"""
from __future__ import annotations

import json
from typing import List, Sequence

import numpy as np

from selfpose3d_mm.utils import atomic_open, load_json_document

__all__ = ['PREDICTIONS_FORMAT', 'frames_to_arrays', 'save_predictions_json',
           'save_predictions_npz', 'load_predictions']

PREDICTIONS_FORMAT = 'selfpose3d_mm/predictions3d'
PREDICTIONS_VERSION = 1


def _frame_doc(i: int, r: dict) -> dict:
    kp = np.asarray(r['keypoints_3d'], np.float64)
    persons = [dict(index=p, score=round(float(r['scores'][p]), 4),
                    root=np.round(np.asarray(r['root_centers'][p], np.float64), 1).tolist(),
                    keypoints_3d=np.round(kp[p], 1).tolist()) for p in range(len(kp))]
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
            (P,), ``root_centers`` (P, 3), optional ``frame``, ``sample_idx``, ``rig``.
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
    """Per-frame results → NaN-padded arrays (the ``poses3d.npz`` fields but names)."""
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
    return dict(keypoints_3d=kp, scores=sc, root_centers=roots, num_persons=n,
                frame_ids=np.array([str(r['frame_id']) for r in frames], dtype=str))


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


def load_predictions(path: str) -> dict:
    """Read a ``poses3d.json`` back; adds the NaN-padded arrays of :func:`frames_to_arrays`
    under ``arrays``. Errors name the file and the field."""
    doc = load_json_document(path, PREDICTIONS_FORMAT)
    J = len(doc['skeleton']['joints'])
    frames = []
    for i, fr in enumerate(doc['frames']):
        persons = fr['persons']
        try:
            kp = np.asarray([p['keypoints_3d'] for p in persons], np.float32).reshape(-1, J, 3)
        except ValueError as e:
            raise ValueError(f'{path}: frames[{i}].persons[*].keypoints_3d: expected '
                             f'(P, {J}, 3) ({e})') from None
        frames.append(dict(frame_id=fr['frame_id'], keypoints_3d=kp,
                           scores=np.asarray([p['score'] for p in persons], np.float32),
                           root_centers=np.asarray([p['root'] for p in persons],
                                                   np.float32).reshape(-1, 3)))
    doc['arrays'] = frames_to_arrays(frames, J)
    return doc
