"""Siamese network of the synchronisation + flip pretext (Jenni & Favaro; docs/pretext.md).

Both crops of a pair go through one shared mmpose ``ResNet``; its last feature map is
global-average-pooled to a vector per crop; the two vectors are fused by element-wise
product followed by a ReLU (symmetric in the two crops; better than concatenation in the
paper's ablation); two binary heads read the fused vector:

* **sync**: the two crops show the same instant (1) or two instants ``d_min < |dt| <
  d_max`` apart (0);
* **flip**: one crop of a synchronized pair was mirrored horizontally (1) or not (0).

Each head has a binary cross-entropy loss over the pairs whose label is not -1 (a
flipped pair is ignored by the sync head, a non-synchronized one by the flip head). The
pretrained ``backbone`` is what the 2D networks take over (``tools/extract_backbone.py``).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from mmpose.registry import MODELS
from torch import Tensor, nn

__all__ = ['SyncFlipNet', 'masked_bce']

IGNORE = -1


def masked_bce(logits: Tensor, labels: Tensor, ignore_index: int = IGNORE) -> Tensor:
    """Mean binary cross-entropy (with logits) over the labels that are not
    ``ignore_index``; 0 (still attached to the graph) when all are ignored."""
    keep = labels != ignore_index
    if not keep.any():
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits[keep], labels[keep].to(logits.dtype))


def _head(in_channels: int, hidden: Optional[int], dropout: float) -> nn.Module:
    layers: List[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
    if hidden:
        layers += [nn.Linear(in_channels, hidden), nn.ReLU(inplace=True)]
        in_channels = hidden
    layers.append(nn.Linear(in_channels, 1))
    return nn.Sequential(*layers)


@MODELS.register_module()
class SyncFlipNet(BaseModel):
    """Siamese sync/flip classifier on crop pairs.

    Args:
        backbone: mmpose backbone config (``ResNet``, ``depth`` 18/34/50...; its
            ``init_cfg``, e.g. ``Pretrained``, is honoured by ``init_weights``).
        feat_channels: channels of the backbone's last output (default: its
            ``feat_dim``).
        hidden_channels: a hidden layer (+ ReLU) in each head (None: linear heads).
        dropout: dropout before each head.
        loss_weights: ``dict(sync=..., flip=...)``.
        data_preprocessor: default :class:`PairDataPreprocessor` (ImageNet statistics).
        init_cfg: mmengine init config of the whole model.

    Inputs: (N, 2, 3, H, W) normalised crops. Data samples carry ``gt_sync`` and
    ``gt_flip`` (long: 1, 0, or -1 = ignore); ``predict`` adds ``pred_sync`` and
    ``pred_flip`` (probabilities).
    """

    def __init__(self, backbone: dict = dict(type='ResNet', depth=18),
                 feat_channels: Optional[int] = None, hidden_channels: Optional[int] = None,
                 dropout: float = 0.0, loss_weights: Optional[Dict[str, float]] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor or dict(
            type='PairDataPreprocessor'), init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        feat = feat_channels or getattr(self.backbone, 'feat_dim', None)
        if not feat:
            raise ValueError('SyncFlipNet: give feat_channels (the backbone has no feat_dim)')
        self.feat_channels = int(feat)
        self.sync_head = _head(self.feat_channels, hidden_channels, float(dropout))
        self.flip_head = _head(self.feat_channels, hidden_channels, float(dropout))
        self.loss_weights = {'sync': 1.0, 'flip': 1.0, **(loss_weights or {})}
        unknown = set(self.loss_weights) - {'sync', 'flip'}
        if unknown:
            raise KeyError(f'SyncFlipNet: unknown loss_weights {sorted(unknown)} '
                           "(use 'sync' and 'flip')")

    # ------------------------------------------------------------------ features
    def extract_feat(self, inputs: Tensor) -> Tensor:
        """(N, V, 3, H, W) crops → (N, V, F) globally average-pooled backbone features."""
        N, V = inputs.shape[:2]
        out = self.backbone(inputs.flatten(0, 1))
        x = out[-1] if isinstance(out, (list, tuple)) else out
        return F.adaptive_avg_pool2d(x, 1).flatten(1).view(N, V, -1)

    def logits(self, inputs: Tensor) -> Dict[str, Tensor]:
        """(N, 2, 3, H, W) → ``sync`` and ``flip`` logits (N,)."""
        if inputs.dim() != 5 or inputs.shape[1] != 2:
            raise ValueError(f'SyncFlipNet: inputs must be (N, 2, 3, H, W), got '
                             f'{tuple(inputs.shape)}')
        f = self.extract_feat(inputs)
        fused = F.relu(f[:, 0] * f[:, 1])
        return dict(sync=self.sync_head(fused).squeeze(-1),
                    flip=self.flip_head(fused).squeeze(-1))

    # ------------------------------------------------------------------ modes
    def forward(self, inputs: Tensor, data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], List[BaseDataElement]]:
        if mode == 'tensor':
            return self.logits(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'SyncFlipNet: invalid mode {mode!r} (tensor, loss, predict)')

    def _labels(self, data_samples, key: str, device) -> Tensor:
        return torch.stack([torch.as_tensor(getattr(s, key), dtype=torch.long)
                            for s in data_samples]).view(-1).to(device)

    def loss(self, inputs: Tensor, data_samples: Sequence[BaseDataElement]
             ) -> Dict[str, Tensor]:
        """``loss_sync``, ``loss_flip`` (weighted masked BCE) and, for the logs,
        ``acc_sync`` and ``acc_flip`` over the labelled pairs of the batch."""
        out = self.logits(inputs)
        losses = {}
        for key in ('sync', 'flip'):
            y = self._labels(data_samples, f'gt_{key}', inputs.device)
            logit = out[key]
            losses[f'loss_{key}'] = self.loss_weights[key] * masked_bce(logit, y)
            keep = y != IGNORE
            with torch.no_grad():
                hit = ((logit[keep] > 0).long() == y[keep]).float()
                losses[f'acc_{key}'] = hit.mean() if keep.any() else logit.new_tensor(0.0)
        return losses

    def predict(self, inputs: Tensor, data_samples: Optional[Sequence[BaseDataElement]] = None
                ) -> List[BaseDataElement]:
        """Data samples with ``pred_sync`` and ``pred_flip`` (sigmoid probabilities)."""
        out = self.logits(inputs)
        samples = list(data_samples) if data_samples is not None else [
            BaseDataElement() for _ in range(inputs.shape[0])]
        for i, s in enumerate(samples):
            s.pred_sync = torch.sigmoid(out['sync'][i]).detach()
            s.pred_flip = torch.sigmoid(out['flip'][i]).detach()
        return samples
