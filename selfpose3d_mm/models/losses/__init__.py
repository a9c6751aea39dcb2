from .contrastive import MCSSContrastiveLoss
from .heatmap_losses import AttentionRegularizer, AttentiveHeatmapLoss
from .hungarian_l1 import HungarianL1Loss, HungarianMatch
from .root_losses import RootConsistencyLoss, SyntheticRootSampler

__all__ = ['RootConsistencyLoss', 'SyntheticRootSampler', 'AttentiveHeatmapLoss',
           'AttentionRegularizer', 'HungarianL1Loss', 'HungarianMatch', 'MCSSContrastiveLoss']
