"""Multi-view datasets → transforms → collate."""
from .base_multiview import BaseMultiViewDataset
from .collate import multiview_collate
from .custom_rig import CustomRigDataset
from .frame_sources import ImageFrames, VideoFrames
from .panoptic import PanopticMultiViewDataset
from .pseudo_poses import empty_pseudo_poses, frame_pseudo_poses
from .samplers import EpochSeededSampler, multiview_worker_init_fn, sample_seed
from .shelf_campus import ShelfCampusDataset, ShelfCampusSyntheticDataset
from .synthetic import SyntheticMultiViewDataset
from . import pretext  # noqa: F401  (registers the pretext pair datasets and sampler)
from .transforms import *  # noqa: F401,F403

__all__ = ['BaseMultiViewDataset', 'multiview_collate', 'PanopticMultiViewDataset',
           'ShelfCampusDataset', 'ShelfCampusSyntheticDataset', 'SyntheticMultiViewDataset',
           'CustomRigDataset', 'ImageFrames', 'VideoFrames', 'empty_pseudo_poses',
           'frame_pseudo_poses', 'EpochSeededSampler', 'multiview_worker_init_fn',
           'sample_seed']
