"""What the inferencer makes of each frame: the per-frame result, the pictures, the video
and, at the end, ``poses3d.json`` / ``poses3d.npz`` (schemas in
:mod:`selfpose3d_mm.io.predictions`). The same for every method."""
from __future__ import annotations

import os
import os.path as osp
from typing import Dict, List, Optional

import cv2
import numpy as np

from selfpose3d_mm.io import rig_to_dict, save_predictions_json, save_predictions_npz
from selfpose3d_mm.skeleton import PANOPTIC15_ROOT_INDEX
from selfpose3d_mm.visualization import (compose_frame, draw_prediction_views,
                                         plot_prediction_scene, safe_file_stem, save_image)

__all__ = ['jsonable', 'frame_result', 'fit_frame', 'InferenceOutputs']


def jsonable(x):
    """Plain JSON types (other values as their ``str``)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


def _numpy(t) -> np.ndarray:
    return t.detach().float().cpu().numpy() if hasattr(t, 'detach') else np.asarray(t)


def frame_result(index: int, info: dict, pred, score_thr: Optional[float] = None,
                 root_index: int = PANOPTIC15_ROOT_INDEX) -> dict:
    """One frame's result (the inferencer's yield; see its ``__call__``): persons by
    decreasing score, those with score <= ``score_thr`` dropped (methods that do not
    threshold themselves). ``root_centers`` are the model's proposal centres, or the
    root joint (mid-hip) for methods without proposals (triangulation)."""
    p = pred.pred_instances
    scores = _numpy(p.scores).reshape(-1)
    kp = _numpy(p.keypoints_3d)  # (P, J, 3)
    roots = _numpy(p.root_centers).reshape(-1, 3) if 'root_centers' in p else \
        kp[:, root_index].copy()
    order = np.argsort(-scores, kind='stable')
    if score_thr is not None:
        order = order[scores[order] > score_thr]
    r = dict(index=index, frame_id=str(info.get('frame_id', index)),
             frame=info.get('frame'), sample_idx=int(info.get('sample_idx', index)),
             keypoints_3d=kp[order].astype(np.float32), scores=scores[order],
             root_centers=roots[order].astype(np.float32), cameras=info['cameras'],
             space_center=info.get('space_center'), space_size=info.get('space_size'))
    if 'track_id' in p:
        r['track_ids'] = _numpy(p.track_id).astype(np.int64).reshape(-1)[order]
    if 'recovered' in p:  # a person the network missed, added by the refinement
        r['recovered'] = _numpy(p.recovered).astype(bool).reshape(-1)[order]
    return r


def fit_frame(frame: np.ndarray, size) -> np.ndarray:
    """``frame`` scaled to fit ``size`` (W, H) keeping its aspect, centred on black."""
    W, H = int(size[0]), int(size[1])
    h, w = frame.shape[:2]
    s = min(W / w, H / h)
    nw, nh = max(1, min(W, int(round(w * s)))), max(1, min(H, int(round(h * s))))
    out = np.zeros((H, W, 3), np.uint8)
    y, x = (H - nh) // 2, (W - nw) // 2
    out[y:y + nh, x:x + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


class InferenceOutputs:
    """Pictures per frame, the optional video, and the JSON/npz at the end.

    Args:
        out_dir: the folder (None: nothing written).
        draw: write ``vis/<frame>_views.jpg`` and ``vis/<frame>_3d.jpg``.
        video: write ``poses3d.mp4`` (views and 3D side by side) at ``fps``.
        scale: scale of the view pictures.
        links: skeleton limbs (joint index pairs).
        search_cube: ``(center, size)`` the network searches (drawn dashed when it
            differs from the frame's capture space), or None.
    """

    def __init__(self, out_dir, draw, video, fps, scale, links, search_cube=None):
        self.out_dir, self.draw_pictures, self.video = out_dir, draw, video
        self.fps, self.scale, self.links = float(fps), float(scale), links
        self.search_cube = search_cube
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

    def pictures(self, r: dict, images, info: Optional[dict] = None):
        """(views montage, 3D scene) RGB pictures of a frame result; the input 2D poses
        are those of ``info`` (``pseudo_keypoints``/``pseudo_keypoint_scores``)."""
        info = info or {}
        n = len(r['scores'])
        tracks = r.get('track_ids')
        title = f'{r["frame_id"]}: {n} person{"" if n == 1 else "s"}'
        views = draw_prediction_views(
            r['cameras'], images, self.links, r['keypoints_3d'], r['scores'],
            scale=self.scale, track_ids=tracks, inputs=info.get('pseudo_keypoints'),
            input_scores=info.get('pseudo_keypoint_scores'))
        scene = plot_prediction_scene(r['cameras'], self.links, r['keypoints_3d'],
                                      r['space_center'], r['space_size'], title=title,
                                      track_ids=tracks, search_cube=self.search_cube)
        return views, scene

    def draw(self, r: dict, images, info: Optional[dict] = None) -> dict:
        r['rig'] = self._rig_index(r['cameras'])
        if not self.draws:
            return {}
        views, scene = self.pictures(r, images, info)
        out = {}
        if self.draw_pictures:
            stem = osp.join(self.out_dir, 'vis', safe_file_stem(r['frame_id']))
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
        if frame.shape[1::-1] != self.frame_size:  # e.g. a legend of more rows
            frame = fit_frame(frame, self.frame_size)
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
