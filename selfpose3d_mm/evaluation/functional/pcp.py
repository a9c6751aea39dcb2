"""Shelf / Campus PCP (percentage of correct parts), in plain numpy.

Protocol (VoxelPose's, on Shelf-14 poses in mm):

1. Per frame and per GT actor present, the prediction with the smallest MPJPE over all
   14 joints is that actor's match (no threshold; ties: the lowest prediction index).
   The actor is recalled when that MPJPE is below ``recall_threshold`` (500 mm).
2. Each actor-frame has 10 parts (:data:`PCP_PARTS`): 9 limbs and the torso, which joins
   the hip centre (mean of joints 2, 3) to the bottom of the head (joint 12). A part is
   correct iff ``(|p_s - g_s| + |p_e - g_e|) / 2 <= alpha * |g_s - g_e|`` (alpha = 0.5).
3. An actor's PCP = correct parts / parts, pooled over every frame where the actor is
   present. A frame without any prediction counts all its actors' parts as wrong.
4. The reported PCP is the mean of the per-actor PCPs over a list of actors (Shelf and
   Campus: actors 1-3 of the paper, ``(0, 1, 2)`` here; Shelf's 4th actor is ignored).
   The bone-group PCPs (:data:`PCP_BONE_GROUPS`) are averaged over the same actors.
   Recall@500 = recalled actor-frames / GT actor-frames, over *all* actors.

All values returned by :func:`pcp_summary` are percentages (0-100).
"""
from typing import Dict, Sequence, Tuple

import numpy as np

__all__ = ['PCP_PARTS', 'PCP_PART_NAMES', 'PCP_BONE_GROUPS', 'pcp_part_endpoints',
           'pcp_parts', 'pcp_summary']

# (start, end) joints of the 10 parts; 14 is the hip centre appended by
# ``pcp_part_endpoints`` (Shelf-14 order: see ``selfpose3d_mm/skeleton/joints.py``).
PCP_PARTS = ((0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8), (9, 10), (10, 11), (12, 13),
             (14, 12))
PCP_PART_NAMES = ('r_lower_leg', 'r_upper_leg', 'l_upper_leg', 'l_lower_leg',
                  'r_lower_arm', 'r_upper_arm', 'l_upper_arm', 'l_lower_arm', 'head',
                  'torso')
# Metric-key suffix -> indices into PCP_PARTS.
PCP_BONE_GROUPS = {'head': (8,), 'torso': (9,), 'upper_arms': (5, 6),
                   'lower_arms': (4, 7), 'upper_legs': (1, 2), 'lower_legs': (0, 3)}
_STARTS = np.array([s for s, _ in PCP_PARTS])
_ENDS = np.array([e for _, e in PCP_PARTS])


def _check_shelf14(poses: np.ndarray, name: str) -> np.ndarray:
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1] != 14 or poses.shape[2] < 3:
        raise ValueError(f'{name} must be Shelf-14 poses (K, 14, 3), got shape '
                         f'{poses.shape}')
    return poses[..., :3]


def pcp_part_endpoints(poses: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Start and end points of the 10 PCP parts.

    Args:
        poses (np.ndarray): (..., 14, 3) Shelf-14 joints, mm.

    Returns:
        tuple: ``starts`` and ``ends``, each (..., 10, 3), mm.
    """
    poses = np.asarray(poses, dtype=np.float64)[..., :3]
    hip_centre = (poses[..., 2:3, :] + poses[..., 3:4, :]) / 2
    ext = np.concatenate([poses, hip_centre], axis=-2)          # (..., 15, 3)
    return ext[..., _STARTS, :], ext[..., _ENDS, :]


def pcp_parts(pred: np.ndarray, gt: np.ndarray, alpha: float = 0.5
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match every GT actor of one frame to a prediction and score its 10 parts.

    Args:
        pred (np.ndarray): (P, 14, 3) predicted Shelf-14 poses, mm (P may be 0).
        gt (np.ndarray): (G, 14, 3) GT Shelf-14 poses, mm.
        alpha (float): a part is correct when its mean end-point error is at most
            ``alpha`` times the GT part length.

    Returns:
        tuple: ``matched`` (G,) int prediction index (-1: no prediction),
        ``mpjpe`` (G,) float error of the match in mm (inf: no prediction),
        ``correct`` (G, 10) bool per part (all False without a prediction).
    """
    pred = _check_shelf14(pred, 'pred') if np.size(pred) else np.zeros((0, 14, 3))
    gt = _check_shelf14(gt, 'gt') if np.size(gt) else np.zeros((0, 14, 3))
    num_gt = len(gt)
    if len(pred) == 0 or num_gt == 0:
        return (np.full(num_gt, -1, dtype=np.int64), np.full(num_gt, np.inf),
                np.zeros((num_gt, len(PCP_PARTS)), dtype=bool))
    err = np.linalg.norm(gt[:, None] - pred[None], axis=-1).mean(-1)    # (G, P)
    err[np.isnan(err)] = np.inf     # a NaN prediction must not win argmin
    matched = err.argmin(1)                                             # first on ties
    mpjpe = err[np.arange(num_gt), matched]

    p_start, p_end = pcp_part_endpoints(pred[matched])                  # (G, 10, 3)
    g_start, g_end = pcp_part_endpoints(gt)
    part_err = (np.linalg.norm(p_start - g_start, axis=-1)
                + np.linalg.norm(p_end - g_end, axis=-1)) / 2
    correct = part_err <= alpha * np.linalg.norm(g_start - g_end, axis=-1)
    return matched.astype(np.int64), mpjpe, correct


def pcp_summary(actor_ids: np.ndarray, correct: np.ndarray, mpjpe: np.ndarray,
                actors: Sequence[int] = (0, 1, 2),
                recall_threshold: float = 500.0) -> Dict[str, float]:
    """PCP per actor, averaged over ``actors``, per bone group, and the recall.

    Args:
        actor_ids (np.ndarray): (N,) int actor index of every GT actor-frame.
        correct (np.ndarray): (N, 10) bool parts of those actor-frames
            (from :func:`pcp_parts`).
        mpjpe (np.ndarray): (N,) error of their matched prediction, mm.
        actors (Sequence[int]): actors averaged into ``PCP`` and the bone groups;
            those never present in the GT are left out of the means (NaN if none is).
        recall_threshold (float): mm.

    Returns:
        dict[str, float]: ``PCP``, ``PCP_actor{k}`` for every actor present,
        ``PCP_{group}`` for the groups of :data:`PCP_BONE_GROUPS`,
        and ``Recall@{recall_threshold}`` (recalled / all GT actor-frames; 0 when
        there are none).
    """
    actor_ids = np.asarray(actor_ids, dtype=np.int64).reshape(-1)
    correct = np.asarray(correct, dtype=bool).reshape(len(actor_ids), len(PCP_PARTS))
    mpjpe = np.asarray(mpjpe, dtype=np.float64).reshape(-1)
    # (A, 10) correct counts and (A,) actor-frame counts, A = actors present.
    seen, inverse = np.unique(actor_ids, return_inverse=True)
    part_hits = np.zeros((len(seen), len(PCP_PARTS)))
    np.add.at(part_hits, inverse, correct)
    frames = np.bincount(inverse, minlength=len(seen)).astype(np.float64)
    part_pcp = part_hits / np.maximum(frames, 1)[:, None]              # (A, 10)

    metrics: Dict[str, float] = {}
    chosen = part_pcp[np.isin(seen, np.asarray(list(actors), dtype=np.int64))]
    nan = float('nan')      # no chosen actor in the GT: the means are undefined
    metrics['PCP'] = 100.0 * float(chosen.mean()) if len(chosen) else nan
    for k, pcp in zip(seen, part_pcp.mean(-1)):
        metrics[f'PCP_actor{k}'] = 100.0 * float(pcp)
    for name, parts in PCP_BONE_GROUPS.items():
        metrics[f'PCP_{name}'] = (100.0 * float(chosen[:, list(parts)].mean())
                                  if len(chosen) else nan)
    hits = int(np.count_nonzero(mpjpe < recall_threshold))
    metrics[f'Recall@{recall_threshold:g}'] = 100.0 * hits / max(len(mpjpe), 1)
    return metrics
