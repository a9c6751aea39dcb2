"""Pictures of predicted 3D poses: every view with the projected skeletons, and the 3D scene.

The skeletons are projected through the full camera model (:meth:`MultiViewCameras.project`:
extrinsics, OpenCV distortion k1 k2 p1 p2 k3, intrinsics), so an overlay lands where the
network's 3D joints really are in the original image. Person ``i`` has the same colour
(matplotlib ``tab10``) in the overlays and in the 3D scene of :func:`plot_scene_3d`.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import cv2
import matplotlib
import numpy as np
import torch

from selfpose3d_mm.geometry import MultiViewCameras
from .multiview import draw_skeleton, montage, plot_scene_3d, put_title

__all__ = ['person_colors', 'project_poses', 'draw_poses_view', 'draw_prediction_views',
           'plot_prediction_scene', 'compose_frame']


def person_colors(n: int) -> List[Tuple[int, int, int]]:
    """RGB uint8 colours of persons ``0..n-1`` (``tab10``, as :func:`plot_scene_3d`)."""
    cmap = matplotlib.colormaps['tab10']
    return [tuple(int(round(255 * v)) for v in cmap(i % 10)[:3]) for i in range(n)]


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
                    title: str = '') -> np.ndarray:
    """One view with projected skeletons (person ``i`` in ``person_colors()[i]``).

    Args:
        image: (H, W, 3) RGB original image, or None (grey canvas of ``image_size``).
        image_size: (W, H) original pixels.
        uv: (P, J, 2) original pixels; valid: (P, J) bool (joints drawn).
        labels: P texts drawn above each person (e.g. ``'#0 0.93'``).
        scale: output scale (the pixels of ``uv`` are scaled with the image).
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
    for i, (pose, ok, color) in enumerate(zip(uv, valid, person_colors(len(uv)))):
        draw_skeleton(img, pose, ok[limbs].all(-1), ok, limbs, [color] * len(limbs),
                      [color] * len(pose), lw, lw + 2)
        if labels is not None and ok.any():
            top = pose[ok][np.argmin(pose[ok][:, 1])]
            org = (int(top[0]) - 10, int(top[1]) - 3 * lw - 4)
            cv2.putText(img, str(labels[i]), org, cv2.FONT_HERSHEY_SIMPLEX,
                        max(0.35, 0.9 * scale), color, 1, cv2.LINE_AA)
    put_title(img, title, scale)
    return img


def draw_prediction_views(cameras: MultiViewCameras, images: Optional[Sequence],
                          skeleton: Sequence[Sequence[int]], poses: np.ndarray,
                          scores: Optional[np.ndarray] = None, scale: float = 0.4,
                          cols: int = 3, title: str = '') -> np.ndarray:
    """Every view with the projected 3D poses, tiled (:func:`montage`).

    Args:
        images: C RGB original images (None or missing entries: grey canvases).
        poses: (P, J, 3) world mm; scores: (P,).
    Returns:
        RGB uint8 montage.
    """
    uv, valid = project_poses(cameras, poses)
    sizes = cameras.image_size.detach().cpu().numpy()
    names = cameras.names or [str(c) for c in range(cameras.num_views)]
    labels = None if scores is None else [f'#{i} {s:.2f}' for i, s in enumerate(scores)]
    views = []
    for c in range(cameras.num_views):
        img = images[c] if images is not None and c < len(images) else None
        t = f'{title} {names[c]}'.strip()
        views.append(draw_poses_view(img, sizes[c], skeleton, uv[c], valid[c], labels,
                                     scale=scale, title=t))
    return montage(views, cols=cols)


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
                          dpi: int = 80) -> np.ndarray:
    """The 3D scene (capture space, camera frustums, predicted people in the colours of
    :func:`person_colors`) — :func:`plot_scene_3d` with the predictions."""
    return plot_scene_3d(cameras.cpu(), skeleton, np.asarray(poses), None, space_center,
                         space_size, title=title, dpi=dpi)

