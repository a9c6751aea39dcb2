"""Pretext tasks on unlabelled synchronized multi-view footage: shared frame access
(:mod:`.clips`: frames by (sequence, time), median backgrounds, foreground masks, person
crops; :mod:`.people`: boxes, crops, cross-view matching) and the pair datasets (sync +
flip pairs, MCSS anchor/positive batches)."""
from .clips import (Frame, FrameIndex, MultiViewClips, foreground_mask, frame_time,
                    load_frame_images, median_background)
from .people import (appearance, box_points, boxes_from_keypoints, boxes_from_mask,
                     crop_affine, crop_square, match_views, nearest_appearance, square_box,
                     square_roi)
from .mcss_batches import MCSSBatchSampler, MCSSPairDataset, pad_pseudo_poses
from .sync_pairs import SyncFlipPairDataset

__all__ = ['Frame', 'FrameIndex', 'MultiViewClips', 'foreground_mask', 'frame_time',
           'load_frame_images', 'median_background', 'appearance', 'box_points',
           'boxes_from_keypoints', 'boxes_from_mask', 'crop_affine', 'crop_square',
           'match_views', 'nearest_appearance', 'square_box', 'square_roi',
           'SyncFlipPairDataset', 'MCSSBatchSampler', 'MCSSPairDataset', 'pad_pseudo_poses']
