"""Pretext models trained on unlabelled multi-view footage before SelfPose3d: the
synchronisation + flip Siamese network, the MCSS pose embedder and the crop-pair data
preprocessor."""
from .mcss import MCSSEmbedder, square_crop_grids
from .pair_preprocessor import PairDataPreprocessor
from .sync_net import SyncFlipNet, masked_bce

__all__ = ['PairDataPreprocessor', 'SyncFlipNet', 'masked_bce', 'MCSSEmbedder',
           'square_crop_grids']
