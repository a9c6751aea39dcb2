from .multiview import draw_view, montage, plot_scene_3d, save_image
from .predictions import (compose_frame, draw_poses_view, draw_prediction_views,
                          person_colors, plot_prediction_scene, project_poses)

__all__ = ['draw_view', 'montage', 'plot_scene_3d', 'save_image', 'compose_frame',
           'draw_poses_view', 'draw_prediction_views', 'person_colors',
           'plot_prediction_scene', 'project_poses']
