from .pose_head import PoseRegressionHead
from .root_head import CuboidProposalHead

__all__ = ['PoseRegressionHead', 'CuboidProposalHead']
