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
    # any method, same outputs: the triangulation baseline (no checkpoint; an alias or
    # configs/triangulation_synthetic.py), a learned model with refinement
    tri = MultiViewPoseInferencer('triangulation', device='cpu')
    tri.run(calibration='calib.json', pseudo_labels='pseudo.json', out_dir='tri_out')
    inferencer.run(calibration='calib.json', images=..., pseudo_labels='pseudo.json',
                   refine=True, out_dir='refined_out')

Inputs (the first argument, or keywords):

* a custom rig: ``calibration`` (any file :func:`~selfpose3d_mm.io.load_cameras`
  reads: rig file, Panoptic, Shelf/Campus, OpenCV YAML; ``calibration_format``,
  ``calibration_kwargs``), with ``images`` (``dict(view=folder)`` or a
  ``'{view}/{frame:06d}.jpg'`` template) or ``videos`` (``dict(view=file)`` or a
  template), optional ``pseudo_labels``, ``views``, ``frame_range``, ``interval``,
  ``space_center`` + ``space_size`` (the rig's capture space; otherwise the config's, the
  network's root cube or, for triangulation, an estimate: :mod:`.rig_inputs`): read by
  :class:`~selfpose3d_mm.datasets.CustomRigDataset` (frame discovery, video decoding);
* ``'test'`` / ``'val'`` / ``'train'``: that split of the config's dataset;
* a dataset config dict, or a built multi-view dataset.

Methods (:mod:`.methods`). The first argument is a config file, a config, or a method
alias (``'triangulation'``); ``weights`` is optional for parameter-free models. An
image-path model (``heatmap_net_2d`` set) needs only the images. A heatmap-input model
renders its input heatmaps from 2D poses and the triangulation baseline triangulates
them, so with a custom rig they need a pseudo-label file (``pseudo_labels``,
:mod:`selfpose3d_mm.io.pseudo_labels`); datasets of a config bring their own 2D poses.
``refine=True`` (or a dict of knobs) sets ``test_cfg['refine']`` of a SelfPose3D model
for the call.

Each frame goes through the config's test pipeline (``test_dataloader.dataset.pipeline``;
images are loaded here, once, and kept for drawing), ``multiview_collate`` and the
model's ``test_step`` (data preprocessor + ``predict``), ``batch_size`` frames at a time.

Outputs in ``out_dir`` (schemas in :mod:`selfpose3d_mm.io.predictions`): ``poses3d.json``,
``poses3d.npz`` (both atomic), ``vis/<frame>_views.jpg`` (every view with the projected
skeletons, through the full camera model incl. distortion, the input 2D poses on top in
thin grey, and a legend) and ``vis/<frame>_3d.jpg`` (3D skeletons, the capture space, the
network's search cube when it differs, camera frustums, a legend) — person colours by
``track_id`` when the predictions carry one —, and with ``video=True`` ``poses3d.mp4``
(views and 3D side by side, ``cv2.VideoWriter``). Frame ids become file names with
every ``/`` replaced (:func:`~selfpose3d_mm.visualization.safe_file_stem`).
"""
from __future__ import annotations

import copy
import time
from typing import Iterator, List, Optional, Union

from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.infer import BaseInferencer
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, TRANSFORMS

from selfpose3d_mm.datasets import BaseMultiViewDataset, multiview_collate
from selfpose3d_mm.datasets.transforms import LoadMultiViewImages
from selfpose3d_mm.model_zoo import PRETRAINED_MODELS
from .inference_outputs import InferenceOutputs, frame_result, jsonable
from .methods import InferenceMethod, named_model_config, resolve_method_config
from .rig_inputs import RIG_KEYS, HeatmapInputError, build_rig_dataset

__all__ = ['MultiViewPoseInferencer', 'HeatmapInputError', 'RIG_KEYS']

SPLITS = ('test', 'val', 'train')


class MultiViewPoseInferencer(BaseInferencer):
    """Multi-view multi-person 3D pose inferencer (see the module docstring).

    Args:
        model: config file path, config (``Config``/dict) with ``model`` and
            (optionally) ``test_dataloader``, a method alias (``'triangulation'``), or
            the name of a model that ships with the package (``'generalist'``:
            :mod:`selfpose3d_mm.model_zoo`; its weights are used unless ``weights``
            is given, and its training objective is not built).
            A config file's ``linked_settings`` are applied
            (:mod:`selfpose3d_mm.apis.config_links`).
        weights: checkpoint path (None: parameter-free models run as they are; a
            learned model gets random weights, with mmengine's warning).
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``... (None: CUDA when available).
        scope: registry scope (``'mmpose'``).
    """

    def __init__(self, model: Union[str, dict, Config], weights: Optional[str] = None,
                 device: Optional[str] = None, scope: str = 'mmpose'):
        init_default_scope(scope)  # the components registered when the package loaded
        self.model_name = None
        if isinstance(model, str) and model in PRETRAINED_MODELS:
            self.model_name = model
            cfg, zoo_weights = named_model_config(model)   # predicts only
            weights = weights or zoo_weights
            self.config_path = cfg.filename
        else:
            self.config_path = model if isinstance(model, str) else getattr(
                model, 'filename', None)  # Config.fromfile() keeps its path
            cfg = resolve_method_config(model)
        self.weights = weights
        self.method = None
        super().__init__(cfg, weights, device, scope, show_progress=False)

    # ------------------------------------------------------------ mmengine hooks
    def _init_model(self, cfg, weights, device='cpu'):
        model = super()._init_model(cfg, weights, device)
        self.method = InferenceMethod(model, cfg)
        return model

    def _load_weights_to_model(self, model, checkpoint, cfg):
        if checkpoint is None and not any(True for _ in model.parameters()):
            return  # nothing to load (triangulation): no "random weights" warning
        super()._load_weights_to_model(model, checkpoint, cfg)

    def _init_pipeline(self, cfg):
        """The config's test pipeline without ``LoadMultiViewImages`` (images are read
        here, once, and kept for drawing); the plain resize pipeline when absent."""
        try:
            steps = list(cfg.test_dataloader.dataset.pipeline)
        except AttributeError:
            steps = [dict(type='MultiViewResize', input_size=self.method.input_size),
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
        """True for the image path (a 2D heatmap net), False for models reading 2D poses."""
        return self.method.is_image_model

    def build_dataset(self, inputs=None, refine: bool = False, **spec):
        """The frames to run on (a multi-view dataset with an empty pipeline) and a
        description of the source (the ``source`` of ``poses3d.json``)."""
        if isinstance(inputs, BaseMultiViewDataset):
            return inputs, dict(dataset=type(inputs).__name__)
        if inputs is None or (isinstance(inputs, dict) and 'type' not in inputs):
            spec = {**dict(inputs or {}), **spec}
            return build_rig_dataset(spec, self.method, self.cfg,
                                     self.config_path or 'the config', refine)
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
    def _load_images(info: dict) -> Optional[List]:
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
                 refine=None, draw: bool = True, video: bool = False, fps: float = 10.0,
                 vis_scale: float = 0.4, **spec) -> Iterator[dict]:
        """Run on ``inputs`` (see the module docstring); a generator of per-frame results.

        Args:
            out_dir: where the files go (None: nothing written, results only).
            batch_size: frames per forward pass.
            max_frames: the first N frames only.
            score_thr: keep persons whose score > this (learned models: sets the model's
                test threshold, None: the model's, 0.3 by default — with refinement, whose
                scores are the 2D poses' evidence, the refined people are filtered instead;
                triangulation: drops lower-scored poses, None: keeps all).
            refine: refinement of a SelfPose3D model's poses with the 2D poses, for
                this call: None (as configured, off by default), False (off), True (the
                config's knobs or the defaults) or a dict of knobs — sets
                ``model.test_cfg['refine']``; an error for other models.
            draw: write the pictures of every frame (``out_dir/vis``).
            video: also write ``out_dir/poses3d.mp4`` at ``fps``.
            vis_scale: scale of the view pictures.
            spec: custom-rig keys (``calibration``, ``images``, ...).

        Yields:
            dict per frame: ``index``, ``frame_id``, ``frame`` (number, custom rigs),
            ``sample_idx``, ``keypoints_3d`` (P, J, 3) float32 world mm, ``scores`` (P,),
            ``root_centers`` (P, 3) — persons by decreasing score —, ``track_ids`` (P,)
            when the model gives them, ``cameras``, ``pictures`` (paths), ``time``
            (seconds: ``load``, ``forward`` (batch share), ``draw``). ``poses3d.json``/
            ``.npz`` (and the video) are written when the generator is exhausted (or
            closed early: the frames so far).
        """
        self.method.check_refine(refine)  # a clear error before any data is read
        refines = bool(refine) or (refine is None and
                                   self.method.refine_setting() is not None)
        dataset, source = self.build_dataset(inputs, refine=refines, **spec)
        meta = dataset.metainfo
        J = int(meta['num_keypoints'])
        if self.method.num_joints is not None and J != self.method.num_joints:
            raise ValueError(f'the dataset has {J} joints, the model '
                             f'{self.method.num_joints}')
        names = [meta['keypoint_id2name'][j] for j in range(J)]
        links = [[int(a), int(b)] for a, b in meta['skeleton_links']]
        n = len(dataset) if max_frames is None else min(len(dataset), int(max_frames))
        writer = InferenceOutputs(out_dir, draw, video, fps, vis_scale, links,
                                  self.method.search_cube)
        header = dict(
            skeleton=dict(name=str(meta.get('dataset_name', '')), joints=names, links=links),
            model=dict(config=self.config_path or '<config object>', checkpoint=self.weights,
                       type=self.method.name, input=self.method.input,
                       score_threshold=None, refine=None),
            source=jsonable(source))
        space = None
        if 'space' in source:
            space = (source['space']['center'], source['space']['size'])
        return self._generate(dataset, range(n), batch_size, score_thr, refine, space,
                              writer, header, names, links)

    def run(self, inputs=None, **kwargs) -> dict:
        """Consume :meth:`__call__`: ``dict(frames=[per-frame results], outputs=paths)``."""
        frames = list(self(inputs, **kwargs))
        return dict(frames=frames, outputs=getattr(self, 'last_outputs', {}))

    def _generate(self, dataset, indices, batch_size, score_thr, refine, space, writer,
                  header, names, links):
        done, ok = [], False
        with self.method.session(score_thr, refine, space) as post_thr:
            thr = self.method.default_threshold() if score_thr is None else score_thr
            header['model']['score_threshold'] = None if thr is None else float(thr)
            header['model']['refine'] = jsonable(self.method.refine_setting())
            try:
                frames = self._frames(dataset, indices, writer.draws)
                for chunk in self._get_chunk_data(frames, max(1, int(batch_size))):
                    t0 = time.perf_counter()
                    preds = self.forward(self.collate_fn([c[0] for c in chunk]))
                    t_fwd = (time.perf_counter() - t0) / len(chunk)
                    for (_, info, images, t_load), pred in zip(chunk, preds):
                        r = frame_result(len(done), info, pred, post_thr,
                                         self.method.root_index)
                        r['time'] = dict(load=t_load, forward=t_fwd)
                        t1 = time.perf_counter()
                        r['pictures'] = writer.draw(r, images, info)
                        r['time']['draw'] = time.perf_counter() - t1
                        done.append(r)
                        yield r
                ok = True
            except GeneratorExit:
                ok = True
                raise
            finally:
                self.last_outputs = writer.finish(done, header, names, links, ok)

