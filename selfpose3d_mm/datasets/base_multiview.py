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
num_keypoints              J
=========================  ==========================================================
"""
from __future__ import annotations

import copy
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import TRANSFORMS

__all__ = ['BaseMultiViewDataset', 'load_pose_metainfo']


def load_pose_metainfo(metainfo: dict) -> dict:
    """mmpose dataset meta, optionally cut to its first ``num_keypoints`` joints.

    mmpose's ``panoptic_body3d`` meta lists the 19 coco19 joints; VoxelPose/SelfPose3d
    use the first 15 (eyes and ears dropped), so the file is reused and truncated rather
    than redefined.
    """
    metainfo = copy.deepcopy(metainfo)
    n = metainfo.pop('num_keypoints', None)
    if 'from_file' in metainfo and n is not None:
        path = metainfo.pop('from_file')
        if not osp.isfile(path):
            import mmpose
            path = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_',
                            'datasets', osp.basename(path))
        if not osp.isfile(path):
            raise FileNotFoundError(f'dataset meta file not found: {path}')
        info = Config.fromfile(path).dataset_info.to_dict()
        keep = {k: v for k, v in info['keypoint_info'].items() if v['id'] < n}
        names = {v['name'] for v in keep.values()}
        for v in keep.values():  # swap partners outside the kept joints do not exist
            if v.get('swap') and v['swap'] not in names:
                v['swap'] = ''
        links = [v for v in info['skeleton_info'].values()
                 if v['link'][0] in names and v['link'][1] in names]
        info['keypoint_info'] = keep
        info['skeleton_info'] = {i: dict(v, id=i) for i, v in enumerate(links)}
        info['joint_weights'] = info['joint_weights'][:n]
        info['sigmas'] = info['sigmas'][:n]
        info.update(metainfo)
        metainfo = info
    return parse_pose_metainfo(metainfo) if metainfo else {}


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
    METAINFO: dict = dict(from_file='configs/_base_/datasets/panoptic_body3d.py',
                          num_keypoints=15)

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

    def _common_info(self) -> dict:
        return dict(space_center=self.space_center, space_size=self.space_size,
                    num_keypoints=self.num_keypoints,
                    dataset_name=self.metainfo.get('dataset_name', type(self).__name__))
