"""Models: data preprocessor → detector (2D heatmap net, root head, pose head)."""
from . import attention  # noqa: F401  (registers SoftAttentionNet)
from . import losses  # noqa: F401  (registers the SelfPose3d losses)
from .data_preprocessors import MultiViewDataPreprocessor
from .detectors import SelfPose3D
from .heads import CuboidProposalHead, PoseRegressionHead

__all__ = ['MultiViewDataPreprocessor', 'SelfPose3D', 'CuboidProposalHead',
           'PoseRegressionHead']
