"""Loading multi-view images and packing a sample into model inputs + a data sample."""
from __future__ import annotations

from typing import Sequence

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.fileio import get
from mmengine.structures import InstanceData
from mmpose.registry import TRANSFORMS

from selfpose3d_mm.structures import PSEUDO_FIELDS, MultiViewPoseDataSample

__all__ = ['LoadMultiViewImages', 'PackMultiViewInputs']


@TRANSFORMS.register_module()
class LoadMultiViewImages(BaseTransform):
    """Read ``img_paths`` (C paths, any mmengine file backend) into ``img`` (C × HxWx3 RGB).

    A missing or unreadable file raises an error naming it and the sample.
    """

    def __init__(self, backend_args: dict = None):
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        imgs = []
        for path in results['img_paths']:
            try:
                buf = get(path, backend_args=self.backend_args)
            except FileNotFoundError:
                raise FileNotFoundError(
                    f'image not found: {path} (sample {results.get("sample_idx")}, '
                    f'frame {results.get("frame_id")})') from None
            img = mmcv.imfrombytes(buf, channel_order='rgb')
            if img is None:
                raise ValueError(f'cannot decode image {path}')
            imgs.append(img)
        results['img'] = imgs
        return results


@TRANSFORMS.register_module()
class PackMultiViewInputs(BaseTransform):
    """Pack into ``dict(inputs, data_samples)``.

    ``inputs``: (S, C, 3, h, w) uint8 tensor (RGB), or an empty (S, C, 0) tensor in
    heatmap-input mode (no images). ``data_samples``: :class:`MultiViewPoseDataSample`.

    Args:
        with_gt: pack the 3D GT (``gt_instances``) — for evaluation and supervised
            training. Self-supervised training pipelines set False: their samples then
            carry no GT at all (the model's data preprocessor refuses any that do).
        meta_keys: keys copied into the sample's metainfo when present.
    """

    GT_KEYS = ('gt_keypoints_3d', 'gt_keypoints_3d_visible', 'gt_instance_ids')

    def __init__(self, with_gt: bool = True, meta_keys: Sequence[str] = (
            'sample_idx', 'frame_id', 'sequence', 'rig_id', 'num_views', 'input_size',
            'image_sizes', 'space_center', 'space_size', 'dataset_name', 'aug_params',
            'img_paths')):
        self.with_gt = bool(with_gt)
        self.meta_keys = tuple(meta_keys)
        leak = set(self.meta_keys) & set(self.GT_KEYS)
        if leak:
            raise ValueError(f'meta_keys must not carry ground truth: {sorted(leak)}')

    def transform(self, results: dict) -> dict:
        if not self.with_gt:
            for key in self.GT_KEYS:
                results.pop(key, None)
        affines = torch.as_tensor(np.asarray(results['affines']), dtype=torch.float32)
        S, C = affines.shape[:2]
        if 'imgs' in results:
            inputs = torch.from_numpy(np.ascontiguousarray(
                results['imgs'].transpose(0, 1, 4, 2, 3)))
        else:
            inputs = torch.zeros(S, C, 0, dtype=torch.uint8)
        sample = MultiViewPoseDataSample()
        sample.cameras = results['cameras']
        sample.affines = affines
        for name in PSEUDO_FIELDS:
            if name in results:
                sample.set_field(torch.as_tensor(np.asarray(results[name])), name)
        if 'gt_keypoints_3d' in results:
            kp = np.asarray(results['gt_keypoints_3d'], np.float32)
            # an empty (0, J, 3) keeps its J (e.g. Shelf-14 GT beside 15 pseudo joints)
            kp = kp.reshape(-1, kp.shape[-2], 3) if kp.ndim == 3 or len(kp) else \
                np.zeros((0, results.get('num_keypoints', 15), 3), np.float32)
            vis = results.get('gt_keypoints_3d_visible')
            vis = np.ones(kp.shape[:2], bool) if vis is None else np.asarray(vis, bool)
            gt = InstanceData(
                keypoints_3d=torch.from_numpy(kp).float(),
                keypoints_3d_visible=torch.from_numpy(vis.reshape(kp.shape[:2])))
            if 'gt_instance_ids' in results:  # e.g. Shelf/Campus actor indices
                gt.instance_ids = torch.as_tensor(
                    np.asarray(results['gt_instance_ids'], np.int64).reshape(-1))
            sample.gt_instances = gt
        meta = {k: results[k] for k in self.meta_keys if k in results}
        meta.setdefault('num_views', C)
        sample.set_metainfo(meta)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self):
        return f'{self.__class__.__name__}(with_gt={self.with_gt}, meta_keys={self.meta_keys})'
