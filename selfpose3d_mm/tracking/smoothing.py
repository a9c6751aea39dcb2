"""Temporal smoothing of tracks (structure of :mod:`.tracks`): the One-Euro filter, or
SciPy's Savitzky-Golay filter (``scipy.signal.savgol_filter``).

* ``'one_euro'``: the One-Euro filter (the "1€ filter"): an exponential low-pass filter
  whose cut-off rises with the speed, so slow motion is smoothed strongly and fast
  motion lags little. Causal (usable live). Per
  joint, on the 3D speed; a missing joint keeps its state and is left missing.
* ``'savgol'``: a centred polynomial fit over ``window`` frames (not causal). Gaps of a
  track are bridged by linear interpolation for the fit only; missing samples stay
  missing; a joint seen in fewer than ``window`` frames is left as it is.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.signal import savgol_filter

from .tracks import Tracks

__all__ = ['OneEuroFilter', 'SMOOTHING_METHODS', 'smooth_tracks']

SMOOTHING_METHODS = ('one_euro', 'savgol')


def _alpha(cutoff, dt: float):
    """Smoothing factor of a first-order low-pass filter of cut-off ``cutoff`` Hz."""
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """The One-Euro ("1€") filter on arrays of 3D points (..., 3).

    Args:
        min_cutoff: cut-off (Hz) at rest: lower = smoother when still.
        beta: cut-off increase per unit of speed (Hz per mm/s with mm input): higher =
            less lag when moving.
        d_cutoff: cut-off (Hz) of the speed estimate.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.007, d_cutoff: float = 1.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError('OneEuroFilter: min_cutoff and d_cutoff must be > 0, beta >= 0')
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.x = self.dx = self.seen = self.age = None

    def __call__(self, x: np.ndarray, dt: float, valid: Optional[np.ndarray] = None):
        """Filter one sample ``x`` (..., 3) taken ``dt`` s after the previous one;
        points where ``valid`` (...) is False are not used and come back NaN."""
        x = np.asarray(x, np.float64)
        valid = np.isfinite(x).all(-1) if valid is None else np.asarray(valid, bool)
        if self.x is None:
            self.x, self.dx = np.zeros_like(x), np.zeros_like(x)
            self.seen = np.zeros(x.shape[:-1], bool)
            self.age = np.zeros(x.shape[:-1] + (1, ))
        self.age += dt          # per point: time since its last valid sample
        dt_p = self.age
        new = valid & ~self.seen  # first sample of a point: taken as it is
        upd = valid & self.seen
        with np.errstate(invalid='ignore'):
            dx = (x - self.x) / dt_p
            ad = _alpha(self.d_cutoff, dt_p)
            dx_hat = ad * dx + (1 - ad) * self.dx
            cutoff = self.min_cutoff + self.beta * np.linalg.norm(dx_hat, axis=-1,
                                                                  keepdims=True)
            a = _alpha(cutoff, dt_p)
            x_hat = a * x + (1 - a) * self.x
        self.x = np.where(new[..., None], x, np.where(upd[..., None], x_hat, self.x))
        self.dx = np.where(upd[..., None], dx_hat, self.dx)
        self.seen |= valid
        self.age = np.where(valid[..., None], 0.0, self.age)
        return np.where(valid[..., None], self.x, np.nan)


def _one_euro(frames, poses, valid, fps, **kw):
    filt = OneEuroFilter(**kw)
    out = np.empty_like(poses)
    prev = frames[0] - 1
    for k in range(len(frames)):  # recursive in time
        out[k] = filt(poses[k], (frames[k] - prev) / fps, valid[k])
        prev = frames[k]
    return out


def _savgol(frames, poses, valid, fps, window: int = 9, polyorder: int = 2):
    L = int(frames[-1] - frames[0] + 1)
    idx = frames - frames[0]
    win = min(int(window), L if L % 2 else L - 1)
    out = poses.copy()
    if win <= polyorder:
        return out
    J = poses.shape[1]
    grid = np.full((L, J, 3), np.nan)
    grid[idx] = np.where(valid[..., None], poses, np.nan)
    t = np.arange(L)
    enough = valid.sum(0) >= win                                       # (J,)
    for j in np.flatnonzero(enough):  # bridge the gaps of each joint (J <= a few dozen)
        seen = np.isfinite(grid[:, j, 0])
        for c in range(3):
            grid[:, j, c] = np.interp(t, t[seen], grid[seen, j, c])
    cols = grid[:, enough].reshape(L, -1)
    if cols.size:
        smooth = savgol_filter(cols, win, polyorder, axis=0, mode='interp')
        sm = smooth.reshape(L, -1, 3)[idx]                              # (T, J', 3)
        out[:, enough] = np.where(valid[:, enough, None], sm, poses[:, enough])
    return out


def smooth_tracks(tracks: Tracks, method: Optional[str] = 'one_euro', fps: float = 30.0,
                  **kwargs) -> Tracks:
    """Smoothed copies of the tracks (same frames and validity).

    Args:
        method: ``'one_euro'`` (kwargs: ``min_cutoff``, ``beta``, ``d_cutoff``),
            ``'savgol'`` (kwargs: ``window`` frames, odd, ``polyorder``), or ``None``
            (the tracks unchanged).
        fps: frame rate of the frame indices.
    """
    if method is None:
        return dict(tracks)
    if method not in SMOOTHING_METHODS:
        raise ValueError(f'smooth_tracks: method must be one of {SMOOTHING_METHODS} or '
                         f'None, got {method!r}')
    if fps <= 0:
        raise ValueError(f'smooth_tracks: fps must be > 0, got {fps}')
    fn = _one_euro if method == 'one_euro' else _savgol
    out = {}
    for tid, (frames, poses, valid) in tracks.items():
        frames = np.asarray(frames, np.int64)
        poses, valid = np.asarray(poses, np.float64), np.asarray(valid, bool)
        if len(frames) and np.any(np.diff(frames) <= 0):
            raise ValueError(f'smooth_tracks: track {tid}: frame indices must increase')
        sm = fn(frames, poses, valid, fps, **kwargs) if len(frames) else poses.copy()
        out[tid] = (frames.copy(), np.where(valid[..., None], sm, poses), valid.copy())
    return out
