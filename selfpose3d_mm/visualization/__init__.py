from .multiview import draw_view, montage, plot_scene_3d, save_image

__all__ = ['draw_view', 'montage', 'plot_scene_3d', 'save_image']
