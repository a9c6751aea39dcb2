"""High-level APIs: inference on multi-view images/videos, pseudo-labelling, the capture
space of a rig."""
from .capture_space import estimate_capture_space, format_space_config
from .config_links import apply_linked_settings, load_config
from .inferencer import HeatmapInputError, MultiViewPoseInferencer
from .methods import METHOD_ALIASES, InferenceMethod, named_model_config
from .pseudo_labeling import PersonDetector, TopDownPose, run_pseudo_labeling

__all__ = ['HeatmapInputError', 'MultiViewPoseInferencer', 'PersonDetector', 'TopDownPose',
           'run_pseudo_labeling', 'estimate_capture_space', 'format_space_config',
           'apply_linked_settings', 'load_config', 'METHOD_ALIASES', 'InferenceMethod',
           'named_model_config']
