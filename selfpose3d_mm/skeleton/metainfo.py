"""mmpose dataset meta for the package's skeletons (``dataset_meta`` of the datasets).

Kept apart from :mod:`.joints` because it reads mmpose's config files (mmengine +
mmpose): the plain joint tables stay importable from every layer.
"""
from __future__ import annotations

import copy
import os.path as osp

import mmpose
from mmengine.config import Config
from mmpose.datasets.datasets.utils import parse_pose_metainfo

__all__ = ['PANOPTIC15_METAINFO', 'COCO17_METAINFO', 'mmpose_meta_file',
           'load_pose_metainfo']

# mmpose's Panoptic meta, first 15 joints (neck, nose, mid-hip, L/R arm and leg)
PANOPTIC15_METAINFO = dict(from_file='configs/_base_/datasets/panoptic_body3d.py',
                           num_keypoints=15)
COCO17_METAINFO = dict(from_file='configs/_base_/datasets/coco.py', num_keypoints=17)


def mmpose_meta_file(path: str) -> str:
    """``path`` if it exists, else the file of that name among the installed mmpose's
    dataset meta files (``mmpose/.mim/configs/_base_/datasets/``)."""
    if not osp.isfile(path):
        path = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_',
                        'datasets', osp.basename(path))
    if not osp.isfile(path):
        raise FileNotFoundError(f'dataset meta file not found: {path}')
    return path


def load_pose_metainfo(metainfo: dict) -> dict:
    """mmpose dataset meta, optionally cut to its first ``num_keypoints`` joints.

    mmpose's ``panoptic_body3d`` meta lists the 19 coco19 joints; VoxelPose/SelfPose3d
    use the first 15 (eyes and ears dropped), so the file is reused and truncated rather
    than redefined (:data:`PANOPTIC15_METAINFO`).
    """
    metainfo = copy.deepcopy(metainfo)
    n = metainfo.pop('num_keypoints', None)
    if 'from_file' in metainfo and n is not None:
        path = mmpose_meta_file(metainfo.pop('from_file'))
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
