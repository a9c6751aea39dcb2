"""Glue of the detectors' test-time refinement with the frame's 2D poses
(``test_cfg=dict(refine=dict(...))``): the batch's view-set-0 pseudo poses back to
original image pixels, then :func:`~selfpose3d_mm.geometry.pose_refinement.refine_poses`
per frame (its knobs: ``REFINEMENT_DEFAULTS`` there) and, with ``recover_missed``,
:func:`~selfpose3d_mm.geometry.missed_people.recover_missed_people`."""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

from selfpose3d_mm.geometry.missed_people import recover_missed_people
from selfpose3d_mm.geometry.pose_evidence import person_scores
from selfpose3d_mm.geometry.pose_refinement import (REFINEMENT_DEFAULTS, refine_poses,
                                                    resolve_refinement_knobs)
from selfpose3d_mm.structures import MultiViewBatch

__all__ = ['refine_cfg', 'refine_score', 'refine_frame']

# what ``--cfg-options model.test_cfg.refine=dict()`` (or ``={}``) hands over: mmengine's
# DictAction keeps these values as strings
_EMPTY_DICT_STRINGS = ('dict()', '{}')


def refine_cfg(value) -> Optional[dict]:
    """``test_cfg['refine']`` → the knobs (validated), or None when refinement is off.

    None / False: off (the default). True, ``dict()`` (or the strings ``'dict()'`` /
    ``'{}'`` of ``--cfg-options``): the defaults. A dict: knobs overriding them.
    """
    if value is None or value is False:
        return None
    if value is True or (isinstance(value, str) and value.replace(' ', '') in
                         _EMPTY_DICT_STRINGS):
        value = {}
    if not isinstance(value, Mapping):
        raise ValueError(f'test_cfg.refine must be None/False (off), True or a dict of '
                         f'refinement knobs, got {value!r}')
    value = dict(value)
    resolve_refinement_knobs(value)  # an unknown or invalid knob fails before the first frame
    return value


def refine_score(knobs: Optional[dict]) -> Optional[str]:
    """The ``score`` mode of refinement knobs (:func:`refine_cfg`'s value; None: off)."""
    return None if knobs is None else knobs.get('score', REFINEMENT_DEFAULTS['score'])


def refine_frame(batch: MultiViewBatch, b: int, keypoints_3d: Tensor, scores: Tensor,
                 knobs: dict, space: Optional[Tuple[Sequence[float], Sequence[float]]] = None
                 ) -> Dict[str, Tensor]:
    """Refine frame ``b``'s predicted poses (N, J, 3), of network scores (N,), with its
    view-set-0 2D poses; with the knob ``recover_missed``, add the people the network
    missed (their roots within the capture space ``space`` = (center, size) mm).

    Returns per person (N network people, then M added ones): ``keypoints_3d`` (N+M, J, 3),
    ``refined_mask`` (N+M, J) bool (the joint was moved; an added person's: triangulated),
    ``scores`` (N+M,) (knob ``score``: the network's, the 2D poses' evidence or the
    product; an added person's: the triangulation baseline's confidence) and
    ``recovered`` (N+M,) bool (an added person).
    """
    if batch.pseudo is None:
        raise ValueError('test_cfg.refine needs the 2D poses of every view in the batch '
                         '(a pseudo-label file with the dataset, or heatmap-input mode); '
                         'this batch has none. Turn refinement off (test_cfg.refine=None) '
                         'or give the dataset its 2D poses.')
    kp, kp_scores, visible = batch.pseudo.view_set(0)  # (B, C, P, J, ·) heatmap px
    kp, kp_scores, visible = kp[b], kp_scores[b], visible[b]
    kp_img = batch.image_pixels(kp, 0, frame=b)  # (C, P, J, 2) heatmap → image px
    cams, person_mask = batch.cameras_of(b), batch.pseudo.person_mask[b]
    refined, mask, matches, evidence = refine_poses(keypoints_3d, cams, kp_img,
                                                    kp_scores * visible, person_mask, **knobs)
    out = dict(keypoints_3d=refined, refined_mask=mask,
               scores=person_scores(scores, evidence, refine_score(knobs)),
               recovered=torch.zeros(len(refined), dtype=torch.bool, device=refined.device))
    k = resolve_refinement_knobs(knobs)
    if not k['recover_missed']:
        return out
    root = int(k['triangulation']['root_index'])
    center, size = space if space is not None else (None, None)
    added = recover_missed_people(kp_img, kp_scores * visible, person_mask, cams, matches,
                                  refined[:, root], k, center, size)
    added['refined_mask'] = added.pop('triangulated')
    added['recovered'] = torch.ones(len(added['scores']), dtype=torch.bool,
                                    device=refined.device)
    return {key: torch.cat([v, added[key].to(v)]) for key, v in out.items()}
