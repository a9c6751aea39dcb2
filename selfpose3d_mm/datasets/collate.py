"""Batching of multi-view samples."""
from typing import Sequence

import torch
from mmengine.registry import FUNCTIONS

__all__ = ['multiview_collate']


@FUNCTIONS.register_module()
def multiview_collate(data_batch: Sequence[dict]) -> dict:
    """B samples → ``dict(inputs=(B, S, C, ...) tensor, data_samples=[B samples])``.

    The per-frame fields whose size differs between frames (pseudo persons per view, GT
    persons) stay in the data samples: the model's data preprocessor pads them once,
    into its ``MultiViewBatch``.
    """
    inputs = [d['inputs'] for d in data_batch]
    shapes = {tuple(x.shape) for x in inputs}
    if len(shapes) != 1:
        raise ValueError(f'multiview_collate: input shapes differ in the batch: {shapes} '
                         '(all frames need the same views, view-sets and input size)')
    return dict(inputs=torch.stack(inputs), data_samples=[d['data_samples'] for d in data_batch])
