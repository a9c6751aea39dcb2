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
spaces              B capture spaces ``((cx, cy, cz), (sx, sy, sz))`` mm, Python floats
                    from each frame's ``space_center``/``space_size`` metainfo (None
                    for a frame without them): the root net's space in
                    ``root_head.space_from='frame'`` mode (:meth:`shared_space`)
==================  ==================================================================

The data samples stay beside the batch for what is per frame and not a tensor batch
(metainfo, predictions, the evaluation GT that the metric reads).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from selfpose3d_mm.geometry import MultiViewCameras, apply_affine, invert_affine

__all__ = ['MultiViewBatch', 'PseudoPoses', 'GroundTruth3D', 'capture_space_of']

#: a capture space: (centre (3,), size (3,)) in mm, plain floats
Space = Tuple[Tuple[float, float, float], Tuple[float, float, float]]


def capture_space_of(metainfo: dict) -> Optional[Space]:
    """A frame's capture space from its metainfo (``space_center``, ``space_size``: lists,
    tuples or arrays), as plain floats; None when either is missing."""
    center, size = metainfo.get('space_center'), metainfo.get('space_size')
    if center is None or size is None:
        return None
    return tuple(float(v) for v in center), tuple(float(v) for v in size)


def _fmt(space: Optional[Space]) -> str:
    if space is None:
        return 'none'
    return 'center ({}), size ({})'.format(*(', '.join(f'{v:g}' for v in part)
                                             for part in space))


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
    spaces: Tuple[Optional[Space], ...] = ()

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

    def image_pixels(self, keypoints: Tensor, view_set: int,
                     frame: Optional[int] = None) -> Tensor:
        """Points in heatmap pixels of view-set ``view_set`` → original image pixels
        (the inverse of its affines, in the points' dtype). ``keypoints``: (B, C, ..., 2),
        or (C, ..., 2) of frame ``frame``."""
        A = self.affines[:, view_set] if frame is None else self.affines[frame, view_set]
        A = invert_affine(A.to(keypoints.dtype))  # (B, C, 2, 3) or (C, 2, 3)
        lead = A.shape[:-2]
        return apply_affine(keypoints.reshape(*lead, -1, 2), A).view(keypoints.shape)

    def cameras_of(self, batch_index) -> MultiViewCameras:
        """The rig of frame ``batch_index`` (an int), or of each of M items of frames
        ``batch_index`` (an (M,) tensor): the shared (C) rig, or (C) / (M, C) per frame."""
        return self.cameras if self.shared_rig else self.cameras[batch_index]

    def shared_space(self) -> Space:
        """The capture space every frame of the batch has (host floats, no device read).

        Raises:
            ValueError: a frame without one, or frames with different ones (naming
                them): a batch runs the root net on one grid.
        """
        spaces: Sequence[Optional[Space]] = self.spaces
        if len(spaces) != self.batch_size or any(s is None for s in spaces):
            raise ValueError(
                "root_head.space_from='frame' reads each frame's capture space from its "
                "metainfo: every frame needs 'space_center' and 'space_size' (the dataset "
                'sets them; PackMultiViewInputs keeps them in meta_keys); got '
                + ('no spaces' if not spaces else
                   '; '.join(f'frame {b}: {_fmt(s)}' for b, s in enumerate(spaces))))
        if any(s != spaces[0] for s in spaces[1:]):
            distinct = {}
            for b, s in enumerate(spaces):
                distinct.setdefault(s, []).append(b)
            raise ValueError(
                "root_head.space_from='frame': the frames of one batch must share the "
                'capture space (one root grid per batch); this batch has '
                + '; '.join(f'frames {idx}: {_fmt(s)}' for s, idx in distinct.items())
                + '. Use batch_size=1, or batch frames of one space together.')
        return spaces[0]
