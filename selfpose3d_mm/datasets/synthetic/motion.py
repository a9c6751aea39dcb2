"""Closed-form smooth motion primitives for the synthetic people (numpy, float64).

Everything here is a pure function of time built from sinusoids, so any instant is
evaluated directly (random access, no integration from t = 0):

* :class:`SmoothNoise` - many independent smooth, roughly unit-variance processes;
* :class:`ActivityWarp` - a walk/stand activity ``g(t)`` in [0, 1] and its exact integral
  ``tau(t)`` (the "progress" along a person's path; ``g ~ 0`` means standing still);
* :class:`WanderPaths` - bounded loops around an anchor whose tangent never vanishes (so
  the heading is always defined and turns at a bounded rate), with an arc-length table
  over one period so that the gait phase can be tied to the distance walked;
* :func:`place_anchors` - anchors of the people inside the capture box and of bystanders
  in a ring outside it, with wander radii that keep everybody apart and in their region.

plus the shaping helpers the posture model uses (:func:`smoothstep`, :func:`to_unit`,
:func:`switch`, :func:`soft_floor`, :func:`soft_clip`), all continuous with continuous
first derivatives except where documented, so that joints never jump.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

__all__ = ['SmoothNoise', 'ActivityWarp', 'WanderPaths', 'place_anchors', 'smoothstep',
           'soft_clip', 'soft_floor', 'switch', 'to_unit']

_TWO_PI = 2.0 * np.pi


def smoothstep(x: np.ndarray) -> np.ndarray:
    """C1 ramp from 0 (x <= 0) to 1 (x >= 1); keeps weights built from it smooth."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def to_unit(n: np.ndarray, bias=0.0) -> np.ndarray:
    """Map a unit-variance process to (0, 1), roughly uniformly."""
    return 0.5 * (1.0 + np.tanh(0.9 * n + bias))


def soft_floor(x: np.ndarray, eps: float) -> np.ndarray:
    """Smooth max(x, 0) (a hyperbola, eps / 2 at x = 0): no velocity jump at the limit."""
    return 0.5 * (x + np.sqrt(x * x + eps * eps))


def soft_clip(x: np.ndarray, lo, hi, eps: float, eps_lo: float = None) -> np.ndarray:
    """Clamp to [lo, hi] with hyperbolic corners ``eps`` wide (0 = hard; ``eps_lo``
    overrides the lower one): a joint decelerates into its limit instead of stopping
    dead, and never passes it. ``lo`` / ``hi`` may be arrays or infinite."""
    eps_lo, eps_hi = (eps if eps_lo is None else eps_lo), eps
    with np.errstate(invalid='ignore'):  # infinite bounds
        d = x - lo
        y = np.where(np.isfinite(d), lo + 0.5 * (d + np.sqrt(d * d + eps_lo ** 2)), x)
        d = hi - y
        y = np.where(np.isfinite(d), hi - 0.5 * (d + np.sqrt(d * d + eps_hi ** 2)), y)
    return np.clip(y, lo, hi)  # removes the eps^2 / (4 (hi - lo)) overshoot of the corners


def switch(u: np.ndarray, prob: float, width: float) -> np.ndarray:
    """Smooth on/off weight of a posture that is on about ``prob`` of the time.

    ``u`` is a roughly uniform process in (0, 1); the ramp around ``1 - prob`` is ``width``
    wide (wider = slower transitions), narrowed near prob 0 / 1 so those are exact.
    """
    w = max(min(width, 2 * prob, 2 * (1 - prob)), 1e-9)
    return smoothstep((u - (1.0 - prob) + 0.5 * w) / w)


def _cos_integral(nu: np.ndarray, rho: np.ndarray, t: np.ndarray) -> np.ndarray:
    """int_0^t cos(nu s + rho) ds, stable for nu -> 0 (written with sinc)."""
    return t * np.cos(0.5 * nu * t + rho) * np.sinc(nu * t / _TWO_PI)


class SmoothNoise:
    """``D`` smooth processes per person, each a sum of ``K`` cosines.

    Each process is normalised to unit variance over time (its values stay within about
    +-2.4); frequencies are drawn log-uniformly from a per-process band of periods.

    Args:
        rng: random generator (consumed at construction only).
        num: number of people ``P``.
        periods: (D, 2) shortest and longest period (s) of each process.
        num_terms: cosines per process ``K``.
    """

    def __init__(self, rng: np.random.Generator, num: int, periods: np.ndarray,
                 num_terms: int = 3):
        periods = np.asarray(periods, np.float64)
        D = periods.shape[0]
        u = rng.random((num, D, num_terms))
        log_p = np.log(periods[:, 0])[:, None] + u * np.log(periods[:, 1] / periods[:, 0])[:, None]
        self.omega = _TWO_PI / np.exp(log_p)                         # (P, D, K)
        self.phase = rng.uniform(0.0, _TWO_PI, (num, D, num_terms))  # (P, D, K)
        amp = rng.uniform(0.3, 1.0, (num, D, num_terms))
        self.amp = amp / np.sqrt(0.5 * (amp ** 2).sum(-1, keepdims=True))

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """t: (T,) s -> (T, P, D)."""
        arg = t[:, None, None, None] * self.omega + self.phase
        return (self.amp * np.cos(arg)).sum(-1)


class ActivityWarp:
    """Walking activity ``g(t) = ((1 + m(t)) / 2)^2`` in [0, 1] and ``tau(t) = int_0^t g``.

    ``m = c + b1 cos(w t + p1) + b2 cos(k w t + p2)`` (k = 2 or 3) is periodic, and is
    rescaled so that over every period it spans exactly ``[c0 - (1 - |c0|), c0 + 1 - |c0|]``:
    a walker (``c0 > 0``) reaches full speed in every period, a mostly standing person
    (``c0 < 0``) stands still in every period and never gets beyond a shuffle. Squaring
    makes ``g`` touch 0 with zero slope (a person slows down smoothly and stands a while)
    and keeps ``tau`` in closed form (products of cosines are cosines).

    Args:
        rng: random generator.
        num: people ``P``.
        bias_range: range of ``c0`` (negative: mostly standing, positive: mostly walking).
        period_range: (shortest, longest) period (s) of the stand/walk alternation.
    """

    def __init__(self, rng: np.random.Generator, num: int, bias_range: Tuple[float, float],
                 period_range: Tuple[float, float]):
        c0 = np.clip(rng.uniform(bias_range[0], bias_range[1], num), -0.95, 0.95)
        m_lo, m_hi = c0 - (1 - np.abs(c0)), c0 + (1 - np.abs(c0))
        split = rng.uniform(0.55, 0.9, num)
        w1 = _TWO_PI / rng.uniform(period_range[0], period_range[1], num)
        w2 = w1 * rng.integers(2, 4, num)
        p1, p2 = rng.uniform(0.0, _TWO_PI, (2, num))
        # exact range of the unscaled periodic shape, from a fine grid over one period
        x = np.linspace(0.0, _TWO_PI, 2049)[:, None]
        h = split * np.cos(x + p1) + (1 - split) * np.cos(x * (w2 / w1) + p2)
        scale = (m_hi - m_lo) / (h.max(0) - h.min(0))
        b1, b2 = scale * split, scale * (1 - split)
        c = m_lo - scale * h.min(0)
        self.m = (c, b1, w1, p1, b2, w2, p2)
        a = 1.0 + c
        self.const = a * a + 0.5 * (b1 * b1 + b2 * b2)
        # (1+m)^2 = const + sum_j A_j cos(nu_j t + rho_j)
        self.A = np.stack([2 * a * b1, 2 * a * b2, 0.5 * b1 * b1, 0.5 * b2 * b2, b1 * b2,
                           b1 * b2], -1)
        self.nu = np.stack([w1, w2, 2 * w1, 2 * w2, w1 - w2, w1 + w2], -1)
        self.rho = np.stack([p1, p2, 2 * p1, 2 * p2, p1 - p2, p1 + p2], -1)

    def __call__(self, t: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """t: (T,) s -> (g, tau), each (T, P)."""
        c0, b1, w1, p1, b2, w2, p2 = self.m
        tt = t[:, None]
        m = c0 + b1 * np.cos(w1 * tt + p1) + b2 * np.cos(w2 * tt + p2)
        g = 0.25 * (1.0 + m) ** 2
        tau = 0.25 * (self.const * tt
                      + (self.A * _cos_integral(self.nu, self.rho, tt[..., None])).sum(-1))
        return g, tau


class WanderPaths:
    """Loops around each anchor: ``W(tau) = sum_k r_k exp(i (w_k tau + phi_k))``.

    A dominant circle (k = 1) plus a slow drift of its centre (k = 2) and a small wiggle
    (k = 3); ``sum_{k>1} r_k w_k <= 0.35 r_1 w_1`` so ``|W'| >= 0.65 r_1 w_1 > 0``: the path
    tangent (the walking direction) is defined everywhere and turns smoothly. All
    frequencies are multiples of ``w_1 / q``, so ``W`` has period ``2 pi q / w_1`` and the
    arc length is a cumulative table over one period (3-point Gauss-Legendre per cell)
    read with cubic Hermite interpolation (the exact speed is the slope at the nodes).

    Args:
        rng: random generator.
        radius: (P,) mm, bound on ``|W|``.
        top_speed: (P,) mm/s, bound on ``|W'|`` (the speed at full activity).
        max_turn_rate: rad/s, bound on the dominant loop's angular rate.
        q: frequency denominator (period = q dominant loops).
        cells_per_loop: arc-length table resolution.
    """

    def __init__(self, rng: np.random.Generator, radius: np.ndarray, top_speed: np.ndarray,
                 max_turn_rate: float, q: int = 4, cells_per_loop: int = 64):
        P = radius.shape[0]
        total = radius * rng.uniform(0.7, 1.0, P)
        r1 = total * rng.uniform(0.45, 0.75, P)
        rest = total - r1
        r2 = rest * rng.uniform(0.6, 0.95, P)
        r3 = rest - r2
        m2 = rng.integers(1, 4, P).astype(np.float64)
        m3 = rng.integers(5, 8, P).astype(np.float64)
        eps = (r2 * m2 + r3 * m3) / (q * np.maximum(r1, 1e-9))
        shrink = np.minimum(1.0, 0.35 / np.maximum(eps, 1e-12))
        r2, r3, eps = r2 * shrink, r3 * shrink, eps * shrink
        w1 = np.minimum(top_speed / np.maximum(r1 * (1 + eps), 1e-9), max_turn_rate)
        sign = rng.choice([-1.0, 1.0], (P, 3))
        self.r = np.stack([r1, r2, r3], -1)                                   # (P, 3)
        self.w = sign * np.stack([w1, w1 * m2 / q, w1 * m3 / q], -1)          # (P, 3)
        self.phi = rng.uniform(0.0, _TWO_PI, (P, 3))
        self.period = _TWO_PI * q / w1                                        # (P,)
        self.cells = int(cells_per_loop * q)
        # arc-length table over one period
        N = self.cells
        h = self.period / N
        nodes = np.array([0.5 - 0.5 * np.sqrt(0.6), 0.5, 0.5 + 0.5 * np.sqrt(0.6)])
        weights = np.array([5.0, 8.0, 5.0]) / 18.0
        taus = (np.arange(N)[:, None] + nodes) * h[:, None, None]             # (P, N, 3)
        speed = np.linalg.norm(self._deriv(taus.reshape(P, N * 3).T), axis=-1).T  # (P, 3N)
        cell = (speed.reshape(P, N, 3) * weights).sum(-1) * h[:, None]
        self.table = np.concatenate([np.zeros((P, 1)), np.cumsum(cell, -1)], -1)  # (P, N+1)
        grid = np.arange(N + 1)[None, :] * h[:, None]                          # (P, N+1)
        self.slope = np.linalg.norm(self._deriv(grid.T), axis=-1).T            # (P, N+1)

    def _arg(self, tau: np.ndarray) -> np.ndarray:
        return tau[..., None] * self.w + self.phi

    def position(self, tau: np.ndarray) -> np.ndarray:
        """tau: (T, P) -> (T, P, 2) mm offset from the anchor."""
        arg = self._arg(tau)
        return np.stack([(self.r * np.cos(arg)).sum(-1), (self.r * np.sin(arg)).sum(-1)], -1)

    def _deriv(self, tau: np.ndarray) -> np.ndarray:
        """tau: (T, P) -> dW/dtau (T, P, 2) mm per unit tau."""
        arg = self._arg(tau)
        rw = self.r * self.w
        return np.stack([-(rw * np.sin(arg)).sum(-1), (rw * np.cos(arg)).sum(-1)], -1)

    derivative = _deriv

    def arclength(self, tau: np.ndarray) -> np.ndarray:
        """tau: (T, P) -> path length (mm) walked from tau = 0 (negative before it)."""
        P, N = self.table.shape[0], self.cells
        x = tau / self.period
        n = np.floor(x)
        pos = (x - n) * N
        i = np.minimum(pos.astype(np.int64), N - 1)
        s = pos - i
        rows = np.arange(P)[None, :]
        h = self.period / N
        s2, s3 = s * s, s * s * s
        # cubic Hermite: values and exact slopes (the speed) at both cell ends
        val = ((2 * s3 - 3 * s2 + 1) * self.table[rows, i]
               + (s3 - 2 * s2 + s) * h * self.slope[rows, i]
               + (-2 * s3 + 3 * s2) * self.table[rows, i + 1]
               + (s3 - s2) * h * self.slope[rows, i + 1])
        return n * self.table[:, -1] + val


def place_anchors(rng: np.random.Generator, num_inside: int, num_outside: int,
                  center_xy: np.ndarray, size_xy: np.ndarray, body_radius: float,
                  min_wander: float, max_wander: float, outside_range: Tuple[float, float],
                  max_wander_outside: float, candidates: int = 64
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Anchors and wander radii of the people of one sequence.

    People inside are drawn uniformly in the capture box shrunk by a margin of
    ``body_radius`` (and a typical wander radius), rejecting spots nearer than
    ``2 (body_radius + min_wander)`` to earlier anchors (the farthest of ``candidates``
    draws is used when none qualifies). Bystanders stand ``outside_range`` mm beyond an
    edge of the (unshrunk) box. Each wander radius is capped by the region's border and
    by ``d_ij / 2 - body_radius`` for every other person ``j``, so two roots are always at
    least ``2 body_radius`` apart.

    Returns:
        anchors (P, 2) mm and radii (P,) mm, the ``num_inside`` people first.

    Raises:
        ValueError: when the people cannot be placed ``2 body_radius`` apart.
    """
    center_xy, size_xy = np.asarray(center_xy, np.float64), np.asarray(size_xy, np.float64)
    margin = np.minimum(body_radius, 0.45 * size_xy)
    lo, hi = center_xy - size_xy / 2 + margin, center_xy + size_xy / 2 - margin
    # anchors keep a typical wander radius (half the spacing of P people on the floor,
    # minus a body) from the border, so that people near the edges can still walk; their
    # loops still reach the border
    spacing = np.sqrt(np.prod(hi - lo) / max(num_inside, 1))
    typical = np.clip(0.5 * spacing - body_radius, min_wander, max_wander)
    inset = np.minimum(typical, 0.49 * (hi - lo))
    sep = 2.0 * (body_radius + min_wander)
    o_lo, o_hi = float(outside_range[0]), float(outside_range[1])
    o_inset = min(min_wander, 0.49 * (o_hi - o_lo))
    box_lo, box_hi = center_xy - size_xy / 2, center_xy + size_xy / 2
    anchors, caps = [], []

    def pick(cand: np.ndarray) -> int:
        if not anchors:
            return 0
        d = np.linalg.norm(cand[:, None] - np.asarray(anchors)[None], axis=-1).min(1)
        ok = np.flatnonzero(d >= sep)
        k = int(ok[0]) if ok.size else int(np.argmax(d))
        if d[k] < 2.0 * body_radius:
            raise ValueError(
                f'cannot place {num_inside} people (+{num_outside} outside) at least '
                f'{2 * body_radius:.0f} mm apart in a {size_xy[0]:.0f} x {size_xy[1]:.0f} mm '
                'space: lower num_people or body_radius')
        return k

    for _ in range(num_inside):
        cand = rng.uniform(lo + inset, hi - inset, (candidates, 2))
        a = cand[pick(cand)]
        anchors.append(a)
        caps.append(min(max_wander, *(a - lo), *(hi - a)))
    for _ in range(num_outside):
        # a side with probability proportional to its length, then a spot along it
        side = rng.choice(4, candidates, p=np.r_[size_xy[0], size_xy[0], size_xy[1],
                                                size_xy[1]] / (2 * size_xy.sum()))
        along = rng.random(candidates)
        delta = rng.uniform(o_lo + o_inset, o_hi - o_inset, candidates)
        x = np.where(side < 2, box_lo[0] + along * size_xy[0],
                     np.where(side == 2, box_lo[0] - delta, box_hi[0] + delta))
        y = np.where(side >= 2, box_lo[1] + along * size_xy[1],
                     np.where(side == 0, box_lo[1] - delta, box_hi[1] + delta))
        cand = np.stack([x, y], -1)
        k = pick(cand)
        anchors.append(cand[k])
        caps.append(min(max_wander_outside, delta[k] - o_lo, o_hi - delta[k]))
    P = num_inside + num_outside
    anchors = np.asarray(anchors, np.float64).reshape(P, 2)
    radii = np.asarray(caps, np.float64).reshape(P)
    if P > 1:
        d = np.linalg.norm(anchors[:, None] - anchors[None], axis=-1)
        np.fill_diagonal(d, np.inf)
        radii = np.minimum(radii, d.min(1) / 2 - body_radius)
    return anchors, np.maximum(radii, 0.0)
