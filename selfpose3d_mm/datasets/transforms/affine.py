"""Multi-view geometric transforms: the per-set image affines and their application.

A sample carries S *view-sets* of its C views: set 0 is the plain keep-aspect resize to
the network input (x⁰); SelfPose3d adds two random rotation/scale sets (x¹, x²), one
(rotation, scale) per set shared by all its views. Every set is a (C, 2, 3) matrix
original pixel → input pixel, applied to images and pseudo poses alike and recorded, so
that 3D ↔ augmented 2D stays exact downstream.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS

from selfpose3d_mm.geometry import (apply_affine, compose_affine, resize_affine,
                                    rotation_scale_affine)

__all__ = ['MultiViewResize', 'MultiViewRandomAffinePair', 'MultiViewAffine']


def _image_sizes(results: dict) -> np.ndarray:
    if 'image_sizes' in results:
        return np.asarray(results['image_sizes'], np.float64)
    return results['cameras'].image_size.cpu().numpy().astype(np.float64)


def _resize(results: dict, input_size) -> torch.Tensor:
    """(C, 2, 3) keep-aspect resize of every view to ``input_size``."""
    return resize_affine(torch.from_numpy(_image_sizes(results)), input_size).double()


@TRANSFORMS.register_module()
class MultiViewResize(BaseTransform):
    """One view-set (S = 1): each view resized to ``input_size`` keeping its aspect.

    Added keys: ``affines`` (1, C, 2, 3), ``input_size``, ``aug_params`` (1, 2).
    """

    def __init__(self, input_size: Tuple[int, int]):
        self.input_size = tuple(int(v) for v in input_size)

    def transform(self, results: dict) -> dict:
        results['affines'] = _resize(results, self.input_size)[None].numpy()
        results['input_size'] = self.input_size
        results['aug_params'] = np.zeros((1, 2))
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(input_size={self.input_size})'


@TRANSFORMS.register_module()
class MultiViewRandomAffinePair(BaseTransform):
    """Three view-sets: x⁰ (resize only) and x¹, x² (random rotation + zoom about the
    input centre, after the resize), one draw per set shared by all views.

    The law follows the SelfPose3d authors: rotation ``U(-rot_factor, rot_factor)`` with
    probability ``rot_prob`` else 0; with probability ``scale_prob`` a zoom-out by
    ``1 + U(scale_range)``, else a zoom-in by ``1 + U(scale_range) / 2``.

    Args:
        input_size: network input (w, h).
        rot_factor: max |rotation| in degrees (paper: 45).
        rot_prob: probability of a non-zero rotation.
        scale_range: range of the relative scale change (paper: up to 0.35).
        scale_prob: probability of zooming out (else in).
        num_augmented: augmented sets after x⁰ (2 for SelfPose3d).
        per_view: draw (rotation, scale) per view instead of per set.

    Added keys: ``affines`` (S, C, 2, 3) original → input pixel, ``aug_params`` (S, 2)
    (rotation in degrees, zoom) — per view when ``per_view``: (S, C, 2).
    """

    def __init__(self, input_size: Tuple[int, int], rot_factor: float = 45.0,
                 rot_prob: float = 0.5, scale_range: Tuple[float, float] = (0.1, 0.35),
                 scale_prob: float = 0.5, num_augmented: int = 2, per_view: bool = False):
        self.input_size = tuple(int(v) for v in input_size)
        self.rot_factor = float(rot_factor)
        self.rot_prob = float(rot_prob)
        self.scale_range = tuple(float(v) for v in scale_range)
        self.scale_prob = float(scale_prob)
        self.num_augmented = int(num_augmented)
        self.per_view = per_view

    def _draw(self, n: int) -> Tuple[np.ndarray, np.ndarray]:
        rot = np.where(np.random.rand(n) < self.rot_prob,
                       np.random.uniform(-self.rot_factor, self.rot_factor, n), 0.0)
        rel = np.random.uniform(*self.scale_range, n)
        rel = np.where(np.random.rand(n) < self.scale_prob, rel, -rel / 2)
        return rot, 1.0 / (1.0 + rel)  # bigger source region (zoom-out) for rel > 0

    def transform(self, results: dict) -> dict:
        base = _resize(results, self.input_size)  # (C, 2, 3)
        C = base.shape[0]
        center = torch.tensor(self.input_size, dtype=torch.float64) / 2
        affines, params = [base], [np.zeros((C, 2)) if self.per_view else np.zeros(2)]
        for _ in range(self.num_augmented):
            rot, zoom = self._draw(C if self.per_view else 1)
            aug = rotation_scale_affine(center, torch.from_numpy(rot),
                                        torch.from_numpy(zoom))  # (n, 2, 3)
            affines.append(compose_affine(aug.expand(C, 2, 3), base))
            p = np.stack([rot, zoom], -1)
            params.append(p if self.per_view else p[0])
        results['affines'] = torch.stack(affines).numpy()
        results['aug_params'] = np.stack(params)
        results['input_size'] = self.input_size
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(input_size={self.input_size}, '
                f'rot_factor={self.rot_factor}, rot_prob={self.rot_prob}, '
                f'scale_range={self.scale_range}, scale_prob={self.scale_prob}, '
                f'num_augmented={self.num_augmented}, per_view={self.per_view})')


def pad_views(arrays: Sequence[np.ndarray], tail: Tuple[int, ...], dtype) -> np.ndarray:
    """Stack C per-view arrays (P_c, *tail) into (C, P_max, *tail), zero padded."""
    P = max([len(a) for a in arrays] + [0])
    out = np.zeros((len(arrays), P) + tuple(tail), dtype)
    for c, a in enumerate(arrays):  # C views, small copies
        if len(a):
            out[c, :len(a)] = np.asarray(a, dtype).reshape((len(a), ) + tuple(tail))
    return out


@TRANSFORMS.register_module()
class MultiViewAffine(BaseTransform):
    """Apply ``affines`` (S, C, 2, 3) to the images and the pseudo 2D poses.

    Images: ``img`` (list of C HxWx3) → ``imgs`` (S, C, h, w, 3) uint8 (``cv2.warpAffine``,
    bilinear, constant ``border_value``). Pseudo poses: ``pseudo_keypoints`` (list of C
    (P_c, J, 2) original pixels) → padded ``pseudo_keypoints`` (S, C, P, J, 2) in input
    pixels; ``pseudo_keypoints_visible`` (S, C, P, J) = score > ``min_score`` and inside
    the input; ``pseudo_keypoint_scores`` (C, P, J), ``pseudo_bbox_scores`` (C, P),
    ``pseudo_person_mask`` (C, P).
    """

    def __init__(self, min_score: float = 0.0, border_value: Sequence[int] = (0, 0, 0)):
        self.min_score = float(min_score)
        self.border_value = tuple(int(v) for v in border_value)

    def transform(self, results: dict) -> dict:
        A = np.asarray(results['affines'], np.float64)  # (S, C, 2, 3)
        S, C = A.shape[:2]
        w, h = results['input_size']
        imgs = results.get('img')
        if imgs is not None:
            if len(imgs) != C:
                raise ValueError(f'{len(imgs)} images for {C} views in sample '
                                 f'{results.get("sample_idx")}')
            results['imgs'] = np.stack([
                np.stack([cv2.warpAffine(imgs[c], A[s, c], (w, h), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT,
                                         borderValue=self.border_value) for c in range(C)])
                for s in range(S)])
        kpts = results.get('pseudo_keypoints')
        if kpts is not None and not isinstance(kpts, np.ndarray):
            J = results.get('num_keypoints') or next(
                (k.shape[1] for k in kpts if len(k)), 0)
            kp = pad_views(kpts, (J, 2), np.float32)  # (C, P, J, 2)
            sc = pad_views(results['pseudo_keypoint_scores'], (J, ), np.float32)
            bs = pad_views(results.get('pseudo_bbox_scores',
                                       [np.ones(len(k)) for k in kpts]), (), np.float32)
            mask = pad_views([np.ones(len(k), bool) for k in kpts], (), bool)
            # (S, C, P·J, 2): every set and view at once
            P = kp.shape[1]
            kp_s = apply_affine(torch.from_numpy(kp.astype(np.float64)).reshape(1, C, P * J, 2),
                                torch.from_numpy(A)).reshape(S, C, P, J, 2).numpy()
            inside = ((kp_s >= 0) & (kp_s < np.array([w, h]))).all(-1)
            vis = inside & (sc > self.min_score)[None] & mask[None, :, :, None]
            results['pseudo_keypoints'] = kp_s.astype(np.float32)
            results['pseudo_keypoints_visible'] = vis
            results['pseudo_keypoint_scores'] = sc
            results['pseudo_bbox_scores'] = bs
            results['pseudo_person_mask'] = mask
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(min_score={self.min_score}, '
                f'border_value={self.border_value})')
