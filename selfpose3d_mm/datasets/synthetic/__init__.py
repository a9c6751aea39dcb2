"""The synthetic multi-view world (rig, people, pseudo-2D detector, optional images)."""
from .dataset import SyntheticMultiViewDataset
from .rig import RING_RIG_DEFAULTS, build_rig, make_ring_rig

__all__ = ['SyntheticMultiViewDataset', 'RING_RIG_DEFAULTS', 'build_rig', 'make_ring_rig']
