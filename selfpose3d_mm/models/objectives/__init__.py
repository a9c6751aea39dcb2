"""Training objectives: where a model's training signal comes from, and nowhere else."""
from .base import BaseObjective
from .selfpose3d import SELFSUP_DEFAULTS, SelfPose3dObjective
from .voxelpose import VoxelPoseObjective

__all__ = ['BaseObjective', 'SelfPose3dObjective', 'VoxelPoseObjective', 'SELFSUP_DEFAULTS']
