"""The voxel grid the root net runs on: a capture space fitted at the trained voxel size.

The root net (V2V) is fully convolutional, so it runs on a volume of any shape whose axes
are multiples of 4 (two 2× poolings); what it learned is tied to the *voxel size*, not
to the space. :func:`fit_root_space` turns a capture space into the grid of that voxel
size covering it: per axis ``N = S / v + 1`` voxel centres (endpoints included, the
convention of :func:`~selfpose3d_mm.geometry.make_voxel_grid`), rounded up to a multiple
of 4, and the space grown symmetrically about its centre to ``(N − 1) · v``. The
configured space itself gives back the configured cube, exactly (the same floats).

Everything here is Python floats (the metainfo of the frames), never device tensors: a
training step in ``space_from='frame'`` mode reads nothing back from the device.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional, Sequence, Tuple

__all__ = ['RootSpace', 'root_space', 'fit_root_space', 'V2V_MULTIPLE',
           'V2V_BYTES_PER_VOXEL_CHANNEL']

#: every axis of a V2V volume is a multiple of this (two 2× max-poolings)
V2V_MULTIPLE = 4
#: peak memory of one root-net pass with gradients (forward + backward), bytes per voxel
#: of its volume and per ``mid_channels``: measured on the CPU for ``mid_channels=32``,
#: 3.3 kB per voxel on 80 × 80 × 20 (the outputs of its layers alone, counted on the
#: meta device, are 3120 bytes); a pass without gradients (prediction) peaks at ~1/3
V2V_BYTES_PER_VOXEL_CHANNEL = 103.0
#: relative slack when dividing a size by the voxel (8000 / (8000 / 79) is 79.0000001)
_EPS = 1e-6


class RootSpace(NamedTuple):
    """A root-net grid: ``center`` (3,) mm, ``size`` (3,) mm between the outer voxel
    centres, ``shape`` (X, Y, Z) voxels. A plain tuple (hashable: a cache key)."""
    center: Tuple[float, float, float]
    size: Tuple[float, float, float]
    shape: Tuple[int, int, int]

    @property
    def voxel(self) -> Tuple[float, float, float]:
        """Spacing of the voxel centres per axis, mm: ``size / (shape − 1)``."""
        return tuple(s / max(n - 1, 1) for s, n in zip(self.size, self.shape))

    @property
    def num_voxels(self) -> int:
        return self.shape[0] * self.shape[1] * self.shape[2]

    def describe(self) -> str:
        c = ', '.join(f'{v:.0f}' for v in self.center)
        s = ' × '.join(f'{v:.0f}' for v in self.size)
        return f'{"×".join(map(str, self.shape))} voxels over {s} mm at ({c})'


def root_space(center: Sequence[float], size: Sequence[float],
               shape: Sequence[int]) -> RootSpace:
    """A :class:`RootSpace` of plain floats and ints."""
    return RootSpace(tuple(float(v) for v in center), tuple(float(v) for v in size),
                     tuple(int(v) for v in shape))


def fit_root_space(center: Sequence[float], size: Sequence[float],
                   voxel: Sequence[float], max_voxels: Optional[int] = None,
                   mid_channels: int = 32) -> RootSpace:
    """The grid of voxel size ``voxel`` covering the capture space ``center``/``size``.

    Args:
        center, size: the capture space (mm).
        voxel: the trained voxel size (3,) mm (``CuboidProposalHead.trained_voxel``).
        max_voxels: refuse grids larger than this (None: no limit).
        mid_channels: the root net's width (for the memory figure of the error).
    Returns:
        :class:`RootSpace` with the same centre, axes multiples of
        :data:`V2V_MULTIPLE`, ``size`` grown so that ``size / (shape − 1) == voxel``.
    Raises:
        ValueError: a non-positive size, or more voxels than ``max_voxels``.
    """
    if len(center) != 3 or len(size) != 3:
        raise ValueError(f'capture space must be (x, y, z): center {center!r}, '
                         f'size {size!r}')
    if any(float(s) <= 0 for s in size):
        raise ValueError(f'capture space size must be positive, got {tuple(size)}')
    shape, grown = [], []
    for s, v in zip(size, voxel):
        n = math.ceil(float(s) / float(v) + 1 - _EPS)
        n = V2V_MULTIPLE * math.ceil(n / V2V_MULTIPLE)
        shape.append(n)
        g = (n - 1) * float(v)
        grown.append(float(s) if math.isclose(g, float(s), rel_tol=_EPS) else g)
    fitted = root_space(center, grown, shape)
    if max_voxels is not None and fitted.num_voxels > int(max_voxels):
        n = fitted.num_voxels
        act = n * mid_channels * V2V_BYTES_PER_VOXEL_CHANNEL / 2**30
        raise ValueError(
            f'capture space {tuple(float(v) for v in size)} mm at the trained root voxel '
            f'{tuple(round(float(v), 1) for v in voxel)} mm needs a root volume of '
            f'{fitted.describe()} = {n:,} voxels, more than root_head.max_voxels='
            f'{int(max_voxels):,} (the root net needs ≈ {act:.1f} GiB per frame and pass with '
            'gradients, ≈ 1/3 of that to predict). Use a smaller capture '
            'space (tools/estimate_space.py), a model trained with coarser root voxels '
            '(larger root_head.space_size / cube_shape), or raise root_head.max_voxels '
            'if the memory is there (docs/architecture.md#capture-space-at-test-time).')
    return fitted
