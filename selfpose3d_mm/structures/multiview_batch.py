"""The typed batch the network and the training objectives read.

``MultiViewDataPreprocessor`` builds one :class:`MultiViewBatch` per step from the
collated data samples, on the host, and moves it to the device once. Shapes (B frames,
S affine view-sets, C views, P pseudo persons per view after padding, J joints, G GT
persons):

==================  ==================================================================
field               value
==================  ==================================================================
images              (B, S, C, 3, H, W) normalised float, or None (heatmap-input mode)
cameras             :class:`MultiViewCameras`: one unbatched rig (C views) when every
                    frame of the batch has the same ``rig_id`` (its caches apply), else
                    a (B, C) rig
rig_id              the shared rig's id (from the dataset's metainfo), or None
affines             (B, S, C, 2, 3) original image pixel → heatmap pixel, composed once
grid_keys           S keys, one per view-set: set when the whole batch shares the rig
                    and that set's affines, so the root-cube sampling grid is cached
                    under it; None otherwise (random per-frame augmentation)
pseudo              :class:`PseudoPoses` (the 2D detections, heatmap pixels), or None
gt                  :class:`GroundTruth3D` — only for an objective that declares
                    ``uses_gt`` in training; None otherwise (never for SelfPose3d)
==================  ==================================================================

The data samples stay beside the batch for what is per frame and not a tensor batch
(metainfo, predictions, the evaluation GT that the metric reads).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional, Tuple

import torch
from torch import Tensor

from selfpose3d_mm.geometry import MultiViewCameras

__all__ = ['MultiViewBatch', 'PseudoPoses', 'GroundTruth3D']


@dataclass
class PseudoPoses:
    """2D poses of every view (pseudo labels in training, the detections as input of
    heatmap-input mode), in heatmap pixels of each view-set.

    Attributes:
        keypoints: (B, S, C, P, J, 3): x, y heatmap px of view-set s; the detector score.
        visible: (B, S, C, P, J) bool: a real person, score above the pipeline's
            ``min_score``, inside the network input of set s.
        bbox_scores: (B, C, P) detector box scores.
        person_mask: (B, C, P) bool: a real (not padded) person.
    """
    keypoints: Tensor
    visible: Tensor
    bbox_scores: Tensor
    person_mask: Tensor

    def to(self, device) -> 'PseudoPoses':
        return PseudoPoses(*(getattr(self, f.name).to(device) for f in fields(self)))

    def view_set(self, s: int) -> Tuple[Tensor, Tensor, Tensor]:
        """(B, C, P, J, 2) heatmap px, (B, C, P, J) scores, (B, C, P, J) visibility."""
        kp = self.keypoints[:, s]
        return kp[..., :2], kp[..., 2], self.visible[:, s]


@dataclass
class GroundTruth3D:
    """3D GT padded over the batch: keypoints (B, G, J, 3) world mm, visible (B, G, J)
    bool, mask (B, G) bool (a real person)."""
    keypoints: Tensor
    visible: Tensor
    mask: Tensor

    def to(self, device) -> 'GroundTruth3D':
        return GroundTruth3D(*(getattr(self, f.name).to(device) for f in fields(self)))


@dataclass
class MultiViewBatch:
    """One training/inference step's inputs (see the module docstring)."""
    cameras: MultiViewCameras
    affines: Tensor
    images: Optional[Tensor] = None
    rig_id: Optional[str] = None
    grid_keys: Tuple[Optional[str], ...] = ()
    pseudo: Optional[PseudoPoses] = None
    gt: Optional[GroundTruth3D] = None

    @property
    def batch_size(self) -> int:
        return self.affines.shape[0]

    @property
    def num_sets(self) -> int:
        return self.affines.shape[1]

    @property
    def num_views(self) -> int:
        return self.affines.shape[2]

    @property
    def device(self) -> torch.device:
        return self.affines.device

    @property
    def shared_rig(self) -> bool:
        return not len(self.cameras.batch_shape)

    def cameras_of(self, batch_index) -> MultiViewCameras:
        """The rig of frame ``batch_index`` (an int), or of each of M items of frames
        ``batch_index`` (an (M,) tensor): the shared (C) rig, or (C) / (M, C) per frame."""
        return self.cameras if self.shared_rig else self.cameras[batch_index]
