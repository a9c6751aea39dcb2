"""Non-learned baselines: optimisation/geometry-based multi-view 3D pose estimation."""
from .triangulation import (PANOPTIC15_BONE_RANGES, PANOPTIC15_FLIP_PAIRS,
                            PANOPTIC15_LIMBS, TRIANGULATION_DEFAULTS, triangulate_people)

__all__ = ['TRIANGULATION_DEFAULTS', 'PANOPTIC15_LIMBS', 'PANOPTIC15_FLIP_PAIRS',
           'PANOPTIC15_BONE_RANGES', 'triangulate_people']
