"""Where the frames of a custom rig come from: per-view image folders or file templates,
or per-view videos.

Frame numbers. The image of frame ``f`` of view ``v`` is ``template.format(view=v,
frame=f)``, or, for a folder, the file whose name's last integer is ``f``
(``img_000123.png``); for videos ``f`` is the 0-based frame index.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
import re
import string
from typing import Callable, Dict, Iterable, List, Sequence

import mmcv
import numpy as np

__all__ = ['IMAGE_EXTS', 'template_fields', 'template_frames', 'folder_frames',
           'view_paths', 'ImageFrames', 'VideoFrames']

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


def template_fields(template: str) -> List[str]:
    """The replacement fields of a ``str.format`` template (``['view', 'frame']``)."""
    return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]


def template_frames(template: str, view: str) -> Dict[int, str]:
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


def folder_frames(folder: str, view: str) -> Dict[int, str]:
    """Frame number (last integer of the file name) → image path, for one folder."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'CustomRigDataset: image folder of view {view!r} not '
                                f'found: {folder} (images)')
    out: Dict[int, str] = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = osp.splitext(name)
        if ext.lower() not in IMAGE_EXTS:
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


def view_paths(spec, views: Sequence[str], field: str, resolve: Callable[[str], str],
               calibration: str = '', owner: str = 'CustomRigDataset') -> Dict[str, str]:
    """view → folder, template or file from the ``images``/``videos`` argument: a
    ``'{view}...'`` template string or a dict with an entry per view; ``resolve`` maps a
    path to its location (e.g. under ``data_root``); ``calibration`` (the file naming the
    views) and ``owner`` are for the messages."""
    if isinstance(spec, str):
        if 'view' not in template_fields(spec):
            raise ValueError(f'{owner}: the {field} template {spec!r} needs a '
                             '{view} field (or give a dict view -> path)')
        return {v: resolve(spec.replace('{view}', v)) for v in views}
    spec = {str(k): v for k, v in dict(spec).items()}
    missing = [v for v in views if v not in spec]
    if missing:
        raise ValueError(f'{owner}: {field} has no entry for views {missing} '
                         f'(cameras of {calibration}: {list(views)})')
    return {v: resolve(spec[v]) for v in views}


class ImageFrames:
    """Per-view image folders or ``{frame}`` templates (``view → path``)."""

    def __init__(self, paths: Dict[str, str]):
        self.paths = dict(paths)
        self._index: Dict[str, Dict[int, str]] = {}

    def is_template(self, view: str) -> bool:
        return 'frame' in template_fields(self.paths[view])

    def frames_of(self, view: str) -> Dict[int, str]:
        """Frame number → image path of the files present for ``view`` (listed once)."""
        if view not in self._index:
            src = self.paths[view]
            self._index[view] = (template_frames(src, view) if self.is_template(view)
                                 else folder_frames(src, view))
        return self._index[view]

    def common_frames(self, views: Iterable[str]) -> List[int]:
        """Sorted frames with an image in every one of ``views``."""
        sets = [set(self.frames_of(v)) for v in views]
        return sorted(set.intersection(*sets)) if sets else []

    def folder_views(self, views: Iterable[str]) -> List[str]:
        """The views given as folders (whose files are known before reading a frame)."""
        return [v for v in views if not self.is_template(v)]

    def path(self, view: str, frame: int) -> str:
        """The image of ``frame`` (templates are formatted, folders looked up)."""
        if self.is_template(view):
            return self.paths[view].format(frame=frame)
        return self.frames_of(view)[frame]


class VideoFrames:
    """Per-view videos (``view → file``), decoded with ``mmcv.VideoReader``: one reader
    per view and process (readers are not pickled: each worker opens its own)."""

    def __init__(self, paths: Dict[str, str], owner: str = 'CustomRigDataset'):
        self.paths = dict(paths)
        self.owner = owner
        self._readers: Dict[str, mmcv.VideoReader] = {}

    @property
    def open_readers(self) -> int:
        return len(self._readers)

    def reader(self, view: str) -> mmcv.VideoReader:
        reader = self._readers.get(view)
        if reader is None:
            path = self.paths[view]
            if not osp.isfile(path):
                raise FileNotFoundError(f'{self.owner}: video of view {view!r} not '
                                        f'found: {path} (videos)')
            reader = mmcv.VideoReader(path)
            self._readers[view] = reader
        return reader

    def length(self, views: Iterable[str]) -> int:
        """Frames of the shortest video (readers released: workers open their own)."""
        n = min(self.reader(v).frame_cnt for v in views)
        self.release()
        return n

    def release(self):
        for r in self._readers.values():
            r.vcap.release()
        self._readers = {}

    def read(self, views: Iterable[str], frame: int) -> List[np.ndarray]:
        """The RGB frames of ``views`` at ``frame``."""
        imgs = []
        for v in views:
            img = self.reader(v).get_frame(frame)
            if img is None:
                raise ValueError(f'{self.owner}: cannot decode frame {frame} of view '
                                 f'{v!r} ({self.paths[v]})')
            imgs.append(np.ascontiguousarray(img[..., ::-1]))  # BGR -> RGB
        return imgs

    def __getstate__(self):  # video readers stay in their process
        state = self.__dict__.copy()
        state['_readers'] = {}
        return state
