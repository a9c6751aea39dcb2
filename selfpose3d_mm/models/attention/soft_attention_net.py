"""Soft attention network ``attn_net_2d`` (docs/method.md#soft-attention-network): a
SimpleBaseline (mmpose ``ResNet`` + ``HeatmapHead``) followed by a sigmoid, giving one
pixel-wise attention map per joint at heatmap resolution."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor, nn

__all__ = ['SoftAttentionNet']


@MODELS.register_module()
class SoftAttentionNet(BaseModule):
    """Per-view soft attention ``A ∈ (0, 1)`` of shape (J, h, w).

    mmpose ``ResNet(depth)`` (stride 32) → ``HeatmapHead`` (three ×2 deconvolutions and a
    1×1 conv; stride 4 overall) → bilinear resize of the logits to the output size →
    sigmoid.

    Two input modes:

    * image input (``in_channels = 3``): x is the (augmented) image, the output has the
      heatmap size H/4 × W/4 (exactly, when H and W are multiples of 32, as for the
      paper's 960×512 → 240×128; otherwise the logits are resized to H//4 × W//4);
    * heatmap input (``in_channels = J``): x are the view's heatmaps (heatmap-input mode,
      no images); the output then has the input's own size h × w.

    ``input_stride`` (input pixels per output pixel) selects the default output size
    ``(H // input_stride, W // input_stride)``; None means 4 for 3 input channels and 1
    otherwise. ``forward(x, output_size=(h, w))`` overrides it: the output has exactly
    the heatmap size the caller asks for.

    Initialisation: ResNet keeps mmpose's defaults; every deconvolution and the final
    1×1 conv are drawn from N(0, init_std²) with zero bias (the authors' random init,
    no pretrained weights), so the initial logits are ≈ 0 and the initial attention is
    ≈ 0.5 everywhere (not 1); the regulariser ``AttentionRegularizer`` pulls it up.
    The head init is applied at construction and again by ``init_weights()``.

    Args:
        in_channels: 3 (images) or J (heatmaps).
        out_channels: J attention maps (15).
        depth: ResNet depth (paper 18).
        base_channels: width of the ResNet's first stage and stem (paper 64; the last
            stage has 8× that for depths 18/34, 32× for 50+).
        deconv_out_channels, deconv_kernel_sizes: the head's deconvolutions.
        init_std: std of the head's weight init.
        input_stride: see above.
        init_cfg: mmengine init config of the whole module (optional).

    Shapes:
        x: (N, in_channels, H, W) → (N, out_channels, h, w) with values in (0, 1).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 15, depth: int = 18,
                 base_channels: int = 64,
                 deconv_out_channels: Sequence[int] = (256, 256, 256),
                 deconv_kernel_sizes: Sequence[int] = (4, 4, 4), init_std: float = 0.001,
                 input_stride: Optional[int] = None, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if depth not in (18, 34, 50, 101, 152):
            raise ValueError(f'ResNet depth must be one of 18, 34, 50, 101, 152; got {depth}')
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.input_stride = int(input_stride) if input_stride is not None else \
            (4 if self.in_channels == 3 else 1)
        if self.input_stride < 1:
            raise ValueError(f'input_stride must be ≥ 1, got {input_stride}')
        if int(base_channels) < 1:
            raise ValueError(f'base_channels must be ≥ 1, got {base_channels}')
        self.init_std = float(init_std)
        self.backbone = MODELS.build(dict(type='ResNet', depth=depth,
                                          in_channels=self.in_channels,
                                          stem_channels=int(base_channels),
                                          base_channels=int(base_channels)))
        feat = self.backbone.feat_dim  # the last stage's width (mmpose ResNet)
        head_init = [dict(type='Normal', layer=['Conv2d', 'ConvTranspose2d'],
                          std=self.init_std, bias=0.0),
                     dict(type='Constant', layer='BatchNorm2d', val=1, bias=0.0)]
        self.head = MODELS.build(dict(
            type='HeatmapHead', in_channels=feat, out_channels=self.out_channels,
            deconv_out_channels=tuple(deconv_out_channels),
            deconv_kernel_sizes=tuple(deconv_kernel_sizes), init_cfg=head_init))
        self._init_head()

    def _init_head(self) -> None:
        for m in self.head.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, std=self.init_std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor, output_size: Optional[Tuple[int, int]] = None) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'input must be (N, {self.in_channels}, H, W), got '
                             f'{tuple(x.shape)}')
        if output_size is None:
            output_size = (x.shape[-2] // self.input_stride,
                           x.shape[-1] // self.input_stride)
        output_size = (int(output_size[0]), int(output_size[1]))
        if min(output_size) < 1:
            raise ValueError(f'output_size must be positive (h, w), got {output_size}')
        logits = self.head(self.backbone(x))                        # (N, J, ~H/4, ~W/4)
        if tuple(logits.shape[-2:]) != output_size:
            logits = F.interpolate(logits, size=output_size, mode='bilinear',
                                   align_corners=False)
        return torch.sigmoid(logits)
