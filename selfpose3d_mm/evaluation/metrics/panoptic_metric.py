"""Panoptic (VoxelPose) multi-person 3D pose metric: AP@25..150 mm, Recall@500, MPJPE."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.structures import BaseDataElement
from mmpose.registry import METRICS

from ..functional.multiview_ap import multiview_pose_ap

__all__ = ['MultiViewPoseAPMetric']


def _to_numpy(x) -> np.ndarray:
    """Tensor / array / list → numpy (model outputs may still be torch tensors)."""
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _as_poses(x) -> np.ndarray:
    """(K, J, 3+) poses → (K, J, 3) float64; empty inputs become (0, J or 0, 3)."""
    arr = _to_numpy(x).astype(np.float64)
    if arr.size == 0:
        return np.zeros((0, arr.shape[1] if arr.ndim == 3 else 0, 3))
    if arr.ndim != 3 or arr.shape[-1] < 3:
        raise ValueError(f'keypoints_3d must be (K, J, 3), got shape {arr.shape}')
    return arr[..., :3]     # extra columns (e.g. packed scores) are not coordinates


def _field(container, name: str):
    """``container.name`` for data elements, ``container[name]`` for dicts; None if absent."""
    if container is None:
        return None
    if isinstance(container, BaseDataElement):
        return container.get(name)
    return container.get(name) if isinstance(container, dict) else None


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
        - Frames without GT: their predictions are false positives. Frames without
          predictions: their GT are misses. No predictions at all: every AP and
          recall is 0 and ``MPJPE`` is NaN (mean over an empty set).
        - No GT at all: every AP and recall is 0.

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
            gt_inst = _field(sample, 'gt_instances')
            gt_kpts = _field(gt_inst, 'keypoints_3d')
            if gt_kpts is None:
                raise KeyError('MultiViewPoseAPMetric: data sample has no '
                               'gt_instances.keypoints_3d')
            gt = _as_poses(gt_kpts)
            vis = _field(gt_inst, 'keypoints_3d_visible')
            if vis is None or not self.use_visibility:
                vis = np.ones(gt.shape[:2], dtype=bool)
            else:
                # (G, J) or (G, J, 1), bool or confidence-like: > 0 means visible.
                vis = _to_numpy(vis).reshape(gt.shape[:2]) > 0

            pred_inst = _field(sample, 'pred_instances')
            pred_kpts = _field(pred_inst, 'keypoints_3d')
            if pred_kpts is None:
                pred, scores = np.zeros((0, gt.shape[1], 3)), np.zeros(0)
            else:
                pred = _as_poses(pred_kpts)
                score_field = _field(pred_inst, 'scores')
                if score_field is None:
                    raise KeyError('MultiViewPoseAPMetric: pred_instances has '
                                   'keypoints_3d but no scores')
                scores = _to_numpy(score_field).astype(np.float64).reshape(-1)
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
        metrics = multiview_pose_ap(results, self.thresholds, self.mpjpe_threshold)
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
