"""Panoptic (VoxelPose) multi-person 3D pose metric: AP@25..150 mm, Recall@500, MPJPE."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

from selfpose3d_mm.utils import to_numpy
from ..functional.data_samples import as_poses, get_field
from ..functional.multiview_ap import (check_empty_gt_frames, frame_has_valid_gt,
                                       multiview_pose_ap)

__all__ = ['MultiViewPoseAPMetric']


@METRICS.register_module()
class MultiViewPoseAPMetric(BaseMetric):
    """Panoptic multi-person 3D pose metric (the VoxelPose / SelfPose3d protocol).

    Every prediction is assigned to the GT person of its frame with the smallest
    MPJPE (over that GT's visible joints); records of all frames are sorted by score
    and greedily matched (a GT is taken by its first record under the threshold).
    Reports ``AP{t}`` / ``recall@{t}`` for each threshold, ``mAP`` (mean of the APs,
    the model-selection metric), ``mAR`` (mean of the recalls), ``Recall@500`` and
    ``MPJPE`` of the matches at ``mpjpe_threshold``. AP and recall are percentages,
    MPJPE is in mm. See :mod:`selfpose3d_mm.evaluation.functional.multiview_ap`.

    Conventions:
        - Ties in score keep dataset order (stable sort): frames in the order they
          were processed, then predictions in the order the model emitted them.
        - GT persons without a visible joint (after ``joint_indices``) are neither
          counted in the recall denominator nor matched.
        - Frames without a valid GT person (none, or only persons without a
          visible joint, e.g. padding): by default (``empty_gt_frames='skip'``)
          they are skipped, their predictions and GT count nowhere. That is
          VoxelPose's protocol, which every published CMU Panoptic AP / Recall@500
          / MPJPE number uses. ``empty_gt_frames='false_positive'`` keeps them and
          counts each of their predictions as a false positive (stricter; the
          two agree on all other frames). The number of such frames is logged.
        - Frames without predictions: their GT are misses. No predictions at all:
          every AP and recall is 0 and ``MPJPE`` is NaN (mean over an empty set).
        - No GT at all (e.g. every frame empty): every AP and recall is 0 and
          ``MPJPE`` is NaN, in either mode; the result keys are the usual ones.

    Each data sample (a ``MultiViewPoseDataSample`` or its ``to_dict()`` form) needs
    ``gt_instances.keypoints_3d`` (G, J, 3) mm, optionally
    ``gt_instances.keypoints_3d_visible`` (G, J), and ``pred_instances.keypoints_3d``
    (N, J, 3) with ``pred_instances.scores`` (N,); a missing ``pred_instances`` means
    no prediction.

    Args:
        thresholds (Sequence[float]): AP thresholds in mm.
        mpjpe_threshold (float): matching threshold (mm) for MPJPE and Recall.
        score_threshold (float): predictions with ``score <= score_threshold`` are
            dropped. The default 0.0 keeps everything the model emitted (it already
            applies its own proposal threshold).
        use_visibility (bool): average joint errors over visible GT joints only;
            False treats every GT joint as visible.
        joint_indices (Sequence[int], optional): evaluate only these joints. For
            example ``[2]`` (the Panoptic root, mid-hip) gives the "root AP" used to
            debug the root-localisation stage. None uses all joints.
        empty_gt_frames (str): frames without a valid GT person: ``'skip'``
            (default, VoxelPose's protocol, comparable with published Panoptic
            numbers) or ``'false_positive'`` (their predictions count as false
            positives).
        collect_device (str): ``'cpu'`` or ``'gpu'`` for distributed collection.
        prefix (str, optional): prefix of the metric names.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 thresholds: Sequence[float] = (25, 50, 75, 100, 125, 150),
                 mpjpe_threshold: float = 500.0,
                 score_threshold: float = 0.0,
                 use_visibility: bool = True,
                 joint_indices: Optional[Sequence[int]] = None,
                 empty_gt_frames: str = 'skip',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if len(thresholds) == 0:
            raise ValueError('MultiViewPoseAPMetric: `thresholds` must not be empty')
        self.thresholds = tuple(float(t) for t in thresholds)
        self.mpjpe_threshold = float(mpjpe_threshold)
        self.score_threshold = float(score_threshold)
        self.use_visibility = use_visibility
        self.joint_indices = None if joint_indices is None else list(joint_indices)
        self.empty_gt_frames = check_empty_gt_frames(empty_gt_frames)

    def _select(self, arr: np.ndarray) -> np.ndarray:
        """Restrict the joint axis (axis 1) to ``joint_indices``."""
        if self.joint_indices is None or arr.shape[1] == 0:
            return arr
        return arr[:, self.joint_indices]

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Store per frame numpy GT, visibility, predictions and scores.

        Args:
            data_batch: unused (the GT travels in the data samples).
            data_samples (Sequence): ``MultiViewPoseDataSample`` objects or dicts.
        """
        for sample in data_samples:
            gt_inst = get_field(sample, 'gt_instances')
            gt_kpts = get_field(gt_inst, 'keypoints_3d')
            if gt_kpts is None:
                raise KeyError('MultiViewPoseAPMetric: data sample has no '
                               'gt_instances.keypoints_3d')
            gt = as_poses(gt_kpts)
            vis = get_field(gt_inst, 'keypoints_3d_visible')
            if vis is None or not self.use_visibility:
                vis = np.ones(gt.shape[:2], dtype=bool)
            else:
                # (G, J) or (G, J, 1), bool or confidence-like: > 0 means visible.
                vis = to_numpy(vis).reshape(gt.shape[:2]) > 0

            pred_inst = get_field(sample, 'pred_instances')
            pred_kpts = get_field(pred_inst, 'keypoints_3d')
            if pred_kpts is None:
                pred, scores = np.zeros((0, gt.shape[1], 3)), np.zeros(0)
            else:
                pred = as_poses(pred_kpts)
                score_field = get_field(pred_inst, 'scores')
                if score_field is None:
                    raise KeyError('MultiViewPoseAPMetric: pred_instances has '
                                   'keypoints_3d but no scores')
                scores = to_numpy(score_field).astype(np.float64).reshape(-1)
                if len(scores) != len(pred):
                    raise ValueError(f'MultiViewPoseAPMetric: {len(pred)} predicted '
                                     f'poses but {len(scores)} scores')
                keep = scores > self.score_threshold
                pred, scores = pred[keep], scores[keep]

            self.results.append(dict(
                gt=self._select(gt), gt_visible=self._select(vis),
                pred=self._select(pred), scores=scores))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the metrics over all processed frames.

        Args:
            results (list[dict]): per frame ``gt`` (G, J, 3), ``gt_visible`` (G, J),
                ``pred`` (N, J, 3), ``scores`` (N,).

        Returns:
            dict[str, float]: see the class docstring.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        logger.info(f'Evaluating {self.__class__.__name__} on {len(results)} frames...')
        num_empty = sum(not frame_has_valid_gt(r) for r in results)
        if num_empty:
            what = ('skipped (VoxelPose protocol)' if self.empty_gt_frames == 'skip'
                    else 'kept, their predictions count as false positives')
            logger.info(f'{num_empty} of {len(results)} frames have no valid GT '
                        f'person: {what} (empty_gt_frames={self.empty_gt_frames!r})')
        metrics = multiview_pose_ap(results, self.thresholds, self.mpjpe_threshold,
                                    empty_gt_frames=self.empty_gt_frames)
        logger.info('\n' + self._table(metrics))
        return metrics

    @staticmethod
    def _table(metrics: Dict[str, float]) -> str:
        """A compact two-row text table of the results."""
        names = [k for k in metrics if not k.startswith('recall@')]
        cells = [f'{metrics[k]:.2f}' for k in names]
        widths = [max(len(n), len(c)) for n, c in zip(names, cells)]
        header = ' | '.join(n.rjust(w) for n, w in zip(names, widths))
        row = ' | '.join(c.rjust(w) for c, w in zip(cells, widths))
        return f'{header}\n{"-" * len(header)}\n{row}'
