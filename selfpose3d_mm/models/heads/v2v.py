"""Running mmpose's ``V2VNet`` on a batch of volumes."""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ['run_v2v']


def run_v2v(net: nn.Module, volumes: Tensor) -> Tensor:
    """``net(volumes)[0]`` for (N, C, X, Y, Z) volumes → (N, C_out, X, Y, Z).

    On the CPU the volumes are handed over channels-last: oneDNN's 3D convolutions then
    run about 2× faster, backward included (measured on 2 cores for the synthetic
    configs' pose cubes: 0.56 s → 0.27 s for 12 cubes of 15 × 24³ forward + backward;
    same values to float rounding). Weights keep their layout, so checkpoints do not
    change. On a GPU the layout is left to cuDNN.
    """
    if volumes.device.type == 'cpu':
        volumes = volumes.contiguous(memory_format=torch.channels_last_3d)
    return net(volumes)[0]
