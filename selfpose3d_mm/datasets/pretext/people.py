"""People in the frames of a rig, for the pretext tasks: boxes, square crops, the same
person in two views (epipolar geometry) and at two instants of a view (appearance).

Everything works in the pixels of the images handed in; a ``scale`` maps them to the
calibration's pixels where the cameras are involved (frames loaded at a reduced size).

* :func:`boxes_from_keypoints` — one box per 2D pose (its confident joints);
* :func:`boxes_from_mask` — one box per connected component of a foreground mask;
* :func:`square_box` / :func:`crop_square` — a square window centred on the box,
  padded, resized to ``size`` (outside the image: a constant); :func:`crop_affine` maps
  image px (e.g. 2D poses) into the crop;
* :func:`match_views` — pairs (i in view a, j in view b) of the same person: mean
  symmetric epipolar distance of their joints (or of the top, centre and bottom of their
  boxes) over the person size, assigned one-to-one (Hungarian), below a threshold;
* :func:`appearance` / :func:`nearest_appearance` — a hue-saturation histogram of a
  person's foreground pixels, and the person of another frame that looks the most alike.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.geometry.epipolar import EpipolarRig, epipolar_distance

__all__ = ['boxes_from_keypoints', 'boxes_from_mask', 'square_box', 'square_roi',
           'crop_affine', 'crop_square', 'box_points', 'match_views', 'appearance',
           'nearest_appearance']


def boxes_from_keypoints(keypoints: np.ndarray, scores: Optional[np.ndarray] = None,
                         min_score: float = 0.1, min_joints: int = 4
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """Boxes of 2D poses.

    Args:
        keypoints: (P, J, 2) px.
        scores: (P, J) joint scores (None: all joints count).
        min_score: joints above it count; min_joints: poses with fewer are dropped.
    Returns:
        boxes (K, 4) float32 ``x0, y0, x1, y1`` and the kept pose indices (K,).
    """
    kp = np.asarray(keypoints, np.float32).reshape(-1, *np.shape(keypoints)[-2:])
    ok = np.isfinite(kp).all(-1)
    if scores is not None:
        ok &= np.asarray(scores).reshape(ok.shape) > min_score
    boxes, keep = [], []
    for p in range(len(kp)):
        if ok[p].sum() < max(int(min_joints), 2):
            continue
        pts = kp[p][ok[p]]
        boxes.append(np.concatenate([pts.min(0), pts.max(0)]))
        keep.append(p)
    return (np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(keep, np.int64))


def boxes_from_mask(mask: np.ndarray, min_area: float = 0.002, dilate: int = 5,
                    max_people: Optional[int] = None) -> np.ndarray:
    """Boxes (K, 4) float32 of the connected components of a foreground mask (H, W),
    largest first. Limbs split by thin gaps are joined by a ``dilate``-px dilation first;
    components smaller than ``min_area`` × the image area are noise."""
    m = np.asarray(mask, np.uint8)
    if dilate > 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (dilate, dilate)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    stats = stats[1:]  # label 0 is the background
    stats = stats[stats[:, cv2.CC_STAT_AREA] >= float(min_area) * m.size]
    stats = stats[np.argsort(-stats[:, cv2.CC_STAT_AREA], kind='stable')]
    if max_people is not None:
        stats = stats[:int(max_people)]
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    return np.stack([x, y, x + w, y + h], -1).astype(np.float32).reshape(-1, 4)


def square_box(box: Sequence[float], padding: float = 0.25) -> Tuple[float, float, float]:
    """(cx, cy, side) of the square centred on ``box`` whose side is its longer edge
    enlarged by ``padding`` (0.25: 25 %)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0, 1.0) * (1.0 + float(padding))
    return 0.5 * (x0 + x1), 0.5 * (y0 + y1), side


def square_roi(center: Sequence[float], side: float) -> Tuple[int, int, int]:
    """The integer pixel square ``(x0, y0, n)`` (top-left corner, side) of a crop."""
    n = max(int(round(float(side))), 1)
    return (int(round(float(center[0]) - n / 2.0)), int(round(float(center[1]) - n / 2.0)),
            n)


def crop_affine(center: Sequence[float], side: float, size: int,
                flip: bool = False) -> np.ndarray:
    """(2, 3) float64 affine from image px to the px of :func:`crop_square`'s crop
    (pixel centres at integers, as OpenCV's resize), mirrored by ``flip``."""
    x0, y0, n = square_roi(center, side)
    s = float(size) / n
    A = np.array([[s, 0.0, (0.5 - x0) * s - 0.5], [0.0, s, (0.5 - y0) * s - 0.5]])
    if flip:
        A[0] = -A[0]
        A[0, 2] += int(size) - 1
    return A


def crop_square(image: np.ndarray, center: Sequence[float], side: float, size: int,
                flip: bool = False, border_value=0, nearest: bool = False) -> np.ndarray:
    """The ``size`` × ``size`` crop of the square (``center``, ``side``) of an image
    (``INTER_AREA`` when shrinking: no aliasing) or mask (``nearest=True``); outside the
    image: ``border_value``. ``flip`` reverses the columns (an exact mirror)."""
    x0, y0, n = square_roi(center, side)
    H, W = image.shape[:2]
    roi = np.empty((n, n) + image.shape[2:], image.dtype)
    roi[...] = border_value
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + n, W), min(y0 + n, H)
    if ax1 > ax0 and ay1 > ay0:
        roi[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0] = image[ay0:ay1, ax0:ax1]
    interp = cv2.INTER_NEAREST if nearest else (
        cv2.INTER_AREA if n > size else cv2.INTER_LINEAR)
    out = cv2.resize(roi, (int(size), int(size)), interpolation=interp)
    return np.ascontiguousarray(out[:, ::-1] if flip else out)


def box_points(boxes: np.ndarray) -> np.ndarray:
    """(K, 3, 2) top-centre, centre and bottom-centre of boxes (K, 4): roughly the head,
    the pelvis and the feet of a standing person, points that correspond across views."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    cx, cy = 0.5 * (b[:, 0] + b[:, 2]), 0.5 * (b[:, 1] + b[:, 3])
    return np.stack([np.stack([cx, b[:, 1]], -1), np.stack([cx, cy], -1),
                     np.stack([cx, b[:, 3]], -1)], 1)


def match_views(cameras: MultiViewCameras, view_a: int, view_b: int,
                points_a: np.ndarray, points_b: np.ndarray,
                valid_a: Optional[np.ndarray] = None, valid_b: Optional[np.ndarray] = None,
                scale_a: Optional[np.ndarray] = None, scale_b: Optional[np.ndarray] = None,
                threshold: float = 0.15, ratio: float = 0.8) -> List[Tuple[int, int]]:
    """The same people in two views of a calibrated rig.

    Args:
        cameras: the rig (calibration px).
        view_a, view_b: the two views.
        points_a: (Pa, K, 2) corresponding points of each person of view a (the joints of
            its 2D pose, or :func:`box_points`), calibration px; points_b likewise.
        valid_a, valid_b: (P, K) bool, points to use (default all finite ones).
        scale_a, scale_b: (P,) person size px (default: the diagonal of the points' box).
        threshold: largest accepted cost: mean symmetric epipolar distance over the mean
            person size (0.15: 15 % of the person).
        ratio: ambiguity test: a match is dropped when another candidate of its row or
            column costs less than ``cost / ratio`` (two people on one epipolar line).
    Returns:
        pairs ``(i, j)``, sorted by cost.
    """
    pa, pb = (np.asarray(p, np.float64).reshape(-1, *np.shape(p)[-2:])
              for p in (points_a, points_b))
    if not len(pa) or not len(pb):
        return []
    K = pa.shape[1]
    if pb.shape[1] != K:
        raise ValueError(f'match_views: {K} points per person in view a, {pb.shape[1]} in b')
    va = np.isfinite(pa).all(-1) if valid_a is None else np.asarray(valid_a, bool)
    vb = np.isfinite(pb).all(-1) if valid_b is None else np.asarray(valid_b, bool)
    sa = _point_scale(pa, va) if scale_a is None else np.asarray(scale_a, np.float64)
    sb = _point_scale(pb, vb) if scale_b is None else np.asarray(scale_b, np.float64)
    cams = cameras.select_views([int(view_a), int(view_b)])
    n = max(len(pa), len(pb))
    uv = torch.zeros(2, n * K, 2, dtype=torch.float64)
    uv[0, :len(pa) * K] = torch.from_numpy(np.nan_to_num(pa).reshape(-1, 2))
    uv[1, :len(pb) * K] = torch.from_numpy(np.nan_to_num(pb).reshape(-1, 2))
    xy = cams.undistort_points(uv.to(cams.K.dtype)).double()
    xh = torch.cat([xy, torch.ones_like(xy[..., :1])], -1)
    xa = xh[0, :len(pa) * K].view(len(pa), 1, K, 3)
    xb = xh[1, :len(pb) * K].view(1, len(pb), K, 3)
    s = torch.from_numpy(0.5 * (sa[:, None] + sb[None, :])).unsqueeze(-1)
    d = epipolar_distance(EpipolarRig(cams), xa, xb, 0, 1, s, s)        # (Pa, Pb, K)
    m = torch.from_numpy(va[:, None] & vb[None, :])
    n_ok = m.sum(-1)
    cost = torch.where(m, d, torch.zeros_like(d)).sum(-1) / n_ok.clamp(min=1)
    cost = torch.where(n_ok >= min(2, K), cost, torch.full_like(cost, np.inf)).numpy()
    big = np.where(np.isfinite(cost), cost, 1e9)
    rows, cols = linear_sum_assignment(big)
    out = []
    for i, j in zip(rows, cols):
        c = cost[i, j]
        if not c <= threshold:
            continue
        others = np.concatenate([np.delete(cost[i], j), np.delete(cost[:, j], i)])
        if len(others) and (others * ratio < c).any():
            continue
        out.append((float(c), int(i), int(j)))
    return [(i, j) for _, i, j in sorted(out)]


def _point_scale(points: np.ndarray, valid: np.ndarray) -> np.ndarray:
    out = np.ones(len(points))
    for p in range(len(points)):
        q = points[p][valid[p]]
        if len(q) >= 2:
            out[p] = max(float(np.linalg.norm(q.max(0) - q.min(0))), 1.0)
    return out


def appearance(image: np.ndarray, box: Sequence[float], mask: Optional[np.ndarray] = None,
               bins: Tuple[int, int] = (16, 8)) -> np.ndarray:
    """L1-normalised hue-saturation histogram (float32) of the pixels of ``box`` in an
    RGB image, restricted to the foreground ``mask`` (H, W) when given."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(max(x1, x0 + 1), w), min(max(y1, y0 + 1), h)
    patch = np.ascontiguousarray(image[y0:y1, x0:x1])
    if patch.size == 0:
        return np.full(bins[0] * bins[1], 1.0 / (bins[0] * bins[1]), np.float32)
    hsv = cv2.cvtColor(patch, cv2.COLOR_RGB2HSV)
    m = None
    if mask is not None:
        m = np.ascontiguousarray(mask[y0:y1, x0:x1]).astype(np.uint8)
        if m.sum() < 16:
            m = None  # too few foreground pixels: the whole box
    hist = cv2.calcHist([hsv], [0, 1], m, list(bins), [0, 180, 0, 256]).reshape(-1)
    return (hist / max(float(hist.sum()), 1e-6)).astype(np.float32)


def nearest_appearance(query: np.ndarray, candidates: Sequence[np.ndarray]) -> Tuple[int, float]:
    """Index and Bhattacharyya distance (0 = same) of the candidate histogram nearest to
    ``query``; (-1, inf) without candidates."""
    best, dist = -1, float('inf')
    for i, c in enumerate(candidates):
        d = float(cv2.compareHist(query, np.asarray(c, np.float32), cv2.HISTCMP_BHATTACHARYYA))
        if d < dist:
            best, dist = i, d
    return best, dist
