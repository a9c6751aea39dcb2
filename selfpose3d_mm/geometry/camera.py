"""One camera structure for a rig of C calibrated views, in torch, batch-first.

Convention (OpenCV): ``x_cam = R @ X_world + t`` in millimetres, ``(x', y') = x_cam[:2] / z``,
OpenCV's distortion model, ``pixel = K @ [x'', y'', 1]``. Every tensor has an optional
leading batch shape ``*`` (``()`` for a fixed rig shared by all frames, ``(B,)`` for
per-frame rigs); the view axis ``C`` comes right after it.

Distortion: OpenCV's coefficient vector in OpenCV's order, stored with one of the widths
of :data:`DISTORTION_WIDTHS` (shorter vectors are zero-padded: 0 or 4 → 5):

=====  =================================================  =================================
width  coefficients                                       model
=====  =================================================  =================================
5      k1 k2 p1 p2 k3                                     radial polynomial + tangential
8      + k4 k5 k6                                         rational radial factor
                                                          (1 + k1 r² + k2 r⁴ + k3 r⁶) /
                                                          (1 + k4 r² + k5 r⁴ + k6 r⁶)
12     + s1 s2 s3 s4                                      + thin prism (x += s1 r² + s2 r⁴,
                                                          y += s3 r² + s4 r⁴)
14     + τx τy                                            + tilted sensor (OpenCV's tilt
                                                          projection of the distorted point)
=====  =================================================  =================================

The 5-coefficient rig takes its own code path, unchanged by the wider models.

kornia's ``PinholeCamera`` holds one camera per batch item with no distortion and no view
axis, and OpenCV's ``projectPoints`` is numpy, one camera at a time and not differentiable,
so the projection is written here and tested against ``cv2.projectPoints``.
"""
from __future__ import annotations

import hashlib
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

__all__ = ['MultiViewCameras', 'DISTORTION_WIDTHS', 'DISTORTION_NAMES', 'distortion_width',
           'points_on_rays']

DISTORTION_WIDTHS = (5, 8, 12, 14)
DISTORTION_NAMES = ('k1', 'k2', 'p1', 'p2', 'k3', 'k4', 'k5', 'k6', 's1', 's2', 's3', 's4',
                    'tau_x', 'tau_y')


def distortion_width(n: int) -> int:
    """The stored width of ``n`` OpenCV coefficients: 0, 4 or 5 → 5; 8, 12, 14 → the same.

    Raises:
        ValueError: any other count (OpenCV's models have 4, 5, 8, 12 or 14).
    """
    if n in (0, 4, 5):
        return 5
    if n in DISTORTION_WIDTHS:
        return int(n)
    raise ValueError(f'{n} distortion coefficients: OpenCV\'s models have 4, 5 (k1 k2 p1 p2 '
                     '[k3]), 8 (+ k4 k5 k6), 12 (+ s1 s2 s3 s4) or 14 (+ tau_x tau_y)')


def points_on_rays(xn: Tensor, depth: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """World points (*, 3) on the rays of normalised undistorted image points xn (*, 2)
    at camera depth ``depth`` (*), each in the camera of its own R (*, 3, 3), t (*, 3)."""
    pc = torch.cat([xn * depth.unsqueeze(-1), depth.unsqueeze(-1)], -1)  # camera frame
    return (R.transpose(-1, -2) @ (pc - t).unsqueeze(-1)).squeeze(-1)


def _pad_dist(dist: Tensor, width: int) -> Tensor:
    return torch.nn.functional.pad(dist, (0, width - dist.shape[-1]))


def _as_tensor(x, dtype=None) -> Tensor:
    """Tensors keep a floating dtype (float32 for anything else); arrays become float32."""
    if isinstance(x, Tensor):
        return x.to(dtype or (x.dtype if x.is_floating_point() else torch.float32))
    return torch.as_tensor(np.asarray(x), dtype=dtype or torch.float32)


def _check(name: str, x: Tensor, tail: Tuple[int, ...]):
    if x.dim() < len(tail) + 1 or tuple(x.shape[x.dim() - len(tail):]) != tail:
        raise ValueError(f'MultiViewCameras: `{name}` must have shape (*, C, '
                         f'{", ".join(map(str, tail))}), got {tuple(x.shape)}')


def _positive_real_roots(ascending) -> list:
    """Positive real roots of the polynomial with these ascending coefficients."""
    c = np.trim_zeros(np.asarray(ascending, np.float64), 'b')
    if len(c) < 2:
        return []
    return [r.real for r in np.atleast_1d(np.roots(c[::-1]))
            if abs(r.imag) < 1e-9 * max(1.0, abs(r.real)) and r.real > 0]


def _max_valid_r2(dist: Tensor) -> Tensor:
    """Largest r² (normalised image plane) where the radial model is still monotone.

    With s = r², the radial map is ``r ↦ r f(s)``; where its derivative
    ``f(s) + 2 s f'(s)`` reaches 0 the model folds back, and far-away points (e.g.
    voxels outside the field of view) would land *inside* the image. Such points are
    flagged invalid. The limit is the first positive root of:

    * 5 coefficients, ``f = 1 + k1 s + k2 s² + k3 s³``: ``1 + 3k1 s + 5k2 s² + 7k3 s³``;
    * the rational model, ``f = N / D`` with ``N = 1 + k1 s + k2 s² + k3 s³`` and
      ``D = 1 + k4 s + k5 s² + k6 s³``: ``d/dr[r N/D] = g(s) / D²`` with the sextic
      ``g = (N + 2sN') D − 2s N D'`` (derivatives in s), or the first positive root of
      ``D`` if that comes first (a pole: beyond it the factor changes sign).

    Tangential, thin-prism and tilt terms are small corrections and are not considered.

    Args:
        dist: (*, W) coefficients in OpenCV's order, W in :data:`DISTORTION_WIDTHS`.
    Returns:
        (*,) r² limit (``inf`` where the model never folds back).
    """
    width = dist.shape[-1]
    flat = dist.detach().reshape(-1, width).double().cpu().numpy()
    out = np.full(len(flat), np.inf)
    for i, d in enumerate(flat):  # a few cameras, once per rig
        k1, k2, _, _, k3 = d[:5]
        if width == 5 or not d[5:8].any():
            real = _positive_real_roots([1.0, 3 * k1, 5 * k2, 7 * k3])
        else:
            k4, k5, k6 = d[5:8]
            P = np.polynomial.polynomial
            N, D = [1.0, k1, k2, k3], [1.0, k4, k5, k6]
            g = P.polysub(P.polymul([1.0, 3 * k1, 5 * k2, 7 * k3], D),
                          P.polymul([0.0, 2.0], P.polymul(N, [k4, 2 * k5, 3 * k6])))
            real = _positive_real_roots(g) + _positive_real_roots(D)
        if real:
            out[i] = min(real)
    return torch.as_tensor(out, dtype=dist.dtype, device=dist.device).reshape(
        dist.shape[:-1])


def _tilt_matrix(tau_x: Tensor, tau_y: Tensor) -> Tensor:
    """(*, 3, 3) OpenCV's tilted-sensor projection for angles (*,) (radians):
    ``[[R22, 0, -R02], [0, R22, -R12], [0, 0, 1]] @ R`` with ``R = R_y(τy) R_x(τx)``."""
    cx, sx, cy, sy = tau_x.cos(), tau_x.sin(), tau_y.cos(), tau_y.sin()
    one, zero = torch.ones_like(cx), torch.zeros_like(cx)
    rot = torch.stack([cy, sy * sx, -sy * cx, zero, cx, sx, sy, -cy * sx, cy * cx],
                      -1).unflatten(-1, (3, 3))  # R_y(τy) @ R_x(τx)
    proj = torch.stack([rot[..., 2, 2], zero, -rot[..., 0, 2], zero, rot[..., 2, 2],
                        -rot[..., 1, 2], zero, zero, one], -1).unflatten(-1, (3, 3))
    return proj @ rot


def _apply_homography(H: Tensor, xy: Tensor) -> Tuple[Tensor, Tensor]:
    """(*, C, 3, 3) homographies on (*, C, N, 2) points → points, third coordinate."""
    Hb = H.unsqueeze(-3)
    x, y = xy[..., 0], xy[..., 1]
    w = Hb[..., 2, 0] * x + Hb[..., 2, 1] * y + Hb[..., 2, 2]
    ws = torch.where(w.abs() > 1e-12, w, torch.ones_like(w))
    return torch.stack([(Hb[..., 0, 0] * x + Hb[..., 0, 1] * y + Hb[..., 0, 2]) / ws,
                        (Hb[..., 1, 0] * x + Hb[..., 1, 1] * y + Hb[..., 1, 2]) / ws], -1), w


class MultiViewCameras:
    """A rig of C cameras (optionally one rig per batch item).

    Args:
        K: (*, C, 3, 3) intrinsics in pixels.
        R: (*, C, 3, 3) world → camera rotation.
        t: (*, C, 3) world → camera translation in mm (``x_cam = R X + t``).
        dist: (*, C, W) OpenCV distortion coefficients in OpenCV's order (``k1, k2, p1,
            p2[, k3[, k4, k5, k6[, s1, s2, s3, s4[, τx, τy]]]]``, W = 0, 4, 5, 8, 12 or
            14; stored zero-padded to 5, 8, 12 or 14, see the module docstring); zeros
            when omitted.
        image_size: (*, C, 2) image ``(W, H)`` in pixels.
        names: optional view names (e.g. Panoptic ``'00_03'``).

    Example:
        >>> cams = MultiViewCameras(K, R, t, dist, image_size)   # C views
        >>> uv = cams.project(points)                            # (B, N, 3) -> (B, C, N, 2)
    """

    def __init__(self, K, R, t, dist=None, image_size=None,
                 names: Optional[Sequence[str]] = None):
        self.K = _as_tensor(K)
        self.R = _as_tensor(R, self.K.dtype).to(self.K.device)
        self.t = _as_tensor(t, self.K.dtype).to(self.K.device)
        _check('K', self.K, (3, 3))
        _check('R', self.R, (3, 3))
        _check('t', self.t, (3, ))
        lead = self.K.shape[:-2]
        if dist is None:
            dist = torch.zeros(*lead, 5, dtype=self.K.dtype, device=self.K.device)
        dist = _as_tensor(dist, self.K.dtype).to(self.K.device)
        try:
            width = distortion_width(dist.shape[-1] if dist.dim() else -1)
        except ValueError as e:
            raise ValueError(f'MultiViewCameras: `dist` of shape {tuple(dist.shape)}: '
                             f'{e}') from None
        self.dist = dist if dist.shape[-1] == width else _pad_dist(dist, width)
        _check('dist', self.dist, (width, ))
        if image_size is None:
            raise ValueError('MultiViewCameras: `image_size` (W, H) per view is required')
        self.image_size = _as_tensor(image_size, self.K.dtype).to(self.K.device)
        _check('image_size', self.image_size, (2, ))
        for name in ('R', 't', 'dist', 'image_size'):
            tail = 2 if name == 'R' else 1
            if getattr(self, name).shape[:-tail] != lead:
                raise ValueError(
                    f'MultiViewCameras: `{name}` leading shape '
                    f'{tuple(getattr(self, name).shape[:-tail])} != K\'s {tuple(lead)}')
        self.names = list(names) if names is not None else None
        if self.names is not None and len(self.names) != self.num_views:
            raise ValueError(f'MultiViewCameras: {len(self.names)} names for '
                             f'{self.num_views} views')
        self._r2_max = None
        self._key = None

    # ------------------------------------------------------------------ structure
    @property
    def num_views(self) -> int:
        return self.K.shape[-3]

    @property
    def num_dist_coeffs(self) -> int:
        """Stored distortion width: 5, 8 (rational), 12 (+ thin prism) or 14 (+ tilt)."""
        return self.dist.shape[-1]

    @property
    def batch_shape(self) -> torch.Size:
        return self.K.shape[:-3]

    @property
    def device(self) -> torch.device:
        return self.K.device

    @property
    def dtype(self) -> torch.dtype:
        return self.K.dtype

    _FIELDS = ('K', 'R', 't', 'dist', 'image_size')

    def _apply(self, fn, names=None) -> 'MultiViewCameras':
        return MultiViewCameras(*(fn(getattr(self, f)) for f in self._FIELDS),
                                names=self.names if names is None else names)

    def to(self, *args, **kwargs) -> 'MultiViewCameras':
        return self._apply(lambda x: x.to(*args, **kwargs))

    def cpu(self) -> 'MultiViewCameras':
        return self.to('cpu')

    def cuda(self, *args, **kwargs) -> 'MultiViewCameras':
        return self._apply(lambda x: x.cuda(*args, **kwargs))

    def detach(self) -> 'MultiViewCameras':
        return self._apply(lambda x: x.detach())

    def clone(self) -> 'MultiViewCameras':
        """A copy that owns its memory (e.g. to keep beyond the batch it came with)."""
        return self._apply(lambda x: x.clone())

    def double(self) -> 'MultiViewCameras':
        return self.to(torch.float64)

    def select_views(self, index) -> 'MultiViewCameras':
        """Sub-rig with the views ``index`` (list of ints)."""
        idx = torch.as_tensor(index, dtype=torch.long, device=self.device)
        nb = len(self.batch_shape)
        names = [self.names[i] for i in idx.tolist()] if self.names else None
        return self._apply(lambda x: x.index_select(nb, idx), names)

    def expand(self, batch_size: int) -> 'MultiViewCameras':
        """An unbatched rig repeated as (B, C, ...) (views share memory)."""
        if len(self.batch_shape):
            raise ValueError('expand() needs an unbatched rig')
        return self._apply(lambda x: x.unsqueeze(0).expand(batch_size, *x.shape))

    @staticmethod
    def stack(cameras: Sequence['MultiViewCameras']) -> 'MultiViewCameras':
        """Stack unbatched rigs of equal view count into one (B, C, ...) rig (distortion
        vectors zero-padded to the widest model among them)."""
        if len({c.num_views for c in cameras}) != 1:
            raise ValueError('MultiViewCameras.stack: all rigs need the same number '
                             f'of views, got {[c.num_views for c in cameras]}')
        width = max(c.num_dist_coeffs for c in cameras)

        def field(c, f):
            x = getattr(c, f)
            return _pad_dist(x, width) if f == 'dist' else x
        return MultiViewCameras(
            *(torch.stack([field(c, f) for c in cameras]) for f in
              MultiViewCameras._FIELDS), names=cameras[0].names)

    def __getitem__(self, i) -> 'MultiViewCameras':
        """Batch indexing of a batched rig."""
        if not len(self.batch_shape):
            raise IndexError('index a batched rig; use select_views() for views')
        return self._apply(lambda x: x[i])

    def __len__(self):
        return self.num_views

    def __repr__(self):
        return (f'MultiViewCameras(batch={tuple(self.batch_shape)}, '
                f'views={self.num_views}, names={self.names})')

    def cache_key(self) -> str:
        """Content hash of the rig (for caches of rig-dependent grids)."""
        if self._key is None:
            h = hashlib.sha1()
            for f in self._FIELDS:
                h.update(getattr(self, f).detach().cpu().contiguous().numpy().tobytes())
            h.update(str(self.device).encode())
            self._key = h.hexdigest()
        return self._key

    def to_dict(self) -> dict:
        """Plain numpy/list dict (JSON-serialisable with ``.tolist()``)."""
        d = {f: getattr(self, f).detach().cpu().numpy() for f in self._FIELDS}
        d['names'] = self.names
        return d

    @classmethod
    def from_dict(cls, d: dict) -> 'MultiViewCameras':
        return cls(d['K'], d['R'], d['t'], d.get('dist'), d['image_size'],
                   names=d.get('names'))

    # --------------------------------------------------------------- geometry
    @property
    def centers(self) -> Tensor:
        """(*, C, 3) camera centres in world mm: ``-Rᵀ t``."""
        return -(self.R.transpose(-1, -2) @ self.t.unsqueeze(-1)).squeeze(-1)

    @property
    def projection_matrices(self) -> Tensor:
        """(*, C, 3, 4) ``K [R | t]`` (distortion not included)."""
        return self.K @ torch.cat([self.R, self.t.unsqueeze(-1)], -1)

    def world_to_camera(self, points: Tensor, per_view: bool = False) -> Tensor:
        """World points → camera coordinates (*, C, N, 3), mm.

        Args:
            points: (*, N, 3), the same points seen by every view, or (*, C, N, 3) with
                ``per_view=True``.
        """
        if points.shape[-1] != 3 or points.dim() < 2 + per_view:
            raise ValueError(f'points must be (*, N, 3) (or (*, C, N, 3) with '
                             f'per_view=True), got {tuple(points.shape)}')
        if per_view and points.shape[-3] != self.num_views:
            raise ValueError(f'per-view points have {points.shape[-3]} views, the rig '
                             f'{self.num_views}')
        p = points.to(self.dtype)
        if not per_view:
            p = p.unsqueeze(-3)
        return p @ self.R.transpose(-1, -2) + self.t.unsqueeze(-2)

    def distort(self, xy: Tensor) -> Tuple[Tensor, Tensor]:
        """Normalised undistorted (*, C, N, 2) → distorted, plus validity (*, C, N).

        OpenCV's model of the rig's width (see the module docstring). Invalid where the
        radial model has folded back (see ``_max_valid_r2``) or, with a tilted sensor,
        where the tilt projection puts the point behind the sensor.
        """
        if self._r2_max is None:
            self._r2_max = _max_valid_r2(self.dist)
        width = self.num_dist_coeffs
        k1, k2, p1, p2, k3 = (self.dist[..., i, None] for i in range(5))
        x, y = xy[..., 0], xy[..., 1]
        r2 = x * x + y * y
        valid = r2 < self._r2_max.unsqueeze(-1)
        r2c = torch.minimum(r2, self._r2_max.unsqueeze(-1).clamp(max=1e6))
        radial = 1 + r2c * (k1 + r2c * (k2 + r2c * k3))
        if width > 5:  # rational: the denominator is > 0 below the limit
            k4, k5, k6 = (self.dist[..., i, None] for i in range(5, 8))
            radial = radial / (1 + r2c * (k4 + r2c * (k5 + r2c * k6)))
        xd = x * radial + 2 * p1 * x * y + p2 * (r2c + 2 * x * x)
        yd = y * radial + p1 * (r2c + 2 * y * y) + 2 * p2 * x * y
        if width > 8:  # thin prism
            s1, s2, s3, s4 = (self.dist[..., i, None] for i in range(8, 12))
            xd = xd + r2c * (s1 + r2c * s2)
            yd = yd + r2c * (s3 + r2c * s4)
        out = torch.stack([xd, yd], -1)
        if width > 12:  # tilted sensor
            out, w = _apply_homography(
                _tilt_matrix(self.dist[..., 12], self.dist[..., 13]), out)
            valid = valid & (w > 0)
        return out, valid

    def project(self, points: Tensor, return_valid: bool = False,
                per_view: bool = False, eps: float = 1e-6):
        """Project world points into every view (distortion included).

        Args:
            points: (*, N, 3) world mm (same points for all views) or (*, C, N, 3)
                with ``per_view=True``.
            return_valid: also return (*, C, N) bool: in front of the camera and inside
                the distortion model's valid range (not the image bounds: see
                :meth:`in_image`).
        Returns:
            (*, C, N, 2) distorted pixel coordinates [, valid].
        """
        xc = self.world_to_camera(points, per_view)
        z = xc[..., 2]
        front = z > eps
        xy = xc[..., :2] / torch.where(front, z, torch.full_like(z, eps)).unsqueeze(-1)
        xyd, valid_r = self.distort(xy)
        Kb = self.K.unsqueeze(-3)  # (*, C, 1, 3, 3)
        u = Kb[..., 0, 0] * xyd[..., 0] + Kb[..., 0, 1] * xyd[..., 1] + Kb[..., 0, 2]
        v = Kb[..., 1, 1] * xyd[..., 1] + Kb[..., 1, 2]
        uv = torch.stack([u, v], -1)
        if return_valid:
            return uv, front & valid_r
        return uv

    def in_image(self, uv: Tensor) -> Tensor:
        """(*, C, N, 2) pixels → (*, C, N) bool: inside ``[0, W) × [0, H)``."""
        wh = self.image_size.unsqueeze(-2)
        return ((uv >= 0) & (uv < wh)).all(-1)

    def undistort_points(self, uv: Tensor, iters: int = 20) -> Tensor:
        """Distorted pixels (*, C, N, 2) → normalised undistorted image coordinates.

        The fixed-point iteration OpenCV's ``undistortPoints`` uses, batched in torch:
        the tilt (14 coefficients) is undone exactly first, then
        ``x ← (x_d − Δ(x)) · D(r²) / N(r²)`` (Δ: tangential + thin prism; N / D the
        radial factor's numerator / denominator, D = 1 below 8 coefficients).
        """
        Kb = self.K.unsqueeze(-3)
        y = (uv[..., 1] - Kb[..., 1, 2]) / Kb[..., 1, 1]
        x = (uv[..., 0] - Kb[..., 0, 2] - Kb[..., 0, 1] * y) / Kb[..., 0, 0]
        xd = torch.stack([x, y], -1)
        width = self.num_dist_coeffs
        if width > 5:
            return self._undistort_wide(xd, iters)
        k1, k2, p1, p2, k3 = (self.dist[..., i, None] for i in range(5))
        xu = xd
        for _ in range(iters):
            x, y = xu[..., 0], xu[..., 1]
            r2 = x * x + y * y
            radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
            dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
            dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
            xu = torch.stack([(xd[..., 0] - dx) / radial, (xd[..., 1] - dy) / radial], -1)
        return xu

    def _undistort_wide(self, xd: Tensor, iters: int) -> Tensor:
        """:meth:`undistort_points` of the 8/12/14-coefficient models."""
        d = _pad_dist(self.dist, 14)
        if self.num_dist_coeffs > 12:
            xd, _ = _apply_homography(torch.linalg.inv(_tilt_matrix(d[..., 12], d[..., 13])),
                                      xd)
        k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4 = (d[..., i, None] for i in range(12))
        xu = xd
        for _ in range(iters):
            x, y = xu[..., 0], xu[..., 1]
            r2 = x * x + y * y
            inv_radial = ((1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
                          / (1 + r2 * (k1 + r2 * (k2 + r2 * k3))))
            dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x) + r2 * (s1 + r2 * s2)
            dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y + r2 * (s3 + r2 * s4)
            xu = torch.stack([(xd[..., 0] - dx) * inv_radial,
                              (xd[..., 1] - dy) * inv_radial], -1)
        return xu
