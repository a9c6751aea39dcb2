"""Shelf and Campus (VoxelPose's protocol): real test frames with their detections and
ground truth, and the synthetic training in the real rig."""
from .dataset import ShelfCampusDataset
from .defaults import SHELF_CAMPUS_DEFAULTS
from .placement import AMPLITUDE_DEFAULTS, PLACEMENT_DEFAULTS, joint_amplitudes, place_people
from .poses import build_pose_source
from .synthetic import ShelfCampusSyntheticDataset

__all__ = [
    'ShelfCampusDataset', 'ShelfCampusSyntheticDataset', 'SHELF_CAMPUS_DEFAULTS',
    'AMPLITUDE_DEFAULTS', 'PLACEMENT_DEFAULTS',
    'joint_amplitudes', 'place_people', 'build_pose_source'
]
