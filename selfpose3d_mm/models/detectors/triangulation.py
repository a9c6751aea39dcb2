"""The triangulation baseline as an mmengine model, evaluable with the usual test loop."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmengine.model import BaseModel
from mmengine.runner import load_checkpoint
from mmengine.structures import InstanceData
from mmpose.registry import MODELS

from selfpose3d_mm.structures import MultiViewBatch
from ..data_preprocessors import build_data_preprocessor
from selfpose3d_mm.geometry.association import (
    resolve_triangulation_knobs, triangulate_people)

__all__ = ['TriangulationBaseline']


@MODELS.register_module()
class TriangulationBaseline(BaseModel):
    """Multi-view multi-person 3D poses by association + robust triangulation of the
    sample's 2D pseudo poses (:func:`~.triangulation.triangulate_people`). No trainable
    parameters: use it with ``tools/test.py`` (no checkpoint needed).

    Reads the batch's cameras, the affines of view-set ``view_set`` (0: un-augmented) and
    the 2D pseudo poses (``MultiViewBatch.pseudo``), mapped back to original pixels with
    the inverse of that set's affines. Frames are triangulated one by one (association
    is per frame); this model is not trained.

    Args:
        space_center, space_size: the capture space (mm); None takes each sample's
            ``space_center`` / ``space_size`` metainfo (no space check when absent).
        view_set: which affine view-set's pseudo poses to use.
        triangulation: knobs of ``TRIANGULATION_DEFAULTS`` (validated at build time).
        embedder: optional pose-embedding model config (``MCSSEmbedder``): the persons of
            every view are embedded from the images and the cross-view association also
            uses the embeddings (knob ``embedding_association``; docs/mcss.md). Needs
            frames with images.
        embedder_checkpoint: the embedder's weights (loaded here: the test loop does
            not call ``init_weights``).
        embedding_crop: ``crop_size`` / ``min_score`` / ``padding`` of
            ``MCSSEmbedder.embed_people``.
        data_preprocessor: defaults to ``MultiViewDataPreprocessor``.
    """

    def __init__(self, space_center: Optional[Sequence[float]] = None,
                 space_size: Optional[Sequence[float]] = None, view_set: int = 0,
                 triangulation: Optional[dict] = None, embedder: Optional[dict] = None,
                 embedder_checkpoint: Optional[str] = None,
                 embedding_crop: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        self.space_center = None if space_center is None else tuple(map(float, space_center))
        self.space_size = None if space_size is None else tuple(map(float, space_size))
        self.view_set = int(view_set)
        self.knobs = dict(triangulation or {})
        resolve_triangulation_knobs(self.knobs)  # unknown / invalid knobs fail when the model is built
        self.embedder = None if embedder is None else MODELS.build(embedder)
        self.embedding_crop = dict(embedding_crop or {})
        if self.embedder is not None:
            self.embedder.eval()
            if embedder_checkpoint is not None:
                load_checkpoint(self.embedder, embedder_checkpoint, map_location='cpu',
                                strict=False, revise_keys=[(r'^module\.', '')])

    def forward(self, inputs: MultiViewBatch, data_samples=None, mode: str = 'predict'):
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return [self.triangulate_frame(inputs, b, s) for b, s in enumerate(data_samples)]
        if mode == 'loss':
            raise RuntimeError(
                'TriangulationBaseline has no trainable parameters and cannot be trained '
                "(mode='loss'); evaluate it with tools/test.py (no checkpoint needed)")
        raise RuntimeError(f'Invalid mode "{mode}". Only supports predict and tensor')

    def observations(self, batch: MultiViewBatch, b: int):
        """(C, P, J, 2) original pixels, (C, P, J) scores (0 where not visible),
        (C, P) person mask of frame ``b``."""
        if batch.pseudo is None:
            raise KeyError('TriangulationBaseline: the frames carry no 2D pseudo poses; the '
                           'pipeline must run MultiViewAffine and PackMultiViewInputs on a '
                           'dataset with pseudo 2D poses')
        kp, scores, vis = batch.pseudo.view_set(self.view_set)
        kp = batch.image_pixels(kp[b].double(), self.view_set, frame=b)  # (C, P, J, 2)
        return kp, scores[b].double() * vis[b], batch.pseudo.person_mask[b]

    def triangulate_frame(self, batch: MultiViewBatch, b: int, sample) -> dict:
        kp, scores, mask = self.observations(batch, b)
        center = self.space_center if self.space_center is not None else \
            sample.metainfo.get('space_center')
        size = self.space_size if self.space_size is not None else \
            sample.metainfo.get('space_size')
        return triangulate_people(kp, scores, mask, batch.cameras_of(b), center, size,
                                  embeddings=self.embeddings(batch, b), **self.knobs)

    def embeddings(self, batch: MultiViewBatch, b: int):
        """(C, P, D) pose embeddings of frame ``b``'s persons, or None without embedder."""
        if self.embedder is None:
            return None
        if batch.images is None:
            raise ValueError('TriangulationBaseline: an embedder needs the frames\' images '
                             '(a dataset with images and LoadMultiViewImages in the '
                             'pipeline)')
        kp, scores, vis = batch.pseudo.view_set(self.view_set)  # input pixels of the set
        return self.embedder.embed_people(batch.images[b, self.view_set], kp[b],
                                          scores[b] * vis[b], batch.pseudo.person_mask[b],
                                          **self.embedding_crop)

    @torch.no_grad()
    def predict(self, batch: MultiViewBatch, samples) -> list:
        """Per frame ``pred_instances``: keypoints_3d (N, J, 3) world mm, scores (N,),
        sorted by score."""
        for b, s in enumerate(samples):  # association is per frame
            out = self.triangulate_frame(batch, b, s)
            s.pred_instances = InstanceData(keypoints_3d=out['keypoints_3d'],
                                            scores=out['scores'])
        return list(samples)
