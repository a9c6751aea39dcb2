from .legend import (CAMERA_COLOR, INPUT_2D_COLOR, PERSON_PALETTE, SPACE_COLOR, LegendEntry,
                     draw_legend_band, id_colors, person_ids, prediction_legend, scene_legend)
from .multiview import draw_input_poses, draw_view, montage, plot_scene_3d, save_image
from .predictions import (compose_frame, draw_poses_view, draw_prediction_views,
                          person_colors, plot_prediction_scene, project_poses)
from .names import safe_file_stem
from .val_hook import MultiViewPoseVisualizationHook

__all__ = ['draw_view', 'draw_input_poses', 'montage', 'plot_scene_3d', 'save_image',
           'compose_frame', 'draw_poses_view', 'draw_prediction_views', 'person_colors',
           'plot_prediction_scene', 'project_poses', 'LegendEntry', 'PERSON_PALETTE',
           'CAMERA_COLOR', 'INPUT_2D_COLOR', 'SPACE_COLOR', 'id_colors', 'person_ids',
           'prediction_legend', 'scene_legend', 'draw_legend_band', 'safe_file_stem',
           'MultiViewPoseVisualizationHook']
