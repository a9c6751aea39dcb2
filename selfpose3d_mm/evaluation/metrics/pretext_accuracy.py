"""Accuracy of the binary pretext heads (synchronisation, flip): the share of labelled
pairs whose predicted probability falls on the side of 0.5 of their label."""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmpose.registry import METRICS

__all__ = ['PretextAccuracy']


def _field(sample, key: str):
    value = sample.get(key) if isinstance(sample, dict) else getattr(sample, key, None)
    if value is None:
        return None
    return float(np.asarray(value.detach().cpu() if hasattr(value, 'detach') else value))


@METRICS.register_module()
class PretextAccuracy(BaseMetric):
    """Accuracy of each binary task of a pretext model.

    Each data sample (a ``BaseDataElement`` or its ``to_dict()`` form) carries, per task
    ``t`` of ``tasks``, the label ``gt_<t>`` (1, 0, or ``ignore_index`` for a pair the
    task does not judge) and the probability ``pred_<t>``. Reports ``<t>_acc`` (percent,
    NaN when no pair is labelled), ``<t>_pos_acc`` / ``<t>_neg_acc`` (the accuracy on
    each class) and ``<t>_count`` (labelled pairs), under ``prefix`` (``pretext/``).

    Args:
        tasks: the tasks (default ``('sync', 'flip')``).
        threshold: a probability above it predicts 1.
        ignore_index: label of the pairs a task does not judge.
        collect_device, prefix: mmengine ``BaseMetric`` arguments.
    """

    default_prefix = 'pretext'

    def __init__(self, tasks: Sequence[str] = ('sync', 'flip'), threshold: float = 0.5,
                 ignore_index: int = -1, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.tasks = tuple(tasks)
        self.threshold, self.ignore_index = float(threshold), int(ignore_index)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            row = {}
            for t in self.tasks:
                gt, pred = _field(s, f'gt_{t}'), _field(s, f'pred_{t}')
                if gt is None or pred is None:
                    raise KeyError(f'PretextAccuracy: a data sample lacks gt_{t} or pred_{t}')
                row[t] = (int(gt), pred)
            self.results.append(row)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        out = {}
        for t in self.tasks:
            pairs = np.array([r[t] for r in results], np.float64).reshape(-1, 2)
            pairs = pairs[pairs[:, 0] != self.ignore_index]
            y, p = pairs[:, 0].astype(np.int64), pairs[:, 1] > self.threshold
            hit = p == (y == 1)
            out[f'{t}_acc'] = 100.0 * hit.mean() if len(hit) else float('nan')
            for name, cls in (('pos', 1), ('neg', 0)):
                sel = y == cls
                out[f'{t}_{name}_acc'] = 100.0 * hit[sel].mean() if sel.any() else float('nan')
            out[f'{t}_count'] = int(len(hit))
        return out
