"""Panoptic (VoxelPose) multi-person 3D pose AP / recall / MPJPE, in plain numpy.

Protocol (one record per prediction, pooled over the whole dataset):

0. Frames without a valid GT person (a GT person is valid when it has at least one
   visible joint, so padding rows and fully invisible people do not count) are
   handled by ``empty_gt_frames``:

   - ``'skip'`` (default): the frame is dropped, its predictions and GT contribute
     nothing to AP, recall or MPJPE. This is VoxelPose's evaluation protocol, which
     every published CMU Panoptic AP / Recall@500 / MPJPE number uses, so the
     default reproduces those numbers.
   - ``'false_positive'``: the stricter count; the frame is kept and each of its
     predictions is a false positive (step 1 gives it ``mpjpe = inf``).

   Both agree on every frame that has a valid GT person.
1. Per frame, every prediction gets its MPJPE (mean Euclidean distance in mm over
   the GT's visible joints) to every GT person of that frame and is assigned to the
   GT with the smallest MPJPE (ties: the lowest GT index). Several predictions may be
   assigned to the same GT; a frame without valid GT gives records with
   ``mpjpe = inf`` and ``gt_id = -1`` (always false positives).
2. ``total_gt`` = GT persons with at least one visible joint, over all frames.
3. AP@t: records sorted by score, descending, with a *stable* sort, so equal scores
   keep dataset order (frame order as given, then prediction order within a frame).
   A record is a TP when ``mpjpe < t`` and its GT is not yet taken; VOC all-point AP.
4. MPJPE: mean error of the TPs of the same matching at ``mpjpe_threshold``;
   NaN when nothing matches (the mean of an empty set is undefined).
5. Recall@mpjpe_threshold: unique GTs with any record ``mpjpe < threshold`` (no
   score order), over ``total_gt``.

With ``total_gt == 0`` every recall and AP is 0 (nothing can be recalled) and MPJPE is
NaN; in particular a dataset whose frames all lack a valid GT person (or no frames at
all) returns every AP / recall 0.0 and ``MPJPE`` NaN under either ``empty_gt_frames``.
All AP / recall values returned by :func:`multiview_pose_ap` are percentages.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

__all__ = ['frame_pose_errors', 'greedy_match', 'voc_average_precision',
           'collect_records', 'multiview_pose_ap', 'valid_gt_mask',
           'frame_has_valid_gt', 'check_empty_gt_frames', 'EMPTY_GT_FRAMES']

#: Accepted values of ``empty_gt_frames``; the first is the default (VoxelPose).
EMPTY_GT_FRAMES = ('skip', 'false_positive')


def check_empty_gt_frames(empty_gt_frames: str) -> str:
    """Validate an ``empty_gt_frames`` option.

    Args:
        empty_gt_frames (str): ``'skip'`` or ``'false_positive'``.

    Returns:
        str: the value, unchanged.

    Raises:
        ValueError: for any other value.
    """
    if not isinstance(empty_gt_frames, str) or empty_gt_frames not in EMPTY_GT_FRAMES:
        raise ValueError(f'empty_gt_frames must be one of {EMPTY_GT_FRAMES}, '
                         f'got {empty_gt_frames!r}')
    return empty_gt_frames


def _gt_visibility(gt: np.ndarray, gt_visible: Optional[np.ndarray]) -> np.ndarray:
    """(G, J) bool visibility of ``gt`` (G, J, 3); None means all visible."""
    num_gt = len(gt)
    num_joints = gt.shape[1] if gt.ndim == 3 else 0
    if gt_visible is None:
        return np.ones((num_gt, num_joints), dtype=bool)
    return np.asarray(gt_visible).reshape(num_gt, num_joints).astype(bool)


def valid_gt_mask(gt: np.ndarray, gt_visible: Optional[np.ndarray] = None) -> np.ndarray:
    """GT persons that count: at least one visible joint (the ``total_gt`` rule).

    Args:
        gt (np.ndarray): (G, J, 3) GT joints.
        gt_visible (np.ndarray, optional): (G, J) bool; None means all visible.

    Returns:
        np.ndarray: (G,) bool.
    """
    return _gt_visibility(np.asarray(gt), gt_visible).sum(-1) > 0


def frame_has_valid_gt(frame: dict) -> bool:
    """Whether a frame (as for :func:`collect_records`) has a valid GT person."""
    return bool(valid_gt_mask(frame['gt'], frame.get('gt_visible')).any())


def frame_pose_errors(pred: np.ndarray, gt: np.ndarray,
                      gt_visible: Optional[np.ndarray] = None
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assign each prediction of one frame to its nearest GT person by MPJPE.

    Args:
        pred (np.ndarray): (N, J, 3) predicted joints, mm.
        gt (np.ndarray): (G, J, 3) GT joints, mm.
        gt_visible (np.ndarray, optional): (G, J) bool; None means all visible.

    Returns:
        tuple: ``mpjpe`` (N,) float error to the assigned GT (inf when the frame has
        no valid GT), ``gt_index`` (N,) int index into this frame's GT (-1 when none),
        ``valid_gt`` (G,) bool, GT persons with at least one visible joint.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    num_pred = len(pred)
    gt_visible = _gt_visibility(gt, gt_visible)     # same rule as valid_gt_mask
    num_vis = gt_visible.sum(-1)
    valid_gt = num_vis > 0
    if num_pred == 0 or not valid_gt.any():
        return (np.full(num_pred, np.inf), np.full(num_pred, -1, dtype=np.int64),
                valid_gt)
    if pred.shape[1:] != gt.shape[1:]:
        raise ValueError(f'predicted poses {pred.shape[1:]} and GT poses '
                         f'{gt.shape[1:]} differ in joints')
    # (N, G, J) joint distances; np.where (not a product) so NaN in invisible GT
    # joints cannot leak into the mean.
    dist = np.linalg.norm(pred[:, None] - gt[None], axis=-1)
    dist = np.where(gt_visible[None], dist, 0.0)
    err = dist.sum(-1) / np.maximum(num_vis, 1)[None]          # (N, G)
    err[:, ~valid_gt] = np.inf                                  # never assign to them
    # NaN (a NaN joint that counts) must not win argmin, which returns NaN first.
    err[np.isnan(err)] = np.inf
    gt_index = err.argmin(1)                                    # first minimum on ties
    return err[np.arange(num_pred), gt_index], gt_index.astype(np.int64), valid_gt


def greedy_match(mpjpe: np.ndarray, gt_ids: np.ndarray, threshold: float) -> np.ndarray:
    """Score-ordered greedy matching of records that are already sorted by score.

    A record is a TP iff ``mpjpe < threshold`` and no earlier record has taken its GT.
    Records failing the threshold take nothing, so a TP is exactly the first
    under-threshold record of each GT id — computed without a Python loop.

    Args:
        mpjpe (np.ndarray): (R,) errors, in score order.
        gt_ids (np.ndarray): (R,) global GT ids (-1: none), in score order.
        threshold (float): mm.

    Returns:
        np.ndarray: (R,) bool, True for true positives.
    """
    cand = np.flatnonzero((mpjpe < threshold) & (gt_ids >= 0))
    tp = np.zeros(len(mpjpe), dtype=bool)
    if cand.size:
        _, first = np.unique(gt_ids[cand], return_index=True)
        tp[cand[first]] = True
    return tp


def voc_average_precision(tp: np.ndarray, total_gt: int) -> Tuple[float, float]:
    """VOC all-point AP of score-sorted TP flags.

    Args:
        tp (np.ndarray): (R,) bool, in descending score order.
        total_gt (int): number of GT persons.

    Returns:
        tuple: (AP, final recall), both fractions in [0, 1].
    """
    tp = np.asarray(tp, dtype=bool)
    cum_tp = np.cumsum(tp).astype(np.float64)
    cum_fp = np.cumsum(~tp).astype(np.float64)
    recall = cum_tp / max(total_gt, 1)
    precision = cum_tp / np.maximum(cum_tp + cum_fp, 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]     # monotone non-increasing
    change = np.flatnonzero(mrec[1:] != mrec[:-1])
    ap = float(np.sum((mrec[change + 1] - mrec[change]) * mpre[change + 1]))
    return ap, float(recall[-1]) if len(recall) else 0.0


def collect_records(frames: Sequence[dict]) -> Tuple[np.ndarray, np.ndarray,
                                                     np.ndarray, int]:
    """Per-prediction records of a whole dataset.

    Args:
        frames (Sequence[dict]): per frame ``pred`` (N, J, 3), ``scores`` (N,),
            ``gt`` (G, J, 3) and optionally ``gt_visible`` (G, J).

    Returns:
        tuple: ``mpjpe`` (R,), ``scores`` (R,), ``gt_ids`` (R,) global GT ids
        (-1 for none) and ``total_gt`` (valid GT persons over all frames).
        Every frame given is used: predictions of a frame without valid GT become
        records with ``gt_id = -1`` (drop such frames first to skip them, as
        :func:`multiview_pose_ap` does by default).
    """
    errs, scores, ids = [], [], []
    total_gt = 0
    for frame in frames:
        err, idx, valid = frame_pose_errors(frame['pred'], frame['gt'],
                                            frame.get('gt_visible'))
        # Global ids: rank of the GT among this frame's valid GTs, offset by all
        # valid GTs before this frame; invalid GT are never assigned.
        local = np.cumsum(valid) - 1
        gid = np.full(len(idx), -1, dtype=np.int64)
        gid[idx >= 0] = total_gt + local[idx[idx >= 0]]
        ids.append(gid)
        errs.append(err)
        scores.append(np.asarray(frame['scores'], dtype=np.float64).reshape(-1))
        total_gt += int(valid.sum())
    if not frames:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), 0
    return (np.concatenate(errs), np.concatenate(scores),
            np.concatenate(ids).astype(np.int64), total_gt)


def multiview_pose_ap(frames: Sequence[dict],
                      thresholds: Sequence[float] = (25, 50, 75, 100, 125, 150),
                      mpjpe_threshold: float = 500.0,
                      empty_gt_frames: str = 'skip') -> Dict[str, float]:
    """Panoptic AP / recall / MPJPE over a dataset (see the module docstring).

    Args:
        frames (Sequence[dict]): as for :func:`collect_records`.
        thresholds (Sequence[float]): AP thresholds, mm.
        mpjpe_threshold (float): matching threshold for MPJPE and Recall, mm.
        empty_gt_frames (str): frames without a valid GT person (see
            :func:`frame_has_valid_gt`): ``'skip'`` (default, VoxelPose's protocol,
            the one behind published Panoptic numbers) drops them entirely;
            ``'false_positive'`` counts each of their predictions as a false
            positive.

    Returns:
        dict: ``AP{t}`` and ``recall@{t}`` per threshold, ``mAP``, ``mAR``
        (percent), ``Recall@{mpjpe_threshold}`` (percent), ``MPJPE`` (mm, NaN if
        no prediction matches). The keys do not depend on ``empty_gt_frames``.
    """
    if check_empty_gt_frames(empty_gt_frames) == 'skip':
        frames = [frame for frame in frames if frame_has_valid_gt(frame)]
    mpjpe, scores, gt_ids, total_gt = collect_records(frames)
    order = np.argsort(-scores, kind='stable')      # stable: ties keep dataset order
    mpjpe, gt_ids = mpjpe[order], gt_ids[order]

    metrics, aps, recalls = {}, [], []
    for t in thresholds:
        ap, rec = voc_average_precision(greedy_match(mpjpe, gt_ids, t), total_gt)
        metrics[f'AP{t:g}'] = 100.0 * ap
        metrics[f'recall@{t:g}'] = 100.0 * rec
        aps.append(ap)
        recalls.append(rec)
    metrics['mAP'] = 100.0 * float(np.mean(aps)) if aps else 0.0
    metrics['mAR'] = 100.0 * float(np.mean(recalls)) if recalls else 0.0

    matched = greedy_match(mpjpe, gt_ids, mpjpe_threshold)
    metrics['MPJPE'] = float(mpjpe[matched].mean()) if matched.any() else float('nan')
    hit = np.unique(gt_ids[(mpjpe < mpjpe_threshold) & (gt_ids >= 0)])
    metrics[f'Recall@{mpjpe_threshold:g}'] = 100.0 * hit.size / max(total_gt, 1)
    return metrics
