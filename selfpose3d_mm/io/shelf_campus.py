"""Readers of the Shelf / Campus files in VoxelPose's layout, and of the predicted 3D poses
that replace its pose bank (SelfPose3d's pseudo-3D protocol).

===============================  ==========================================================
file                             content
===============================  ==========================================================
``calibration_<dataset>.json``   the rig (:func:`~.calibration.load_shelf_campus_calibration`)
``actorsGT.mat``                 ``actor3D``: 1×A cell of F×1 cells, each a 14×3 Shelf-14
                                 pose in metres, or empty when the actor is absent
``pred_<dataset>_maskrcnn_``     dict ``"{cam}_{frame}"`` → list of ``{'pred': 17×3}``
``hrnet_coco.pkl``               COCO-17 (x, y, score) in original pixels
``panoptic_training_pose.pkl``   list of ``{'pose': 17×3 mm z-up, 'vis': 17×3 bool}``
``preds.npz`` / ``preds.json``   predicted 3D poses: ``tools/test.py --out`` and the
                                 inferencer's ``poses3d.npz`` / ``poses3d.json``
                                 (:mod:`~.predictions`: ``keypoints_3d`` (F, P, J, 3) mm,
                                 ``scores`` (F, P), NaN-padded, ``frame_ids`` (F,))
legacy ``preds.pkl``             the pickle older ``tools/test.py --out`` wrote (mmengine
                                 ``DumpResults``: data-sample dicts with
                                 ``pred_instances.keypoints_3d`` / ``.scores``)
===============================  ==========================================================

The pickles are read by :func:`~.safe_pickle.load_pickle`, which admits plain data only
(containers, scalars, numpy arrays): a pickle naming any other global is refused before
anything of it runs (legacy prediction dumps also admit torch tensors, whose storages
torch's weights-only loader reads, and load the package's own objects they carry, e.g.
the cameras, as inert placeholders). Every reader fails with an error naming the file and
the field (or key, or refused global) at fault. COCO-17 content is converted to
Panoptic-15 (:func:`~selfpose3d_mm.skeleton.coco17_to_panoptic15`).
"""
from __future__ import annotations

import io
import os.path as osp
from typing import List, Tuple

import numpy as np
import scipy.io

from selfpose3d_mm.skeleton import coco17_to_panoptic15
from selfpose3d_mm.utils import to_numpy
from .predictions import load_predictions
from .safe_pickle import load_pickle

__all__ = ['ShelfCampusFileError', 'load_actors_gt', 'load_detections',
           'detections_to_panoptic15', 'load_pose_bank', 'load_predicted_poses']


class ShelfCampusFileError(ValueError):
    """A Shelf / Campus data file is missing a field or has a malformed one."""


def _load_pickle(path: str, **kwargs):
    return load_pickle(path, wrap_errors=ShelfCampusFileError, **kwargs)

def load_actors_gt(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """``actorsGT.mat`` → dense Shelf-14 GT.

    Returns:
        poses (A, F, 14, 3) float32 world **mm** (zeros where absent) and present (A, F)
        bool; F = the longest actor's frame count.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'actorsGT file not found: {path}')
    mat = scipy.io.loadmat(path)
    if 'actor3D' not in mat:
        raise ShelfCampusFileError(f'{path}: no field `actor3D` (fields: '
                                   f'{sorted(k for k in mat if not k.startswith("__"))})')
    cells = np.asarray(mat['actor3D'], dtype=object).reshape(-1)  # A actors
    frames = [np.asarray(c, dtype=object).reshape(-1) for c in cells]
    A, F = len(frames), max([len(f) for f in frames] + [0])
    poses = np.zeros((A, F, 14, 3), np.float32)
    present = np.zeros((A, F), bool)
    for a, fr in enumerate(frames):  # A x F cells of a MATLAB object array
        for f, x in enumerate(fr):
            x = np.asarray(x)
            if x.size == 0:
                continue
            if x.shape != (14, 3):
                raise ShelfCampusFileError(f'{path}: field `actor3D` actor {a} frame {f} '
                                           f'has shape {x.shape}, expected (14, 3) or empty')
            poses[a, f] = x * 1000.0  # metres → mm
            present[a, f] = True
    return poses, present


def load_detections(path: str) -> dict:
    """The detection pickle: dict ``"{cam}_{frame}"`` → list of ``{'pred': (17, 3)}``."""
    det = _load_pickle(path)
    if not isinstance(det, dict):
        raise ShelfCampusFileError(f'{path}: expected a dict keyed "{{cam}}_{{frame}}", '
                                   f'got {type(det).__name__}')
    return det


def detections_to_panoptic15(entries, path: str, key: str
                             ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One view's COCO-17 detections → Panoptic-15 pseudo poses.

    A keypoint is valid when its score is > 0 (``coco17_to_panoptic15``: the neck and the
    mid-hip are the means of the valid shoulders / hips, their score too). A person's box
    score is the entry's ``bbox_score`` / ``box_score`` / ``score`` when present, else
    the mean of its 17 keypoint scores.

    Returns:
        keypoints (P, 15, 2) float32 original px, scores (P, 15) float32 (0 = invalid),
        box scores (P,) float32.
    """
    if not isinstance(entries, (list, tuple)):
        raise ShelfCampusFileError(f'{path}: key {key!r} holds a {type(entries).__name__}, '
                                   'expected a list of persons')
    if not entries:
        return (np.zeros((0, 15, 2), np.float32), np.zeros((0, 15), np.float32),
                np.zeros((0, ), np.float32))
    preds, boxes = [], []
    for i, e in enumerate(entries):  # persons of one view
        if not isinstance(e, dict) or 'pred' not in e:
            raise ShelfCampusFileError(f'{path}: key {key!r} person {i} has no field `pred`')
        p = np.asarray(e['pred'], np.float64)
        if p.ndim != 2 or p.shape[0] != 17 or p.shape[1] not in (2, 3):
            raise ShelfCampusFileError(f'{path}: key {key!r} person {i} field `pred` has '
                                       f'shape {p.shape}, expected (17, 3) (x, y, score)')
        if p.shape[1] == 2:
            p = np.concatenate([p, np.ones((17, 1))], 1)
        preds.append(p)
        box = next((e[k] for k in ('bbox_score', 'box_score', 'score') if k in e), None)
        boxes.append(np.nan if box is None else float(np.ravel(box)[0]))
    pred = np.stack(preds)                                       # (P, 17, 3)
    out, valid = coco17_to_panoptic15(pred, pred[..., 2] > 0)
    box = np.asarray(boxes)
    box = np.where(np.isnan(box), pred[..., 2].mean(-1), box)
    return (out[..., :2].astype(np.float32), np.where(valid, out[..., 2], 0).astype(
        np.float32), box.astype(np.float32))


def load_pose_bank(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """``panoptic_training_pose.pkl`` → Panoptic-15 3D poses.

    Returns:
        poses (N, 15, 3) float64 world mm (z up), valid (N, 15) bool.
    """
    bank = _load_pickle(path)
    if not isinstance(bank, (list, tuple)) or not bank:
        raise ShelfCampusFileError(f'{path}: expected a non-empty list of '
                                   "{'pose': (17, 3), 'vis': (17, 3)}")
    poses, vis = [], []
    for i, e in enumerate(bank):  # N small dicts
        if not isinstance(e, dict) or 'pose' not in e:
            raise ShelfCampusFileError(f'{path}: entry {i} has no field `pose`')
        p = np.asarray(e['pose'], np.float64)
        if p.shape != (17, 3):
            raise ShelfCampusFileError(f'{path}: entry {i} field `pose` has shape {p.shape}, '
                                       'expected (17, 3)')
        v = np.asarray(e.get('vis', np.ones((17, 3))), bool).reshape(17, -1)[:, 0]
        poses.append(p)
        vis.append(v)
    out, valid = coco17_to_panoptic15(np.stack(poses), np.stack(vis))
    return out, valid


def _legacy_dump_globals() -> dict:
    """What a legacy ``tools/test.py --out`` pickle needs besides plain data: torch CPU
    tensors (``_rebuild_tensor_v2`` over a storage that ``torch.storage._load_from_bytes``
    reads, here through torch's weights-only loader instead of a full unpickler)."""
    import torch

    def storage_from_bytes(b):
        if not isinstance(b, (bytes, bytearray)):
            raise TypeError(f'a tensor storage must be bytes, got {type(b).__name__}')
        return torch.load(io.BytesIO(b), weights_only=True)

    return {('torch._utils', '_rebuild_tensor_v2'): torch._utils._rebuild_tensor_v2,
            ('torch._utils', '_rebuild_tensor'): torch._utils._rebuild_tensor,
            ('torch.storage', '_load_from_bytes'): storage_from_bytes,
            ('torch', 'Size'): torch.Size}


def _dump_frames(path: str) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Legacy ``tools/test.py --out`` pickle → per frame (keypoints (N, J, 3+), scores)."""
    results = _load_pickle(path, extra=_legacy_dump_globals(),
                           opaque_prefixes=('selfpose3d_mm.', ))
    if not isinstance(results, (list, tuple)):
        raise ShelfCampusFileError(f'{path}: expected the list of data samples that '
                                   f'tools/test.py --out writes, got {type(results).__name__}')
    frames = []
    for i, r in enumerate(results):  # frames
        pred = r.get('pred_instances') if isinstance(r, dict) else None
        if not isinstance(pred, dict):
            raise ShelfCampusFileError(f'{path}: sample {i} has no field `pred_instances`')
        if 'keypoints_3d' not in pred:
            raise ShelfCampusFileError(f'{path}: sample {i} field `pred_instances` has no '
                                       '`keypoints_3d`')
        try:
            kp = to_numpy(pred['keypoints_3d']).astype(np.float64)
            sc = to_numpy(pred.get('scores', np.ones(len(kp)))).astype(np.float64)
        except (TypeError, ValueError) as e:
            raise ShelfCampusFileError(f'{path}: sample {i} field `pred_instances`: '
                                       f'keypoints_3d / scores are not numeric arrays ({e})'
                                       ) from None
        if kp.size == 0:
            continue
        if kp.ndim != 3 or kp.shape[1] not in (15, 17) or kp.shape[2] < 3:
            raise ShelfCampusFileError(
                f'{path}: sample {i} field `pred_instances.keypoints_3d` has shape '
                f'{kp.shape}, expected (N, 15 or 17, 3)')
        sc = sc.reshape(-1)
        if len(sc) != len(kp):
            raise ShelfCampusFileError(f'{path}: sample {i} field `pred_instances.scores` '
                                       f'has {len(sc)} values for {len(kp)} poses')
        frames.append((kp, sc))
    return frames


def _array_frames(path: str) -> List[Tuple[np.ndarray, np.ndarray]]:
    """``.npz`` / ``.json`` predictions (:mod:`~.predictions`) → per frame (keypoints,
    scores); padded persons have NaN scores."""
    if path.lower().endswith('.json'):
        arrays = load_predictions(path)['arrays']
    else:
        if not osp.isfile(path):
            raise FileNotFoundError(f'file not found: {path}')
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in ('keypoints_3d', 'scores') if k in z.files}
        except ValueError as e:  # an object array (allow_pickle=False), or not an npz
            raise ShelfCampusFileError(f'{path}: not a predictions npz of plain arrays '
                                       f'({e})') from None
        for k in ('keypoints_3d', 'scores'):
            if k not in arrays:
                raise ShelfCampusFileError(f'{path}: no field `{k}`')
    kp = np.asarray(arrays['keypoints_3d'], np.float64)
    sc = np.asarray(arrays['scores'], np.float64)
    if kp.ndim != 4 or kp.shape[2] not in (15, 17) or kp.shape[3] < 3:
        raise ShelfCampusFileError(f'{path}: field `keypoints_3d` has shape {kp.shape}, '
                                   'expected (F, P, 15 or 17, 3)')
    if sc.shape != kp.shape[:2]:
        raise ShelfCampusFileError(f'{path}: field `scores` has shape {sc.shape}, expected '
                                   f'{kp.shape[:2]} (frames, persons) like `keypoints_3d`')
    return list(zip(kp, sc))


def load_predicted_poses(path: str, score_threshold: float = 0.0
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """3D poses a model predicted (``tools/test.py CONFIG CKPT --out preds.npz``).

    ``.npz`` / ``.json``: the predictions format of :mod:`~.predictions` (what
    ``tools/test.py --out`` and the inferencer write). Any other name: a legacy
    ``tools/test.py --out preds.pkl`` dump (mmengine's ``DumpResults`` list of data-sample
    dicts with ``pred_instances`` = ``{'keypoints_3d': (N, J, 3) mm, 'scores': (N,)}``),
    read through the restricted unpickler. Poses with ``score > score_threshold`` and
    finite coordinates are kept; COCO-17 poses (J = 17) are converted to Panoptic-15.

    Returns:
        poses (M, 15, 3) float64 world mm, valid (M, 15) bool.
    """
    path = str(path)
    ext = osp.splitext(path)[1].lower()
    frames = _array_frames(path) if ext in ('.npz', '.json') else _dump_frames(path)
    poses = []
    for kp, sc in frames:  # frames
        keep = (sc > score_threshold) & np.isfinite(kp[..., :3]).all((1, 2))
        kp = kp[keep, :, :3]
        if kp.shape[1] == 17:
            kp = coco17_to_panoptic15(kp)[0]
        poses.append(kp)
    poses = np.concatenate(poses) if poses else np.zeros((0, 15, 3))
    if not len(poses):
        raise ShelfCampusFileError(f'{path}: no predicted pose with score > '
                                   f'{score_threshold} (score_threshold)')
    return poses, np.ones(poses.shape[:2], bool)
