"""Root-net losses of SelfPose3d: the root-consistency loss and the synthetic-root
sampler that feeds the synthetic-root loss (docs/method.md#synthetic-root-loss,
#root-consistency).

Shapes: B frames, X × Y × Z root-volume voxels, K = max_people − 1 synthetic roots.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn

__all__ = ['RootConsistencyLoss', 'SyntheticRootSampler']


@MODELS.register_module()
class RootConsistencyLoss(nn.Module):
    """``loss_weight × Σ_k MSE(volumes[k], sg(anchor))``.

    The root volumes computed from the augmented view-sets (x¹, x²) must agree with the
    one of the unaugmented set x⁰, which is the anchor and receives no gradient.

    Args:
        loss_weight: weight of the summed MSE (authors: 1).

    Shapes:
        volumes: a sequence of K ≥ 1 tensors (B, X, Y, Z) (a single (B, X, Y, Z) tensor
            or a stacked (K, B, X, Y, Z) tensor are accepted too).
        anchor: (B, X, Y, Z).
        output: scalar.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, volumes: Union[Sequence[Tensor], Tensor], anchor: Tensor) -> Tensor:
        if anchor.dim() != 4:
            raise ValueError(f'anchor must be (B, X, Y, Z), got {tuple(anchor.shape)}')
        if isinstance(volumes, Tensor):
            stack = volumes[None] if volumes.dim() == 4 else volumes
        else:
            if len(volumes) == 0:
                raise ValueError('volumes must hold at least one root volume')
            for k, v in enumerate(volumes):
                if v.shape != anchor.shape:
                    raise ValueError(f'volumes[{k}] has shape {tuple(v.shape)}, expected '
                                     f'the anchor shape {tuple(anchor.shape)}')
            stack = torch.stack(list(volumes))
        if stack.dim() != 5 or stack.shape[1:] != anchor.shape:
            raise ValueError(f'volumes must be K × (B, X, Y, Z) = K × {tuple(anchor.shape)}, '
                             f'got {tuple(stack.shape)}')
        sq = (stack - anchor.detach()[None]) ** 2            # (K, B, X, Y, Z)
        return self.loss_weight * sq.flatten(1).mean(1).sum()


def _pair(v, name: str) -> Tuple[Tuple[float, float], Tuple[float, float]]:
    """xy margin → ((x_lo, x_hi), (y_lo, y_hi)) from (mx, my) or ((x_lo, x_hi), (y_lo, y_hi))."""
    if len(v) != 2:
        raise ValueError(f'{name} must have two entries (x, y), got {v!r}')
    out = []
    for a in v:
        if isinstance(a, (int, float)):
            out.append((float(a), float(a)))
        elif len(a) == 2:
            out.append((float(a[0]), float(a[1])))
        else:
            raise ValueError(f'{name} entries must be numbers or (low, high) pairs, got {v!r}')
    return tuple(out)  # type: ignore[return-value]


@MODELS.register_module()
class SyntheticRootSampler:
    """Random synthetic person roots for the synthetic-root loss (not a loss itself).

    Per sample: ``n ~ U{1..K}`` roots (K = max_people − 1; n drawn per sample), x and y
    uniform over the floor area of the capture space shrunk by ``xy_margin``, one root
    height per sample ``z ~ U(z_range)`` plus ``N(0, z_jitter²)`` per root (people share
    roughly one floor).

    Args:
        space_center: capture-space centre (x, y, z) mm.
        space_size: capture-space size (x, y, z) mm.
        max_people: K + 1 (authors: 10 → 1..9 roots).
        xy_margin: mm cut from each side of the floor area: ``(mx, my)`` (same on both
            sides of an axis) or ``((x_low, x_high), (y_low, y_high))`` (per side; the
            authors' Panoptic range is ``((2500, 2000), (1500, 1500))``).
        z_range: absolute (z_low, z_high) mm of the shared height; default
            ``(space_zmin + 250, space_zmax − 300)``.
        z_jitter: std (mm) of the per-root height jitter.
    """

    def __init__(self, space_center: Sequence[float], space_size: Sequence[float],
                 max_people: int = 10, xy_margin=(0.0, 0.0),
                 z_range: Optional[Sequence[float]] = None, z_jitter: float = 50.0):
        if len(space_center) != 3 or len(space_size) != 3:
            raise ValueError('space_center and space_size must be (x, y, z)')
        if int(max_people) < 2:
            raise ValueError(f'max_people must be ≥ 2 (K = max_people − 1 ≥ 1), '
                             f'got {max_people}')
        c = [float(v) for v in space_center]
        s = [float(v) for v in space_size]
        (mxl, mxh), (myl, myh) = _pair(xy_margin, 'xy_margin')
        self.x_range = (c[0] - s[0] / 2 + mxl, c[0] + s[0] / 2 - mxh)
        self.y_range = (c[1] - s[1] / 2 + myl, c[1] + s[1] / 2 - myh)
        if z_range is None:
            z_range = (c[2] - s[2] / 2 + 250.0, c[2] + s[2] / 2 - 300.0)
        if len(z_range) != 2:
            raise ValueError(f'z_range must be (low, high), got {z_range!r}')
        self.z_range = (float(z_range[0]), float(z_range[1]))
        for name, (lo, hi) in (('x', self.x_range), ('y', self.y_range),
                               ('z', self.z_range)):
            if not lo <= hi:
                raise ValueError(f'empty {name} sampling range [{lo}, {hi}] mm '
                                 '(margins larger than the space?)')
        self.max_roots = int(max_people) - 1
        self.z_jitter = float(z_jitter)

    def sample(self, batch_size: int, device=None,
               generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        """Draw synthetic roots.

        Random numbers are drawn on the CPU (from ``generator`` when given, so the result
        is deterministic and device-independent), then moved to ``device``.

        Returns:
            roots: (B, K, 3) float32 world mm; padded entries are zeros.
            mask: (B, K) bool, True for the real roots (the first n of each row).
        """
        B, K = int(batch_size), self.max_roots
        if B < 1:
            raise ValueError(f'batch_size must be ≥ 1, got {batch_size}')
        g = dict(generator=generator)
        n = torch.randint(1, K + 1, (B, ), **g)
        mask = torch.arange(K)[None] < n[:, None]                        # (B, K)
        lo = torch.tensor([self.x_range[0], self.y_range[0]])
        hi = torch.tensor([self.x_range[1], self.y_range[1]])
        xy = lo + (hi - lo) * torch.rand(B, K, 2, **g)
        z0 = self.z_range[0] + (self.z_range[1] - self.z_range[0]) * torch.rand(B, 1, **g)
        z = z0 + self.z_jitter * torch.randn(B, K, **g)
        roots = torch.cat([xy, z[..., None]], -1) * mask[..., None]
        return roots.to(device), mask.to(device)
