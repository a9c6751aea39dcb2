"""A label-free quality report of 3D poses: how well they agree with the 2D pseudo poses
of every view, how stable each person's bones are, and when nobody was found.

Inputs: the 3D poses (``poses3d.json`` / ``.npz``, :mod:`selfpose3d_mm.io.predictions`),
a pseudo-label file (:mod:`selfpose3d_mm.io.pseudo_labels`) and the cameras (a
calibration file, or the rigs a ``poses3d.json`` carries). A frame of the poses is paired
with the pseudo-label frame whose key is its ``frame_id``, the last part of it after a
``/`` (custom rigs: ``"<sequence>/00000123"`` → ``"00000123"``), or its ``frame`` number
as ``%08d``; frames without pseudo labels count in the timeline only.

Method. Every 3D person is projected into every view (distortion included); a joint is
visible where it lies in front of the camera and inside the image. Its *size* in a view
is the longer side of the box of its visible projected joints (its height when
upright). Per view, the projected persons are matched to the pseudo persons by Hungarian
assignment (SciPy) on the mean pixel distance over the joints valid in both; a pair whose
mean distance exceeds ``match_gate`` × size stays unmatched. The error of a joint is the
pixel distance to the matched pseudo joint (``/ size``: normalised). A view *supports* a
joint when its normalised error is ≤ ``support_gate``. Bone lengths are measured per
track (the file's ``track_id``s, or :class:`~selfpose3d_mm.tracking.PoseTracker`);
a bone whose coefficient of variation (std / mean) exceeds ``bone_cv_threshold`` is
flagged.

``quality.json`` (written atomically; ``null`` where there is no data)::

    {"format": "selfpose3d_mm/quality_report", "version": 1,
     "inputs": {"poses3d": ..., "pseudo_labels": ..., "calibration": ... | null},
     "settings": {"match_gate": 0.5, "support_gate": 0.05, "bone_cv_threshold": 0.1,
                  "min_track_frames": 10},
     "views": ["cam0", ...], "joints": ["neck", ...],             # C views, J joints
     "num_frames": F, "num_frames_with_labels": F_l,
     "summary": {"median_error_px": 2.4, "median_error_norm": 0.008,
                 "worst_view": "cam3", "worst_joint": "left_wrist",
                 "frames_without_people": 2, "flagged_bones": 1},
     "reprojection": {"median_px": [[... J] ... C], "mean_px": [[...]],
                      "median_norm": [[...]], "count": [[...]]},     # per view x joint
     "per_view": [{"name": "cam0", "median_px": ..., "mean_px": ..., "p90_px": ...,
                   "median_norm": ..., "matched": n,               # matched 3D persons
                   "unmatched_3d": n,        # 3D persons visible in the view, unmatched
                   "unmatched_2d": n}],      # pseudo persons left unmatched
     "per_joint": [{"name": "neck", "median_px": ..., "median_norm": ...,
                    "mean_support_views": 3.2,          # views supporting the joint
                    "supported_by_2_or_more": 0.97}],   # share of persons x frames
     "bones": {"names": ["neck-nose", ...],
               "tracks": [{"track_id": 0, "num_frames": 120,
                           "mean_mm": [...], "std_mm": [...], "cv": [...],
                           "flagged": ["left_elbow-left_wrist"]}]},
     "timeline": {"frame_ids": [...], "num_persons": [...],
                  "frames_without_people": [indices]}}
"""
from __future__ import annotations

import json
import os.path as osp
import warnings
from typing import List, Optional, Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from selfpose3d_mm.datasets.pseudo_poses import frame_pseudo_poses
from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.io import load_cameras, load_pseudo_labels, rig_from_dict
from selfpose3d_mm.io.predictions import load_prediction_file
from selfpose3d_mm.skeleton import COCO17_NAMES, PANOPTIC15_NAMES
from selfpose3d_mm.tracking import PoseTracker, collect_tracks
from selfpose3d_mm.utils import atomic_open

__all__ = ['QUALITY_FORMAT', 'match_and_measure', 'bone_stability', 'build_quality_report',
           'quality_report']

QUALITY_FORMAT = 'selfpose3d_mm/quality_report'


def match_and_measure(uv: np.ndarray, vis: np.ndarray, kp2d: np.ndarray, ok2d: np.ndarray,
                      match_gate: float = 0.5):
    """Match projected 3D persons to pseudo persons in every view and measure errors.

    Args:
        uv: (C, P, J, 2) projected 3D joints (px); vis: (C, P, J) visible in the view.
        kp2d: (C, Q, J, 2) pseudo joints, padded to Q per view; ok2d: (C, Q, J) valid.
        match_gate: largest mean distance of a match, in units of the person's size.
    Returns:
        err (C, P, J) px (NaN: unmatched or not valid in both), size (C, P) px,
        match (C, P) index of the matched pseudo person or -1.
    """
    C, P = uv.shape[:2]
    Q = kp2d.shape[1]
    lo = np.where(vis[..., None], uv, np.inf).min(2)
    hi = np.where(vis[..., None], uv, -np.inf).max(2)
    size = np.where(vis.any(-1), np.maximum((hi - lo).max(-1), 1.0), np.nan)  # (C, P)
    both = vis[:, :, None] & ok2d[:, None]                              # (C, P, Q, J)
    dist = np.linalg.norm(uv[:, :, None] - kp2d[:, None], axis=-1)      # (C, P, Q, J)
    n = both.sum(-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        mean = np.where(both, dist, 0.0).sum(-1) / n
    gate = match_gate * size[..., None]
    allowed = (n > 0) & (mean <= gate)
    match = np.full((C, P), -1, np.int64)
    for c in range(C):  # one assignment per view (SciPy)
        if not allowed[c].any():
            continue
        r, q = linear_sum_assignment(np.where(allowed[c], mean[c], 1e12))
        ok = allowed[c][r, q]
        match[c, r[ok]] = q[ok]
    m = np.clip(match, 0, max(Q - 1, 0))
    if Q:
        e = np.take_along_axis(dist, m[:, :, None, None], 2)[:, :, 0]   # (C, P, J)
        b = np.take_along_axis(both, m[:, :, None, None], 2)[:, :, 0]
        err = np.where(b & (match >= 0)[..., None], e, np.nan)
    else:
        err = np.full(vis.shape, np.nan)
    return err, size, match


def bone_stability(tracks: dict, links: np.ndarray, min_frames: int = 10,
                   cv_threshold: float = 0.1, bone_names: Optional[List[str]] = None):
    """Per track: mean, std and coefficient of variation of every bone length.

    Args:
        tracks: ``{id: (frames, poses (T, J, 3), valid (T, J))}``.
        links: (L, 2) joint index pairs.
    Returns:
        a list of ``{"track_id", "num_frames", "mean_mm", "std_mm", "cv", "flagged"}``
        (tracks shorter than ``min_frames`` are left out; a bone measured in fewer
        frames has ``null`` statistics).
    """
    names = bone_names or [f'{a}-{b}' for a, b in np.asarray(links).tolist()]
    out = []
    for tid, (fr, p, v) in tracks.items():
        if len(fr) < min_frames:
            continue
        a, b = np.asarray(links).T
        length = np.linalg.norm(p[:, a] - p[:, b], axis=-1)             # (T, L)
        ok = v[:, a] & v[:, b]
        cnt = ok.sum(0)
        good = cnt >= min_frames
        with np.errstate(invalid='ignore', divide='ignore'):
            mean = np.where(ok, length, 0).sum(0) / cnt
            std = np.sqrt(np.where(ok, (length - mean) ** 2, 0).sum(0) / cnt)
            cv = std / mean
        mean, std, cv = (np.where(good, x, np.nan) for x in (mean, std, cv))
        out.append(dict(track_id=int(tid), num_frames=int(len(fr)), mean_mm=mean,
                        std_mm=std, cv=cv,
                        flagged=[names[i] for i in np.flatnonzero(good & (cv > cv_threshold))]))
    return out


def _nan_stat(fn, x, axis=None):
    """``fn`` (a numpy nan-statistic) of ``x``; all-NaN slices give NaN silently."""
    x = np.asarray(x, np.float64)
    if x.size == 0 or not np.isfinite(x).any():
        shape = () if axis is None else np.delete(x.shape, axis)
        return np.full(shape, np.nan) if axis is not None else np.nan
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # all-NaN slices: null cells
        return fn(x, axis=axis)


def _p90(x) -> Optional[float]:
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    return float(np.percentile(x, 90)) if len(x) else None


def _pseudo_key(frame: dict, keys) -> Optional[str]:
    fid = str(frame['frame_id'])
    cands = [fid, fid.rsplit('/', 1)[-1]]
    if frame.get('frame') is not None:
        cands.append(f'{int(frame["frame"]):08d}')
    return next((k for k in cands if k in keys), None)


def _pad(arrays: Sequence[np.ndarray], tail: tuple, fill) -> np.ndarray:
    Q = max([len(a) for a in arrays] + [0])
    out = np.full((len(arrays), Q) + tail, fill, dtype=np.asarray(fill).dtype)
    for c, a in enumerate(arrays):  # C views
        out[c, :len(a)] = a
    return out


def build_quality_report(data: dict, labels, rigs: List[MultiViewCameras],
                         rig_index: Sequence[int], match_gate: float = 0.5,
                         support_gate: float = 0.05, bone_cv_threshold: float = 0.1,
                         min_track_frames: int = 10, fps: float = 30.0) -> dict:
    """The report (schema in the module docstring, ``inputs`` left empty).

    Args:
        data: :func:`~selfpose3d_mm.io.predictions.load_prediction_file`'s result.
        labels: the loaded pseudo labels (:class:`~selfpose3d_mm.io.PseudoLabels`), views
            in the rigs' camera order.
        rigs: unbatched rigs; rig_index: per frame, the rig it was taken with.
    """
    names, frames = data['joint_names'], data['frames']
    J, C = len(names), len(labels.views)
    if tuple(names) == PANOPTIC15_NAMES:
        skeleton = 'panoptic15'
    elif tuple(names) == COCO17_NAMES and labels.skeleton == 'coco17':
        skeleton = 'coco17'
    else:
        raise ValueError(f'{labels.path}: skeleton: the poses\' joints {names} are not '
                         f'reachable from {labels.skeleton!r} pseudo labels')
    errs, sizes = [], []
    per_view = np.zeros((C, 3), np.int64)              # matched, unmatched 3D / 2D
    with_labels = 0
    for f, r in enumerate(frames):  # a loop over frames
        key = _pseudo_key(r, labels.frames)
        if key is None:
            continue
        with_labels += 1
        kps, scores, _ = frame_pseudo_poses(labels, key, skeleton)
        kp3 = np.asarray(r['keypoints_3d'], np.float64).reshape(-1, J, 3)
        if not len(kp3):
            per_view[:, 2] += [len(k) for k in kps]
            continue
        cams = rigs[rig_index[f]].double()
        uv, front = cams.project(torch.as_tensor(kp3.reshape(-1, 3)), return_valid=True)
        vis = front & cams.in_image(uv) & torch.as_tensor(np.isfinite(kp3).all(-1).reshape(-1))
        uv = uv.numpy().reshape(C, -1, J, 2)
        vis = vis.numpy().reshape(C, -1, J)
        kp2d, ok2d = _pad(kps, (J, 2), 0.0), _pad([s > 0 for s in scores], (J, ), False)
        err, size, match = match_and_measure(uv, vis, kp2d, ok2d, match_gate)
        seen = vis.sum(-1) >= 3
        per_view[:, 0] += (match >= 0).sum(1)
        per_view[:, 1] += (seen & (match < 0)).sum(1)
        per_view[:, 2] += [len(k) for k in kps] - (match >= 0).sum(1)
        errs.append(err.transpose(1, 0, 2))                            # (P, C, J)
        sizes.append(np.broadcast_to(size.T[..., None], (len(kp3), C, J)))
    E = np.concatenate(errs) if errs else np.full((0, C, J), np.nan)
    En = E / (np.concatenate(sizes) if sizes else np.ones_like(E))
    support = (En <= support_gate).sum(1)                              # (N, J)
    med = _nan_stat(np.nanmedian, E, 0)
    view_med = _nan_stat(np.nanmedian, E.transpose(1, 0, 2).reshape(C, -1), 1)
    joint_med = _nan_stat(np.nanmedian, E.reshape(-1, J), 0)
    # bones per track
    if data['tracked']:
        ids = [r['track_ids'] for r in frames]
    else:
        ids = PoseTracker(fps=fps).track_sequence([r['keypoints_3d'] for r in frames],
                                                  [r['scores'] for r in frames])
    links = np.asarray(data['skeleton_links'], np.int64).reshape(-1, 2)
    bone_names = [f'{names[a]}-{names[b]}' for a, b in links.tolist()]
    bones = bone_stability(collect_tracks([r['keypoints_3d'] for r in frames], ids), links,
                           min_track_frames, bone_cv_threshold, bone_names)
    counts = np.array([len(r['scores']) for r in frames], np.int64)
    empty = np.flatnonzero(counts == 0)
    finite = np.isfinite(view_med)
    report = dict(
        format=QUALITY_FORMAT, version=1, inputs={},
        settings=dict(match_gate=match_gate, support_gate=support_gate,
                      bone_cv_threshold=bone_cv_threshold, min_track_frames=min_track_frames),
        views=list(labels.views), joints=list(names), num_frames=len(frames),
        num_frames_with_labels=with_labels,
        summary=dict(median_error_px=_nan_stat(np.nanmedian, E),
                     median_error_norm=_nan_stat(np.nanmedian, En),
                     worst_view=labels.views[int(np.nanargmax(view_med))] if finite.any()
                     else None,
                     worst_joint=names[int(np.nanargmax(joint_med))]
                     if np.isfinite(joint_med).any() else None,
                     frames_without_people=int(len(empty)),
                     flagged_bones=int(sum(len(b['flagged']) for b in bones))),
        reprojection=dict(median_px=med, mean_px=_nan_stat(np.nanmean, E, 0),
                          median_norm=_nan_stat(np.nanmedian, En, 0),
                          count=np.isfinite(E).sum(0)),
        per_view=[dict(name=v, median_px=view_med[c],
                       mean_px=_nan_stat(np.nanmean, E[:, c]), p90_px=_p90(E[:, c]),
                       median_norm=_nan_stat(np.nanmedian, En[:, c]),
                       matched=int(per_view[c, 0]), unmatched_3d=int(per_view[c, 1]),
                       unmatched_2d=int(per_view[c, 2])) for c, v in enumerate(labels.views)],
        per_joint=[dict(name=n, median_px=joint_med[j],
                        median_norm=_nan_stat(np.nanmedian, En[:, :, j]),
                        mean_support_views=float(support[:, j].mean()) if len(E) else None,
                        supported_by_2_or_more=float((support[:, j] >= 2).mean())
                        if len(E) else None) for j, n in enumerate(names)],
        bones=dict(names=bone_names, tracks=bones),
        timeline=dict(frame_ids=[str(r['frame_id']) for r in frames],
                      num_persons=counts, frames_without_people=empty))
    return _plain(report)


def _plain(x):
    """numpy → JSON values; NaN / inf → None."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, (np.integer, )):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    return x


def _rigs(data: dict, path: str, calibration: Optional[str], calibration_format,
          calibration_kwargs):
    frames = data['frames']
    if calibration:
        return [load_cameras(calibration, calibration_format, **(calibration_kwargs or {}))], \
            [0] * len(frames)
    docs = data['header'].get('cameras')
    if not docs:
        raise ValueError(f'{path}: no field `cameras` (an npz holds no rig): give the '
                         'calibration file')
    rigs = [rig_from_dict(d, f'{path}: cameras[{i}]') for i, d in enumerate(docs)]
    index = [int(r.get('rig', 0)) for r in frames]
    bad = [i for i in index if not 0 <= i < len(rigs)]
    if bad:
        raise ValueError(f'{path}: frames[*].rig: index {bad[0]} outside the '
                         f'{len(rigs)} rigs of `cameras`')
    return rigs, index


def quality_report(poses: str, pseudo_labels: str, out_dir: Optional[str] = None,
                   calibration: Optional[str] = None, calibration_format: Optional[str] = None,
                   calibration_kwargs: Optional[dict] = None, plots: bool = True,
                   **settings) -> dict:
    """Read the inputs, build the report, write ``out_dir/quality.json`` and the plots.

    Args:
        poses: ``poses3d.json`` / ``.npz``; pseudo_labels: the pseudo-label file.
        calibration: a calibration file (:func:`~selfpose3d_mm.io.load_cameras`); default:
            the rigs stored in ``poses3d.json``.
        settings: ``match_gate``, ``support_gate``, ``bone_cv_threshold``,
            ``min_track_frames``, ``fps`` (of :func:`build_quality_report`).
    Returns:
        the report; ``report['files']`` lists what was written.
    """
    data = load_prediction_file(poses)
    rigs, index = _rigs(data, poses, calibration, calibration_format, calibration_kwargs)
    views = rigs[0].names
    if not views:
        raise ValueError(f'{calibration or poses}: the cameras have no names to pair with '
                         'the pseudo labels\' `views`')
    if any(r.names != views for r in rigs):
        raise ValueError(f'{poses}: cameras: the rigs name different cameras')
    labels = load_pseudo_labels(pseudo_labels, views=views)
    report = build_quality_report(data, labels, rigs, index, **settings)
    report['inputs'] = dict(poses3d=str(poses), pseudo_labels=str(pseudo_labels),
                            calibration=calibration)
    files = []
    if out_dir is not None:
        path = osp.join(out_dir, 'quality.json')
        with atomic_open(path, 'w', encoding='utf-8') as f:
            f.write(json.dumps(report, indent=1, allow_nan=False))
        files.append(path)
        if plots:
            from .quality_plots import plot_quality_report
            files += plot_quality_report(report, out_dir)
    report['files'] = files
    return report
