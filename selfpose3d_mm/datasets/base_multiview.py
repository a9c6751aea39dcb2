"""Base class of the multi-view datasets: one item = one synchronised multi-view frame.

Every dataset yields the same sample structure (``get_data_info``), whatever its source:

=========================  ==========================================================
key                        value
=========================  ==========================================================
sample_idx, frame_id,      identification (``frame_id`` unique within the dataset)
sequence
cameras                    :class:`~selfpose3d_mm.geometry.MultiViewCameras`, C views
image_sizes                (C, 2) original image (W, H)
img_paths / img            C image paths (real data) / C RGB arrays (synthetic), or
                           neither in heatmap-input mode
pseudo_keypoints           list of C (P_c, J, 2) float32 2D pseudo poses, original px
pseudo_keypoint_scores     list of C (P_c, J) float32
pseudo_bbox_scores         list of C (P_c,) float32
gt_keypoints_3d            (G, J, 3) float32 world mm — evaluation only
gt_keypoints_3d_visible    (G, J) bool
space_center, space_size   the capture space (mm)
rig_id                     id of the rig (added by ``prepare_data``; equal ids = same rig)
num_keypoints              J
=========================  ==========================================================
"""
from __future__ import annotations

import copy
import random
from contextlib import contextmanager
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmpose.registry import TRANSFORMS

from selfpose3d_mm.skeleton.metainfo import PANOPTIC15_METAINFO, load_pose_metainfo

__all__ = ['BaseMultiViewDataset']


@contextmanager
def seeded_random_state(seed: int):
    """Run a block with python's, numpy's and torch's (CPU) global RNGs seeded by ``seed``,
    and give the caller its own RNG states back afterwards."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


class BaseMultiViewDataset(BaseDataset):
    """Shared behaviour: mmpose dataset meta (``panoptic_body3d`` by default), the
    capture space, and a lazily generated/loaded frame list.

    Args:
        space_center: (3,) capture-space centre in mm.
        space_size: (3,) capture-space size in mm.
        kwargs: :class:`mmengine.dataset.BaseDataset` arguments (``pipeline``,
            ``test_mode``, ``lazy_init``, ``indices``, ...).
    """

    # mmpose's Panoptic meta, first 15 joints (neck, nose, mid-hip, L/R arm and leg)
    METAINFO: dict = PANOPTIC15_METAINFO

    def __init__(self, space_center: Sequence[float] = (0.0, -500.0, 800.0),
                 space_size: Sequence[float] = (8000.0, 8000.0, 2000.0),
                 metainfo: Optional[dict] = None, **kwargs):
        self.space_center = tuple(float(v) for v in space_center)
        self.space_size = tuple(float(v) for v in space_size)
        if len(self.space_center) != 3 or len(self.space_size) != 3:
            raise ValueError('space_center and space_size need 3 values each')
        kwargs.setdefault('serialize_data', False)
        # build transforms from mmpose's registry whatever the caller's default scope
        kwargs['pipeline'] = [TRANSFORMS.build(t) if isinstance(t, dict) else t
                              for t in kwargs.get('pipeline') or []]
        super().__init__(metainfo=metainfo, **kwargs)

    @classmethod
    def _load_metainfo(cls, metainfo: dict = None) -> dict:
        if metainfo is None:
            metainfo = copy.deepcopy(cls.METAINFO)
        if not isinstance(metainfo, dict):
            raise TypeError(f'metainfo should be a dict, got {type(metainfo)}')
        return load_pose_metainfo(metainfo)

    @property
    def num_keypoints(self) -> int:
        return int(self.metainfo['num_keypoints'])

    def rig_id(self, cameras) -> str:
        """Id of a rig, put in every sample's metainfo so that a batch recognises a shared
        rig (and its cached device copy and sampling grids) without hashing tensors at
        every step: a content hash, computed once per camera object the dataset keeps."""
        memo = self.__dict__.setdefault('_rig_ids', {})
        hit = memo.get(id(cameras))
        if hit is None or hit[0] is not cameras:
            hit = (cameras, f'{type(self).__name__}:{cameras.cache_key()[:16]}')
            memo[id(cameras)] = hit
        return hit[1]

    def __getitem__(self, idx):
        """``dataset[i]``, or ``dataset[(i, seed)]`` (from :class:`EpochSeededSampler`):
        the sample's random augmentation is then drawn under ``seed`` alone."""
        if not isinstance(idx, tuple):
            return super().__getitem__(idx)
        index, seed = idx
        with seeded_random_state(seed):
            return super().__getitem__(int(index))

    def prepare_data(self, idx: int):
        return self.pipeline(self.frame_info(idx))

    def frame_info(self, idx: int) -> dict:
        """``get_data_info`` plus what every consumer of a frame needs: the rig's id and
        the frame's own copy of the rig (used by ``prepare_data`` and the inferencer)."""
        info = self.get_data_info(idx)
        if 'cameras' in info:
            if 'rig_id' not in info:
                info['rig_id'] = self.rig_id(info['cameras'])
            # The sample gets its own copy of the rig. A DataLoader worker sends a sample's
            # tensors through shared memory: torch moves each one's storage into a shared
            # segment *in place* and frees the old buffer, on the queue's feeder thread,
            # while the worker already prepares the next sample. Sending the dataset's own
            # camera tensors would free the buffer under every numpy view of them (e.g.
            # the image sizes) that the next sample is being computed from: garbage pseudo
            # poses and NaN predictions, now and then, only with workers.
            info['cameras'] = info['cameras'].clone()
        return info

    def _common_info(self) -> dict:
        return dict(space_center=self.space_center, space_size=self.space_size,
                    num_keypoints=self.num_keypoints,
                    dataset_name=self.metainfo.get('dataset_name', type(self).__name__))
