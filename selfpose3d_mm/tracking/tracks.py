"""Tracks as a plain structure: ``{track_id: (frame_indices (T,) int64, poses (T, J, 3)
float64 mm, valid (T, J) bool)}``, frames increasing (a track may skip frames)."""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

__all__ = ['Tracks', 'collect_tracks', 'track_lookup']

Tracks = Dict[int, Tuple[np.ndarray, np.ndarray, np.ndarray]]


def collect_tracks(poses: Sequence, ids: Sequence,
                   valid: Optional[Sequence] = None) -> Tracks:
    """Group per-frame detections by track id (``-1`` detections are left out).

    Args:
        poses: per frame (N_f, J, 3); ids: per frame (N_f,) ints; valid: optional per
            frame (N_f, J) bool (default: the finite joints).
    Raises:
        ValueError: a frame's ids and poses differ in length, or an id appears twice in
            one frame.
    """
    if len(poses) != len(ids):
        raise ValueError(f'collect_tracks: {len(poses)} frames of poses, {len(ids)} of ids')
    rows = {}
    for f, (p, i) in enumerate(zip(poses, ids)):  # a loop over frames
        p = np.asarray(p, np.float64)
        i = np.asarray(i, np.int64).reshape(-1)
        if len(p) != len(i):
            raise ValueError(f'collect_tracks: frame {f}: {len(p)} poses, {len(i)} ids')
        if not len(i):
            continue
        ok = np.isfinite(p).all(-1)
        if valid is not None:
            ok &= np.asarray(valid[f], bool).reshape(ok.shape)
        tracked = i[i >= 0]
        if len(np.unique(tracked)) != len(tracked):
            raise ValueError(f'collect_tracks: frame {f}: a track id appears twice '
                             f'({tracked.tolist()})')
        for k in np.flatnonzero(i >= 0):
            rows.setdefault(int(i[k]), []).append((f, p[k], ok[k]))
    out = {}
    for tid in sorted(rows):
        fr, ps, vs = zip(*rows[tid])
        out[tid] = (np.asarray(fr, np.int64), np.stack(ps), np.stack(vs))
    return out


def track_lookup(tracks: Tracks) -> Dict[Tuple[int, int], tuple]:
    """``(frame, track_id) → (pose (J, 3), valid (J,))`` of every tracked detection."""
    return {(int(f), tid): (p[k], v[k]) for tid, (fr, p, v) in tracks.items()
            for k, f in enumerate(fr)}
