"""Pictures of multi-view samples: per-view 2D overlays and a 3D scene with the cameras.

The 3D scene is a matplotlib 3D axes: mmengine has no 3D primitives and mmpose's
``Pose3dLocalVisualizer`` plots single poses without cameras or a capture space.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import cv2
import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.utils import atomic_path

__all__ = ['draw_view', 'montage', 'plot_scene_3d', 'save_image']


def _score_colors(scores: np.ndarray) -> list:
    """Scores in [0, 1] → RGB tuples (red = low, green = high)."""
    rgb = (matplotlib.colormaps['RdYlGn'](np.clip(scores, 0, 1))[..., :3] * 255).astype(int)
    return [tuple(c) for c in rgb.tolist()]


_SHIFT = 4  # sub-pixel drawing: OpenCV coordinates in 1/16 px


def _fixed(p) -> tuple:
    return tuple(int(v) for v in np.round(p * (1 << _SHIFT)))


def draw_skeleton(img: np.ndarray, pose: np.ndarray, limb_ok, joint_ok, limbs,
                  limb_colors, joint_colors, line_width: int, radius: float) -> None:
    """Draw one (J, 2) pose into ``img`` in place, anti-aliased at sub-pixel positions:
    the limbs (a, b) of ``limbs`` where ``limb_ok``, then the joints where ``joint_ok``
    (discs of ``radius`` px), each in its colour."""
    for (a, b), good, color in zip(limbs, limb_ok, limb_colors):
        if good:
            cv2.line(img, _fixed(pose[a]), _fixed(pose[b]), color, line_width, cv2.LINE_AA,
                     _SHIFT)
    for p, good, color in zip(pose, joint_ok, joint_colors):
        if good:
            cv2.circle(img, _fixed(p), int(radius * (1 << _SHIFT)), color, -1, cv2.LINE_AA,
                       _SHIFT)


def put_title(img: np.ndarray, title: str, scale: float) -> None:
    """The view's title, top left, in place (nothing for an empty title)."""
    if title:
        cv2.putText(img, title, (6, 6 + int(28 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.4, scale), (255, 255, 0), 1, cv2.LINE_AA)


def draw_view(image: Optional[np.ndarray], image_size: Sequence[float],
              skeleton: Sequence[Sequence[int]], pseudo: Optional[np.ndarray] = None,
              pseudo_scores: Optional[np.ndarray] = None,
              gt_2d: Optional[np.ndarray] = None, scale: float = 0.5,
              title: str = '') -> np.ndarray:
    """One view with its pseudo poses (coloured by score) and the projected 3D GT.

    Drawn with OpenCV: mmengine's matplotlib ``Visualizer`` rescales its canvas when a
    marker touches the border (pseudo poses of truncated people do) and is ~10× slower.

    Args:
        image: (H, W, 3) RGB or None (a grey canvas of ``image_size``).
        image_size: (W, H) original pixels.
        pseudo: (P, J, 2) original pixels; pseudo_scores: (P, J) (0 = not detected).
        gt_2d: (G, J, 2) projected GT (drawn thin, white).
        scale: output scale.
    Returns:
        (h, w, 3) RGB uint8.
    """
    W, H = int(image_size[0]), int(image_size[1])
    if image is None:
        image = np.full((H, W, 3), 60, np.uint8)
    img = cv2.resize(image, (max(1, int(W * scale)), max(1, int(H * scale))),
                     interpolation=cv2.INTER_AREA)
    lw = max(1, int(round(3 * scale)))
    limbs = np.asarray(skeleton, int).reshape(-1, 2)

    def ok(pose):  # (J, 2) -> (J,) drawable
        return np.isfinite(pose).all(-1) & (np.abs(pose).max(-1) < 1e5)

    if gt_2d is not None and len(gt_2d):
        for pose in np.asarray(gt_2d, np.float64) * scale:
            good = ok(pose)
            draw_skeleton(img, pose, good[limbs].all(-1), np.zeros(len(pose), bool), limbs,
                          [(255, 255, 255)] * len(limbs), [], lw, 0)
    if pseudo is not None and len(pseudo):
        P = np.asarray(pseudo, np.float64) * scale
        S = np.ones(P.shape[:2]) if pseudo_scores is None else np.asarray(pseudo_scores)
        for pose, sc in zip(P, S):
            good = ok(pose)
            seg = sc[limbs].min(-1)
            draw_skeleton(img, pose, (seg > 0) & good[limbs].all(-1), (sc > 0) & good, limbs,
                          _score_colors(seg), _score_colors(sc), lw + 1, lw + 2)
    put_title(img, title, scale)
    return img


def montage(images: List[np.ndarray], cols: int = 3, pad: int = 4) -> np.ndarray:
    """Tile RGB images (any sizes) into one grid image."""
    h = max(i.shape[0] for i in images)
    w = max(i.shape[1] for i in images)
    rows = (len(images) + cols - 1) // cols
    cols = min(cols, len(images))
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 20, np.uint8)
    for k, im in enumerate(images):
        r, c = divmod(k, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y:y + im.shape[0], x:x + im.shape[1]] = im
    return out


def save_image(image: np.ndarray, path: str):
    """Write an RGB image atomically (temporary file + rename)."""
    with atomic_path(path) as tmp:
        if not cv2.imwrite(tmp, image[..., ::-1]):
            raise IOError(f'cannot write {path}')


def plot_scene_3d(cameras: MultiViewCameras, skeleton: Sequence[Sequence[int]],
                  poses: Optional[np.ndarray] = None, others: Optional[np.ndarray] = None,
                  space_center=None, space_size=None, title: str = '',
                  frustum_mm: float = 400.0, dpi: int = 100) -> np.ndarray:
    """The scene in 3D: capture space, camera frustums, GT people (coloured) and other
    people (grey, e.g. bystanders outside the space).

    Args:
        poses: (G, J, 3) mm. others: (Q, J, 3) mm.
    Returns:
        (h, w, 3) RGB uint8 picture.
    """
    matplotlib.use('Agg', force=False)
    fig = plt.figure(figsize=(8, 7), dpi=dpi)
    ax = fig.add_subplot(111, projection='3d')
    limbs = np.asarray(skeleton, int).reshape(-1, 2)
    pts_all = [cameras.centers.numpy()]
    if space_center is not None and space_size is not None:
        c, s = np.asarray(space_center), np.asarray(space_size) / 2
        corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * s + c
        for i in range(8):
            for j in range(i + 1, 8):
                if np.sum(np.abs(corners[i] - corners[j]) > 1e-6) == 1:
                    ax.plot(*corners[[i, j]].T, color='0.6', lw=0.8)
        pts_all.append(corners)
    # camera frustums: centre → the four image corners at frustum_mm depth
    K = cameras.K.numpy()
    R = cameras.R.numpy()
    centers = cameras.centers.numpy()
    wh = cameras.image_size.numpy()
    for c in range(cameras.num_views):
        px = np.array([[0, 0], [wh[c, 0], 0], [wh[c, 0], wh[c, 1]], [0, wh[c, 1]]])
        rays = np.linalg.inv(K[c]) @ np.c_[px, np.ones(4)].T  # (3, 4) camera frame
        ends = (R[c].T @ (rays * frustum_mm / rays[2])).T + centers[c]
        for e in ends:
            ax.plot(*np.stack([centers[c], e]).T, color='tab:blue', lw=0.8)
        ax.plot(*np.vstack([ends, ends[:1]]).T, color='tab:blue', lw=0.8)
        name = cameras.names[c] if cameras.names else str(c)
        ax.text(*centers[c], name, fontsize=7, color='tab:blue')
    cmap = matplotlib.colormaps['tab10']
    for group, color_fn in ((poses, lambda i: cmap(i % 10)), (others, lambda i: '0.5')):
        if group is None:
            continue
        for i, pose in enumerate(np.asarray(group)):
            for a, b in limbs:
                ax.plot(*pose[[a, b]].T, color=color_fn(i), lw=1.5)
            pts_all.append(pose)
    P = np.concatenate(pts_all)
    mid, span = (P.max(0) + P.min(0)) / 2, (P.max(0) - P.min(0)).max() / 2
    ax.set_xlim(mid[0] - span, mid[0] + span)
    ax.set_ylim(mid[1] - span, mid[1] + span)
    ax.set_zlim(max(mid[2] - span, P[:, 2].min() - 100), mid[2] + span)
    ax.set_xlabel('x (mm)')
    ax.set_ylabel('y (mm)')
    ax.set_zlabel('z (mm)')
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return img
