"""Collated multi-view samples → one :class:`MultiViewBatch` on the model's device.

Everything the network and the objectives read is assembled here, once per step, on
the host: the batch's rig (shared, recognised by the dataset's ``rig_id``, moved to the
device once per rig and kept), the affines original pixel → heatmap pixel of every
view-set (composed once), the pseudo poses padded over the batch in heatmap pixels, the
keys under which the root-cube sampling grid is cached, the frames' capture spaces
(metainfo floats), and — only for an objective that trains on it — the 3D GT. Nothing
here reads a device tensor back to the host.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseDataPreprocessor
from mmpose.registry import MODELS
from torch import Tensor

from selfpose3d_mm.geometry import MultiViewCameras, apply_affine, compose_affine, \
    heatmap_affine
from selfpose3d_mm.structures import GroundTruth3D, MultiViewBatch, PseudoPoses
from selfpose3d_mm.structures.multiview_batch import capture_space_of

__all__ = ['MultiViewDataPreprocessor', 'build_data_preprocessor']

#: GT policy of a training step: the objective trains on 3D GT ('required'), must never
#: see it ('forbidden'), or the model does not train ('ignored').
GT_POLICIES = ('required', 'forbidden', 'ignored')


def _pad(x: Tensor, axis: int, size: int) -> Tensor:
    if x.shape[axis] == size:
        return x
    shape = list(x.shape)
    shape[axis] = size - x.shape[axis]
    return torch.cat([x, x.new_zeros(shape)], axis)


def _stack_padded(values: Sequence[Tensor], axis: int) -> Tensor:
    """Stack per-frame tensors after zero-padding their ``axis`` to the largest size."""
    size = max(v.shape[axis] for v in values)
    return torch.stack([_pad(v, axis, size) for v in values])


def _affine_key(affines: Tensor) -> str:
    """Key of one view-set's (C, 2, 3) host affines (a few dozen floats, on the host)."""
    return hashlib.sha1(affines.contiguous().numpy().tobytes()).hexdigest()[:16]


@MODELS.register_module()
class MultiViewDataPreprocessor(BaseDataPreprocessor):
    """Builds the :class:`~selfpose3d_mm.structures.MultiViewBatch` of a step.

    ``inputs`` (B, S, C, 3, H, W) uint8 RGB → float ``(x - mean) / std``; heatmap-input
    mode (no images, ``inputs`` (B, S, C, 0)) → ``images=None``. The model calls
    :meth:`configure` with its input/heatmap sizes and its objective's GT policy.

    Returns ``dict(inputs=MultiViewBatch, data_samples=[...])``: the model's
    ``forward(inputs, data_samples, mode)`` receives the batch as ``inputs``.
    """

    def __init__(self, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375), non_blocking: bool = False,
                 max_cached_rigs: int = 8):
        super().__init__(non_blocking)
        self.register_buffer('mean', torch.tensor(mean).view(3, 1, 1), False)
        self.register_buffer('std', torch.tensor(std).view(3, 1, 1), False)
        self.to_heatmap = torch.eye(2, 3)  # network-input px → heatmap px (host)
        self.heatmap_size: Optional[Tuple[int, int]] = None
        self.gt_policy = 'ignored'
        self.max_cached_rigs = int(max_cached_rigs)
        self._rigs: 'OrderedDict[tuple, MultiViewCameras]' = OrderedDict()

    def configure(self, input_size=None, heatmap_size=None, gt_policy: str = 'ignored'):
        """Set by the model: the input → heatmap affine and what a training step may read."""
        if gt_policy not in GT_POLICIES:
            raise ValueError(f'gt_policy must be one of {GT_POLICIES}, got {gt_policy!r}')
        self.gt_policy = gt_policy
        if input_size is not None and heatmap_size is not None:
            self.to_heatmap = heatmap_affine(input_size, heatmap_size)
            self.heatmap_size = tuple(int(v) for v in heatmap_size)
        return self

    # ------------------------------------------------------------------ pieces
    def _cameras(self, samples) -> Tuple[MultiViewCameras, Optional[str]]:
        ids = {s.metainfo.get('rig_id') for s in samples}
        if len(ids) == 1 and None not in ids:
            rig_id = ids.pop()
            key = (rig_id, str(self._device))
            cams = self._rigs.get(key)
            if cams is None:  # first time this rig is seen: an owned copy on the device
                cams = samples[0].cameras.to(self._device).clone()
                self._rigs[key] = cams
                while len(self._rigs) > self.max_cached_rigs:
                    self._rigs.popitem(last=False)
            self._rigs.move_to_end(key)
            return cams, rig_id
        return MultiViewCameras.stack([s.cameras for s in samples]).to(self._device), None

    def _grid_keys(self, affines: Tensor, rig_id: Optional[str]) -> Tuple[Optional[str], ...]:
        """Per view-set: a cache key when every frame has the same affines, else None."""
        if rig_id is None:
            return (None, ) * affines.shape[1]
        same = (affines == affines[:1]).flatten(2).all(-1).all(0)  # (S,) host tensors
        return tuple(f'{rig_id}|{self.heatmap_size}|{_affine_key(affines[0, s])}'
                     if bool(same[s]) else None for s in range(affines.shape[1]))

    def _pseudo(self, samples) -> Optional[PseudoPoses]:
        if 'pseudo_keypoints' not in samples[0]:
            return None
        kp = _stack_padded([s.pseudo_keypoints for s in samples], 2)      # (B, S, C, P, J, 2)
        vis = _stack_padded([s.pseudo_keypoints_visible for s in samples], 2).bool()
        sc = _stack_padded([s.pseudo_keypoint_scores for s in samples], 1)  # (B, C, P, J)
        box = _stack_padded([s.pseudo_bbox_scores for s in samples], 1)
        person = _stack_padded([s.pseudo_person_mask for s in samples], 1).bool()
        kp_hm = apply_affine(kp.float(), self.to_heatmap)
        S = kp.shape[1]
        scores = sc.float().unsqueeze(1).expand(-1, S, -1, -1, -1)
        return PseudoPoses(torch.cat([kp_hm, scores.unsqueeze(-1)], -1), vis, box.float(),
                           person)

    def _gt(self, samples, training: bool) -> Optional[GroundTruth3D]:
        if not training or self.gt_policy == 'ignored':
            return None
        has_gt = [i for i, s in enumerate(samples) if 'gt_instances' in s]
        if self.gt_policy == 'forbidden':
            if has_gt:
                frames = [samples[i].metainfo.get('frame_id', i) for i in has_gt]
                raise ValueError(
                    f'self-supervised training received 3D ground truth (frames {frames}): '
                    'the objective must never see it. Pack training samples with '
                    "dict(type='PackMultiViewInputs', with_gt=False).")
            return None
        if len(has_gt) != len(samples):
            raise ValueError('this objective trains on 3D GT, but some training samples '
                             'carry none (PackMultiViewInputs(with_gt=True) on a dataset '
                             'with GT)')
        kp = [s.gt_instances.keypoints_3d.float() for s in samples]
        J = kp[0].shape[-2]
        G = max([len(k) for k in kp] + [1])
        poses = torch.zeros(len(samples), G, J, 3)
        vis = torch.zeros(len(samples), G, J, dtype=torch.bool)
        mask = torch.zeros(len(samples), G, dtype=torch.bool)
        for b, s in enumerate(samples):  # B host copies
            n = len(kp[b])
            poses[b, :n] = kp[b]
            vis[b, :n] = s.gt_instances.keypoints_3d_visible.bool()
            mask[b, :n] = True
        return GroundTruth3D(poses, vis, mask)

    # ------------------------------------------------------------------ forward
    def forward(self, data: dict, training: bool = False) -> dict:
        samples: List = list(data['data_samples'])
        inputs = data['inputs']
        affines = torch.stack([s.affines for s in samples]).float()     # (B, S, C, 2, 3)
        affines = compose_affine(self.to_heatmap.expand_as(affines), affines)
        cameras, rig_id = self._cameras(samples)  # on the device already
        pseudo, gt = self._pseudo(samples), self._gt(samples, training)
        batch = MultiViewBatch(
            cameras=cameras, affines=affines.to(self._device), rig_id=rig_id,
            grid_keys=self._grid_keys(affines, rig_id),
            pseudo=None if pseudo is None else pseudo.to(self._device),
            gt=None if gt is None else gt.to(self._device),
            spaces=tuple(capture_space_of(s.metainfo) for s in samples))
        if inputs.dim() == 6 and inputs.shape[3] == 3:
            images = self.cast_data(inputs)
            batch.images = (images.float() - self.mean) / self.std
        return dict(inputs=batch, data_samples=samples)


def build_data_preprocessor(cfg=None):
    """A model's data preprocessor: None → :class:`MultiViewDataPreprocessor`; a config is
    built from mmpose's registry whatever the current default scope."""
    if cfg is None:
        cfg = dict(type='MultiViewDataPreprocessor')
    return MODELS.build(cfg) if isinstance(cfg, dict) else cfg
