"""Multi-person 3D pose tracking by detection: a constant-velocity model per track and
Hungarian assignment (SciPy's ``linear_sum_assignment``) on a gated cost.

Each frame:

1. every track predicts its pose ``last + velocity · Δt`` (Δt = frames since it was last
   seen / fps);
2. the cost of (track, detection) is ``root_weight · root distance + (1 - root_weight) ·
   mean per-joint distance`` (mm) over the joints valid in both (the root: the
   ``root_index`` joint, or the mean of those common joints), computed for all tracks ×
   detections at once; pairs above ``max_distance`` (the gate) or without a common joint
   cannot match;
3. confirmed tracks are matched first, then the tentative ones with what is left
   (a new person's first frames cannot take a known person's detection);
4. a detection left over starts a tentative track, which is confirmed (and gets an id)
   after ``min_hits`` consecutive matched frames and dropped at its first miss before
   that (a ghost seen once never gets an id); a confirmed track is dropped after more
   than ``max_misses`` frames in a row without a match and keeps its id until then.

Ids are 0, 1, 2, ... in order of confirmation; ``-1`` marks a detection of a tentative
track (or one without a valid joint). :meth:`PoseTracker.track_sequence` also gives the
confirmed id to the frames a track spent tentative (``backfill``).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ['PoseTracker', 'pose_track_costs']


def pose_track_costs(pred: np.ndarray, pred_valid: np.ndarray, det: np.ndarray,
                     det_valid: np.ndarray, root_weight: float = 0.5,
                     root_index: Optional[int] = None) -> np.ndarray:
    """Cost of every (track, detection) pair, vectorised.

    Args:
        pred: (T, J, 3) predicted track poses (mm); pred_valid: (T, J) bool.
        det: (N, J, 3) detected poses; det_valid: (N, J) bool.
        root_weight: weight of the root distance (the rest: mean per-joint distance).
        root_index: the root joint; ``None``: the mean of the joints valid in both.
    Returns:
        (T, N) float64 mm; ``inf`` where a pair has no joint valid in both (or, with
        ``root_index``, the root is missing in either).
    """
    T, N = len(pred), len(det)
    if T == 0 or N == 0:
        return np.zeros((T, N))
    both = pred_valid[:, None] & det_valid[None]                       # (T, N, J)
    count = both.sum(-1)
    p = np.where(pred_valid[..., None], pred, 0.0)[:, None]            # (T, 1, J, 3)
    d = np.where(det_valid[..., None], det, 0.0)[None]                 # (1, N, J, 3)
    w = both[..., None].astype(np.float64)
    dist = np.linalg.norm(p - d, axis=-1)                               # (T, N, J)
    with np.errstate(invalid='ignore', divide='ignore'):
        mpjpe = (dist * both).sum(-1) / count
        if root_index is None:
            root = np.linalg.norm(((p - d) * w).sum(-2), axis=-1) / count
        else:
            root = np.where(both[..., root_index], dist[..., root_index], np.inf)
    cost = root_weight * root + (1.0 - root_weight) * mpjpe
    return np.where(count > 0, cost, np.inf)


class _Track:
    """One track's state (plain data)."""
    __slots__ = ('track_id', 'pose', 'valid', 'velocity', 'last_frame', 'hits', 'misses',
                 'history')

    def __init__(self, pose, valid, frame, det_index):
        self.track_id = -1                     # -1 while tentative
        self.pose, self.valid = pose.copy(), valid.copy()
        self.velocity = np.zeros_like(pose)    # mm / s
        self.last_frame, self.hits, self.misses = frame, 1, 0
        self.history = [(frame, det_index)]    # (frame, detection) while tentative


class PoseTracker:
    """Track 3D poses over frames (method in the module docstring).

    Args:
        max_distance: gate on the matching cost (mm).
        min_hits: consecutive matched frames that confirm a track (its birth).
        max_misses: frames in a row without a match after which a confirmed track ends.
        fps: frame rate of the sequence (the velocity is in mm / s).
        root_weight: weight of the root distance in the cost (the rest: mean per-joint).
        root_index: the root joint (e.g. 2, the mid-hip of Panoptic-15); ``None``: the
            mean of the valid joints.
        velocity_smoothing: weight of the newest velocity estimate (1: last step only).
        min_score: detections below this score are matched but start no track.

    Example:
        >>> tracker = PoseTracker(fps=30)
        >>> ids = [tracker.update(p, s) for p, s in zip(poses, scores)]   # per frame
        >>> ids = PoseTracker(fps=30).track_sequence(poses)               # with backfill
    """

    def __init__(self, max_distance: float = 500.0, min_hits: int = 3,
                 max_misses: int = 5, fps: float = 30.0, root_weight: float = 0.5,
                 root_index: Optional[int] = None, velocity_smoothing: float = 0.5,
                 min_score: float = 0.0):
        if max_distance <= 0 or fps <= 0:
            raise ValueError(f'PoseTracker: max_distance ({max_distance}) and fps ({fps}) '
                             'must be > 0')
        if min_hits < 1 or max_misses < 0:
            raise ValueError(f'PoseTracker: min_hits ({min_hits}) must be >= 1 and '
                             f'max_misses ({max_misses}) >= 0')
        if not 0.0 <= root_weight <= 1.0 or not 0.0 < velocity_smoothing <= 1.0:
            raise ValueError('PoseTracker: root_weight must be in [0, 1] and '
                             'velocity_smoothing in (0, 1]')
        self.max_distance, self.min_hits = float(max_distance), int(min_hits)
        self.max_misses, self.fps = int(max_misses), float(fps)
        self.root_weight, self.root_index = float(root_weight), root_index
        self.velocity_smoothing, self.min_score = float(velocity_smoothing), float(min_score)
        self.reset()

    def reset(self):
        """Forget every track; the next :meth:`update` is frame 0 and ids restart at 0."""
        self._tracks: List[_Track] = []
        self._next_id = 0
        self.frame = -1
        self.backfill: List[tuple] = []  # (frame, detection, id) of the last update

    @property
    def settings(self) -> dict:
        """The tracker's parameters (e.g. for the ``tracking`` entry of a file)."""
        return dict(method='PoseTracker', max_distance=self.max_distance,
                    min_hits=self.min_hits, max_misses=self.max_misses, fps=self.fps,
                    root_weight=self.root_weight, root_index=self.root_index,
                    velocity_smoothing=self.velocity_smoothing, min_score=self.min_score)

    def _predict(self, frame: int):
        if not self._tracks:
            return np.zeros((0, 0, 3)), np.zeros((0, 0), bool)
        gap = np.array([frame - t.last_frame for t in self._tracks], np.float64)
        pose = np.stack([t.pose for t in self._tracks])
        vel = np.stack([t.velocity for t in self._tracks])
        return (pose + vel * (gap / self.fps)[:, None, None],
                np.stack([t.valid for t in self._tracks]))

    def _assign(self, cost: np.ndarray, rows: np.ndarray, cols: np.ndarray):
        """Hungarian assignment of ``rows`` × ``cols`` of ``cost`` within the gate."""
        if not len(rows) or not len(cols):
            return []
        sub = cost[np.ix_(rows, cols)]
        big = self.max_distance * 10.0 + 1.0
        r, c = linear_sum_assignment(np.where(sub <= self.max_distance, sub, big))
        keep = sub[r, c] <= self.max_distance
        return list(zip(rows[r[keep]], cols[c[keep]]))

    def update(self, poses, scores=None, valid=None) -> np.ndarray:
        """Advance one frame.

        Args:
            poses: (N, J, 3) mm detections of this frame (N may be 0); non-finite joints
                count as missing.
            scores: optional (N,) detection scores (see ``min_score``).
            valid: optional (N, J) bool joint validity.
        Returns:
            (N,) int64 track ids, -1 for detections not (yet) in a confirmed track.
            :attr:`backfill` lists ``(frame, detection, id)`` of the earlier frames of
            the tracks confirmed by this update.
        """
        poses = np.asarray(poses, np.float64)
        if poses.size == 0:  # a frame without detections: [] or (0, J, 3)
            J = self._tracks[0].pose.shape[0] if self._tracks else 0
            poses = poses.reshape(0, poses.shape[1] if poses.ndim == 3 else J, 3)
        if poses.ndim != 3 or poses.shape[-1] != 3:
            raise ValueError(f'PoseTracker.update: poses must be (N, J, 3), got '
                             f'{poses.shape}')
        N = len(poses)
        ok = np.isfinite(poses).all(-1)
        if valid is not None:
            ok &= np.asarray(valid, bool).reshape(ok.shape)
        scores = (np.ones(N) if scores is None else
                  np.asarray(scores, np.float64).reshape(N))
        poses = np.where(ok[..., None], poses, 0.0)
        self.frame += 1
        self.backfill = []
        f = self.frame
        pred, pred_valid = self._predict(f)
        if self._tracks and pred.shape[1] != poses.shape[1] and N:
            raise ValueError(f'PoseTracker.update: {poses.shape[1]} joints, the tracks '
                             f'have {pred.shape[1]}')
        cost = pose_track_costs(pred, pred_valid, poses, ok, self.root_weight,
                                self.root_index)
        confirmed = np.array([t.track_id >= 0 for t in self._tracks], bool)
        dets = np.flatnonzero(ok.any(-1))
        pairs = self._assign(cost, np.flatnonzero(confirmed), dets)
        left = np.setdiff1d(dets, [d for _, d in pairs])
        pairs += self._assign(cost, np.flatnonzero(~confirmed), left)
        ids = np.full(N, -1, np.int64)
        matched = set()
        for ti, di in pairs:  # a few tracks per frame
            self._match(self._tracks[ti], pred[ti], poses[di], ok[di], f, di)
            ids[di] = self._tracks[ti].track_id
            matched.add(ti)
        survivors = []
        for i, t in enumerate(self._tracks):
            if i not in matched:
                t.misses += 1
                if t.track_id < 0 or t.misses > self.max_misses:
                    continue
            survivors.append(t)
        taken = {d for _, d in pairs}
        for di in dets:
            if di not in taken and scores[di] >= self.min_score:
                t = _Track(poses[di], ok[di], f, int(di))
                survivors.append(t)
                if self.min_hits <= 1:
                    self._confirm(t)
                    ids[di] = t.track_id
        self._tracks = survivors
        return ids

    def _match(self, t: _Track, pred, pose, ok, frame: int, det_index: int):
        dt = (frame - t.last_frame) / self.fps
        both = t.valid & ok
        vel = np.where(both[:, None], (pose - t.pose) / dt, t.velocity)
        a = 1.0 if t.hits == 1 else self.velocity_smoothing
        t.velocity = a * vel + (1.0 - a) * t.velocity
        t.pose = np.where(ok[:, None], pose, pred)
        t.valid = t.valid | ok
        t.last_frame, t.misses = frame, 0
        t.hits += 1
        if t.track_id < 0:
            t.history.append((frame, det_index))
            if t.hits >= self.min_hits:
                self._confirm(t)

    def _confirm(self, t: _Track):
        t.track_id = self._next_id
        self._next_id += 1
        self.backfill += [(fr, d, t.track_id) for fr, d in t.history[:-1]]
        t.history = []

    def track_sequence(self, poses: Sequence, scores: Optional[Sequence] = None,
                       valid: Optional[Sequence] = None,
                       backfill: bool = True) -> List[np.ndarray]:
        """Track a whole sequence from a fresh state.

        Args:
            poses: per frame (N_f, J, 3) mm; scores / valid: optional, per frame.
            backfill: give a track's id to the frames it spent tentative too.
        Returns:
            per frame (N_f,) int64 ids (-1: never in a confirmed track).
        """
        self.reset()
        out = []
        for i, p in enumerate(poses):  # frames are sequential
            out.append(self.update(p, None if scores is None else scores[i],
                                   None if valid is None else valid[i]))
            if backfill:
                for fr, d, tid in self.backfill:
                    out[fr][d] = tid
        return out
