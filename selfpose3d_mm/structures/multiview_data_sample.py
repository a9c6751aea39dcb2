"""Typed data sample for one synchronised multi-view frame."""
from __future__ import annotations

import torch
from mmengine.structures import BaseDataElement, InstanceData
from torch import Tensor

__all__ = ['MultiViewPoseDataSample', 'PSEUDO_FIELDS']

# Per-frame pseudo-pose fields (padded over views) and the axis of their person dimension.
PSEUDO_FIELDS = {
    'pseudo_keypoints': 2,          # (S, C, P, J, 2) network-input pixels, per view-set
    'pseudo_keypoints_visible': 2,  # (S, C, P, J) bool: score > 0 and inside the input
    'pseudo_keypoint_scores': 1,    # (C, P, J) detector keypoint scores
    'pseudo_bbox_scores': 1,        # (C, P) detector box scores
    'pseudo_person_mask': 1,        # (C, P) bool: a real (not padded) pseudo person
}


class MultiViewPoseDataSample(BaseDataElement):
    """One frame seen by C views, with S affine view-sets (S=1 unaugmented, S=3 for
    SelfPose3d: x⁰ unaugmented, x¹, x² augmented).

    Data fields (shapes; P = max pseudo persons over the frame's views, padded):
        cameras (MultiViewCameras): the rig (C views), original-image pixels.
        affines (S, C, 2, 3): original pixel → network-input pixel, per set and view.
        pseudo_keypoints (S, C, P, J, 2), pseudo_keypoints_visible (S, C, P, J),
        pseudo_keypoint_scores (C, P, J), pseudo_bbox_scores (C, P),
        pseudo_person_mask (C, P): the 2D pseudo poses of every view.
        gt_instances (InstanceData): keypoints_3d (G, J, 3) world mm,
            keypoints_3d_visible (G, J) — for evaluation (and VoxelPose's supervised
            training); absent from self-supervised training samples.
        pred_instances (InstanceData): keypoints_3d (N, J, 3), scores (N,).
    Meta: sample_idx, frame_id, sequence, rig_id, num_views, input_size (w, h),
        image_sizes (C, 2), space_center, space_size, dataset_name.
    """

    @property
    def gt_instances(self) -> InstanceData:
        return self._gt_instances

    @gt_instances.setter
    def gt_instances(self, value: InstanceData):
        self.set_field(value, '_gt_instances', dtype=InstanceData)

    @gt_instances.deleter
    def gt_instances(self):
        del self._gt_instances

    @property
    def pred_instances(self) -> InstanceData:
        return self._pred_instances

    @pred_instances.setter
    def pred_instances(self, value: InstanceData):
        self.set_field(value, '_pred_instances', dtype=InstanceData)

    @pred_instances.deleter
    def pred_instances(self):
        del self._pred_instances

    @property
    def num_pseudo(self) -> Tensor:
        """(C,) number of pseudo persons per view."""
        return self.pseudo_person_mask.sum(-1)
