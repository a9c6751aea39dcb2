"""The synthetic multi-view world (rig, people, pseudo-2D detector, optional images)."""
from .dataset import SyntheticMultiViewDataset
from .layouts import LAYOUT_FAMILIES, make_layout_rig
from .rig import RING_RIG_DEFAULTS, make_ring_rig
from .rig_config import NAMED_LAYOUTS, build_rig, build_rig_world, named_layout

__all__ = ['SyntheticMultiViewDataset', 'RING_RIG_DEFAULTS', 'build_rig', 'make_ring_rig',
           'LAYOUT_FAMILIES', 'make_layout_rig', 'NAMED_LAYOUTS', 'build_rig_world',
           'named_layout']
