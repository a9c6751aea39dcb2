"""Shelf / Campus PCP metric (VoxelPose's protocol): PCP per actor and bone group,
and Recall@500."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

from selfpose3d_mm.skeleton import coco17_to_shelf14, panoptic15_to_shelf14
from selfpose3d_mm.utils import to_numpy
from ..functional.data_samples import as_poses, get_field
from ..functional.pcp import PCP_BONE_GROUPS, pcp_parts, pcp_summary

__all__ = ['PCPMetric']


@METRICS.register_module()
class PCPMetric(BaseMetric):
    """Percentage of correct parts on Shelf / Campus.

    Per frame, each GT actor is matched to the prediction with the smallest MPJPE
    over the 14 Shelf joints; its 10 parts (9 limbs and the torso, hip centre to
    bottom-head) are correct when the mean end-point error is at most half the GT
    part length. See :mod:`selfpose3d_mm.evaluation.functional.pcp`.

    Reports (percentages): ``PCP`` (mean of the per-actor PCPs over ``actors``),
    ``PCP_actor{k}`` for every actor in the GT (0-based), ``PCP_head``,
    ``PCP_torso``, ``PCP_upper_arms``, ``PCP_lower_arms``, ``PCP_upper_legs``,
    ``PCP_lower_legs`` (averaged over ``actors`` too), ``Recall@500`` (matches under
    500 mm over all GT actor-frames, every actor included) and ``frames`` (count).

    Conventions:
        - A frame without predictions counts every present actor's parts as wrong
          (VoxelPose crashes there, SelfPose3d skips the frame).
        - An actor absent from a frame (not in its ``gt_instances``) is not counted.
        - Listed actors that never appear in the GT are left out of the means
          (with a warning); ``PCP`` is NaN when none appears.

    Each data sample (a ``MultiViewPoseDataSample`` or its ``to_dict()`` form) needs
    ``gt_instances.keypoints_3d`` (G, 14, 3) Shelf-14 world mm,
    ``gt_instances.instance_ids`` (G,) int actor index, and optionally
    ``pred_instances.keypoints_3d`` (P, J, 3+) world mm with
    ``pred_instances.scores`` (P,). Predictions are converted to Shelf-14 by their
    joint count: 14 as is, 15 (Panoptic-15) by ``panoptic15_to_shelf14``, 17
    (COCO-17) by ``coco17_to_shelf14``, with the head estimate of ``variant``.

    Args:
        variant (str): ``'shelf'`` or ``'campus'``: the protocol's head estimate.
        actors (Sequence[int]): actors averaged into ``PCP`` and the bone groups;
            the standard protocol uses the first three (Shelf's 4th is ignored).
        score_threshold (float, optional): predictions scoring below it are
            dropped; None keeps every prediction.
        recall_threshold (float): MPJPE (mm) under which a match counts as recalled.
        alpha (float): a part is correct when its mean end-point error is at most
            ``alpha`` times its GT length.
        collect_device (str): ``'cpu'`` or ``'gpu'`` for distributed collection.
        prefix (str, optional): prefix of the metric names.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 variant: str = 'shelf',
                 actors: Sequence[int] = (0, 1, 2),
                 score_threshold: Optional[float] = None,
                 recall_threshold: float = 500.0,
                 alpha: float = 0.5,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if variant not in ('shelf', 'campus'):
            raise ValueError(f"PCPMetric: variant must be 'shelf' or 'campus', got "
                             f'{variant!r}')
        if len(actors) == 0:
            raise ValueError('PCPMetric: `actors` must not be empty')
        self.variant = variant
        self.actors = tuple(int(a) for a in actors)
        self.score_threshold = None if score_threshold is None else float(score_threshold)
        self.recall_threshold = float(recall_threshold)
        self.alpha = float(alpha)

    def _to_shelf14(self, pred: np.ndarray, where: str) -> np.ndarray:
        """(P, J, 3) predictions → (P, 14, 3) by their joint count."""
        if len(pred) == 0:
            return np.zeros((0, 14, 3))
        num_joints = pred.shape[1]
        if num_joints == 14:
            return pred
        if num_joints == 15:
            return panoptic15_to_shelf14(pred, self.variant)
        if num_joints == 17:
            return coco17_to_shelf14(pred, self.variant)
        raise ValueError(f'PCPMetric: {where}: pred_instances.keypoints_3d has '
                         f'{num_joints} joints; expected 14 (Shelf), 15 (Panoptic) '
                         'or 17 (COCO)')

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Match and score the GT actors of every frame; store the per-actor parts.

        Args:
            data_batch: unused (the GT travels in the data samples).
            data_samples (Sequence): ``MultiViewPoseDataSample`` objects or dicts.
        """
        for sample in data_samples:
            name = get_field(sample, 'frame_id')
            name = get_field(sample, 'sample_idx') if name is None else name
            where = f'sample {name}' if name is not None else 'data sample'

            gt_inst = get_field(sample, 'gt_instances')
            gt_kpts = get_field(gt_inst, 'keypoints_3d')
            ids = get_field(gt_inst, 'instance_ids')
            if gt_kpts is None or ids is None:
                missing = 'keypoints_3d' if gt_kpts is None else 'instance_ids'
                raise KeyError(f'PCPMetric: {where} has no gt_instances.{missing}')
            gt = as_poses(gt_kpts)
            if len(gt) and gt.shape[1] != 14:
                raise ValueError(f'PCPMetric: {where}: gt_instances.keypoints_3d must '
                                 f'be Shelf-14 (G, 14, 3), got {gt.shape}')
            ids = to_numpy(ids).astype(np.int64).reshape(-1)
            if len(ids) != len(gt):
                raise ValueError(f'PCPMetric: {where}: {len(gt)} GT poses but '
                                 f'{len(ids)} gt_instances.instance_ids')

            pred_inst = get_field(sample, 'pred_instances')
            pred_kpts = get_field(pred_inst, 'keypoints_3d')
            pred = np.zeros((0, 14, 3)) if pred_kpts is None else as_poses(pred_kpts)
            if self.score_threshold is not None and len(pred):
                scores = get_field(pred_inst, 'scores')
                if scores is None:
                    raise KeyError(f'PCPMetric: {where}: score_threshold is set but '
                                   'pred_instances has no scores')
                scores = to_numpy(scores).astype(np.float64).reshape(-1)
                if len(scores) != len(pred):
                    raise ValueError(f'PCPMetric: {where}: {len(pred)} predicted poses '
                                     f'but {len(scores)} pred_instances.scores')
                pred = pred[scores >= self.score_threshold]

            _, mpjpe, correct = pcp_parts(self._to_shelf14(pred, where), gt, self.alpha)
            self.results.append(dict(actor_ids=ids, mpjpe=mpjpe, correct=correct))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Pool the actor-frames of all processed frames.

        Args:
            results (list[dict]): per frame ``actor_ids`` (G,), ``mpjpe`` (G,),
                ``correct`` (G, 10).

        Returns:
            dict[str, float]: see the class docstring.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        logger.info(f'Evaluating {self.__class__.__name__} on {len(results)} frames...')

        def cat(key: str, empty_shape: tuple) -> np.ndarray:
            return (np.concatenate([r[key] for r in results]) if results
                    else np.zeros(empty_shape))

        actor_ids = cat('actor_ids', (0,)).astype(np.int64)
        missing = sorted(set(self.actors) - set(actor_ids.tolist()))
        if missing:
            logger.warning(f'PCPMetric: actors {missing} never appear in the GT; they '
                           'are left out of the mean PCP')
        metrics = pcp_summary(actor_ids, cat('correct', (0, 10)), cat('mpjpe', (0,)),
                              self.actors, self.recall_threshold)
        metrics['frames'] = len(results)
        logger.info('\n' + self._table(metrics))
        return metrics

    @staticmethod
    def _table(metrics: Dict[str, float]) -> str:
        """A two-row text table: per-actor, mean, bone-group PCP and the recall."""
        names = ([k for k in metrics if k.startswith('PCP_actor')] + ['PCP']
                 + [f'PCP_{g}' for g in PCP_BONE_GROUPS]
                 + [k for k in metrics if k.startswith('Recall@')])
        cells = [f'{metrics[k]:.2f}' for k in names]
        names = [n.replace('PCP_', '') for n in names]
        widths = [max(len(n), len(c)) for n, c in zip(names, cells)]
        header = ' | '.join(n.rjust(w) for n, w in zip(names, widths))
        row = ' | '.join(c.rjust(w) for c, w in zip(cells, widths))
        return f'{header}\n{"-" * len(header)}\n{row}'
