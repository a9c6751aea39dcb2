"""A hook that draws a few validation / test predictions into the runner's visualizer
(every configured vis backend: local files, TensorBoard, ...)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

from selfpose3d_mm.geometry import apply_affine, invert_affine
from .predictions import compose_frame, draw_prediction_views, plot_prediction_scene

__all__ = ['MultiViewPoseVisualizationHook']


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _input_poses(sample) -> Optional[list]:
    """The view-set-0 2D poses of a sample in original pixels (C × (P, J, 2)), or None."""
    if 'pseudo_keypoints' not in sample or 'affines' not in sample:
        return None
    kp = torch.as_tensor(sample.pseudo_keypoints[0]).double()      # (C, P, J, 2) input px
    C, P, J = kp.shape[:3]
    to_image = invert_affine(torch.as_tensor(sample.affines[0]).double())  # (C, 2, 3)
    uv = apply_affine(kp.reshape(C, P * J, 2), to_image).view(C, P, J, 2).numpy()
    vis = _numpy(sample.pseudo_keypoints_visible[0]) if 'pseudo_keypoints_visible' in \
        sample else np.ones((C, P, J), bool)
    return [np.where(vis[c][..., None], uv[c], np.nan) for c in range(C)]


@HOOKS.register_module()
class MultiViewPoseVisualizationHook(Hook):
    """After validation / test iterations, draws the first ``num_frames`` frames: every
    view with the input 2D poses (grey) under the projected 3D predictions, beside the 3D
    scene (capture space, cameras, people), as one image ``{phase}_{frame_id}`` sent to
    ``runner.visualizer.add_image`` at the current training step.

    Args:
        num_frames: frames drawn per evaluation.
        interval: draw every ``interval``-th evaluation.
        score_thr: predictions below this score are not drawn.
        skeleton: joint pairs to draw; None = the dataset meta's ``skeleton_links``.
    """

    priority = 'LOW'

    def __init__(self, num_frames: int = 2, interval: int = 1, score_thr: float = 0.0,
                 skeleton: Optional[Sequence[Sequence[int]]] = None):
        self.num_frames, self.interval = int(num_frames), max(1, int(interval))
        self.score_thr = float(score_thr)
        self.skeleton = skeleton
        self._drawn, self._calls = 0, 0

    def _links(self, runner, phase: str):
        if self.skeleton is not None:
            return self.skeleton
        loader = getattr(runner, f'{phase}_dataloader', None)
        meta = getattr(getattr(loader, 'dataset', None), 'metainfo', None) or {}
        return meta.get('skeleton_links', ())

    def _start(self):
        self._calls += 1
        self._drawn = 0

    def before_val_epoch(self, runner) -> None:
        self._start()

    def before_test_epoch(self, runner) -> None:
        self._start()

    def _draw(self, runner, outputs, phase: str) -> None:
        if (self._calls - 1) % self.interval or self._drawn >= self.num_frames:
            return
        links = self._links(runner, phase)
        for sample in outputs:  # a few frames: a loop over them is fine
            if self._drawn >= self.num_frames:
                break
            pred = sample.pred_instances
            keep = _numpy(pred.scores) >= self.score_thr
            poses = _numpy(pred.keypoints_3d)[keep]
            meta = sample.metainfo
            frame = str(meta.get('frame_id', meta.get('sample_idx', self._drawn)))
            views = draw_prediction_views(sample.cameras, None, links, poses,
                                          _numpy(pred.scores)[keep], title=frame,
                                          inputs=_input_poses(sample))
            scene = plot_prediction_scene(sample.cameras, links, poses,
                                          meta.get('space_center'), meta.get('space_size'),
                                          title=frame)
            name = f"{phase}_{frame.replace('/', '_')}"
            runner.visualizer.add_image(name, compose_frame(views, scene), step=runner.iter)
            self._drawn += 1

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._draw(runner, outputs or [], 'val')

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._draw(runner, outputs or [], 'test')
