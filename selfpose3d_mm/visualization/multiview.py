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
from matplotlib.lines import Line2D

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.utils import atomic_path
from .legend import CAMERA_COLOR, INPUT_2D_COLOR, SPACE_COLOR, id_colors, scene_legend

__all__ = ['draw_view', 'draw_input_poses', 'montage', 'plot_scene_3d', 'save_image']


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


def drawable(pose: np.ndarray) -> np.ndarray:
    """(..., J, 2) pixels → (..., J) bool: finite and not absurdly far (drawing clips)."""
    return np.isfinite(pose).all(-1) & (np.abs(np.nan_to_num(pose)).max(-1) < 1e5)


def draw_input_poses(img: np.ndarray, poses: Optional[np.ndarray],
                     scores: Optional[np.ndarray], skeleton: Sequence[Sequence[int]],
                     scale: float, color=INPUT_2D_COLOR, alpha: float = 0.75) -> np.ndarray:
    """The input 2D poses of a view, thin and semi-transparent (in place; returns img).

    Args:
        poses: (P, J, 2) original pixels; scores: (P, J) (joints with score <= 0 are
            not detected and not drawn; None: all drawn).
        scale: the picture's scale relative to the original pixels.
    """
    if poses is None or not len(poses):
        return img
    P = np.asarray(poses, np.float64) * scale
    S = np.ones(P.shape[:2]) if scores is None else np.asarray(scores, np.float64)
    limbs = np.asarray(skeleton, int).reshape(-1, 2)
    layer = img.copy()
    r = max(1.0, 2.0 * scale)
    for pose, sc in zip(P, S):
        ok = drawable(pose) & (sc > 0)
        draw_skeleton(layer, pose, ok[limbs].all(-1), ok, limbs, [color] * len(limbs),
                      [color] * len(pose), 1, r)
    changed = (layer != img).any(-1)
    img[changed] = (alpha * layer[changed] + (1 - alpha) * img[changed]).astype(np.uint8)
    return img


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
    ok = drawable
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


def _box_edges(center, size) -> List[np.ndarray]:
    """The 12 edges ((2, 3) each) of an axis-aligned box."""
    c, s = np.asarray(center, np.float64), np.asarray(size, np.float64) / 2
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * s + c
    return [corners[[i, j]] for i in range(8) for j in range(i + 1, 8)
            if np.sum(np.abs(corners[i] - corners[j]) > 1e-6) == 1]


def _mpl(rgb) -> tuple:
    return tuple(v / 255.0 for v in rgb)


_MPL_STYLE = dict(pose=dict(lw=1.8, marker='o', ms=3), input=dict(lw=0.8, alpha=0.7),
                  box=dict(lw=1.0), dashed=dict(lw=1.0, ls='--'),
                  camera=dict(lw=0.8, marker='v', ms=5))


def plot_scene_3d(cameras: MultiViewCameras, skeleton: Sequence[Sequence[int]],
                  poses: Optional[np.ndarray] = None, others: Optional[np.ndarray] = None,
                  space_center=None, space_size=None, title: str = '',
                  frustum_mm: float = 400.0, dpi: int = 100,
                  ids: Optional[Sequence[int]] = None, search_cube=None,
                  legend: bool = True, tracked: bool = False, people_label: str = 'person',
                  return_legend: bool = False):
    """The scene in 3D: capture space, camera frustums, people and other people.

    Colours (:mod:`.legend`): person ``ids[i]`` (default ``i``) in ``id_colors``, other
    people grey, the capture space a grey box, the network's search cube (``search_cube
    = (center, size)``, drawn when it differs from the space) a dashed grey box, the
    cameras black.

    Args:
        poses: (G, J, 3) mm. others: (Q, J, 3) mm (e.g. bystanders outside the space).
        legend: draw the legend (people, capture space, cameras).
        return_legend: also return the legend entries.
    Returns:
        (h, w, 3) RGB uint8 picture [, list of :class:`LegendEntry`].
    """
    matplotlib.use('Agg', force=False)
    fig = plt.figure(figsize=(8, 7), dpi=dpi)
    ax = fig.add_subplot(111, projection='3d')
    limbs = np.asarray(skeleton, int).reshape(-1, 2)
    pts_all = [cameras.centers.numpy()]
    space = space_center is not None and space_size is not None
    if space:
        for e in _box_edges(space_center, space_size):
            ax.plot(*e.T, color=_mpl(SPACE_COLOR), lw=1.0)
        pts_all.append(np.concatenate(_box_edges(space_center, space_size)))
    cube = search_cube is not None and not (
        space and np.allclose(search_cube[0], space_center)
        and np.allclose(search_cube[1], space_size))
    if cube:
        for e in _box_edges(*search_cube):
            ax.plot(*e.T, color=_mpl(SPACE_COLOR), lw=1.0, ls='--')
    # camera frustums: centre → the four image corners at frustum_mm depth
    K, R = cameras.K.numpy(), cameras.R.numpy()
    centers, wh = cameras.centers.numpy(), cameras.image_size.numpy()
    cam = _mpl(CAMERA_COLOR)
    for c in range(cameras.num_views):
        px = np.array([[0, 0], [wh[c, 0], 0], [wh[c, 0], wh[c, 1]], [0, wh[c, 1]]])
        rays = np.linalg.inv(K[c]) @ np.c_[px, np.ones(4)].T  # (3, 4) camera frame
        ends = (R[c].T @ (rays * frustum_mm / rays[2])).T + centers[c]
        for e in ends:
            ax.plot(*np.stack([centers[c], e]).T, color=cam, lw=0.8)
        ax.plot(*np.vstack([ends, ends[:1]]).T, color=cam, lw=0.8)
        name = cameras.names[c] if cameras.names else str(c)
        ax.text(*centers[c], name, fontsize=7, color=cam)
    poses = np.zeros((0, 1, 3)) if poses is None else np.asarray(poses)
    ids = list(range(len(poses))) if ids is None else [int(i) for i in ids]
    for pose, color in zip(poses, id_colors(ids)):
        for a, b in limbs:
            ax.plot(*pose[[a, b]].T, color=_mpl(color), lw=1.8)
        pts_all.append(pose)
    others = None if others is None or not len(others) else np.asarray(others)
    for pose in others if others is not None else []:
        for a, b in limbs:
            ax.plot(*pose[[a, b]].T, color=_mpl(SPACE_COLOR), lw=0.8, alpha=0.7)
        pts_all.append(pose)
    P = np.concatenate([p.reshape(-1, 3) for p in pts_all])
    P = P[np.isfinite(P).all(-1)]
    mid, span = (P.max(0) + P.min(0)) / 2, (P.max(0) - P.min(0)).max() / 2
    ax.set_xlim(mid[0] - span, mid[0] + span)
    ax.set_ylim(mid[1] - span, mid[1] + span)
    ax.set_zlim(max(mid[2] - span, P[:, 2].min() - 100), mid[2] + span)
    ax.set_xlabel('x (mm)')
    ax.set_ylabel('y (mm)')
    ax.set_zlabel('z (mm)')
    ax.set_title(title, fontsize=9)
    entries = scene_legend(ids, space=space, search_cube=cube, others=others is not None,
                           tracked=tracked, people_label=people_label)
    if legend:
        handles = [Line2D([], [], color=_mpl(e.color), label=e.label, **_MPL_STYLE[e.style])
                   for e in entries]
        ax.legend(handles=handles, loc='upper left', fontsize=7, framealpha=0.85,
                  ncol=2 if len(handles) > 8 else 1)
    fig.tight_layout()
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return (img, entries) if return_legend else img
