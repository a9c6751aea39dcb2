"""CLEAR-MOT style counts of a 3D pose tracking result against known identities.

Per frame, each ground-truth person is matched to at most one output person (only
outputs with an id >= 0 count): a correspondence of the previous frame is kept while the
pair stays within ``threshold`` (mean per-joint distance, mm); the others are matched by
Hungarian assignment within the threshold. Then

* TP: matched pairs; FN: ground-truth persons left unmatched; FP: outputs left unmatched;
* ID switch: a ground-truth person matched to a different id than at its previous match;
* MOTA = 1 - (FN + FP + ID switches) / ground-truth persons; MOTP: mean distance of TPs.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ['mot_counts']


def _mpjpe(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(G, J, 3) × (H, J, 3) → (G, H) mean distance over the joints finite in both."""
    d = np.linalg.norm(a[:, None] - b[None], axis=-1)                  # (G, H, J)
    ok = np.isfinite(d)
    n = ok.sum(-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        m = np.where(ok, d, 0.0).sum(-1) / n
    return np.where(n > 0, m, np.inf)


def mot_counts(gt_poses: Sequence, gt_ids: Sequence, poses: Sequence, ids: Sequence,
               threshold: float = 500.0) -> dict:
    """Tracking counts of a sequence (definitions in the module docstring).

    Args:
        gt_poses / gt_ids: per frame, the true (G_f, J, 3) poses and their (G_f,) ids.
        poses / ids: per frame, the output (H_f, J, 3) poses and (H_f,) ids (-1: no id,
            not counted as output).
        threshold: largest mean per-joint distance (mm) of a match.
    Returns:
        dict: ``num_gt``, ``num_output``, ``tp``, ``fp``, ``fn``, ``id_switches``,
        ``mota``, ``motp_mm``, ``num_frames``.
    """
    if not (len(gt_poses) == len(gt_ids) == len(poses) == len(ids)):
        raise ValueError('mot_counts: every argument needs one entry per frame')
    last = {}       # gt id -> output id of its last match
    current = {}    # gt id -> output id matched in the previous frame
    tp = fp = fn = sw = n_gt = n_out = 0
    dist_sum = 0.0
    for g_p, g_i, p, i in zip(gt_poses, gt_ids, poses, ids):  # a loop over frames
        g_p, p = np.asarray(g_p, np.float64), np.asarray(p, np.float64)
        g_i, i = np.asarray(g_i).reshape(-1), np.asarray(i).reshape(-1)
        keep = i >= 0
        p, i = p[keep], i[keep]
        n_gt += len(g_i)
        n_out += len(i)
        if len(g_i) and len(i):
            cost = _mpjpe(g_p, p)
        else:
            cost = np.zeros((len(g_i), len(i)))
        pairs, used_g, used_h = [], set(), set()
        for gk, gid in enumerate(g_i):  # keep last frame's correspondences
            h = np.flatnonzero(i == current.get(int(gid), -2))
            if len(h) and cost[gk, h[0]] <= threshold:
                pairs.append((gk, int(h[0])))
                used_g.add(gk)
                used_h.add(int(h[0]))
        rg = np.array([k for k in range(len(g_i)) if k not in used_g], np.int64)
        rh = np.array([k for k in range(len(i)) if k not in used_h], np.int64)
        if len(rg) and len(rh):
            sub = cost[np.ix_(rg, rh)]
            r, c = linear_sum_assignment(np.where(sub <= threshold, sub, 1e12))
            ok = sub[r, c] <= threshold
            pairs += list(zip(rg[r[ok]].tolist(), rh[c[ok]].tolist()))
        current = {}
        for gk, hk in pairs:
            gid, hid = int(g_i[gk]), int(i[hk])
            if gid in last and last[gid] != hid:
                sw += 1
            last[gid] = current[gid] = hid
            dist_sum += float(cost[gk, hk])
        tp += len(pairs)
        fn += len(g_i) - len(pairs)
        fp += len(i) - len(pairs)
    mota = 1.0 - (fn + fp + sw) / n_gt if n_gt else float('nan')
    return dict(num_frames=len(gt_ids), num_gt=n_gt, num_output=n_out, tp=tp, fp=fp,
                fn=fn, id_switches=sw, mota=mota,
                motp_mm=dist_sum / tp if tp else float('nan'))
