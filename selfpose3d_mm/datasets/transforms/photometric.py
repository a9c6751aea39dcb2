"""Photometric augmentation of the augmented view-sets (x¹, x²), per view.

Photometric only: no pixel moves, so pseudo poses and affines are untouched. The ops are
mmcv's image functions; the cut-out is mmdet's ``CutOut``.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS

__all__ = ['MultiViewRandAugment', 'MultiViewCutout']


def _factor(m: float) -> float:
    """Enhancement factor 1 ± m·0.09 (magnitude 0..10 → up to ±0.9)."""
    return 1.0 + np.random.choice([-1, 1]) * 0.09 * m


_OPS = {
    'Brightness': lambda img, m: mmcv.adjust_brightness(img, _factor(m)),
    'Color': lambda img, m: mmcv.adjust_color(img, _factor(m)),
    'Contrast': lambda img, m: mmcv.adjust_contrast(img, _factor(m)),
    'Sharpness': lambda img, m: mmcv.adjust_sharpness(img, _factor(m)),
    'AutoContrast': lambda img, m: mmcv.auto_contrast(img),
    'Equalize': lambda img, m: mmcv.imequalize(img),
    'Posterize': lambda img, m: mmcv.posterize(img, int(8 - round(m * 0.4))),
}


@TRANSFORMS.register_module()
class MultiViewRandAugment(BaseTransform):
    """RandAugment restricted to photometric ops, independently per view.

    Per view: ``num_ops`` ops drawn from ``ops``, each applied with probability ``prob``
    at a magnitude drawn from ``magnitude_range`` (of 10).

    Args:
        sets: view-sets to augment (default: every set but x⁰).
    Modified keys: ``imgs`` (S, C, h, w, 3).
    """

    def __init__(self, num_ops: int = 2, prob: float = 0.5,
                 magnitude_range: Tuple[int, int] = (1, 9),
                 ops: Sequence[str] = tuple(_OPS), sets: Sequence[int] = None):
        unknown = set(ops) - set(_OPS)
        if unknown:
            raise ValueError(f'MultiViewRandAugment: unknown ops {sorted(unknown)}; '
                             f'known: {sorted(_OPS)}')
        self.num_ops, self.prob = int(num_ops), float(prob)
        self.magnitude_range = tuple(magnitude_range)
        self.ops = list(ops)
        self.sets = None if sets is None else list(sets)

    def transform(self, results: dict) -> dict:
        imgs = results.get('imgs')
        if imgs is None:
            return results
        sets = self.sets if self.sets is not None else range(1, imgs.shape[0])
        for s in sets:
            for c in range(imgs.shape[1]):  # per-view draws: images differ per camera
                img = imgs[s, c]
                for name in np.random.choice(self.ops, self.num_ops, replace=False):
                    if np.random.rand() < self.prob:
                        m = np.random.uniform(*self.magnitude_range)
                        img = _OPS[name](img, m)
                imgs[s, c] = np.clip(img, 0, 255).astype(np.uint8)
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(num_ops={self.num_ops}, prob={self.prob}, '
                f'magnitude_range={self.magnitude_range}, ops={self.ops}, sets={self.sets})')


@TRANSFORMS.register_module()
class MultiViewCutout(BaseTransform):
    """Random grey squares per view (mmdet ``CutOut``), on the augmented sets.

    Args:
        num_holes: (min, max) squares per view.
        size_range: (min, max) side in input pixels (inclusive).
        fill: RGB fill.
    """

    def __init__(self, num_holes: Tuple[int, int] = (2, 15),
                 size_range: Tuple[int, int] = (20, 40),
                 fill: Sequence[int] = (125, 122, 113), sets: Sequence[int] = None):
        # mmdet is needed only by this augmentation (and pseudo labelling): import it here
        from mmdet.datasets.transforms import CutOut
        self.num_holes, self.size_range = tuple(num_holes), tuple(size_range)
        self.fill = tuple(fill)
        self.sets = None if sets is None else list(sets)
        shapes = [(s, s) for s in range(size_range[0], size_range[1] + 1)]
        self._cutout = CutOut(n_holes=self.num_holes, cutout_shape=shapes, fill_in=self.fill)

    def transform(self, results: dict) -> dict:
        imgs = results.get('imgs')
        if imgs is None:
            return results
        sets = self.sets if self.sets is not None else range(1, imgs.shape[0])
        for s in sets:
            for c in range(imgs.shape[1]):
                imgs[s, c] = self._cutout.transform({'img': imgs[s, c].copy()})['img']
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(num_holes={self.num_holes}, '
                f'size_range={self.size_range}, fill={self.fill}, sets={self.sets})')
