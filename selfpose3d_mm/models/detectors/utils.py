"""Batch helpers of the detector: one rig for the batch, padded 3D GT."""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

from selfpose3d_mm.geometry import MultiViewCameras

__all__ = ['batch_cameras', 'pad_gt']


def batch_cameras(samples) -> MultiViewCameras:
    """One unbatched rig when every frame shares it (so rig caches apply), else (B, C)."""
    cams = [s.cameras for s in samples]
    if all(c.cache_key() == cams[0].cache_key() for c in cams[1:]):
        return cams[0]
    return MultiViewCameras.stack(cams)


def pad_gt(samples, num_joints: int, device) -> Tuple[Tensor, Tensor, Tensor]:
    """GT poses (B, G, J, 3), joint visibility (B, G, J) and person mask (B, G)."""
    G = max([len(s.gt_instances.keypoints_3d) for s in samples] + [1])
    B = len(samples)
    poses = torch.zeros(B, G, num_joints, 3, device=device)
    vis = torch.zeros(B, G, num_joints, dtype=torch.bool, device=device)
    mask = torch.zeros(B, G, dtype=torch.bool, device=device)
    for b, s in enumerate(samples):  # B frames, a copy each
        n = len(s.gt_instances.keypoints_3d)
        poses[b, :n] = s.gt_instances.keypoints_3d.to(device)
        vis[b, :n] = s.gt_instances.keypoints_3d_visible.to(device).bool()
        mask[b, :n] = True
    return poses, vis, mask
