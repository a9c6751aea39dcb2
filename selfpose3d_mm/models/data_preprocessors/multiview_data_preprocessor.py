"""Normalise multi-view image batches and move multi-view data samples to the device."""
from typing import Sequence

import torch
from mmengine.model import BaseDataPreprocessor
from mmpose.registry import MODELS

__all__ = ['MultiViewDataPreprocessor', 'build_data_preprocessor']


@MODELS.register_module()
class MultiViewDataPreprocessor(BaseDataPreprocessor):
    """``inputs`` (B, S, C, 3, H, W) uint8 RGB → float, ``(x - mean) / std``.

    mmpose's ``PoseDataPreprocessor`` expects one image per sample; here a sample holds
    S view-sets × C views. In heatmap-input mode ``inputs`` is empty (B, S, C, 0) and is
    passed through. Data samples (cameras included) are moved with ``cast_data``.
    """

    def __init__(self, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375), non_blocking: bool = False):
        super().__init__(non_blocking)
        self.register_buffer('mean', torch.tensor(mean).view(3, 1, 1), False)
        self.register_buffer('std', torch.tensor(std).view(3, 1, 1), False)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if inputs.dim() == 6 and inputs.shape[3] == 3:
            inputs = (inputs.float() - self.mean) / self.std
        return dict(inputs=inputs, data_samples=data['data_samples'])


def build_data_preprocessor(cfg=None):
    """A model's data preprocessor: None → :class:`MultiViewDataPreprocessor`; a config is
    built from mmpose's registry whatever the current default scope."""
    if cfg is None:
        cfg = dict(type='MultiViewDataPreprocessor')
    return MODELS.build(cfg) if isinstance(cfg, dict) else cfg
