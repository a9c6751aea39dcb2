"""MCSS's view-invariant pose embedding (Mitra et al., "Multiview-Consistent
Semi-Supervised Learning for 3D Human Pose Estimation").

``MCSSEmbedder``: a person crop → mmpose ``ResNet`` (depth 18 by default) → global
average pool → FC → 128-d L2-normalised embedding, trained by
:class:`~selfpose3d_mm.models.losses.contrastive.MCSSContrastiveLoss` on anchor/positive
pairs (the same person, the same instant, two views;
:mod:`selfpose3d_mm.datasets.pretext.mcss_batches`). An optional shallow head (an MLP)
regresses the person's *canonical* 3D pose (root-relative, turned to face +y:
:mod:`selfpose3d_mm.geometry.canonical_pose`, metres) from the embedding, trained on the
pseudo-3D poses that ride along with the pairs (no ground truth anywhere).

BatchNorm without affine parameters, as the paper has it: the backbone is built with
``norm_cfg=dict(type='BN', affine=False)`` unless the config gives a ``norm_cfg`` of its
own (mmcv's ``build_norm_layer`` hands keys it does not know to ``nn.BatchNorm2d``, and
mmpose's ResNet initialisers skip the absent weights). The state dict then has no
``norm*.weight`` / ``bias``: a 2D heatmap net or attention net loading this backbone
(``init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=...)``) keeps its own
affine BN at the identity and takes the convolutions and running statistics
(docs/mcss.md#transfer).

Inputs: the crops of ``PairDataPreprocessor`` (:mod:`.pair_preprocessor`), (B, V, 3, S, S)
normalised float (V = 2 in training: anchor, positive; V ≥ 1 in prediction). Data
samples carry ``canonical_pose`` (J, 3) metres (NaN: unknown)
and the metainfo ``sequence``, ``frame``, ``person`` (the identity of a person-instant).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpose.registry import MODELS
from torch import Tensor, nn

from ..losses.contrastive import MCSSContrastiveLoss
from .pair_preprocessor import PairDataPreprocessor

__all__ = ['MCSSEmbedder', 'square_crop_grids']


def square_crop_grids(keypoints: Tensor, scores: Tensor, image_size: Sequence[int],
                      crop_size: int, min_score: float = 0.1, padding: float = 0.25):
    """``grid_sample`` grids of square person crops from 2D poses (the rule of
    ``selfpose3d_mm.datasets.pretext.people.square_box``: the box of the confident joints,
    its longer side enlarged by ``padding``, centred).

    Args:
        keypoints: (..., J, 2) image px; scores: (..., J).
        image_size: (W, H) of the images sampled.
    Returns:
        grids (..., S, S, 2) in [-1, 1] (align_corners=False), valid (...,) bool (at
        least two confident joints).
    """
    ok = (scores > min_score) & torch.isfinite(keypoints).all(-1)
    kp = torch.nan_to_num(keypoints)
    big = torch.finfo(kp.dtype).max
    lo = torch.where(ok.unsqueeze(-1), kp, torch.full_like(kp, big)).amin(-2)
    hi = torch.where(ok.unsqueeze(-1), kp, torch.full_like(kp, -big)).amax(-2)
    valid = ok.sum(-1) >= 2
    v = valid.unsqueeze(-1)
    lo, hi = torch.where(v, lo, 0), torch.where(v, hi, 1)
    center = 0.5 * (lo + hi)
    side = (hi - lo).amax(-1).clamp(min=1.0) * (1.0 + padding)
    # crop px u ↔ image px cx + side (u - S/2) / S, pixel centres at integers (cv2's
    # warpAffine of people.crop_affine); image px x ↔ grid (2x + 1) / W - 1
    t = torch.arange(crop_size, dtype=kp.dtype, device=kp.device) / crop_size - 0.5
    W, H = float(image_size[0]), float(image_size[1])
    x = center[..., 0, None] + side[..., None] * t  # (..., S) px
    y = center[..., 1, None] + side[..., None] * t
    gx, gy = (2 * x + 1) / W - 1, (2 * y + 1) / H - 1
    S = crop_size
    grid = torch.stack([gx.unsqueeze(-2).expand(*gx.shape[:-1], S, S),
                        gy.unsqueeze(-1).expand(*gy.shape[:-1], S, S)], -1)
    return grid, valid


@MODELS.register_module()
class MCSSEmbedder(BaseModel):
    """Person crop → L2-normalised pose embedding (+ canonical 3D pose).

    Args:
        backbone: mmpose backbone config (``ResNet``, depth 18); without ``norm_cfg``
            its BatchNorms get ``affine=False``.
        embedding_dim: size of the embedding (128).
        embedding_bn: a BatchNorm without affine between the FC and the L2 norm (each
            dimension centred and scaled over the batch: the embeddings cannot all
            collapse onto one point, which the hardest-negative loss otherwise drives
            them to on CPU-sized schedules).
        canonical_head: ``dict(num_joints=15, hidden=(256,))`` for the canonical-pose
            MLP, or None (no head).
        loss: the metric loss (``MCSSContrastiveLoss``: margin 0.6, beta 0.3 bone lengths).
        canonical_loss_weight: weight of the head's L1 loss (metres, per coordinate,
            over the known joints of the target).
        detach_head: the head's loss does not reach the embedding (a probe) when True.
        data_preprocessor: default ``PairDataPreprocessor`` (ImageNet normalisation).
    """

    def __init__(self, backbone: Optional[dict] = None, embedding_dim: int = 128,
                 embedding_bn: bool = True,
                 canonical_head: Optional[dict] = None, loss: Optional[dict] = None,
                 canonical_loss_weight: float = 1.0, detach_head: bool = False,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        pre = data_preprocessor or dict(type=PairDataPreprocessor.__name__)
        pre = MODELS.build(pre) if isinstance(pre, dict) else pre
        super().__init__(data_preprocessor=pre, init_cfg=init_cfg)
        bb = {**dict(type='ResNet', depth=18), **(backbone or {})}
        bb.setdefault('norm_cfg', dict(type='BN', affine=False, requires_grad=True))
        self.backbone = MODELS.build(bb)
        feat = getattr(self.backbone, 'feat_dim', None) or self._probe_channels()
        self.embedding_dim = int(embedding_dim)
        self.fc = nn.Linear(int(feat), self.embedding_dim)
        # HardNet's descriptor ends the same way: BN without affine, then L2 norm
        self.embedding_norm = nn.BatchNorm1d(self.embedding_dim, affine=False) \
            if embedding_bn else nn.Identity()
        self.head = None
        if canonical_head is not None:
            hc = {**dict(num_joints=15, hidden=(256,)), **canonical_head}
            self.num_joints = int(hc['num_joints'])
            layers: List[nn.Module] = []
            width = self.embedding_dim
            for h in hc['hidden']:
                layers += [nn.Linear(width, int(h)), nn.ReLU(inplace=True)]
                width = int(h)
            layers.append(nn.Linear(width, self.num_joints * 3))
            self.head = nn.Sequential(*layers)
        self.loss_module = MODELS.build(loss or dict(type=MCSSContrastiveLoss.__name__))
        self.canonical_loss_weight = float(canonical_loss_weight)
        self.detach_head = bool(detach_head)

    @torch.no_grad()
    def _probe_channels(self) -> int:
        was = self.backbone.training
        self.backbone.eval()
        out = self.backbone(torch.zeros(1, 3, 64, 64))
        self.backbone.train(was)
        return int((out[-1] if isinstance(out, (tuple, list)) else out).shape[1])

    # ------------------------------------------------------------------ network
    def embed(self, images: Tensor) -> Tensor:
        """(N, 3, S, S) *normalised* crops → (N, D) L2-normalised embeddings."""
        feats = self.backbone(images)
        f = feats[-1] if isinstance(feats, (tuple, list)) else feats
        return F.normalize(self.embedding_norm(self.fc(f.mean((-2, -1)))), dim=-1)

    def canonical_pose(self, embedding: Tensor) -> Tensor:
        """(..., D) embeddings → (..., J, 3) canonical poses (metres)."""
        if self.head is None:
            raise RuntimeError('MCSSEmbedder: built without canonical_head')
        return self.head(embedding).unflatten(-1, (self.num_joints, 3))

    @staticmethod
    def _crops(inputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """(B, V, 3, S, S) normalised crops (a list of (V, 3, S, S) is stacked)."""
        x = inputs if isinstance(inputs, Tensor) else torch.stack(list(inputs))
        if x.dim() == 4:
            x = x.unsqueeze(1)
        if x.dim() != 5 or x.shape[2] != 3:
            raise ValueError(f'MCSSEmbedder: inputs (B, V, 3, S, S) expected, got '
                             f'{tuple(x.shape)}')
        return x.float()

    def embed_people(self, images: Tensor, keypoints: Tensor, scores: Tensor,
                     person_mask: Tensor, crop_size: int = 128, min_score: float = 0.1,
                     padding: float = 0.25) -> Tensor:
        """Embeddings of the people of one multi-view frame (cross-view association).

        Args:
            images: (C, 3, H, W) *normalised* images (``MultiViewBatch.images[b, s]``).
            keypoints: (C, P, J, 2) 2D poses in those images' pixels; scores (C, P, J).
            person_mask: (C, P) bool, real persons.
        Returns:
            (C, P, D) embeddings (zeros where a person is masked or has < 2 confident
            joints).
        """
        C, P = person_mask.shape
        if P == 0:
            return images.new_zeros(C, 0, self.embedding_dim)
        grid, valid = square_crop_grids(keypoints.float(), scores.float(),
                                        images.shape[:-3:-1], crop_size, min_score, padding)
        crops = F.grid_sample(images.float(), grid.flatten(1, 2).to(images.device),
                              align_corners=False)  # (C, 3, P*S, S): zero = the mean colour
        crops = crops.view(C, 3, P, crop_size, crop_size).transpose(1, 2)
        emb = self.embed(crops.flatten(0, 1)).view(C, P, -1)
        keep = (person_mask.bool() & valid.to(person_mask.device)).to(emb.device)
        return emb * keep.unsqueeze(-1)

    # ------------------------------------------------------------------ modes
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            x = self._crops(inputs)
            return self.embed(x.flatten(0, 1)).view(*x.shape[:2], -1)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor')

    @staticmethod
    def _targets(data_samples, device) -> Optional[Tensor]:
        """(B, J, 3) canonical poses of the samples (NaN where a sample has none)."""
        poses = [s.get('canonical_pose') for s in data_samples]
        known = [p for p in poses if p is not None]
        if not known:
            return None
        nan = torch.full(tuple(torch.as_tensor(known[0]).shape), float('nan'))
        return torch.stack([nan if p is None else torch.as_tensor(p).float().cpu()
                            for p in poses]).to(device)

    @staticmethod
    def _identities(data_samples, device) -> Tensor:
        keys = [(s.metainfo.get('sequence'), s.metainfo.get('frame'),
                 s.metainfo.get('person')) for s in data_samples]
        ids = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        return torch.tensor([ids[k] for k in keys], device=device)

    def loss(self, inputs, data_samples) -> dict:
        x = self._crops(inputs)
        B, V = x.shape[:2]
        if V != 2:
            raise ValueError(f'MCSSEmbedder: training needs anchor/positive pairs (V = 2), '
                             f'got V = {V}')
        emb = self.embed(x.flatten(0, 1)).view(B, V, -1)
        target = self._targets(data_samples, emb.device)
        ident = self._identities(data_samples, emb.device)
        per, d_pos, d_neg, has = self.loss_module.pair_terms(emb[:, 0], emb[:, 1],
                                                             poses=target, identity=ident)
        w = self.loss_module.loss_weight
        losses = dict(loss_mcss=w * per.sum() / has.sum().clamp(min=1))
        with torch.no_grad():
            losses['mcss_d_pos'] = d_pos.mean()
            losses['mcss_d_neg'] = d_neg[has].mean() if has.any() else d_pos.new_zeros(())
            losses['mcss_neg_frac'] = has.float().mean()
        if self.head is not None and target is not None:
            pred = self.canonical_pose(emb.detach() if self.detach_head else emb)
            known = torch.isfinite(target).all(-1)  # (B, J)
            err = (pred - torch.nan_to_num(target).unsqueeze(1)).abs().sum(-1)  # (B, V, J)
            m = known.unsqueeze(1).expand_as(err).float()
            losses['loss_canonical'] = self.canonical_loss_weight * (err * m).sum() / (
                3 * m.sum()).clamp(min=1)
        return losses

    @torch.no_grad()
    def predict(self, inputs, data_samples) -> list:
        """Per sample ``pred_embedding`` (V, D) and, with the head, ``pred_canonical_pose``
        (V, J, 3) metres."""
        x = self._crops(inputs)
        emb = self.embed(x.flatten(0, 1)).view(*x.shape[:2], -1)
        poses = self.canonical_pose(emb) if self.head is not None else None
        for b, s in enumerate(data_samples):
            s.set_field(emb[b], 'pred_embedding')
            if poses is not None:
                s.set_field(poses[b], 'pred_canonical_pose')
        return list(data_samples)
