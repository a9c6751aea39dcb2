"""Multi-view 3D pose inference: calibrated views (images or videos) → 3D poses per frame.

mmpose ``Inferencer`` style: build once from a model config and a checkpoint, then call
on inputs; the call yields one result per frame and writes the files of ``out_dir``::

    from selfpose3d_mm.apis import MultiViewPoseInferencer
    inferencer = MultiViewPoseInferencer('configs/selfpose3d_synthetic_images.py',
                                         'work_dirs/demo_images/epoch_5.pth', device='cpu')
    # your rig: a calibration file + one image folder (or video) per camera
    for r in inferencer(calibration='calib.json', images=dict(cam0='img/cam0', ...),
                        out_dir='demo_out'):
        print(r['frame_id'], r['scores'], r['keypoints_3d'].shape)   # (P, 15, 3) mm
    # or a split of the config's own dataset
    results = inferencer.run('test', out_dir='demo_out', max_frames=10)

Inputs (the first argument, or keywords):

* a custom rig: ``calibration`` (any file :func:`~selfpose3d_mm.io.load_cameras`
  reads: rig file, Panoptic, Shelf/Campus, OpenCV YAML; ``calibration_format``,
  ``calibration_kwargs``), with ``images`` (``dict(view=folder)`` or a
  ``'{view}/{frame:06d}.jpg'`` template) or ``videos`` (``dict(view=file)`` or a
  template), optional ``pseudo_labels``, ``views``, ``frame_range``, ``interval``: read
  by :class:`~selfpose3d_mm.datasets.CustomRigDataset` (frame discovery, video decoding);
* ``'test'`` / ``'val'`` / ``'train'``: that split of the config's dataset;
* a dataset config dict, or a built multi-view dataset.

Models. An image-path model (``heatmap_net_2d`` set) needs only the images. A
heatmap-input model renders its input heatmaps from 2D poses, so a custom rig needs a
pseudo-label file (``pseudo_labels``, :mod:`selfpose3d_mm.io.pseudo_labels`);
datasets of a config bring their own 2D poses.

Each frame goes through the config's test pipeline (``test_dataloader.dataset.pipeline``;
images are loaded here, once, and kept for drawing), ``multiview_collate`` and the
model's ``test_step`` (data preprocessor + ``predict``), ``batch_size`` frames at a time.

Outputs in ``out_dir`` (schemas in :mod:`selfpose3d_mm.io.predictions`): ``poses3d.json``,
``poses3d.npz`` (both atomic), ``vis/<frame>_views.jpg`` (every view with the projected
skeletons, through the full camera model incl. distortion) and ``vis/<frame>_3d.jpg``
(3D skeletons, capture space and camera frustums), and with ``video=True``
``poses3d.mp4`` (views and 3D side by side, ``cv2.VideoWriter``).
"""
from __future__ import annotations

import copy
import os
import os.path as osp
import re
import time
from typing import Dict, Iterator, List, Optional, Union

import cv2
import numpy as np
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.infer import BaseInferencer
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, TRANSFORMS

from selfpose3d_mm.datasets import BaseMultiViewDataset, CustomRigDataset, multiview_collate
from selfpose3d_mm.datasets.transforms import LoadMultiViewImages
from selfpose3d_mm.io import rig_to_dict, save_predictions_json, save_predictions_npz
from selfpose3d_mm.visualization import (compose_frame, draw_prediction_views,
                                         plot_prediction_scene, save_image)

__all__ = ['MultiViewPoseInferencer', 'HeatmapInputError']

RIG_KEYS = ('calibration', 'images', 'videos', 'pseudo_labels', 'views',
            'calibration_format', 'calibration_kwargs', 'frame_range', 'interval')
SPLITS = ('test', 'val', 'train')


class HeatmapInputError(ValueError):
    """A heatmap-input model was given no 2D poses (pseudo-label file) to render from."""


def _safe_name(frame_id: str) -> str:
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', str(frame_id)).strip('_') or 'frame'


class MultiViewPoseInferencer(BaseInferencer):
    """Multi-view multi-person 3D pose inferencer (see the module docstring).

    Args:
        model: config file path, or a config (``Config``/dict) with ``model`` and
            (optionally) ``test_dataloader``.
        weights: checkpoint path (None: random weights, with mmengine's warning).
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``... (None: CUDA when available).
        scope: registry scope (``'mmpose'``).
    """

    def __init__(self, model: Union[str, dict, Config], weights: Optional[str] = None,
                 device: Optional[str] = None, scope: str = 'mmpose'):
        init_default_scope(scope)  # the components registered when the package loaded
        self.config_path = model if isinstance(model, str) else getattr(
            model, 'filename', None)  # Config.fromfile() keeps its path
        self.weights = weights
        super().__init__(model, weights, device, scope, show_progress=False)

    # ------------------------------------------------------------ mmengine hooks
    def _init_pipeline(self, cfg):
        """The config's test pipeline without ``LoadMultiViewImages`` (images are read
        here, once, and kept for drawing); the plain resize pipeline when absent."""
        try:
            steps = list(cfg.test_dataloader.dataset.pipeline)
        except AttributeError:
            steps = [dict(type='MultiViewResize', input_size=self.model.input_size),
                     dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs')]
        steps = [s for s in steps if s.get('type') != 'LoadMultiViewImages']
        return Compose([TRANSFORMS.build(copy.deepcopy(s)) for s in steps])

    def _init_collate(self, cfg):
        return multiview_collate

    def visualize(self, inputs, preds, **kwargs):  # drawing happens per frame in __call__
        return None

    def postprocess(self, preds, visualization, return_datasample=False, **kwargs):
        return preds

    # ------------------------------------------------------------ inputs
    @property
    def is_image_model(self) -> bool:
        """True for the image path (a 2D heatmap net), False for heatmap-input models."""
        return bool(getattr(self.model, 'with_heatmap_net', False))

    def _rig_dataset(self, spec: dict):
        unknown = set(spec) - set(RIG_KEYS)
        if unknown:
            raise TypeError(f'MultiViewPoseInferencer: unknown input keys {sorted(unknown)};'
                            f' a custom rig takes {list(RIG_KEYS)}')
        if not spec.get('calibration'):
            raise ValueError('MultiViewPoseInferencer: a custom rig needs `calibration` '
                             '(or give a dataset split: "test")')
        if not self.is_image_model and not spec.get('pseudo_labels'):
            raise HeatmapInputError(
                f'the model of {self.config_path or "the config"} is a heatmap-input model '
                '(no `heatmap_net_2d`): it renders its input heatmaps from 2D poses, not '
                'from the images, so it needs a pseudo-label file: pass `pseudo_labels=` '
                '(--pseudo-labels; format selfpose3d_mm/pseudo_labels, see '
                'selfpose3d_mm/io/pseudo_labels.py; tools/pseudo_label.py writes one), '
                'or use an image-path model (a config with `heatmap_net_2d`, e.g. '
                'configs/selfpose3d_synthetic_images.py)')
        if self.is_image_model and not (spec.get('images') or spec.get('videos')):
            raise ValueError('MultiViewPoseInferencer: the image-path model needs the '
                             'frames: give `images` (view -> folder) or `videos` '
                             '(view -> file)')
        src = spec.get('images') or spec.get('videos')
        views = spec.get('views')
        if views is None and isinstance(src, dict):
            views = [str(v) for v in src]
        head = self.model.root_head
        return CustomRigDataset(
            calibration=spec['calibration'], pseudo_labels=spec.get('pseudo_labels'),
            images=spec.get('images'), videos=spec.get('videos'), views=views,
            calibration_format=spec.get('calibration_format'),
            calibration_kwargs=spec.get('calibration_kwargs'),
            frame_range=spec.get('frame_range'), interval=spec.get('interval', 1),
            with_images=True, test_mode=True, pipeline=[],
            # the space the network searches: its root cube
            space_center=tuple(float(v) for v in head.space_center),
            space_size=tuple(float(v) for v in head.space_size))

    def build_dataset(self, inputs=None, **spec):
        """The frames to run on (a multi-view dataset with an empty pipeline) and a
        description of the source (the ``source`` of ``poses3d.json``)."""
        if isinstance(inputs, BaseMultiViewDataset):
            return inputs, dict(dataset=type(inputs).__name__)
        if inputs is None or (isinstance(inputs, dict) and 'type' not in inputs):
            spec = {**dict(inputs or {}), **spec}
            ds = self._rig_dataset(spec)
            source = {k: v for k, v in spec.items() if v is not None}
            source['views'] = list(ds.views)
            return ds, dict(type='CustomRigDataset', **source)
        if isinstance(inputs, str):
            if inputs not in SPLITS:
                raise ValueError(f'MultiViewPoseInferencer: unknown input {inputs!r}: a '
                                 f'split of the config ({SPLITS}), a custom rig dict or '
                                 'a dataset config')
            try:
                ds_cfg = self.cfg[f'{inputs}_dataloader']['dataset']
            except (KeyError, TypeError):
                raise ValueError(f'{self.config_path or "the config"}: no '
                                 f'`{inputs}_dataloader.dataset` to take the frames from'
                                 ) from None
            source = dict(split=inputs)
        else:
            ds_cfg, source = inputs, {}
        ds_cfg = copy.deepcopy(dict(ds_cfg))
        ds_cfg['pipeline'] = []
        source.update(dataset=str(ds_cfg.get('type')))
        return DATASETS.build(ds_cfg), source

    @staticmethod
    def _load_images(info: dict) -> Optional[List[np.ndarray]]:
        """C RGB original images of a frame (read from ``img_paths``), or None."""
        if info.get('img') is not None:
            return list(info['img'])
        if info.get('img_paths'):
            return LoadMultiViewImages().transform(dict(info))['img']
        return None

    def _frames(self, dataset, indices, for_drawing: bool) -> Iterator[tuple]:
        """(packed sample, raw info, original images, load seconds) per frame; images
        are read for the network (image path) and for the pictures (``for_drawing``)."""
        for idx in indices:
            t0 = time.perf_counter()
            info = dataset.frame_info(idx)  # with the rig's id: the model reuses its grids
            read = self.is_image_model or for_drawing
            images = self._load_images(info) if read else None
            net = {k: v for k, v in info.items() if k not in ('img', 'img_paths')}
            if self.is_image_model:
                if images is None:
                    raise ValueError(f'frame {info.get("frame_id", idx)}: the image-path '
                                     'model needs images, the dataset gives none (set its '
                                     '`with_images=True`)')
                net['img'] = images
            yield self.pipeline(net), info, images, time.perf_counter() - t0

    # ------------------------------------------------------------ the call
    def __call__(self, inputs=None, *, out_dir: Optional[str] = None, batch_size: int = 1,
                 max_frames: Optional[int] = None, score_thr: Optional[float] = None,
                 draw: bool = True, video: bool = False, fps: float = 10.0,
                 vis_scale: float = 0.4, **spec) -> Iterator[dict]:
        """Run on ``inputs`` (see the module docstring); a generator of per-frame results.

        Args:
            out_dir: where the files go (None: nothing written, results only).
            batch_size: frames per forward pass.
            max_frames: the first N frames only.
            score_thr: keep persons whose root score > this (sets the model's test
                threshold; None: the model's, 0.3 by default).
            draw: write the pictures of every frame (``out_dir/vis``).
            video: also write ``out_dir/poses3d.mp4`` at ``fps``.
            vis_scale: scale of the view pictures.
            spec: custom-rig keys (``calibration``, ``images``, ...).

        Yields:
            dict per frame: ``index``, ``frame_id``, ``frame`` (number, custom rigs),
            ``sample_idx``, ``keypoints_3d`` (P, J, 3) float32 world mm, ``scores`` (P,),
            ``root_centers`` (P, 3) — persons by decreasing score —, ``cameras``,
            ``pictures`` (paths), ``time`` (seconds: ``load``, ``forward`` (batch share),
            ``draw``). ``poses3d.json``/``.npz`` (and the video) are written when the
            generator is exhausted (or closed early: the frames so far).
        """
        dataset, source = self.build_dataset(inputs, **spec)
        meta = dataset.metainfo
        J = int(meta['num_keypoints'])
        if J != self.model.num_joints:
            raise ValueError(f'the dataset has {J} joints, the model {self.model.num_joints}')
        names = [meta['keypoint_id2name'][j] for j in range(J)]
        links = [[int(a), int(b)] for a, b in meta['skeleton_links']]
        n = len(dataset) if max_frames is None else min(len(dataset), int(max_frames))
        writer = _Outputs(out_dir, draw, video, fps, vis_scale, links)
        header = dict(
            skeleton=dict(name=str(meta.get('dataset_name', '')), joints=names, links=links),
            model=dict(config=self.config_path or '<config object>', checkpoint=self.weights,
                       type=type(self.model).__name__,
                       input='images' if self.is_image_model else 'pseudo_2d',
                       score_threshold=None),
            source=_jsonable(source))
        return self._generate(dataset, range(n), batch_size, score_thr, writer, header,
                              names, links)

    def run(self, inputs=None, **kwargs) -> dict:
        """Consume :meth:`__call__`: ``dict(frames=[per-frame results], outputs=paths)``."""
        gen = self(inputs, **kwargs)
        frames = list(gen)
        return dict(frames=frames, outputs=getattr(self, 'last_outputs', {}))

    def _generate(self, dataset, indices, batch_size, score_thr, writer, header, names,
                  links):
        test_cfg = self.model.test_cfg
        old = test_cfg.get('threshold', None)
        if score_thr is not None:
            test_cfg['threshold'] = float(score_thr)
        header['model']['score_threshold'] = float(test_cfg.get(
            'threshold', self.model.root_head.threshold))
        done, ok = [], False
        try:
            frames = self._frames(dataset, indices, writer.draws)
            for chunk in self._get_chunk_data(frames, max(1, int(batch_size))):
                t0 = time.perf_counter()
                preds = self.forward(self.collate_fn([c[0] for c in chunk]))
                t_fwd = (time.perf_counter() - t0) / len(chunk)
                for (_, info, images, t_load), pred in zip(chunk, preds):
                    r = _frame_result(len(done), info, pred)
                    r['time'] = dict(load=t_load, forward=t_fwd)
                    t1 = time.perf_counter()
                    r['pictures'] = writer.draw(r, images)
                    r['time']['draw'] = time.perf_counter() - t1
                    done.append(r)
                    yield r
            ok = True
        except GeneratorExit:
            ok = True
            raise
        finally:
            if score_thr is not None:
                if old is None:
                    test_cfg.pop('threshold', None)
                else:
                    test_cfg['threshold'] = old
            self.last_outputs = writer.finish(done, header, names, links, ok)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


def _frame_result(index: int, info: dict, pred) -> dict:
    p = pred.pred_instances
    scores = p.scores.detach().float().cpu().numpy()
    order = np.argsort(-scores, kind='stable')
    return dict(index=index, frame_id=str(info.get('frame_id', index)),
                frame=info.get('frame'), sample_idx=int(info.get('sample_idx', index)),
                keypoints_3d=p.keypoints_3d.detach().float().cpu().numpy()[order],
                scores=scores[order],
                root_centers=p.root_centers.detach().float().cpu().numpy()[order],
                cameras=info['cameras'],
                space_center=info.get('space_center'), space_size=info.get('space_size'))


class _Outputs:
    """Pictures per frame, the optional video, and the JSON/npz at the end."""

    def __init__(self, out_dir, draw, video, fps, scale, links):
        self.out_dir, self.draw_pictures, self.video = out_dir, draw, video
        self.fps, self.scale, self.links = float(fps), float(scale), links
        self.writer = self.video_tmp = None
        self.frame_size = None
        self.rigs: Dict[str, int] = {}
        self.rig_docs: List[dict] = []
        if out_dir is None and video:
            raise ValueError('video=True needs an out_dir')
        self.draws = out_dir is not None and (draw or video)

    def _rig_index(self, cams) -> int:
        key = cams.cache_key()
        if key not in self.rigs:
            self.rigs[key] = len(self.rig_docs)
            self.rig_docs.append(rig_to_dict(cams.cpu()))
        return self.rigs[key]

    def draw(self, r: dict, images) -> dict:
        r['rig'] = self._rig_index(r['cameras'])
        if not self.draws:
            return {}
        n = len(r['scores'])
        title = f'{r["frame_id"]}: {n} person{"" if n == 1 else "s"}'
        views = draw_prediction_views(r['cameras'], images, self.links, r['keypoints_3d'],
                                      r['scores'], scale=self.scale)
        scene = plot_prediction_scene(r['cameras'], self.links, r['keypoints_3d'],
                                      r['space_center'], r['space_size'], title=title)
        out = {}
        if self.draw_pictures:
            stem = osp.join(self.out_dir, 'vis', _safe_name(r['frame_id']))
            out = dict(views=f'{stem}_views.jpg', scene=f'{stem}_3d.jpg')
            save_image(views, out['views'])
            save_image(scene, out['scene'])
        if self.video:
            self._write_video(compose_frame(views, scene))
        return out

    def _write_video(self, frame: np.ndarray):
        if self.writer is None:
            h, w = frame.shape[:2]
            self.frame_size = (w - w % 2, h - h % 2)  # even sizes for the codecs
            os.makedirs(self.out_dir, exist_ok=True)
            self.video_tmp = osp.join(self.out_dir, f'.poses3d.tmp{os.getpid()}.mp4')
            self.writer = cv2.VideoWriter(self.video_tmp, cv2.VideoWriter_fourcc(*'mp4v'),
                                          self.fps, self.frame_size)
            if not self.writer.isOpened():
                raise IOError(f'cv2.VideoWriter cannot write {self.video_tmp} (mp4v)')
        if frame.shape[1::-1] != self.frame_size:
            frame = cv2.resize(frame, self.frame_size, interpolation=cv2.INTER_AREA)
        self.writer.write(np.ascontiguousarray(frame[..., ::-1]))

    def finish(self, frames, header, names, links, ok: bool) -> dict:
        out = {}
        if self.writer is not None:
            self.writer.release()
            if ok:
                out['video'] = osp.join(self.out_dir, 'poses3d.mp4')
                os.replace(self.video_tmp, out['video'])
            elif osp.exists(self.video_tmp):
                os.remove(self.video_tmp)
        if ok and self.out_dir is not None:
            out['json'] = osp.join(self.out_dir, 'poses3d.json')
            out['npz'] = osp.join(self.out_dir, 'poses3d.npz')
            save_predictions_json(out['json'], dict(header, cameras=self.rig_docs), frames)
            save_predictions_npz(out['npz'], frames, names, links)
            if self.draw_pictures:
                out['vis_dir'] = osp.join(self.out_dir, 'vis')
        return out
