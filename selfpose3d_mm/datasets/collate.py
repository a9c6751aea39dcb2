"""Batching of multi-view samples."""
from typing import Sequence

import torch
from mmengine.registry import FUNCTIONS

from selfpose3d_mm.structures import pad_pseudo_poses

__all__ = ['multiview_collate']


@FUNCTIONS.register_module()
def multiview_collate(data_batch: Sequence[dict]) -> dict:
    """B samples → ``dict(inputs=(B, S, C, ...) tensor, data_samples=[B samples])``.

    Pseudo poses are padded to the batch's largest per-view person count (masked by
    ``pseudo_person_mask``), so a model can ``torch.stack`` them; GT persons stay
    per-sample ``InstanceData`` (their count differs per frame).
    """
    inputs = [d['inputs'] for d in data_batch]
    shapes = {tuple(x.shape) for x in inputs}
    if len(shapes) != 1:
        raise ValueError(f'multiview_collate: input shapes differ in the batch: {shapes} '
                         '(all frames need the same views, view-sets and input size)')
    samples = pad_pseudo_poses([d['data_samples'] for d in data_batch])
    return dict(inputs=torch.stack(inputs), data_samples=samples)
