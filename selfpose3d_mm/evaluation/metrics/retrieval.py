"""Cross-view pose retrieval metric of a pose embedding (MCSS's Mean-PA-MPJPE@K)."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

from selfpose3d_mm.utils import to_numpy
from ..functional.data_samples import get_field
from ..functional.retrieval import cross_view_retrieval

__all__ = ['CrossViewRetrievalMetric']


@METRICS.register_module()
class CrossViewRetrievalMetric(BaseMetric):
    """Mean-PA-MPJPE@K of cross-view retrieval by embedding, and of the oracle
    (:func:`~selfpose3d_mm.evaluation.functional.retrieval.cross_view_retrieval`).

    Every data sample (a person at one instant, seen by V ≥ 1 views) gives V entries:
    ``pred_embedding`` (V, D), the views ``views`` (V,) (metainfo) and one 3D pose,
    the field ``pose_field`` (J, 3) (``keypoints_3d``: the pseudo-3D pose the crops
    come from; ``gt_keypoints_3d`` where the dataset has GT). Samples without that pose
    (NaN everywhere) are skipped. Reports ``mean_pa_mpjpe@K`` and ``oracle_pa_mpjpe@K``
    for K in ``ks`` (mm for poses in mm) and ``num_queries``.

    Args:
        ks: the K reported (1, 10, 20).
        pose_field: which 3D pose scores a retrieval.
        oracle: report the oracle (N² Procrustes fits).
        group_by: a metainfo key (e.g. ``'sequence'``) restricting the database to the
            query's group as well; None: the whole evaluation set.
    """

    default_prefix: Optional[str] = 'retrieval'

    def __init__(self, ks: Sequence[int] = (1, 10, 20), pose_field: str = 'keypoints_3d',
                 oracle: bool = True, group_by: Optional[str] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ks = tuple(int(k) for k in ks)
        if not self.ks or min(self.ks) < 1:
            raise ValueError(f'CrossViewRetrievalMetric: ks must be >= 1, got {ks}')
        self.pose_field = str(pose_field)
        self.oracle = bool(oracle)
        self.group_by = group_by

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            emb = get_field(s, 'pred_embedding')
            pose = get_field(s, self.pose_field)
            if emb is None or pose is None:
                continue
            emb = to_numpy(emb).astype(np.float32).reshape(-1, to_numpy(emb).shape[-1])
            pose = to_numpy(pose).astype(np.float64)
            if not np.isfinite(pose).any():
                continue
            views = np.asarray(get_field(s, 'views'), np.int64).reshape(-1)
            if len(views) != len(emb):
                raise ValueError(f'CrossViewRetrievalMetric: {len(emb)} embeddings and '
                                 f'{len(views)} views in one sample')
            group = get_field(s, self.group_by) if self.group_by else None
            self.results.append(dict(embeddings=emb, pose=pose, views=views,
                                     group=str(group)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        if not results:
            logger.warning('CrossViewRetrievalMetric: no sample with an embedding and a '
                           f'`{self.pose_field}` pose')
            return {'num_queries': 0}
        emb = np.concatenate([r['embeddings'] for r in results])
        views = np.concatenate([r['views'] for r in results])
        poses = np.concatenate([np.repeat(r['pose'][None], len(r['views']), 0)
                                for r in results])
        groups = None
        if self.group_by:
            groups = np.concatenate([[r['group']] * len(r['views']) for r in results])
        return cross_view_retrieval(emb, poses, views, self.ks, self.oracle, groups)
