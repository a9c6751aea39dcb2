"""Data preprocessor of the crop-pair pretexts: a batch of (V, 3, H, W) uint8 RGB crops
→ one (N, V, 3, H, W) float tensor on the model's device, normalised per channel."""
from __future__ import annotations

from typing import Sequence

import torch
from mmengine.model import BaseDataPreprocessor
from mmpose.registry import MODELS

__all__ = ['PairDataPreprocessor']


@MODELS.register_module()
class PairDataPreprocessor(BaseDataPreprocessor):
    """Stack, move and normalise crop tuples (pairs, or any V crops of one item).

    Args:
        mean, std: per-channel RGB statistics (default: ImageNet's, as mmpose's
            backbones expect).
        non_blocking: asynchronous host-to-device copies.
    """

    def __init__(self, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375), non_blocking: bool = False):
        super().__init__(non_blocking)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError('PairDataPreprocessor: mean and std need 3 values (RGB)')
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(3, 1, 1),
                             False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(3, 1, 1),
                             False)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        if inputs.dim() != 5 or inputs.shape[2] != 3:
            raise ValueError(f'PairDataPreprocessor: inputs must be (N, V, 3, H, W), got '
                             f'{tuple(inputs.shape)}')
        inputs = (inputs.float() - self.mean) / self.std
        return dict(inputs=inputs, data_samples=data.get('data_samples'))
