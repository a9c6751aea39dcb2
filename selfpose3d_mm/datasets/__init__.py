"""Multi-view datasets → transforms → collate."""
from .base_multiview import BaseMultiViewDataset
from .collate import multiview_collate
from .panoptic import PanopticMultiViewDataset
from .synthetic import SyntheticMultiViewDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['BaseMultiViewDataset', 'multiview_collate', 'PanopticMultiViewDataset',
           'SyntheticMultiViewDataset']
