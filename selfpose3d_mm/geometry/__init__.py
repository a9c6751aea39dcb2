"""Multi-view geometry: cameras, image affines, voxel grids, unprojection, rendering,
triangulation. Torch, batch-first, differentiable."""
from .affine import (apply_affine, compose_affine, heatmap_affine, identity_affine,
                     invert_affine, resize_affine, rotation_scale_affine,
                     to_homogeneous_affine)
from .calibration_io import (CalibrationError, load_cameras, load_opencv_yaml,
                             load_panoptic_calibration, load_shelf_campus_calibration,
                             panoptic_points_to_world, save_opencv_yaml,
                             validate_camera)
from .camera import MultiViewCameras
from .rig_file import load_rig, save_rig, to_internal_points
from .rendering import gaussian_volume, render_gaussian_heatmaps
from .triangulation import triangulate_dlt, triangulate_points
from .unprojection import (RootGridCache, projection_sampling_grid, sample_views,
                           unproject_heatmaps)
from .voxel_grid import make_voxel_grid, voxel_axes, voxel_size

__all__ = [
    'MultiViewCameras', 'apply_affine', 'compose_affine', 'heatmap_affine',
    'identity_affine', 'invert_affine', 'resize_affine', 'rotation_scale_affine',
    'to_homogeneous_affine', 'CalibrationError', 'load_cameras', 'load_opencv_yaml',
    'load_panoptic_calibration', 'load_shelf_campus_calibration',
    'panoptic_points_to_world', 'save_opencv_yaml', 'gaussian_volume',
    'render_gaussian_heatmaps', 'triangulate_dlt', 'triangulate_points',
    'RootGridCache', 'projection_sampling_grid', 'sample_views', 'unproject_heatmaps',
    'make_voxel_grid', 'voxel_axes', 'voxel_size', 'validate_camera', 'load_rig',
    'save_rig', 'to_internal_points'
]
