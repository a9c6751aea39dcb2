"""Your own studio: a calibrated rig, per-view images or videos, pseudo labels, no 3D GT.

Data layout (any names; paths relative to ``data_root`` when it is given)::

    data/my_rig/
      calibration.json            rig file (selfpose3d_mm/geometry/rig_file.py) or any
                                  format load_cameras() reads (Panoptic, Shelf/Campus,
                                  OpenCV YAML)
      images/<view>/000123.jpg    per-view frames ...      images='images/{view}/{frame:06d}.jpg'
      videos/<view>.mp4           ... or per-view videos   videos='videos/{view}.mp4'
      pseudo_labels.json          2D poses per frame and view (tools/pseudo_label.py),
                                  frame keys "{frame:08d}", views = the camera names
      poses3d.json                optional 3D GT for evaluation (format below)

Frames. A frame number is an integer shared by all views: the image of frame ``f`` of
view ``v`` is ``template.format(view=v, frame=f)``, or, for ``images=dict(v=folder)``,
the file of that folder whose name's last integer is ``f`` (``img_000123.png``); for
videos ``f`` is the 0-based frame index. The frames are those of the pseudo-label file
(keys ``f"{f:08d}"``), else of the image folders/templates (present in every view), else
of the videos (the shortest), else ``range(*frame_range)``; then those in
``frame_range = (start, stop)`` (half-open) are kept, then every ``interval``-th.

Modes. With ``images`` the samples carry ``img_paths`` (load them with
``LoadMultiViewImages`` in the pipeline); with ``videos`` the dataset decodes the frames
itself (``mmcv.VideoReader``, one reader per view and worker) and the samples carry
``img`` (C RGB arrays: no loading transform in the pipeline); with neither, or with
``with_images=False``, it is heatmap-input mode (the network renders its input heatmaps
from the pseudo poses: no images read at all).

3D GT file (optional; only for evaluation; frames without an entry have no GT)::

    {"format": "selfpose3d_mm/poses3d", "version": 1,
     "units": "mm", "world_up": "+z",      # the world of the file, as in rig files
     "skeleton": "panoptic15",             # or "coco17" (converted to Panoptic-15)
     "frames": {"00000123": [[[x, y, z, visible], ... J], ... P]}}   # visible optional

The capture space: given (``space_center`` and ``space_size``), or estimated from the
cameras and the pseudo labels (:func:`~.capture_space.estimate_capture_space`) and logged
with the config lines to paste (``tools/estimate_space.py`` prints the same).
"""
from __future__ import annotations

import glob
import os
import os.path as osp
import re
import string
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import print_log
from mmpose.registry import DATASETS

from selfpose3d_mm.geometry import load_cameras
from selfpose3d_mm.geometry.rig_file import RIG_UNITS, WORLD_UP_AXES, to_internal_points
from .base_multiview import BaseMultiViewDataset
from .joint_mappings import coco17_to_panoptic15
from .pseudo_labels import PseudoLabelError, empty_pseudo_poses, load_pseudo_labels
from selfpose3d_mm.utils import load_json_document

__all__ = ['CustomRigDataset', 'load_poses3d', 'POSES3D_FORMAT']

POSES3D_FORMAT = 'selfpose3d_mm/poses3d'
_IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


def load_poses3d(path: str, num_joints: int = 15) -> Dict[str, tuple]:
    """Read a 3D GT file (format in the module docstring) into the internal world.

    Returns:
        frame key → ((P, 15, 3) float32 world mm, (P, 15) bool visible).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'3D GT file not found: {path} (gt_3d)')
    data = load_json_document(path, POSES3D_FORMAT)
    for key, allowed in (('units', RIG_UNITS), ('world_up', WORLD_UP_AXES),
                         ('skeleton', ('panoptic15', 'coco17'))):
        if data.get(key) not in allowed:
            raise ValueError(f'{path}: field `{key}` must be one of {list(allowed)}, got '
                             f'{data.get(key)!r}')
    J = 15 if data['skeleton'] == 'panoptic15' else 17
    frames = data.get('frames')
    if not isinstance(frames, dict):
        raise ValueError(f'{path}: field `frames` must be an object keyed by frame')
    out = {}
    for key, people in frames.items():
        where = f'{path}: frames[{key}]'
        try:
            a = np.asarray(people, np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f'{where}: not a numeric (P, {J}, 3|4) array ({e})') from None
        if a.size == 0:
            a = a.reshape(0, J, 4)
        if a.ndim != 3 or a.shape[1] != J or a.shape[2] not in (3, 4):
            raise ValueError(f'{where}: expected shape (P, {J}, 3|4), got {a.shape}')
        if not np.isfinite(a).all():
            raise ValueError(f'{where}: non-finite values (NaN or inf)')
        vis = a[..., 3] > 0 if a.shape[2] == 4 else np.ones(a.shape[:2], bool)
        xyz = to_internal_points(a[..., :3], data['units'], data['world_up'])
        if J == 17:
            xyz, vis = coco17_to_panoptic15(xyz, vis)
        out[str(key)] = (xyz[:, :num_joints].astype(np.float32), vis[:, :num_joints])
    return out


def _template_fields(template: str) -> List[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]


def _template_frames(template: str, view: str) -> Dict[int, str]:
    """Frame number → path of the files matching ``template`` for ``view``."""
    pattern, regex = '', ''
    for literal, field, spec, _ in string.Formatter().parse(template):
        pattern += glob.escape(literal)
        regex += re.escape(literal)
        if field == 'view':
            pattern += glob.escape(format(view, spec or ''))
            regex += re.escape(format(view, spec or ''))
        elif field == 'frame':
            pattern += '*'
            regex += r'(\d+)'
        elif field is not None:
            raise ValueError(f'image/video template {template!r}: unknown field {{{field}}} '
                             '(use {view} and {frame[:spec]})')
    rx = re.compile(regex + r'\Z')
    out = {}
    for p in glob.glob(pattern):
        m = rx.match(p)
        if m:
            out[int(m.group(1))] = p
    return out


def _folder_frames(folder: str, view: str) -> Dict[int, str]:
    """Frame number (last integer of the file name) → image path, for one folder."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'CustomRigDataset: image folder of view {view!r} not '
                                f'found: {folder} (images)')
    out: Dict[int, str] = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = osp.splitext(name)
        if ext.lower() not in _IMAGE_EXTS:
            continue
        nums = re.findall(r'\d+', stem)
        if not nums:
            raise ValueError(f'CustomRigDataset: {osp.join(folder, name)} has no frame '
                             'number in its name (images)')
        f = int(nums[-1])
        if f in out:
            raise ValueError(f'CustomRigDataset: {out[f]} and {osp.join(folder, name)} '
                             f'both hold frame {f} of view {view!r} (images)')
        out[f] = osp.join(folder, name)
    return out


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
            :func:`~selfpose3d_mm.geometry.load_cameras` (e.g. ``image_size`` for
            Shelf/Campus files).
        frame_range: ``(start, stop)`` frame numbers kept (half-open; None: all).
        interval: keep every ``interval``-th frame.
        with_images: ``False`` forces heatmap-input mode (no image read).
        space_center, space_size: the capture space (mm); both None: estimated.
        space_estimate: options of :func:`~.capture_space.estimate_capture_space`.
        root_cube_space: ``dict(space_center, space_size)`` of the network's root cube
            when the config cannot give it this dataset's space (an estimated one): a
            warning with the lines to paste is logged when it does not contain it.
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
                 space_estimate: Optional[dict] = None,
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
                'hand: selfpose3d_mm/geometry/rig_file.py documents the format)')
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
        self._images = self._sources(images, 'images') if images is not None else None
        self._videos = self._sources(videos, 'videos') if videos is not None else None
        self._readers: Dict[str, object] = {}
        self._image_index: Dict[str, Dict[int, str]] = {}
        test_mode = bool(kwargs.get('test_mode', False))
        self.frames = self._select_frames(test_mode)
        if not self.frames:
            raise ValueError(f'CustomRigDataset: no frame left for {self.calibration} '
                             f'(frame_range={self.frame_range}, interval={self.interval})')
        if (space_center is None) != (space_size is None):
            raise ValueError('CustomRigDataset: give both space_center and space_size, '
                             'or neither (estimated)')
        self.space_estimate = None
        if space_center is None:
            space_center, space_size = self._estimate_space(space_estimate or {})
        super().__init__(space_center=space_center, space_size=space_size, **kwargs)
        if root_cube_space is not None:
            self._check_root_cube(root_cube_space)

    # ------------------------------------------------------------------ set-up
    def _path(self, p: str) -> str:
        p = str(p)
        return p if osp.isabs(p) or not self._root else osp.join(self._root, p)

    def _load_labels(self, subset: bool):
        if self.pseudo_label_path is None:
            return None
        labels = load_pseudo_labels(self.pseudo_label_path, num_joints=15)
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

    def _sources(self, spec, field: str) -> Dict[str, str]:
        """view → folder or template (``images``/``videos`` of the config)."""
        if isinstance(spec, str):
            if 'view' not in _template_fields(spec):
                raise ValueError(f'CustomRigDataset: the {field} template {spec!r} needs a '
                                 '{view} field (or give a dict view -> path)')
            return {v: self._path(spec.replace('{view}', v)) for v in self.views}
        spec = {str(k): v for k, v in dict(spec).items()}
        missing = [v for v in self.views if v not in spec]
        if missing:
            raise ValueError(f'CustomRigDataset: {field} has no entry for views {missing} '
                             f'(cameras of {self.calibration}: {self.views})')
        return {v: self._path(spec[v]) for v in self.views}

    def _images_of(self, view: str) -> Optional[Dict[int, str]]:
        src = self._images[view]
        if view not in self._image_index:
            if 'frame' in _template_fields(src):
                self._image_index[view] = _template_frames(src, view)
            else:
                self._image_index[view] = _folder_frames(src, view)
        return self._image_index[view]

    def _select_frames(self, test_mode: bool) -> List[int]:
        if self.labels is not None:
            frames = sorted(int(k) for k in self.labels.keys())
        elif self._images is not None:
            sets = [set(self._images_of(v)) for v in self.views]
            frames = sorted(set.intersection(*sets))
            if not frames:
                raise FileNotFoundError(f'CustomRigDataset: no frame has an image in every '
                                        f'view (images: {self._images})')
        elif self._videos is not None:
            frames = list(range(self._video_length()))
        elif self.gt is not None:
            frames = sorted(int(k) for k in self.gt)
        elif self.frame_range is not None and self.frame_range[1] is not None:
            frames = list(range(int(self.frame_range[0] or 0), int(self.frame_range[1])))
        else:
            raise ValueError('CustomRigDataset: nothing to take the frames from: give '
                             'pseudo_labels, images, videos, gt_3d or frame_range')
        if self._images is not None and self.labels is not None and self.with_images:
            folders = [v for v in self.views
                       if 'frame' not in _template_fields(self._images[v])]
            if folders:  # folder listings are known: drop frames lacking an image
                have = set.intersection(*[set(self._images_of(v)) for v in folders])
                lost = [f for f in frames if f not in have]
                if lost:
                    print_log(f'CustomRigDataset: {len(lost)} pseudo-labelled frames have '
                              f'no image in every view and are skipped (first: {lost[:5]})',
                              logger='current', level=30)
                frames = [f for f in frames if f in have]
        if self._videos is not None and self.labels is not None and self.with_images:
            n = self._video_length()
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

    def _estimate_space(self, options: dict):
        from .capture_space import estimate_capture_space, format_space_config
        keys = None
        if self.labels is not None:
            keys = [self.PSEUDO_KEY.format(frame=f) for f in self.frames]
        est = estimate_capture_space(self.cameras, self.labels, keys, **options)
        self.space_estimate = est
        print_log(f'CustomRigDataset: capture space estimated from the '
                  f'{est["method"].replace("+", " and the ")} of {self.calibration}:\n'
                  f'{format_space_config(est)}\n(paste these lines into the config to fix '
                  'it; tools/estimate_space.py prints them too)', logger='current')
        return est['space_center'], est['space_size']

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

    def _reader(self, view: str):
        reader = self._readers.get(view)
        if reader is None:
            import mmcv
            path = self._videos[view]
            if not osp.isfile(path):
                raise FileNotFoundError(f'CustomRigDataset: video of view {view!r} not '
                                        f'found: {path} (videos)')
            reader = mmcv.VideoReader(path)
            self._readers[view] = reader
        return reader

    def _video_length(self) -> int:
        """Frames of the shortest video (readers released: workers open their own)."""
        n = min(self._reader(v).frame_cnt for v in self.views)
        for r in self._readers.values():
            r.vcap.release()
        self._readers = {}
        return n

    def __getstate__(self):  # video readers stay in their process
        state = self.__dict__.copy()
        state['_readers'] = {}
        return state

    # ------------------------------------------------------------------ samples
    def load_data_list(self) -> list:
        return [dict(frame=int(f)) for f in self.frames]

    def _pseudo(self, key: str):
        if self.labels is None or key not in self.labels:
            return empty_pseudo_poses(len(self.views), self.num_keypoints)
        return self.labels.frame(key, skeleton='panoptic15')

    def _video_frames(self, frame: int) -> List[np.ndarray]:
        imgs = []
        for v in self.views:
            img = self._reader(v).get_frame(frame)
            if img is None:
                raise ValueError(f'CustomRigDataset: cannot decode frame {frame} of view '
                                 f'{v!r} ({self._videos[v]})')
            imgs.append(np.ascontiguousarray(img[..., ::-1]))  # BGR -> RGB
        return imgs

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
        if self.with_images and self._images is not None:
            paths = []
            for v in self.views:
                src = self._images[v]
                if 'frame' in _template_fields(src):
                    paths.append(src.format(frame=frame))
                else:
                    paths.append(self._images_of(v)[frame])
            info['img_paths'] = paths
        elif self.with_images and self._videos is not None:
            info['img'] = self._video_frames(frame)
        return info
