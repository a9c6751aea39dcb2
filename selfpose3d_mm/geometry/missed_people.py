"""People the network missed, recovered from the frame's 2D poses (beyond the paper; the
refinement's knob ``recover_missed``, docs/method.md#people-the-network-missed).

The refinement matches the network's people to the 2D persons of every view
(:func:`~.pose_refinement.match_poses_to_views`). A 2D person no network person claimed
is a person the network may have missed, a ghost of the detector, or a bystander. The
triangulation baseline (:func:`~.association.triangulate_people`: cross-view
association, hypothesise-and-verify triangulation, ghost rejection, the capture-space
check) runs on those 2D persons alone; each person it finds whose root lies farther than
``recover_min_distance_mm`` from every network person's root is added, scored with the
baseline's confidence — the formula of the refined people's evidence
(:func:`~.pose_evidence.pose_evidence`), so both rank on one scale.

Why: the root net of a self-supervised model finds fewer people than triangulation in
crowds seen by few cameras (it learns what a person looks like in the root volume from
synthetic roots), while its people, refined, are the more accurate
(docs/method.md#people-the-network-missed has the measurements).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from .association import triangulate_people
from .camera import MultiViewCameras

__all__ = ['recover_missed_people']


def recover_missed_people(keypoints2d: Tensor, scores: Tensor, person_mask: Optional[Tensor],
                          cameras: MultiViewCameras, matches: Tensor, roots: Tensor, k: dict,
                          space_center: Optional[Sequence[float]] = None,
                          space_size: Optional[Sequence[float]] = None) -> dict:
    """The people of one frame that no network person accounts for (module docstring).

    Args:
        keypoints2d: (C, P, J, 2) 2D poses, original image pixels; scores: (C, P, J).
        person_mask: (C, P) bool real 2D persons (None: all).
        cameras: the frame's unbatched rig of C views.
        matches: (N, C) long, the 2D person of each view matched to each network person
            (-1: none; :func:`~.pose_refinement.refine_poses`).
        roots: (N, 3) the network people's roots (world mm).
        k: the refinement's resolved knobs (:func:`~.pose_refinement.
            resolve_refinement_knobs`): ``triangulation``, ``recover_min_distance_mm``.
        space_center, space_size: the capture space (mm) the added roots must lie in
            (None: no check).
    Returns:
        dict: ``keypoints_3d`` (M, J, 3) float32 world mm, ``scores`` (M,) float32,
        ``triangulated`` (M, J) bool — the added people, most confident first.
    """
    C, P = keypoints2d.shape[:2]
    free = torch.ones(C, P, dtype=torch.bool, device=keypoints2d.device) \
        if person_mask is None else person_mask.bool().clone()
    n_idx, c_idx = (matches >= 0).nonzero(as_tuple=True)
    free[c_idx, matches[n_idx, c_idx]] = False  # claimed by a network person
    found = triangulate_people(keypoints2d, scores, free, cameras, space_center, space_size,
                               **k['triangulation'])
    X = found['keypoints_3d']
    keep = torch.ones(len(X), dtype=torch.bool, device=X.device)
    if len(X) and len(roots):
        r = int(k['triangulation']['root_index'])
        d = torch.cdist(X[:, r].double(), roots.to(X.device).double())  # (M, N)
        keep = d.min(1).values > float(k['recover_min_distance_mm'])
    return dict(keypoints_3d=X[keep], scores=found['scores'][keep],
                triangulated=found['triangulated'][keep])
