"""Shelf and Campus (VoxelPose's protocol): real test frames with their detections and
ground truth, and the synthetic training in the real rig."""
from .dataset import ShelfCampusDataset
from .io import (SHELF_CAMPUS_DEFAULTS, ShelfCampusFileError, detections_to_panoptic15,
                 load_actors_gt, load_detections, load_pose_bank, load_predicted_poses)
from .placement import AMPLITUDE_DEFAULTS, PLACEMENT_DEFAULTS, joint_amplitudes, place_people
from .poses import build_pose_source
from .synthetic import ShelfCampusSyntheticDataset

__all__ = [
    'ShelfCampusDataset', 'ShelfCampusSyntheticDataset', 'SHELF_CAMPUS_DEFAULTS',
    'ShelfCampusFileError', 'detections_to_panoptic15', 'load_actors_gt', 'load_detections',
    'load_pose_bank', 'load_predicted_poses', 'AMPLITUDE_DEFAULTS', 'PLACEMENT_DEFAULTS',
    'joint_amplitudes', 'place_people', 'build_pose_source'
]
