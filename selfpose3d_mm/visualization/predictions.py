"""Pictures of predicted 3D poses: every view with the projected skeletons, and the 3D scene.

The skeletons are projected through the full camera model (:meth:`MultiViewCameras.project`:
extrinsics, OpenCV distortion k1 k2 p1 p2 k3, intrinsics), so an overlay lands where the
network's 3D joints really are in the original image. Beside them, thin and grey, the
input 2D poses of the view (the pseudo labels a method read), so that a disagreement
between input and output shows. A person has one colour (:mod:`.legend`, by its track
id when the predictions carry one, else its index) in the overlays and in the 3D scene;
a legend band under the views names the colours.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from selfpose3d_mm.geometry import MultiViewCameras
from .legend import draw_legend_band, id_colors, person_ids, prediction_legend
from .multiview import draw_input_poses, draw_skeleton, montage, plot_scene_3d, put_title

__all__ = ['person_colors', 'project_poses', 'draw_poses_view', 'draw_prediction_views',
           'plot_prediction_scene', 'compose_frame']


def person_colors(n: int) -> List[Tuple[int, int, int]]:
    """RGB uint8 colours of persons ``0..n-1`` (:func:`~.legend.id_colors`, as in the 3D
    scene of :func:`plot_scene_3d`)."""
    return id_colors(range(n))


def project_poses(cameras: MultiViewCameras, poses: np.ndarray
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Project 3D poses into every view of an unbatched rig.

    Args:
        cameras: C views.
        poses: (P, J, 3) world mm (NaN joints allowed).
    Returns:
        uv: (C, P, J, 2) float64 original-image pixels (distortion included);
        valid: (C, P, J) bool — finite, in front of the camera and inside the range where
        the distortion model is monotonic (not the image bounds: drawing clips those).
    """
    poses = np.asarray(poses, np.float64)
    P, J = poses.shape[:2]
    C = cameras.num_views
    if P == 0:
        return np.zeros((C, 0, J, 2)), np.zeros((C, 0, J), bool)
    finite = np.isfinite(poses).all(-1).reshape(-1)
    pts = torch.from_numpy(np.where(finite[:, None], poses.reshape(-1, 3), 0.0))
    cams = cameras.cpu().double()
    uv, valid = cams.project(pts, return_valid=True)  # (C, P*J, 2), (C, P*J)
    uv, valid = uv.numpy(), valid.numpy() & finite[None]
    valid &= np.isfinite(uv).all(-1)
    return uv.reshape(C, P, J, 2), valid.reshape(C, P, J)


def draw_poses_view(image: Optional[np.ndarray], image_size: Sequence[float],
                    skeleton: Sequence[Sequence[int]], uv: np.ndarray, valid: np.ndarray,
                    labels: Optional[Sequence[str]] = None, scale: float = 0.5,
                    title: str = '', colors: Optional[Sequence] = None,
                    inputs: Optional[np.ndarray] = None,
                    input_scores: Optional[np.ndarray] = None) -> np.ndarray:
    """One view with projected skeletons (person ``i`` in ``colors[i]``, default
    ``person_colors()[i]``) and the view's input 2D poses on top (thin, light grey,
    semi-transparent).

    Args:
        image: (H, W, 3) RGB original image, or None (grey canvas of ``image_size``).
        image_size: (W, H) original pixels.
        uv: (P, J, 2) original pixels; valid: (P, J) bool (joints drawn).
        labels: P texts drawn above each person (e.g. ``'#0 0.93'``).
        scale: output scale (the pixels of ``uv`` are scaled with the image).
        inputs: (Q, J, 2) input 2D poses, original pixels; input_scores: (Q, J).
    Returns:
        (round(H·scale), round(W·scale), 3) RGB uint8.
    """
    W, H = int(image_size[0]), int(image_size[1])
    if image is None:
        image = np.full((H, W, 3), 60, np.uint8)
    elif image.shape[:2] != (H, W):
        raise ValueError(f'draw_poses_view: image is {image.shape[1]}x{image.shape[0]}, '
                         f'the camera {W}x{H}')
    w, h = max(1, int(round(W * scale))), max(1, int(round(H * scale)))
    img = np.ascontiguousarray(cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA))
    lw = max(1, int(round(4 * scale)))
    limbs = np.asarray(skeleton, int).reshape(-1, 2)
    uv = np.asarray(uv, np.float64) * scale
    valid = np.asarray(valid, bool) & (np.abs(uv) < 1e5).all(-1)
    colors = person_colors(len(uv)) if colors is None else list(colors)
    for i, (pose, ok, color) in enumerate(zip(uv, valid, colors)):
        draw_skeleton(img, pose, ok[limbs].all(-1), ok, limbs, [color] * len(limbs),
                      [color] * len(pose), lw, lw + 2)
        if labels is not None and ok.any():
            top = pose[ok][np.argmin(pose[ok][:, 1])]
            org = (int(top[0]) - 10, int(top[1]) - 3 * lw - 4)
            cv2.putText(img, str(labels[i]), org, cv2.FONT_HERSHEY_SIMPLEX,
                        max(0.35, 0.9 * scale), color, 1, cv2.LINE_AA)
    # the inputs on top, thin: where they agree with the reprojection they run inside
    # its thick lines, where they disagree they stand apart
    draw_input_poses(img, inputs, input_scores, skeleton, scale)
    put_title(img, title, scale)
    return img


def draw_prediction_views(cameras: MultiViewCameras, images: Optional[Sequence],
                          skeleton: Sequence[Sequence[int]], poses: np.ndarray,
                          scores: Optional[np.ndarray] = None, scale: float = 0.4,
                          cols: int = 3, title: str = '',
                          track_ids: Optional[Sequence[int]] = None,
                          inputs: Optional[Sequence[np.ndarray]] = None,
                          input_scores: Optional[Sequence[np.ndarray]] = None,
                          legend: bool = True, return_legend: bool = False):
    """Every view with the projected 3D poses over its input 2D poses, tiled
    (:func:`montage`), with a legend band underneath.

    Args:
        images: C RGB original images (None or missing entries: grey canvases).
        poses: (P, J, 3) world mm; scores: (P,).
        track_ids: (P,) ids of the persons across frames (colours and labels by id),
            None: by index.
        inputs: per view (Q_c, J, 2) input 2D poses, original pixels (e.g. the pseudo
            labels); input_scores: per view (Q_c, J).
        legend: add the legend band (input 2D poses, one entry per person id).
        return_legend: also return the legend entries.
    Returns:
        RGB uint8 picture [, list of :class:`~.legend.LegendEntry`].
    """
    uv, valid = project_poses(cameras, poses)
    sizes = cameras.image_size.detach().cpu().numpy()
    names = cameras.names or [str(c) for c in range(cameras.num_views)]
    ids = person_ids(len(poses), track_ids)
    colors = id_colors(ids)
    labels = [f'#{i}' for i in ids] if scores is None else \
        [f'#{i} {float(s):.2f}' for i, s in zip(ids, scores)]
    has_input = inputs is not None and any(len(q) for q in inputs)
    views = []
    for c in range(cameras.num_views):
        img = images[c] if images is not None and c < len(images) else None
        t = f'{title} {names[c]}'.strip()
        q = inputs[c] if has_input else None
        qs = input_scores[c] if has_input and input_scores is not None else None
        views.append(draw_poses_view(img, sizes[c], skeleton, uv[c], valid[c], labels,
                                     scale=scale, title=t, colors=colors, inputs=q,
                                     input_scores=qs))
    out = montage(views, cols=cols)
    entries = prediction_legend(ids, scores, with_input=has_input,
                                tracked=track_ids is not None)
    if legend:
        band = draw_legend_band(entries, out.shape[1], scale)
        out = np.concatenate([out, band], 0)
    return (out, entries) if return_legend else out


def compose_frame(views: np.ndarray, scene: np.ndarray) -> np.ndarray:
    """The views montage and the 3D scene side by side (scene scaled to the montage's
    height), e.g. one frame of a video."""
    h = views.shape[0]
    s = h / scene.shape[0]
    scene = cv2.resize(scene, (max(1, int(round(scene.shape[1] * s))), h),
                       interpolation=cv2.INTER_AREA)
    return np.concatenate([views, scene], 1)


def plot_prediction_scene(cameras: MultiViewCameras, skeleton, poses: np.ndarray,
                          space_center=None, space_size=None, title: str = '',
                          dpi: int = 80, track_ids: Optional[Sequence[int]] = None,
                          search_cube=None, legend: bool = True,
                          return_legend: bool = False):
    """The 3D scene — :func:`plot_scene_3d` with the predictions: the capture space,
    the network's search cube when it differs (``(center, size)``), the camera frustums
    (black) and the predicted people in the colours of their ids, with a legend."""
    poses = np.asarray(poses)
    ids = person_ids(len(poses), track_ids)
    return plot_scene_3d(cameras.cpu(), skeleton, poses, None, space_center, space_size,
                         title=title, dpi=dpi, ids=ids, search_cube=search_cube,
                         legend=legend, tracked=track_ids is not None,
                         return_legend=return_legend)

