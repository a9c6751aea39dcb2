"""Multi-view datasets → transforms → collate."""
from .base_multiview import BaseMultiViewDataset
from .capture_space import estimate_capture_space
from .collate import multiview_collate
from .custom_rig import CustomRigDataset
from .panoptic import PanopticMultiViewDataset, load_panoptic_bodies
from .pseudo_labels import (PseudoLabelError, PseudoLabels, load_pseudo_labels,
                            save_pseudo_labels)
from .shelf_campus import ShelfCampusDataset, ShelfCampusSyntheticDataset
from .synthetic import SyntheticMultiViewDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['BaseMultiViewDataset', 'multiview_collate', 'PanopticMultiViewDataset',
           'load_panoptic_bodies', 'PseudoLabelError', 'PseudoLabels', 'load_pseudo_labels',
           'save_pseudo_labels',
           'ShelfCampusDataset', 'ShelfCampusSyntheticDataset',
           'SyntheticMultiViewDataset', 'CustomRigDataset', 'estimate_capture_space']
