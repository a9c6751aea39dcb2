"""Simple images of the synthetic world, to exercise the image path.

People are drawn as shaded limb capsules (thick anti-aliased OpenCV strokes with round
caps, darker rim -> brighter core, a disc for the head) over a procedural studio
background (smooth noise texture + a floor with a perspective grid). Depth ordering is the
painter's algorithm over limbs of all people, far to near. The background depends only
on (background_seed, view, size, background knobs) and is cached, since a rig is fixed.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import List, Optional, Sequence

import cv2
import numpy as np

from selfpose3d_mm.skeleton import PANOPTIC15_LIMBS
from selfpose3d_mm.utils import merge_knobs
from .pseudo2d import limb_radii

__all__ = ['RENDER_DEFAULTS', 'render_background', 'render_views']

RENDER_DEFAULTS = dict(
    limb_radius_mm=None,       # None: the pseudo-2D occlusion radii; scalar or (L,)
    head_radius_mm=110.0,      # radius of the head disc drawn around `head_joint`
    head_joint=1,              # the nose for Panoptic-15; None: no head disc
    shading_steps=3,           # concentric strokes from the dark rim to the bright core
    rim_shade=0.5,             # rim colour = colour * rim_shade
    core_highlight=0.35,       # core colour = colour + (255 - colour) * core_highlight
    core_radius=0.45,          # innermost stroke radius / limb radius
    min_depth_mm=100.0,        # limbs with an end nearer than this (or behind) are skipped
    bg_color=(118, 112, 104),  # mean background RGB (a grey studio)
    bg_noise=22.0,             # amplitude of the smooth noise texture (grey levels)
    bg_floor=45.0,             # brightening from the horizon down to the image bottom
    bg_horizon=0.4,            # horizon height as a fraction of the image height
    bg_grid_cells=12,          # floor grid lines across the image width; 0: no grid
    sensor_noise=0.0,          # per-frame Gaussian pixel noise std (uses rng); 0: none
)
_BG_KNOBS = ('bg_color', 'bg_noise', 'bg_floor', 'bg_horizon', 'bg_grid_cells')
_BG_CACHE: 'OrderedDict[tuple, np.ndarray]' = OrderedDict()
_BG_CACHE_SIZE = 16   # 5-10 views of a rig; 16 x 1080p RGB ~ 100 MB at most
_SHIFT = 4            # sub-pixel bits for OpenCV drawing
_MAX_COORD = 1e5      # projections beyond this are numerically meaningless


def _resolve_knobs(knobs: dict) -> dict:
    k = merge_knobs(RENDER_DEFAULTS, knobs, 'render_views')
    if int(k['shading_steps']) < 1:
        raise ValueError(f"render_views: knob 'shading_steps' must be >= 1, got "
                         f"{k['shading_steps']!r}")
    if not 0.0 < float(k['core_radius']) <= 1.0:
        raise ValueError(f"render_views: knob 'core_radius' must be in (0, 1], got "
                         f"{k['core_radius']!r}")
    return k


def _smooth_noise(rng: np.random.Generator, W: int, H: int) -> np.ndarray:
    """(H, W) float32 fractal value noise in about [-1, 1]."""
    # octaves are summed at 1/4 resolution (the finest one is still smooth there), then
    # upsampled once: full-resolution octaves would dominate the first-frame cost
    w, h = max(W // 4, 2), max(H // 4, 2)
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for cells in (3, 7, 15, 31):
        grid = rng.uniform(-1, 1, (max(2, cells * H // max(W, 1) + 2), cells + 2))
        out += amp * cv2.resize(grid.astype(np.float32), (w, h),
                                interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    return cv2.resize(out / total, (W, H), interpolation=cv2.INTER_LINEAR)


def render_background(background_seed: int, view: int, size: Sequence[int],
                      **knobs) -> np.ndarray:
    """The (H, W, 3) uint8 RGB background of one view (read-only, cached).

    A function of (background_seed, view, size, background knobs) only.
    """
    k = _resolve_knobs(knobs)
    W, H = int(size[0]), int(size[1])
    key = (int(background_seed), int(view), W, H) + tuple(
        tuple(k[n]) if isinstance(k[n], (tuple, list)) else k[n] for n in _BG_KNOBS)
    hit = _BG_CACHE.get(key)
    if hit is not None:
        _BG_CACHE.move_to_end(key)
        return hit
    rng = np.random.default_rng([int(background_seed) & 0xFFFFFFFF, int(view) & 0xFFFFFFFF])
    # composed as (H, W) planes: full-size (H, W, 3) float passes dominate the cost
    plane = _smooth_noise(rng, W, H) * float(k['bg_noise'])
    tint = _smooth_noise(rng, W, H) * (0.3 * float(k['bg_noise']))
    horizon = int(round(float(k['bg_horizon']) * H))
    rows = np.clip((np.arange(H, dtype=np.float32) - horizon) / max(H - horizon, 1), 0, 1)
    plane += (float(k['bg_floor']) * rows)[:, None]
    cells = int(k['bg_grid_cells'])
    if cells > 0 and horizon < H - 1:
        grid = np.zeros((H, W), np.uint8)
        vx, top = W / 2 + rng.uniform(-0.2, 0.2) * W, horizon + 0.04 * H
        for x in np.linspace(-W, 2 * W, 3 * cells + 1):  # lines towards a vanishing point
            xt = vx + (x - vx) * (top - horizon) / (H - horizon)
            cv2.line(grid, (int(xt), int(top)), (int(x), H - 1), 255, 1, cv2.LINE_AA)
        for s in np.linspace(0.2, 1.0, max(cells // 2, 2)):  # perspective-spaced rows
            y = int(horizon + (H - horizon) * s * s)
            cv2.line(grid, (0, y), (W - 1, y), 255, 1, cv2.LINE_AA)
        plane -= grid.astype(np.float32) * (30.0 / 255.0)
    bg = np.asarray(k['bg_color'], np.float32)
    # a slow warm/cold drift so the texture is not grey-only; the wall is a bit darker
    chans = [plane + (bg[0] + 0.5) + tint, plane + (bg[1] + 0.5), plane + (bg[2] + 0.5) - tint]
    for ch in chans:
        ch[:horizon] *= 0.9
        np.maximum(ch, 0, out=ch)
        np.minimum(ch, 255, out=ch)
    out = cv2.merge([ch.astype(np.uint8) for ch in chans])
    out.setflags(write=False)
    _BG_CACHE[key] = out
    while len(_BG_CACHE) > _BG_CACHE_SIZE:
        _BG_CACHE.popitem(last=False)
    return out


def _palette(P: int) -> np.ndarray:
    """(P, 3) uint8 distinct saturated colours (golden-angle hues)."""
    hsv = np.zeros((1, max(P, 1), 3), np.uint8)
    hsv[0, :, 0] = (np.arange(max(P, 1)) * 0.618034 * 180).astype(np.int64) % 180
    hsv[0, :, 1], hsv[0, :, 2] = 170, 210
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, :P]


def render_views(rng: np.random.Generator, joints_2d: np.ndarray, depth: np.ndarray,
                 image_sizes: np.ndarray, focal: np.ndarray,
                 person_colors: Optional[np.ndarray] = None,
                 limbs: Sequence[Sequence[int]] = PANOPTIC15_LIMBS,
                 background_seed: int = 0, **knobs) -> List[np.ndarray]:
    """Render every view of one frame.

    Args:
        rng: used only for the optional sensor noise (``sensor_noise`` > 0).
        joints_2d: (C, P, J, 2) projections (px); depth: (C, P, J) camera depth (mm).
        image_sizes: (C, 2) (W, H); focal: (C,) px (limb radii mm -> px).
        person_colors: (P, 3) uint8 RGB, or None for a fixed palette.
        limbs: (L, 2) joint pairs drawn as capsules.
        background_seed: selects the (cached) background of each view.
        **knobs: overrides of :data:`RENDER_DEFAULTS` (unknown -> ValueError).
    Returns:
        C RGB images, each (H, W, 3) uint8.
    """
    k = _resolve_knobs(knobs)
    depth = np.asarray(depth, np.float64)
    C, P, J = depth.shape
    uv = np.asarray(joints_2d, np.float64).reshape(C, P, J, 2)
    sizes = np.asarray(image_sizes).reshape(C, 2).astype(np.int64)
    focal = np.asarray(focal, np.float64).reshape(C)
    limbs = np.asarray(limbs, np.int64).reshape(-1, 2)
    radii = limb_radii(limbs, k['limb_radius_mm'])
    colors = _palette(P) if person_colors is None else np.asarray(person_colors)
    if colors.shape != (P, 3):
        raise ValueError(f'person_colors must be ({P}, 3), got {colors.shape}')
    colors = colors.astype(np.float64)
    steps = int(k['shading_steps'])
    frac = np.linspace(0.0, 1.0, steps) if steps > 1 else np.ones(1)
    rim, core = colors * float(k['rim_shade']), colors + (255 - colors) * float(
        k['core_highlight'])
    shades = rim[:, None] + (core - rim)[:, None] * frac[None, :, None]   # (P, S, 3)
    scales = 1.0 - (1.0 - float(k['core_radius'])) * frac                  # (S,)
    min_z = float(k['min_depth_mm'])
    head = k['head_joint']

    # every drawable item of a view: (far-to-near key, person, end point a, end point b,
    # radius px); limbs of all people and the head discs, vectorised before drawing
    pa, pb = uv[:, :, limbs[:, 0]], uv[:, :, limbs[:, 1]]                  # (C, P, L, 2)
    za, zb = depth[:, :, limbs[:, 0]], depth[:, :, limbs[:, 1]]
    ok = (za > min_z) & (zb > min_z)
    inv = 0.5 * (1.0 / np.where(ok, za, 1.0) + 1.0 / np.where(ok, zb, 1.0))
    rad = radii * focal[:, None, None] * inv
    key = 1.0 / inv
    person = np.broadcast_to(np.arange(P)[:, None], (P, len(limbs)))
    items_a, items_b = [pa.reshape(C, -1, 2)], [pb.reshape(C, -1, 2)]
    items_ok, items_r = [ok.reshape(C, -1)], [rad.reshape(C, -1)]
    items_key, items_p = [key.reshape(C, -1)], [person.reshape(-1)]
    if head is not None and P:
        zh = depth[:, :, int(head)]
        hok = zh > min_z
        items_a.append(uv[:, :, int(head)])
        items_b.append(uv[:, :, int(head)])
        items_ok.append(hok)
        items_r.append(float(k['head_radius_mm']) * focal[:, None] / np.where(hok, zh, 1.0))
        items_key.append(zh)
        items_p.append(np.arange(P))
    A, B = np.concatenate(items_a, 1), np.concatenate(items_b, 1)
    OK, R = np.concatenate(items_ok, 1), np.concatenate(items_r, 1)
    KEY, PER = np.concatenate(items_key, 1), np.concatenate(items_p)
    OK &= np.isfinite(A).all(-1) & np.isfinite(B).all(-1) & np.isfinite(R)
    OK &= (np.abs(A) < _MAX_COORD).all(-1) & (np.abs(B) < _MAX_COORD).all(-1) & \
        (R < _MAX_COORD)
    fix = float(1 << _SHIFT)

    images = []
    for c in range(C):
        W, H = int(sizes[c, 0]), int(sizes[c, 1])
        img = render_background(background_seed, c, (W, H), **knobs).copy()
        idx = np.flatnonzero(OK[c])
        idx = idx[np.argsort(-KEY[c, idx], kind='stable')]   # painter's: far first
        a_fx = np.round(A[c, idx] * fix).astype(np.int64)
        b_fx = np.round(B[c, idx] * fix).astype(np.int64)
        for n, i in enumerate(idx):
            p1, p2 = (int(a_fx[n, 0]), int(a_fx[n, 1])), (int(b_fx[n, 0]), int(b_fx[n, 1]))
            for s in range(steps):
                r = R[c, i] * scales[s]
                color = tuple(float(v) for v in shades[PER[i], s])
                if p1 == p2:
                    cv2.circle(img, p1, max(int(round(r * fix)), 1), color, -1,
                               cv2.LINE_AA, _SHIFT)
                else:
                    cv2.line(img, p1, p2, color, max(int(round(2 * r)), 1), cv2.LINE_AA,
                             _SHIFT)
        if float(k['sensor_noise']) > 0:
            noise = rng.standard_normal(img.shape, dtype=np.float32) * float(
                k['sensor_noise'])
            img = np.clip(img + noise + 0.5, 0, 255).astype(np.uint8)
        images.append(img)
    return images
