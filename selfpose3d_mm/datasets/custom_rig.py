"""Your own studio: a calibrated rig, per-view images or videos, pseudo labels, no 3D GT.

Data layout (any names; paths relative to ``data_root`` when it is given)::

    data/my_rig/
      calibration.json            rig file (selfpose3d_mm/io/calibration/rig_file.py) or
                                  any format load_cameras() reads (Panoptic,
                                  Shelf/Campus, OpenCV YAML)
      images/<view>/000123.jpg    per-view frames ...      images='images/{view}/{frame:06d}.jpg'
      videos/<view>.mp4           ... or per-view videos   videos='videos/{view}.mp4'
      pseudo_labels.json          2D poses per frame and view (tools/pseudo_label.py),
                                  frame keys "{frame:08d}", views = the camera names
      poses3d.json                optional 3D GT for evaluation
                                  (selfpose3d_mm/io/poses3d.py)

Frames. A frame number is an integer shared by all views (:mod:`.frame_sources`: image
templates, image folders, videos). The frames are those of the pseudo-label file (keys
``f"{f:08d}"``), else of the image folders/templates (present in every view), else of
the videos (the shortest), else ``range(*frame_range)``; then those in
``frame_range = (start, stop)`` (half-open) are kept, then every ``interval``-th.

Modes. With ``images`` the samples carry ``img_paths`` (load them with
``LoadMultiViewImages`` in the pipeline); with ``videos`` the dataset decodes the frames
itself (``mmcv.VideoReader``, one reader per view and worker) and the samples carry
``img`` (C RGB arrays: no loading transform in the pipeline); with neither, or with
``with_images=False``, it is heatmap-input mode (the network renders its input heatmaps
from the pseudo poses: no images read at all).

The capture space is stated by the config (``space_center`` and ``space_size``;
``python tools/estimate_space.py CALIB --pseudo-labels F`` estimates it,
:func:`selfpose3d_mm.apis.capture_space.estimate_capture_space`). Without it the dataset
takes the network's root cube (``root_cube_space``) and logs how to estimate a fitted one;
with both, it warns when its space sticks out of the root cube.
"""
from __future__ import annotations

import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import print_log
from mmpose.registry import DATASETS

from selfpose3d_mm.io import PseudoLabelError, load_cameras, load_poses3d, load_pseudo_labels
from selfpose3d_mm.skeleton import PANOPTIC15_NAMES
from .base_multiview import BaseMultiViewDataset
from .frame_sources import ImageFrames, VideoFrames, view_paths
from .pseudo_poses import empty_pseudo_poses, frame_pseudo_poses

__all__ = ['CustomRigDataset']


@DATASETS.register_module()
class CustomRigDataset(BaseMultiViewDataset):
    """A user's own calibrated multi-view studio (see the module docstring).

    Args:
        calibration: calibration file (rig file, Panoptic, Shelf/Campus, OpenCV YAML).
        pseudo_labels: pseudo-label file (``selfpose3d_mm/pseudo_labels``); its ``views``
            must be the calibration's cameras (or include ``views``).
        images: ``'{view}/{frame:06d}.jpg'``-style template, or ``dict(view=folder or
            template)``.
        videos: ``'{view}.mp4'``-style template, or ``dict(view=path)``.
        gt_3d: optional 3D GT file (evaluation). In ``test_mode`` only its frames are
            used.
        views: camera names to use, in this order (default: all of the calibration).
        calibration_format, calibration_kwargs: ``fmt`` and loader arguments of
            :func:`~selfpose3d_mm.io.load_cameras` (e.g. ``image_size`` for
            Shelf/Campus files).
        frame_range: ``(start, stop)`` frame numbers kept (half-open; None: all).
        interval: keep every ``interval``-th frame.
        with_images: ``False`` forces heatmap-input mode (no image read).
        space_center, space_size: the capture space (mm); both None: the root cube's.
        root_cube_space: ``dict(space_center, space_size)`` of the network's root cube:
            the space when none is given, else a warning with the lines to paste is
            logged when it does not contain the space.
        sequence: name of the recording (sample ``sequence``).
        kwargs: :class:`BaseMultiViewDataset` / mmengine ``BaseDataset`` arguments
            (``data_root``, ``pipeline``, ``test_mode``, ...).
    """

    PSEUDO_KEY = '{frame:08d}'

    def __init__(self, calibration: str, pseudo_labels: Optional[str] = None,
                 images: Union[str, Dict[str, str], None] = None,
                 videos: Union[str, Dict[str, str], None] = None,
                 gt_3d: Optional[str] = None, views: Optional[Sequence[str]] = None,
                 calibration_format: Optional[str] = None,
                 calibration_kwargs: Optional[dict] = None,
                 frame_range: Optional[Sequence[Optional[int]]] = None, interval: int = 1,
                 with_images: bool = True,
                 space_center: Optional[Sequence[float]] = None,
                 space_size: Optional[Sequence[float]] = None,
                 root_cube_space: Optional[dict] = None,
                 sequence: str = 'custom_rig', **kwargs):
        root = kwargs.get('data_root') or ''
        self._root = root
        self.calibration = self._path(calibration)
        self.pseudo_label_path = self._path(pseudo_labels) if pseudo_labels else None
        self.gt_path = self._path(gt_3d) if gt_3d else None
        self.sequence = str(sequence)
        self.interval = int(interval)
        if self.interval < 1:
            raise ValueError(f'CustomRigDataset: interval must be >= 1, got {interval}')
        self.frame_range = None if frame_range is None else tuple(frame_range)
        if self.frame_range is not None and len(self.frame_range) != 2:
            raise ValueError(f'CustomRigDataset: frame_range must be (start, stop), got '
                             f'{frame_range}')
        if images is not None and videos is not None:
            raise ValueError('CustomRigDataset: give `images` or `videos`, not both')
        if not osp.isfile(self.calibration):
            raise FileNotFoundError(
                f'CustomRigDataset: calibration file not found at {self.calibration} '
                '(calibration): write your rig there (tools/convert_calibration.py, or by '
                'hand: selfpose3d_mm/io/calibration/rig_file.py documents the format)')
        cams = load_cameras(self.calibration, calibration_format,
                            **(calibration_kwargs or {}))
        names = cams.names or [str(i) for i in range(cams.num_views)]
        if views is not None:
            views = [str(v) for v in views]
            missing = [v for v in views if v not in names]
            if missing:
                raise ValueError(f'CustomRigDataset: views {missing} (views) are not '
                                 f'cameras of {self.calibration} (it has {names})')
            cams = cams.select_views([names.index(v) for v in views])
            names = views
        self.cameras = cams
        self.views = list(names)
        self.labels = self._load_labels(views is not None)
        self.gt = load_poses3d(self.gt_path) if self.gt_path else None
        for key in self.gt or ():
            if not re.fullmatch(r'\d+', key) or key != self.PSEUDO_KEY.format(frame=int(key)):
                raise ValueError(f'{self.gt_path}: frames[{key}]: custom-rig frame keys are '
                                 'frame numbers written "{frame:08d}" (e.g. "00000012")')
        self.with_images = bool(with_images)
        self.images = None if images is None else ImageFrames(self._view_paths(images,
                                                                               'images'))
        self.videos = None if videos is None else VideoFrames(self._view_paths(videos,
                                                                               'videos'))
        test_mode = bool(kwargs.get('test_mode', False))
        self.frames = self._select_frames(test_mode)
        if not self.frames:
            raise ValueError(f'CustomRigDataset: no frame left for {self.calibration} '
                             f'(frame_range={self.frame_range}, interval={self.interval})')
        if (space_center is None) != (space_size is None):
            raise ValueError('CustomRigDataset: give both space_center and space_size, '
                             'or neither (the root cube\'s)')
        space_given = space_center is not None
        if not space_given:
            space_center, space_size = self._root_cube_as_space(root_cube_space)
        super().__init__(space_center=space_center, space_size=space_size, **kwargs)
        if root_cube_space is not None and space_given:
            self._check_root_cube(root_cube_space)

    # ------------------------------------------------------------------ set-up
    def _path(self, p: str) -> str:
        p = str(p)
        return p if osp.isabs(p) or not self._root else osp.join(self._root, p)

    def _load_labels(self, subset: bool):
        if self.pseudo_label_path is None:
            return None
        labels = load_pseudo_labels(self.pseudo_label_path,
                                    num_joints=len(PANOPTIC15_NAMES))
        file_views = list(labels.views)
        ok = set(self.views) <= set(file_views) if subset else (
            sorted(self.views) == sorted(file_views))
        if not ok:
            raise PseudoLabelError(
                f'CustomRigDataset: the cameras of the calibration {self.calibration} '
                f'{self.views} do not match field `views` of the pseudo-label file '
                f'{self.pseudo_label_path} {file_views}: the file needs one entry per '
                'camera, named as in the calibration')
        labels = labels.subset_views(self.views)
        if labels.image_sizes is not None:
            sizes = self.cameras.image_size.double().cpu().numpy()
            bad = [v for v, a, b in zip(self.views, sizes, labels.image_sizes)
                   if not np.allclose(a, b)]
            if bad:
                raise PseudoLabelError(
                    f'CustomRigDataset: views {bad}: field `image_sizes` of the pseudo-label '
                    f'file {self.pseudo_label_path} ({labels.image_sizes.tolist()}) differs '
                    f'from the image sizes of the calibration {self.calibration} '
                    f'({sizes.tolist()}): were the labels computed on resized images?')
        for key in labels.keys():
            if not re.fullmatch(r'\d+', key) or key != self.PSEUDO_KEY.format(frame=int(key)):
                raise PseudoLabelError(
                    f'{self.pseudo_label_path}: frames[{key}]: custom-rig frame keys are '
                    'frame numbers written "{frame:08d}" (e.g. "00000012")')
        return labels

    def _view_paths(self, spec, field: str) -> Dict[str, str]:
        """view → folder or template (``images``/``videos`` of the config)."""
        return view_paths(spec, self.views, field, self._path, self.calibration)

    def _select_frames(self, test_mode: bool) -> List[int]:
        if self.labels is not None:
            frames = sorted(int(k) for k in self.labels.keys())
        elif self.images is not None:
            frames = self.images.common_frames(self.views)
            if not frames:
                raise FileNotFoundError(f'CustomRigDataset: no frame has an image in every '
                                        f'view (images: {self.images.paths})')
        elif self.videos is not None:
            frames = list(range(self.videos.length(self.views)))
        elif self.gt is not None:
            frames = sorted(int(k) for k in self.gt)
        elif self.frame_range is not None and self.frame_range[1] is not None:
            frames = list(range(int(self.frame_range[0] or 0), int(self.frame_range[1])))
        else:
            raise ValueError('CustomRigDataset: nothing to take the frames from: give '
                             'pseudo_labels, images, videos, gt_3d or frame_range')
        if self.images is not None and self.labels is not None and self.with_images:
            folders = self.images.folder_views(self.views)
            if folders:  # folder listings are known: drop frames lacking an image
                have = set(self.images.common_frames(folders))
                lost = [f for f in frames if f not in have]
                if lost:
                    print_log(f'CustomRigDataset: {len(lost)} pseudo-labelled frames have '
                              f'no image in every view and are skipped (first: {lost[:5]})',
                              logger='current', level=30)
                frames = [f for f in frames if f in have]
        if self.videos is not None and self.labels is not None and self.with_images:
            n = self.videos.length(self.views)
            if frames and frames[-1] >= n:
                print_log(f'CustomRigDataset: pseudo-labelled frames >= {n} are past the end '
                          'of the shortest video and are skipped', logger='current',
                          level=30)
            frames = [f for f in frames if f < n]
        if self.gt is not None and test_mode:
            frames = [f for f in frames if self.PSEUDO_KEY.format(frame=f) in self.gt]
        if self.frame_range is not None:
            start, stop = self.frame_range
            frames = [f for f in frames if (start is None or f >= start) and
                      (stop is None or f < stop)]
        return frames[::self.interval]

    def _root_cube_as_space(self, cube: Optional[dict]):
        """The network's root cube as the capture space (none was given)."""
        if cube is None:
            raise ValueError(
                f'CustomRigDataset: no capture space for {self.calibration}: set '
                'space_center and space_size (python tools/estimate_space.py '
                f'{self.calibration} --pseudo-labels PSEUDO_LABELS prints them), or '
                'root_cube_space (the network\'s root cube)')
        center = tuple(float(v) for v in cube['space_center'])
        size = tuple(float(v) for v in cube['space_size'])
        print_log(f'CustomRigDataset: no capture space given: the network\'s root cube '
                  f'(center {center}, size {size}) is used. A space fitted to the rig: '
                  f'python tools/estimate_space.py {self.calibration}'
                  + (f' --pseudo-labels {self.pseudo_label_path}'
                     if self.pseudo_label_path else '')
                  + ' (paste its lines into the config)', logger='current')
        return center, size

    def _check_root_cube(self, cube: dict):
        c = np.asarray(cube['space_center'], np.float64)
        s = np.asarray(cube['space_size'], np.float64)
        mine_c, mine_s = np.asarray(self.space_center), np.asarray(self.space_size)
        inside = ((c - s / 2 <= mine_c - mine_s / 2 + 1e-6).all()
                  and (c + s / 2 >= mine_c + mine_s / 2 - 1e-6).all())
        if not inside:
            print_log(f'CustomRigDataset: the network\'s root cube (center '
                      f'{tuple(c.tolist())}, size {tuple(s.tolist())}) does not contain '
                      f'this dataset\'s capture space (center {self.space_center}, size '
                      f'{self.space_size}): people outside the '
                      'cube cannot be found. Set in the config:\n'
                      f'space_center = {self.space_center}\nspace_size = {self.space_size}',
                      logger='current', level=30)

    # ------------------------------------------------------------------ samples
    def load_data_list(self) -> list:
        return [dict(frame=int(f)) for f in self.frames]

    def _pseudo(self, key: str):
        if self.labels is None or key not in self.labels:
            return empty_pseudo_poses(len(self.views), self.num_keypoints)
        return frame_pseudo_poses(self.labels, key, skeleton='panoptic15')

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        frame = info['frame']
        key = self.PSEUDO_KEY.format(frame=frame)
        kps, scores, boxes = self._pseudo(key)
        info.update(
            self._common_info(),
            frame_id=f'{self.sequence}/{key}',
            pseudo_key=key,  # where tools/pseudo_label.py stores this frame
            sequence=self.sequence,
            cameras=self.cameras,
            image_sizes=self.cameras.image_size.cpu().numpy().astype(np.float32),
            pseudo_keypoints=kps,
            pseudo_keypoint_scores=scores,
            pseudo_bbox_scores=boxes,
        )
        if self.gt is not None:
            J = self.num_keypoints
            gt, vis = self.gt.get(key, (np.zeros((0, J, 3), np.float32),
                                        np.zeros((0, J), bool)))
            info.update(gt_keypoints_3d=gt.copy(), gt_keypoints_3d_visible=vis.copy())
        if self.with_images and self.images is not None:
            info['img_paths'] = [self.images.path(v, frame) for v in self.views]
        elif self.with_images and self.videos is not None:
            info['img'] = self.videos.read(self.views, frame)
        return info
