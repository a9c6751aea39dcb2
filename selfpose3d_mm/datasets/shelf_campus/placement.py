"""VoxelPose's synthetic-training draws for Shelf / Campus
(docs/method.md#shelf-and-campus): people placed at random in the space with the IoU
rejection, rotated about the vertical, and the amplitude perturbations of the per-joint
2D evidence."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.skeleton import PANOPTIC15_NAMES, PANOPTIC15_ROOT_INDEX, side_pair

__all__ = ['PLACEMENT_DEFAULTS', 'AMPLITUDE_DEFAULTS', 'place_people', 'joint_amplitudes',
           'xy_boxes', 'box_iou']

# Panoptic-15 joints of the perturbation groups: (4, 10), (7, 13), (5, 11), (8, 14)
_ELBOWS, _KNEES, _WRISTS, _ANKLES = (side_pair(PANOPTIC15_NAMES, part)
                                     for part in ('elbow', 'knee', 'wrist', 'ankle'))

PLACEMENT_DEFAULTS = dict(
    shelf=dict(
        num_people=(1, 5),          # U{lo..hi} people per sample
        x_range=(-1000.0, 2000.0),  # mm, uniform root positions
        y_range=(-1600.0, 1600.0),
        uniform_prob=0.7,           # else next to a placed person (always for the first)
        near_offset=(500.0, 50.0),  # N(mean, std) mm per axis, random sign
        iou_threshold=0.01,         # reject when the xy-box IoU with anyone is >= this
        max_tries=100,              # candidate positions per person, then stop adding
        min_views=0,                # (x, y, view_height) must project inside >= min_views
        view_margin=10.0,           # px inside the image border
        view_height=1000.0,         # mm
        person_drop_prob=0.05,      # a person missing from a view's evidence
    ),
    campus=dict(
        num_people=(1, 9),
        x_range=(-2500.0, 8500.0),
        y_range=(-1000.0, 10000.0),
        uniform_prob=0.7,
        near_offset=(500.0, 50.0),
        iou_threshold=0.01,
        max_tries=100,
        min_views=2,
        view_margin=10.0,
        view_height=1000.0,
        person_drop_prob=0.0,
    ),
)

# amplitude = base (0.9 + N(0, 0.03) w.p. 0.6, else 1) × a group's factor w.p. its prob;
# joints in no group use (other_prob, other_factor).
AMPLITUDE_DEFAULTS = dict(
    shelf=dict(base_prob=0.6, base_mean=0.9, base_std=0.03,
               groups=((_ELBOWS + _KNEES, 0.1, 0.5), (_WRISTS + _ANKLES, 0.1, 0.2)),
               other_prob=0.05, other_factor=0.5),
    campus=dict(base_prob=0.6, base_mean=0.9, base_std=0.03,
                groups=((_ELBOWS, 0.1, 0.5), (_WRISTS, 0.1, 0.2)),
                other_prob=0.05, other_factor=0.5),
)


def _rot_z(theta: np.ndarray) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def xy_boxes(poses: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(N, J, 3) poses → (N, 4) xy boxes (x0, y0, x1, y1) over the valid joints."""
    xy = poses[..., :2]
    v = valid[..., None]
    lo = np.where(v, xy, np.inf).min(-2)
    hi = np.where(v, xy, -np.inf).max(-2)
    return np.concatenate([lo, hi], -1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (T, 4) × (K, 4) → (T, K)."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2:] - x[:, :2], 0, None).prod(-1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None] - inter
    return inter / np.maximum(union, 1e-9)


def place_people(rng: np.random.Generator, poses: np.ndarray, valid: np.ndarray,
                 num: int, cfg: dict, space_center, space_size,
                 cameras: Optional[MultiViewCameras] = None,
                 root_index: int = PANOPTIC15_ROOT_INDEX) -> Tuple[np.ndarray, np.ndarray]:
    """Place up to ``num`` poses drawn from a source (VoxelPose's protocol).

    Each person: a random source pose, rotated about the vertical through its root by
    U(−180°, 180°), its root moved to a ground position: uniform in
    ``x_range × y_range`` with probability ``uniform_prob`` (always for the first
    person), else next to a random placed person (offset N(near_offset) per axis, random
    sign). A position is rejected when the xy-box IoU with any placed person is
    ≥ ``iou_threshold``, when the root leaves the capture space (our addition: the root
    cube cannot hold it), or when ``(x, y, view_height)`` projects ``view_margin`` px
    inside fewer than ``min_views`` images. After ``max_tries`` rejected positions no
    more people are added.

    Args:
        poses: (N, J, 3) source poses, world mm (z up); valid: (N, J) bool.
        cameras: the rig (needed when ``min_views > 0``).

    Returns:
        placed poses (P, J, 3) float64 and validity (P, J), 1 ≤ P ≤ num.
    """
    c, s = np.asarray(space_center, np.float64), np.asarray(space_size, np.float64)
    T = int(cfg['max_tries'])
    out, out_valid, boxes, roots = [], [], [], []
    for k in range(int(num)):  # a handful of people, sequential by construction
        i = int(rng.integers(len(poses)))
        root = poses[i, root_index]
        p = (poses[i] - root) @ _rot_z(rng.uniform(-np.pi, np.pi)).T
        uniform = np.column_stack([rng.uniform(*cfg['x_range'], T),
                                   rng.uniform(*cfg['y_range'], T)])
        if k:
            ref = np.asarray(roots)[rng.integers(k, size=T)]
            sign = rng.choice([-1.0, 1.0], (T, 2))
            near = ref + sign * rng.normal(*cfg['near_offset'], (T, 2))
            xy = np.where((rng.random(T) < cfg['uniform_prob'])[:, None], uniform, near)
        else:
            xy = uniform
        cand_roots = np.column_stack([xy, np.full(T, root[2])])      # (T, 3)
        ok = (np.abs(cand_roots - c) <= s / 2).all(-1)
        if k:
            box = xy_boxes(p[None, :, :2] + xy[:, None], valid[i][None])
            ok &= box_iou(box, np.asarray(boxes)).max(-1) < cfg['iou_threshold']
        if cfg['min_views'] > 0:
            if cameras is None:
                raise ValueError('place_people: min_views > 0 needs the cameras')
            pts = torch.from_numpy(np.column_stack([xy, np.full(T, cfg['view_height'])]))
            uv, front = cameras.project(pts, return_valid=True)       # (C, T, 2)
            m = cfg['view_margin']
            wh = cameras.image_size.unsqueeze(-2)
            inside = front & ((uv >= m) & (uv < wh - m)).all(-1)
            ok &= (inside.sum(0) >= cfg['min_views']).numpy()
        hit = np.flatnonzero(ok)
        if not len(hit):
            break
        placed = p + cand_roots[hit[0]]
        out.append(placed)
        out_valid.append(valid[i])
        boxes.append(xy_boxes(placed[None], valid[i][None])[0])
        roots.append(cand_roots[hit[0], :2])
    J = poses.shape[1]
    if not out:
        return np.zeros((0, J, 3)), np.zeros((0, J), bool)
    return np.stack(out), np.stack(out_valid)


def joint_amplitudes(rng: np.random.Generator, shape: Tuple[int, ...], cfg: dict,
                     num_joints: int = 15) -> np.ndarray:
    """Per-joint evidence amplitudes (..., J) in (0, 1] (VoxelPose's perturbations).

    Args:
        shape: leading shape, e.g. (C, P) views × people.
    """
    full = tuple(shape) + (num_joints, )
    base = np.where(rng.random(full) < cfg['base_prob'],
                    cfg['base_mean'] + cfg['base_std'] * rng.standard_normal(full), 1.0)
    prob = np.full(num_joints, float(cfg['other_prob']))
    factor = np.full(num_joints, float(cfg['other_factor']))
    for joints, p, f in cfg['groups']:
        prob[list(joints)], factor[list(joints)] = p, f
    mult = np.where(rng.random(full) < prob, factor, 1.0)
    return np.clip(base * mult, 1e-3, 1.0)
