"""Models: data preprocessor (→ MultiViewBatch) → detector (2D heatmaps, root head, pose
head) → predictions; training objectives compute the losses of a detector's batch."""
from . import attention  # noqa: F401  (registers SoftAttentionNet)
from . import losses  # noqa: F401  (registers the SelfPose3d loss modules)
from . import pretext  # noqa: F401  (registers SyncFlipNet, MCSSEmbedder, their preprocessor)
from .data_preprocessors import MultiViewDataPreprocessor
from .detectors import SelfPose3D, TriangulationBaseline
from .heads import CuboidProposalHead, PoseRegressionHead
from .objectives import SelfPose3dObjective, VoxelPoseObjective

__all__ = ['MultiViewDataPreprocessor', 'SelfPose3D', 'TriangulationBaseline',
           'CuboidProposalHead', 'PoseRegressionHead', 'SelfPose3dObjective',
           'VoxelPoseObjective']
