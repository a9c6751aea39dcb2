"""High-level APIs: inference on multi-view images/videos."""
from .inferencer import HeatmapInputError, MultiViewPoseInferencer
from .prediction_io import load_predictions, save_predictions_json, save_predictions_npz
from .pseudo_labeling import PersonDetector, TopDownPose, run_pseudo_labeling

__all__ = ['HeatmapInputError', 'MultiViewPoseInferencer', 'load_predictions',
           'save_predictions_json', 'save_predictions_npz']
__all__ += ['PersonDetector', 'TopDownPose', 'run_pseudo_labeling']
