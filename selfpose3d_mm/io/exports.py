"""3D pose exports for biomechanics and analysis tools: TRC, C3D and CSV.

Input: the package's world (millimetres, z up) — tracks as ``frame_indices`` (T,),
``poses`` (T, J, 3), ``valid`` (T, J) (:mod:`selfpose3d_mm.tracking.tracks`) or
per-frame persons for CSV. Output axes and units are chosen per file:

* ``axes='zup'``: the package's world as it is (x, y, z), z up (mocap / C3D habit);
* ``axes='yup'``: y up, the convention of OpenSim models: ``(x, y, z)_out = (x, z, -y)``,
  the proper rotation a rig file with ``world_up: +y`` undoes
  (:func:`~selfpose3d_mm.io.calibration.world_axes`);
* ``units``: ``'mm'`` or ``'m'``.

Formats (one file per track for TRC and C3D; one CSV for everything):

* **TRC** (OpenSim / Pose2Sim marker file, tab-separated text): ``PathFileType 4
  (X/Y/Z) <name>``; the header keys ``DataRate CameraRate NumFrames NumMarkers Units
  OrigDataRate OrigDataStartFrame OrigNumFrames`` and their values; ``Frame# Time`` and
  the marker (joint) names, each over three columns; ``X1 Y1 Z1 X2 ...``; then one row
  per frame from the track's first to last frame: ``Frame#`` (1-based frame number of the
  sequence), ``Time`` (s, frame index / fps, so the tracks of a sequence share one
  clock), coordinates with 6 decimals — empty cells where a joint is missing.
  Defaults: ``yup``, metres (what OpenSim expects).
* **C3D** (written with the ``c3d`` package, float storage): POINT:LABELS = joint names,
  POINT:RATE = fps, POINT:UNITS, first frame = the track's first frame number (1-based);
  residual 0 for a present point and -1 for a missing one (readers show it as missing).
  Defaults: ``zup``, millimetres.
* **CSV** (long format, ``csv`` module): header ``frame,time,track_id,person,joint,x,y,z,
  score``, one row per person and joint: frame index, time (s), track id (-1: none),
  index of the person in its frame, joint name, coordinates (empty when missing),
  the person's detection score. Defaults: ``zup``, millimetres.
"""
from __future__ import annotations

import csv
import os.path as osp
import warnings
from typing import Optional, Sequence

import numpy as np

from selfpose3d_mm.utils import atomic_open
from .calibration.rig_file import world_axes

__all__ = ['EXPORT_AXES', 'EXPORT_UNITS', 'convert_points', 'dense_track', 'write_trc',
           'write_c3d', 'write_pose_csv']

EXPORT_AXES = ('zup', 'yup')
EXPORT_UNITS = {'mm': 1.0, 'm': 1000.0}  # mm per unit


def convert_points(points, axes: str = 'zup', units: str = 'mm') -> np.ndarray:
    """Internal points (..., 3) mm, z up → the export's axes and units (float64)."""
    if axes not in EXPORT_AXES:
        raise ValueError(f'axes must be one of {EXPORT_AXES}, got {axes!r}')
    if units not in EXPORT_UNITS:
        raise ValueError(f'units must be one of {list(EXPORT_UNITS)}, got {units!r}')
    p = np.asarray(points, np.float64)
    if axes == 'yup':  # X_int = A X_out  ⇒  X_out = Aᵀ X_int
        p = p @ world_axes('+y')
    return p / EXPORT_UNITS[units]


def dense_track(frame_indices, poses, valid):
    """A track on every frame from its first to its last: (L,) frames, (L, J, 3) poses
    with NaN where a frame or joint is missing."""
    fr = np.asarray(frame_indices, np.int64).reshape(-1)
    poses = np.asarray(poses, np.float64)
    valid = np.asarray(valid, bool) & np.isfinite(poses).all(-1)
    if not len(fr):
        raise ValueError('an export needs a track with at least one frame')
    if np.any(np.diff(fr) <= 0) or fr[0] < 0:
        raise ValueError('track frame indices must be >= 0 and increasing')
    frames = np.arange(fr[0], fr[-1] + 1)
    out = np.full((len(frames), ) + poses.shape[1:], np.nan)
    out[fr - fr[0]] = np.where(valid[..., None], poses, np.nan)
    return frames, out


def _check_names(joint_names, J):
    names = [str(n) for n in joint_names]
    if len(names) != J:
        raise ValueError(f'{len(names)} joint names for {J} joints')
    if any(not n or any(c in n for c in '\t\r\n,') for n in names):
        raise ValueError(f'joint names must be non-empty, without tabs, commas or line '
                         f'breaks: {names}')
    return names


def _num(v: float) -> str:
    return '' if not np.isfinite(v) else f'{v:.6f}'


def write_trc(path: str, frame_indices, poses, valid, joint_names: Sequence[str],
              fps: float, units: str = 'm', axes: str = 'yup') -> dict:
    """Write one track as a TRC file (format in the module docstring), atomically.

    Returns:
        the header values written (``DataRate``, ``NumFrames``, ``NumMarkers``, ``Units``,
        ``OrigDataStartFrame``, ...).
    """
    if fps <= 0:
        raise ValueError(f'write_trc: fps must be > 0, got {fps}')
    frames, dense = dense_track(frame_indices, poses, valid)
    names = _check_names(joint_names, dense.shape[1])
    xyz = convert_points(dense, axes, units)
    L, J = len(frames), len(names)
    head = dict(DataRate=f'{fps:g}', CameraRate=f'{fps:g}', NumFrames=str(L),
                NumMarkers=str(J), Units=units, OrigDataRate=f'{fps:g}',
                OrigDataStartFrame=str(int(frames[0]) + 1), OrigNumFrames=str(L))
    lines = ['\t'.join(['PathFileType', '4', '(X/Y/Z)', osp.basename(path)]),
             '\t'.join(head), '\t'.join(head.values()),
             'Frame#\tTime\t' + '\t\t\t'.join(names) + '\t\t',
             '\t'.join(['', ''] + [f'{a}{j + 1}' for j in range(J) for a in 'XYZ'])]
    for k in range(L):  # rows of text
        cells = [str(int(frames[k]) + 1), f'{frames[k] / fps:.6f}']
        cells += [_num(v) for v in xyz[k].reshape(-1)]
        lines.append('\t'.join(cells))
    with atomic_open(path, 'w', encoding='utf-8', newline='') as f:
        f.write('\n'.join(lines) + '\n')
    return head


def write_c3d(path: str, frame_indices, poses, valid, joint_names: Sequence[str],
              fps: float, units: str = 'mm', axes: str = 'zup') -> dict:
    """Write one track as a C3D file (with the ``c3d`` package), atomically.

    Returns:
        dict: ``labels``, ``rate``, ``units``, ``first_frame`` (1-based), ``num_frames``.
    """
    try:
        import c3d
    except ImportError:
        raise ImportError('C3D export needs the `c3d` package: pip install c3d') from None
    if fps <= 0:
        raise ValueError(f'write_c3d: fps must be > 0, got {fps}')
    frames, dense = dense_track(frame_indices, poses, valid)
    names = _check_names(joint_names, dense.shape[1])
    xyz = convert_points(dense, axes, units).astype(np.float32)
    ok = np.isfinite(xyz).all(-1)
    writer = c3d.Writer(point_rate=float(fps), point_units=f'{units:<4}')
    no_analog = np.zeros((0, 0), np.float32)
    for k in range(len(frames)):  # the writer takes frames one by one
        pts = np.zeros((len(names), 5), np.float32)
        pts[:, :3] = np.where(ok[k, :, None], xyz[k], 0.0)
        pts[:, 3] = np.where(ok[k], 0.0, -1.0)  # residual: -1 = missing
        writer.add_frames([(pts, no_analog)])
    writer.set_point_labels(names)
    writer.set_start_frame(int(frames[0]) + 1)
    with atomic_open(path, 'wb') as f, warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'No analog data found')  # points only, by design
        writer.write(f)
    return dict(labels=names, rate=float(fps), units=units, first_frame=int(frames[0]) + 1,
                num_frames=len(frames))


def write_pose_csv(path: str, frame_indices: Sequence[int], poses: Sequence,
                   joint_names: Sequence[str], fps: float,
                   scores: Optional[Sequence] = None, track_ids: Optional[Sequence] = None,
                   valid: Optional[Sequence] = None, units: str = 'mm',
                   axes: str = 'zup') -> int:
    """Write per-frame persons as a long-format CSV (columns in the module docstring).

    Args:
        frame_indices: (F,) frame index of each entry of ``poses``.
        poses: per frame (P_f, J, 3) mm; scores / track_ids / valid: per frame (P_f,),
            (P_f,), (P_f, J) (defaults: empty score, -1, the finite joints).
    Returns:
        the number of data rows written.
    """
    if fps <= 0:
        raise ValueError(f'write_pose_csv: fps must be > 0, got {fps}')
    if len(frame_indices) != len(poses):
        raise ValueError(f'write_pose_csv: {len(frame_indices)} frame indices for '
                         f'{len(poses)} frames')
    names = None
    rows = 0
    with atomic_open(path, 'w', encoding='utf-8', newline='') as f:
        w = csv.writer(f)
        w.writerow(['frame', 'time', 'track_id', 'person', 'joint', 'x', 'y', 'z', 'score'])
        for k, fi in enumerate(frame_indices):  # a loop over frames
            p = np.asarray(poses[k], np.float64)
            if not p.size:
                continue
            names = names or _check_names(joint_names, p.shape[1])
            ok = np.isfinite(p).all(-1)
            if valid is not None:
                ok &= np.asarray(valid[k], bool).reshape(ok.shape)
            xyz = convert_points(np.where(ok[..., None], p, np.nan), axes, units)
            tids = (np.full(len(p), -1) if track_ids is None
                    else np.asarray(track_ids[k]).reshape(-1))
            sc = None if scores is None else np.asarray(scores[k], np.float64).reshape(-1)
            t = f'{int(fi) / fps:.6f}'
            for i in range(len(p)):  # rows of text
                s = '' if sc is None else f'{sc[i]:.4f}'
                for j, n in enumerate(names):
                    w.writerow([int(fi), t, int(tids[i]), i, n] +
                               [_num(v) for v in xyz[i, j]] + [s])
                    rows += 1
    return rows
