"""The triangulation baseline as an mmengine model, evaluable with the usual test loop."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from mmpose.registry import MODELS
from torch import Tensor

from selfpose3d_mm.geometry import apply_affine, invert_affine
from selfpose3d_mm.models.data_preprocessors import build_data_preprocessor
from selfpose3d_mm.baselines.triangulation import _resolve_knobs, triangulate_people

__all__ = ['TriangulationBaseline']


@MODELS.register_module()
class TriangulationBaseline(BaseModel):
    """Multi-view multi-person 3D poses by association + robust triangulation of the
    sample's 2D pseudo poses (:func:`~.triangulation.triangulate_people`). No trainable
    parameters: use it with ``tools/test.py`` (no checkpoint needed).

    Reads per data sample (as packed by ``PackMultiViewInputs`` after
    ``MultiViewAffine``, possibly padded by ``multiview_collate``): ``cameras``,
    ``affines`` (S, C, 2, 3), ``pseudo_keypoints`` (S, C, P, J, 2) network-input pixels,
    ``pseudo_keypoints_visible`` (S, C, P, J), ``pseudo_keypoint_scores`` (C, P, J),
    ``pseudo_person_mask`` (C, P). View-set ``view_set`` (0: un-augmented) is mapped back
    to original pixels with the inverse of its affines.

    Args:
        space_center, space_size: the capture space (mm); None takes each sample's
            ``space_center`` / ``space_size`` metainfo (no space check when absent).
        view_set: which affine view-set's pseudo poses to use.
        triangulation: knobs of ``TRIANGULATION_DEFAULTS`` (validated at build time).
        data_preprocessor: defaults to ``MultiViewDataPreprocessor``.
    """

    def __init__(self, space_center: Optional[Sequence[float]] = None,
                 space_size: Optional[Sequence[float]] = None, view_set: int = 0,
                 triangulation: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        self.space_center = None if space_center is None else tuple(map(float, space_center))
        self.space_size = None if space_size is None else tuple(map(float, space_size))
        self.view_set = int(view_set)
        self.knobs = dict(triangulation or {})
        _resolve_knobs(self.knobs)  # unknown / invalid knobs fail when the model is built

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'predict'):
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return [self.triangulate_sample(s) for s in data_samples]
        if mode == 'loss':
            raise RuntimeError(
                'TriangulationBaseline has no trainable parameters and cannot be trained '
                "(mode='loss'); evaluate it with tools/test.py (no checkpoint needed)")
        raise RuntimeError(f'Invalid mode "{mode}". Only supports predict and tensor')

    def sample_observations(self, sample):
        """(C, P, J, 2) original pixels, (C, P, J) scores (0 where not visible),
        (C, P) person mask of one data sample."""
        missing = [n for n in ('cameras', 'affines', 'pseudo_keypoints',
                               'pseudo_keypoint_scores', 'pseudo_person_mask')
                   if n not in sample]
        if missing:
            raise KeyError(f'TriangulationBaseline: the data sample lacks {missing}; the '
                           'pipeline must run MultiViewAffine and PackMultiViewInputs on '
                           'a dataset with pseudo 2D poses')
        kp = sample.pseudo_keypoints[self.view_set].double()  # (C, P, J, 2) input px
        C, P, J = kp.shape[:3]
        A_inv = invert_affine(sample.affines[self.view_set].double().to(kp.device))
        kp = apply_affine(kp.reshape(C, P * J, 2), A_inv).view(C, P, J, 2)
        scores = sample.pseudo_keypoint_scores.double().to(kp.device)
        if 'pseudo_keypoints_visible' in sample:
            scores = scores * sample.pseudo_keypoints_visible[self.view_set].to(kp.device)
        mask = sample.pseudo_person_mask.bool().to(kp.device)
        return kp, scores, mask

    def triangulate_sample(self, sample) -> dict:
        kp, scores, mask = self.sample_observations(sample)
        center = self.space_center if self.space_center is not None else \
            sample.metainfo.get('space_center')
        size = self.space_size if self.space_size is not None else \
            sample.metainfo.get('space_size')
        return triangulate_people(kp, scores, mask, sample.cameras, center, size,
                                  **self.knobs)

    @torch.no_grad()
    def predict(self, inputs: Tensor, samples) -> list:
        """Per frame ``pred_instances``: keypoints_3d (N, J, 3) world mm, scores (N,),
        sorted by score."""
        for s in samples:
            out = self.triangulate_sample(s)
            s.pred_instances = InstanceData(keypoints_3d=out['keypoints_3d'],
                                            scores=out['scores'])
        return list(samples)
