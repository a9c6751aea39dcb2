"""Multi-view geometry: cameras, image affines, voxel grids, unprojection, rendering,
triangulation, multi-person association and refinement of 3D poses by 2D poses. Torch, batch-first, differentiable where it
matters. Pure math: no file format (see :mod:`selfpose3d_mm.io`) and no dataset."""
from .affine import (apply_affine, compose_affine, heatmap_affine, identity_affine,
                     invert_affine, resize_affine, rotation_scale_affine,
                     to_homogeneous_affine)
from .association import (PANOPTIC15_BONE_RANGES, TRIANGULATION_DEFAULTS,
                          resolve_triangulation_knobs, triangulate_people)
from .camera import MultiViewCameras
from .epipolar import EpipolarRig
from .pose_refinement import REFINEMENT_DEFAULTS, refine_poses, resolve_refinement_knobs
from .rendering import gaussian_volume, render_gaussian_heatmaps
from .triangulation import triangulate_dlt, triangulate_points
from .unprojection import (RootGridCache, projection_sampling_grid, sample_views,
                           unproject_heatmaps)
from .voxel_grid import make_voxel_grid, voxel_axes, voxel_size

__all__ = [
    'MultiViewCameras', 'apply_affine', 'compose_affine', 'heatmap_affine',
    'identity_affine', 'invert_affine', 'resize_affine', 'rotation_scale_affine',
    'to_homogeneous_affine', 'gaussian_volume', 'render_gaussian_heatmaps',
    'triangulate_dlt', 'triangulate_points', 'RootGridCache', 'projection_sampling_grid',
    'sample_views', 'unproject_heatmaps', 'make_voxel_grid', 'voxel_axes', 'voxel_size',
    'EpipolarRig', 'PANOPTIC15_BONE_RANGES', 'TRIANGULATION_DEFAULTS',
    'resolve_triangulation_knobs', 'triangulate_people', 'REFINEMENT_DEFAULTS',
    'refine_poses', 'resolve_refinement_knobs'
]
