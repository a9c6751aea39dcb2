"""2D pseudo labels of a multi-view dataset: an MMDet person detector, then an MMPose
top-down COCO-17 model, on every view of every frame (``tools/pseudo_label.py``).

The output is the pseudo-label file of :mod:`selfpose3d_mm.io.pseudo_labels`
(skeleton ``coco17``, original-image pixels). It keeps every person box above the
detector threshold with its *raw* box score and its keypoint scores in [0, 1]: the soft and the
hard label sets of SelfPose3d are selected from these scores by the model at training time
(``SelfPose3dObjective`` ``box_thr`` / ``hard_keypoint_thr`` of
:class:`~selfpose3d_mm.models.detectors.selfsup`), so one file serves both.

Resumption. Finished frames are appended to a journal ``<out>.partial.jsonl`` (one JSON
line per frame, flushed and fsynced). Its first line records the settings (dataset config,
split, model configs and checkpoints, threshold, batch size, device type, cameras); a
restart with other settings is refused. A restart re-reads the journal (a torn last line
from a kill mid-write is dropped), recomputes only the missing frames, and writes the same
final file, byte for byte: batches are fixed groups of ``batch_size`` consecutive frames
(a group with any missing frame is recomputed whole), so the numerics of a frame never
depend on where a run stopped. The final file is written atomically
(:func:`~selfpose3d_mm.io.pseudo_labels.save_pseudo_labels`), then the journal is
removed.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import Compose as EngineCompose
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.utils import ProgressBar
from mmpose.registry import DATASETS

from selfpose3d_mm.datasets.transforms import LoadMultiViewImages
from selfpose3d_mm.io import PseudoLabelError, load_pseudo_labels, save_pseudo_labels

__all__ = ['DEFAULT_DET_CONFIG', 'DEFAULT_DET_CHECKPOINT', 'DEFAULT_POSE_CONFIG',
           'DEFAULT_POSE_CHECKPOINT', 'PersonDetector', 'TopDownPose',
           'PseudoLabelJournal', 'resolve_config', 'build_unlabelled_dataset',
           'frame_key', 'load_frame_images', 'model_identity', 'sha256_of',
           'run_pseudo_labeling']

# The paper's pseudo labeller: Mask R-CNN person boxes + HRNet-w48 384x288 COCO keypoints.
DEFAULT_DET_CONFIG = 'mmdet::mask_rcnn/mask-rcnn_x101-32x4d_fpn_ms-poly-3x_coco.py'
DEFAULT_DET_CHECKPOINT = (
    'https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/'
    'mask_rcnn_x101_32x4d_fpn_mstrain-poly_3x_coco/'
    'mask_rcnn_x101_32x4d_fpn_mstrain-poly_3x_coco_20210524_201410-abcd7859.pth')
DEFAULT_POSE_CONFIG = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                       'td-hm_hrnet-w48_8xb32-210e_coco-384x288.py')
DEFAULT_POSE_CHECKPOINT = (
    'https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_hrnet-w48_8xb32-210e_coco-384x288-c161b7de_20220915.pth')

JOURNAL_FORMAT = 'selfpose3d_mm/pseudo_label_journal'
JOURNAL_VERSION = 1
NUM_COCO_JOINTS = 17


def resolve_config(spec: str) -> str:
    """A config path: an existing file, or ``'mmdet::rel/path.py'`` /
    ``'mmpose::rel/path.py'`` inside the installed package's ``.mim/configs``."""
    spec = str(spec)
    if osp.isfile(spec) or '::' not in spec:
        if not osp.isfile(spec):
            raise FileNotFoundError(f'config file not found: {spec}')
        return spec
    pkg, rel = spec.split('::', 1)
    root = osp.dirname(importlib.import_module(pkg).__file__)
    path = osp.join(root, '.mim', 'configs', rel)
    if not osp.isfile(path):
        raise FileNotFoundError(f'config {spec!r} not found in the installed {pkg} '
                                f'(looked at {path})')
    return path


def sha256_of(obj) -> str:
    """SHA-256 of the sorted-key JSON of ``obj`` (a run's settings, a config)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def model_identity(config: str, checkpoint: Optional[str]) -> dict:
    """What a journal compares to tell two models apart: the config's name and content
    hash, and the checkpoint's file name (OpenMMLab names carry a hash)."""
    cfg = Config.fromfile(config)
    return dict(config=osp.splitext(osp.basename(config))[0],
                config_sha256=sha256_of(cfg.to_dict()),
                checkpoint=osp.basename(str(checkpoint)) if checkpoint else None)


# ---------------------------------------------------------------------------- models
class PersonDetector:
    """An MMDet detector keeping the ``person`` boxes, batched over images.

    Args:
        config: mmdet config file; checkpoint: weights (path or URL; None: random).
        device: torch device. score_thr: keep boxes with score >= it.
    """

    def __init__(self, config: str, checkpoint: Optional[str], device: str = 'cpu',
                 score_thr: float = 0.5):
        # mmdet: optional heavy dependency, imported only when pseudo-labelling runs
        from mmdet.apis import init_detector
        from mmdet.utils import get_test_pipeline_cfg

        if checkpoint is None:
            torch.manual_seed(0)  # random weights (tests): the same ones on every run
        self.model = init_detector(config, checkpoint, device=device, palette='random')
        roi_head = getattr(self.model, 'roi_head', None)
        if getattr(roi_head, 'with_mask', False):
            roi_head.mask_head = None  # boxes only: they do not depend on the mask branch
        classes = [str(c).lower() for c in self.model.dataset_meta.get('classes', ())]
        if 'person' not in classes:
            raise ValueError(f'{config}: the detector has no `person` class '
                             f'(classes: {classes[:10]}...)')
        self.person = classes.index('person')
        self.score_thr = float(score_thr)
        pipeline = []
        for t in get_test_pipeline_cfg(self.model.cfg.copy()):
            t = dict(t)
            name = str(t['type']).split('.')[-1]
            if name == 'LoadAnnotations':
                continue  # no annotations at inference
            if name.startswith('LoadImage'):
                t = dict(type='mmdet.LoadImageFromNDArray')
            if 'meta_keys' in t:
                t['meta_keys'] = tuple(k for k in t['meta_keys'] if k != 'img_id')
            pipeline.append(t)
        with DefaultScope.overwrite_default_scope('mmdet'):
            self.pipeline = Compose(pipeline)

    @torch.no_grad()
    def __call__(self, images: Sequence[np.ndarray]) -> List[Tuple[np.ndarray, np.ndarray]]:
        """Person boxes of each image (one forward pass for all of them).

        Args:
            images: N BGR uint8 (H, W, 3) arrays.

        Returns:
            N pairs ``(bboxes (P, 4) float32 x1 y1 x2 y2 original px, scores (P,)
            float32)``, by decreasing score.
        """
        if not len(images):
            return []
        data = [self.pipeline(dict(img=img)) for img in images]
        batch = dict(inputs=[d['inputs'] for d in data],
                     data_samples=[d['data_samples'] for d in data])
        out = []
        for res in self.model.test_step(batch):
            pred = res.pred_instances
            keep = (pred.labels == self.person) & (pred.scores >= self.score_thr)
            boxes = pred.bboxes[keep].float().cpu().numpy().reshape(-1, 4)
            scores = pred.scores[keep].float().cpu().numpy().reshape(-1)
            order = np.argsort(-scores, kind='stable')
            out.append((np.ascontiguousarray(boxes[order]),
                        np.ascontiguousarray(scores[order])))
        return out


class TopDownPose:
    """An MMPose top-down COCO-17 model, batched over every box of every image.

    Args:
        config: mmpose config file; checkpoint: weights (path or URL; None: random).
        device: torch device.
    """

    def __init__(self, config: str, checkpoint: Optional[str], device: str = 'cpu'):

        # mmpose.apis loads mmpose's inferencers and mmdet: heavy, only when labelling runs
        from mmpose.apis import init_model
        if checkpoint is None:
            torch.manual_seed(0)  # random weights (tests): the same ones on every run
        self.model = init_model(config, checkpoint, device=device)
        J = int(self.model.dataset_meta.get('num_keypoints', -1))
        if J != NUM_COCO_JOINTS:
            raise ValueError(f'{config}: the pose model predicts {J} keypoints; the '
                             f'pseudo-label file stores the {NUM_COCO_JOINTS} COCO ones')
        with DefaultScope.overwrite_default_scope('mmpose'):
            self.pipeline = EngineCompose(self.model.cfg.test_dataloader.dataset.pipeline)

    @torch.no_grad()
    def __call__(self, images: Sequence[np.ndarray],
                 boxes: Sequence[np.ndarray]) -> List[np.ndarray]:
        """Keypoints of the boxes of each image (one forward pass for all boxes).

        Args:
            images: N BGR uint8 (H, W, 3) arrays; boxes: N (P_n, 4) x1 y1 x2 y2 px.

        Returns:
            N float32 (P_n, 17, 3) arrays: x, y (original px) and the raw score.
        """
        data = []
        for img, bb in zip(images, boxes):
            for box in np.asarray(bb, np.float32).reshape(-1, 4):
                data.append(self.pipeline(dict(img=img, bbox=box[None],
                                               bbox_score=np.ones(1, np.float32),
                                               **self.model.dataset_meta)))
        kps = np.zeros((len(data), NUM_COCO_JOINTS, 3), np.float32)
        if data:
            for i, res in enumerate(self.model.test_step(pseudo_collate(data))):
                kps[i, :, :2] = res.pred_instances.keypoints[0]
                kps[i, :, 2] = res.pred_instances.keypoint_scores[0]
        splits = np.cumsum([len(np.asarray(b).reshape(-1, 4)) for b in boxes])[:-1]
        return np.split(kps, splits) if len(boxes) else []


# ---------------------------------------------------------------------------- data
def build_unlabelled_dataset(cfg, split: str = 'train'):
    """The ``{split}_dataloader`` dataset of a config with its images and without pseudo
    labels (nothing to read yet) or pipeline (raw data infos)."""
    loader = cfg.get(f'{split}_dataloader')
    if not loader or not loader.get('dataset'):
        raise ValueError(f'{cfg.filename}: no {split}_dataloader.dataset to label')
    ds_cfg = loader['dataset'].copy()
    ds_cfg['pipeline'] = []
    if 'pseudo_labels' in ds_cfg:
        ds_cfg['pseudo_labels'] = None
    ds_cfg['with_images'] = True
    return DATASETS.build(ds_cfg), ds_cfg


def frame_key(info: dict) -> str:
    """The key of a frame in the pseudo-label file (``pseudo_key``, else ``frame_id``)."""
    return str(info.get('pseudo_key', info['frame_id']))


def _view_names(info: dict) -> List[str]:
    cams = info['cameras']
    return [str(n) for n in (cams.names or range(cams.num_views))]


def load_frame_images(info: dict) -> List[np.ndarray]:
    """The C BGR images of a data info (``img`` RGB arrays or ``img_paths``), checked
    against the calibrated image sizes (labels are in original pixels)."""
    if info.get('img') is not None:
        rgb = info['img']
        srcs = [f'{info["frame_id"]} view {v}' for v in _view_names(info)]
    elif info.get('img_paths') is not None:
        rgb = LoadMultiViewImages().transform(dict(info))['img']  # errors name the file
        srcs = list(info['img_paths'])
    else:
        raise ValueError(f'frame {info.get("frame_id")}: the dataset gives no images '
                         '(img / img_paths): configure its images or videos')
    imgs = [np.ascontiguousarray(np.asarray(im)[..., ::-1]) for im in rgb]
    sizes = np.asarray(info['image_sizes']).reshape(-1, 2)
    for src, img, (w, h) in zip(srcs, imgs, sizes):
        if img.shape[:2] != (int(round(h)), int(round(w))):
            raise ValueError(f'{src}: image is {img.shape[1]}x{img.shape[0]} px but the '
                             f'calibration says {int(w)}x{int(h)} (image_sizes)')
    return imgs


# ---------------------------------------------------------------------------- journal
class PseudoLabelJournal:
    """The progress journal ``<out>.partial.jsonl`` (see the module docstring).

    Line 1: ``{"journal": ..., "version": 1, "settings": {...}}``; then one line per
    finished frame: ``{"index": i, "key": k, "views": [{bboxes, bbox_scores,
    keypoints}, ...]}``.
    """

    def __init__(self, path: str, settings: dict):
        self.path = str(path)
        self.settings = json.loads(json.dumps(settings, default=str))
        self._file = None

    def open(self) -> Dict[int, dict]:
        """Read the finished frames (index -> line), cut a torn tail, check the settings,
        and open the journal for appending (a new one gets the header)."""
        done: Dict[int, dict] = {}
        good = 0  # bytes of the valid prefix
        if osp.isfile(self.path):
            with open(self.path, 'rb') as f:
                data = f.read()
            lines = data.split(b'\n')
            pos, records = 0, []
            for n, raw in enumerate(lines[:-1]):  # lines[-1]: unterminated tail
                try:
                    records.append(json.loads(raw))
                except ValueError:
                    if any(x.strip() for x in lines[n + 1:]):
                        raise PseudoLabelError(
                            f'{self.path}: line {n + 1} is corrupt and is not the last '
                            'one; delete the journal to start over') from None
                    break
                pos += len(raw) + 1
            if records:
                head = records[0]
                if head.get('journal') != JOURNAL_FORMAT or head.get('version') != \
                        JOURNAL_VERSION:
                    raise PseudoLabelError(f'{self.path}: line 1 is not a pseudo-label '
                                           'journal header; delete the file or choose '
                                           'another --out')
                self._check_settings(head.get('settings', {}))
                for n, rec in enumerate(records[1:], 2):
                    if not isinstance(rec, dict) or 'index' not in rec or \
                            'views' not in rec or 'key' not in rec:
                        raise PseudoLabelError(f'{self.path}: line {n}: not a frame record')
                    done[int(rec['index'])] = rec
                good = pos
        self._file = open(self.path, 'ab' if good else 'wb')
        if good:
            self._file.truncate(good)  # drop a torn last line
        else:
            self._file.truncate(0)
            self._write(dict(journal=JOURNAL_FORMAT, version=JOURNAL_VERSION,
                             settings=self.settings))
        return done

    def _check_settings(self, old: dict):
        diff = [k for k in sorted(set(old) | set(self.settings))
                if old.get(k) != self.settings.get(k)]
        if diff:
            lines = '\n'.join(f'  {k}: journal {old.get(k)!r}, now {self.settings.get(k)!r}'
                              for k in diff)
            raise PseudoLabelError(
                f'{self.path}: this unfinished run was started with other settings and '
                f'cannot be resumed with these ({", ".join(diff)} differ):\n{lines}\n'
                'Rerun with the same settings to resume, delete the journal (or pass '
                '--overwrite) to start over, or choose another --out.')

    def _write(self, record: dict):
        self._file.write(json.dumps(record, separators=(',', ':')).encode() + b'\n')
        self._file.flush()
        os.fsync(self._file.fileno())

    def append(self, index: int, key: str, views: List[dict]):
        self._write(dict(index=int(index), key=key, views=views))

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


def _entry(boxes: np.ndarray, scores: np.ndarray, kps: np.ndarray) -> dict:
    """One view's record: float32 lists (exact in JSON); raw keypoint scores clipped to [0, 1]."""
    kps = np.concatenate([kps[..., :2], np.clip(kps[..., 2:], 0.0, 1.0)], -1)
    return dict(bboxes=boxes.astype(np.float32).tolist(),
                bbox_scores=scores.astype(np.float32).tolist(),
                keypoints=kps.astype(np.float32).tolist())


# ---------------------------------------------------------------------------- driver
def run_pseudo_labeling(dataset, detector: Callable, pose: Callable, out: str,
                        settings: dict, models: dict, batch_size: int = 1,
                        on_frame: Optional[Callable[[int, str], None]] = None,
                        progress: bool = True, overwrite: bool = False) -> dict:
    """Label every frame of ``dataset`` and write the pseudo-label file ``out``.

    Args:
        dataset: a multi-view dataset whose data infos carry images (``img`` or
            ``img_paths``), ``cameras``, ``image_sizes`` and ``frame_id``.
        detector: images -> per image (bboxes, scores) (:class:`PersonDetector`).
        pose: (images, boxes) -> per image (P, 17, 3) (:class:`TopDownPose`).
        out: the output file; the journal is ``out + '.partial.jsonl'``.
        settings: what identifies the run (compared on resumption).
        models: provenance written to the file's ``models``.
        batch_size: frames per detector/pose batch (all their views at once).
        on_frame: called with (index, key) after each frame is journaled.
        progress: show a progress bar.
        overwrite: start over, discarding an existing journal or output.

    Returns:
        dict: ``num_frames``, ``num_persons`` (per view, summed over the frames) and
        ``complete`` (True when ``out`` was already complete: nothing was run).
    """
    out = str(out)
    journal_path = out + '.partial.jsonl'
    n = len(dataset)
    if n == 0:
        raise ValueError('the dataset has no frame to label')
    first = dataset.get_data_info(0)
    views = _view_names(first)
    image_sizes = np.asarray(first['image_sizes'], np.float64).reshape(-1, 2)
    settings = dict(settings, num_frames=n, views=views, batch_size=int(batch_size),
                    image_sizes=image_sizes.tolist())
    models = dict(models, settings_sha256=sha256_of(settings))
    if overwrite and osp.exists(journal_path):
        os.remove(journal_path)
    if osp.isfile(out) and not osp.exists(journal_path) and not overwrite:
        old = load_pseudo_labels(out).models.get('settings_sha256')
        if old == models['settings_sha256']:
            return dict(num_frames=n, num_persons=None, complete=True)
        raise PseudoLabelError(f'{out}: the file exists and was written with other '
                               'settings; pass --overwrite to replace it, or choose '
                               'another --out')
    journal = PseudoLabelJournal(journal_path, settings)
    done = journal.open()
    try:
        if any(i >= n for i in done):
            raise PseudoLabelError(f'{journal_path}: frame indices beyond the dataset\'s '
                                   f'{n} frames')
        B = max(1, int(batch_size))
        groups = [range(s, min(s + B, n)) for s in range(0, n, B)]
        todo = [g for g in groups if any(i not in done for i in g)]
        bar = None
        if progress and todo:
            bar = ProgressBar(sum(i not in done for g in todo for i in g))

        def load(group):
            infos = [first if i == 0 else dataset.get_data_info(i) for i in group]
            return infos, [load_frame_images(info) for info in infos]

        with ThreadPoolExecutor(1) as pool:  # read the next group while this one runs
            nxt = pool.submit(load, todo[0]) if todo else None
            for gi, group in enumerate(todo):
                infos, images = nxt.result()
                if gi + 1 < len(todo):
                    nxt = pool.submit(load, todo[gi + 1])
                flat = [img for imgs in images for img in imgs]
                dets = detector(flat)
                kps = pose(flat, [d[0] for d in dets])
                v = 0
                for i, info, imgs in zip(group, infos, images):
                    key = frame_key(info)
                    names = _view_names(info)
                    if names != views:
                        raise PseudoLabelError(
                            f'frame {key}: cameras {names} differ from those of the first '
                            f'frame {views}: one pseudo-label file holds one camera set')
                    entries = [_entry(dets[v + c][0], dets[v + c][1], kps[v + c])
                               for c in range(len(imgs))]
                    v += len(imgs)
                    if i in done:  # journaled before a restart: keep that record
                        if done[i]['key'] != key:
                            raise PseudoLabelError(
                                f'{journal_path}: frame {i} is {done[i]["key"]!r} in the '
                                f'journal but {key!r} in the dataset: the data changed; '
                                'delete the journal (or pass --overwrite) to start over')
                        continue
                    journal.append(i, key, entries)
                    done[i] = dict(index=i, key=key, views=entries)
                    if bar is not None:
                        bar.update()
                    if on_frame is not None:
                        on_frame(i, key)
        if bar is not None:
            bar.file.write('\n')
    finally:
        journal.close()
    frames = {}
    for i in range(n):
        key = done[i]['key']
        if key in frames:
            raise PseudoLabelError(f'{journal_path}: frame key {key!r} occurs twice '
                                   '(frames of the dataset must have distinct keys)')
        frames[key] = done[i]['views']
    labels = dict(skeleton='coco17', views=views, image_sizes=image_sizes.tolist(),
                  models=models, frames=frames)
    try:
        save_pseudo_labels(out, labels)
    except PseudoLabelError as e:
        raise PseudoLabelError(f'{e}\n(the finished frames are kept in {journal_path})'
                               ) from None
    os.remove(journal_path)
    persons = [sum(len(f[c]['bbox_scores']) for f in frames.values())
               for c in range(len(views))]
    return dict(num_frames=n, num_persons=dict(zip(views, persons)), complete=False)
