"""CMU Panoptic (VoxelPose's protocol) — layout check.

Reading the Panoptic frames, bodies and pseudo labels lands with the real-datasets issue
(#5). Until then the dataset validates the layout it will read and fails early with the
path that is missing, so ``configs/selfpose3d_panoptic.py`` builds and says what to
provide instead of failing deep inside a training run.
"""
from __future__ import annotations

import os.path as osp
from typing import Sequence

from mmpose.registry import DATASETS

__all__ = ['PanopticMultiViewDataset']


@DATASETS.register_module()
class PanopticMultiViewDataset:
    """CMU Panoptic multi-view frames.

    Args:
        data_root: folder holding one folder per sequence (``<seq>/calibration_<seq>.json``,
            ``<seq>/hdImgs/00_XX/00_XX_%08d.jpg``, ``<seq>/hdPose3d_stage1_coco19/``).
        sequences: sequence names (VoxelPose's train or validation list).
        cameras: HD camera names (default the five of VoxelPose/SelfPose3d).
        pseudo_labels: pseudo-label file (``tools/pseudo_label.py``) for self-supervised
            training.
    """

    def __init__(self, data_root: str, sequences: Sequence[str],
                 cameras: Sequence[str] = ('00_03', '00_06', '00_12', '00_13', '00_23'),
                 pseudo_labels: str = None, **kwargs):
        if not osp.isdir(data_root):
            raise FileNotFoundError(
                f'PanopticMultiViewDataset: dataset not found at {osp.abspath(data_root)!r} '
                '(data_root): lay out the CMU Panoptic sequences there as '
                '<data_root>/<sequence>/{calibration_<sequence>.json, hdImgs/, '
                'hdPose3d_stage1_coco19/}, or set data_root')
        for seq in sequences:
            calib = osp.join(data_root, seq, f'calibration_{seq}.json')
            if not osp.isfile(calib):
                raise FileNotFoundError(
                    f'PanopticMultiViewDataset: sequence {seq!r} (sequences) has no '
                    f'calibration at {calib}')
        if pseudo_labels is not None and not osp.isfile(pseudo_labels):
            raise FileNotFoundError(f'PanopticMultiViewDataset: pseudo-label file not found '
                                    f'at {pseudo_labels} (pseudo_labels)')
        raise NotImplementedError(
            'PanopticMultiViewDataset: the layout is there, but reading Panoptic frames '
            'arrives with the real-datasets issue (#5)')
