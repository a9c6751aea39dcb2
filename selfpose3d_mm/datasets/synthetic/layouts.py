"""Randomised camera rigs for the synthetic world: layout families and named layouts.

A *layout family* places C cameras around a capture space (centre and size in mm, world
z up, floor at z = 0) and draws each camera's lens and sensor; the rig is a function of
an rng and the space:

* ``ring``: the studio ring of :func:`~.rig.make_ring_rig` (cameras around the space,
  slightly above head height), with randomised count, lenses and sensors;
  ``tiers`` puts successive cameras on rings of different heights (a dome);
* ``half_ring``: cameras evenly spread over a 150-200° arc on one side of the space;
* ``corner``: cameras clustered at one corner, at the two corners of one wall, or spread
  along one wall, looking into the space (a room filmed from one side);
* ``ceiling``: cameras 2.6-4 m high, on or near the ceiling above and around the
  space, tilted steeply down; some look almost straight down.

Every camera of every family is checked when it is drawn: the centre of the space at
1 m height must project inside the image (``center_margin`` from the border) and at least
``min_coverage`` of the space's probe points (a 5 x 5 grid on the floor and on the top of
the space, corners included) must land inside it; the lens must also cover the whole
sensor (the distortion polynomial may not fold back before the image corners). A camera
that fails is drawn again (position, tilt, roll, lens, distortion), at most
``max_attempts`` times, then :class:`ValueError` names the camera and the knobs to change.
Corners alone would be too strict a probe: a camera looking straight down from a 2.6 m
ceiling sees a 4 m patch of a 10 m room and none of its corners.

*Named layouts* (:data:`NAMED_LAYOUTS`) are fixed rigs, each a family with fixed knobs and
its own capture space: ``studio_ring5``, ``outdoor3`` and ``dome8``.
:func:`named_layout` draws one from a seed (the same rig the synthetic dataset builds from
``rig=dict(type='layout', name=...)`` with ``rig_seed`` equal to that seed).
:func:`draw_random_rig` draws a family, a camera count and a capture space at once (the
dataset's ``rig=dict(type='random', ...)``, one draw per sequence).
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.utils import merge_knobs
from .rig import look_at

__all__ = ['CAMERA_DEFAULTS', 'FAMILY_DEFAULTS', 'LAYOUT_FAMILIES', 'layout_knobs',
           'make_layout_rig', 'probe_points', 'rig_rng', 'uniform_draw']

# Lens, sensor and acceptance knobs shared by every family.
CAMERA_DEFAULTS = dict(
    num_views=(3, 8),               # cameras: an int or an inclusive (min, max) range
    # (W, H) px: VGA, HD, full HD, 3 MP 4:3, 5 MP machine vision, full HD portrait
    image_sizes=((640, 480), (1280, 720), (1920, 1080), (2048, 1536), (2448, 2048),
                 (1080, 1920)),
    image_size_weights=(0.15, 0.2, 0.3, 0.15, 0.12, 0.08),  # None: uniform
    mixed_sizes_prob=0.2,           # probability that each camera draws its own size
    hfov_deg=(45.0, 95.0),          # horizontal field of view of the pinhole model
    look_at_height=(600.0, 1200.0),  # mm, height of the point a camera aims at
    look_at_jitter=0.06,            # std of the aim point around the space centre, as a
                                    # fraction of the space's x / y size
    roll_deg=3.0,                   # max absolute roll
    k1=(-0.35, 0.05), k2=(-0.05, 0.25), k3=(-0.08, 0.02), p=(-1.5e-3, 1.5e-3),
    undistorted_prob=0.15,          # probability of a rig of rectified cameras (dist = 0)
    principal_jitter=0.02,          # fraction of (W, H) the principal point moves
    aspect_jitter=0.003,            # fy / fx - 1
    min_coverage=0.5,               # fraction of the space's probe points in the image
    center_margin=0.05,             # the centre at 1 m stays this fraction of W, H inside
    max_attempts=200,               # draws per camera before giving up
)

# Geometry knobs of each family (and family-specific overrides of CAMERA_DEFAULTS).
FAMILY_DEFAULTS: Dict[str, dict] = dict(
    ring=dict(
        radius_scale=(1.3, 2.0),    # ring radius / half the space's xy diagonal
        radius=None,                # (min, max) mm: absolute radius instead of the scale
        height=(1500.0, 3200.0),    # mm, camera height
        tiers=None,                 # ((lo, hi), ...): camera i on height range i % tiers
        azimuth_jitter_deg=12.0,    # around evenly spaced azimuths
    ),
    half_ring=dict(
        arc_deg=(150.0, 200.0),     # angular width of the arc the cameras span
        radius_scale=(1.3, 2.0), radius=None, height=(1500.0, 3200.0),
        azimuth_jitter_deg=8.0,
    ),
    corner=dict(
        modes=('one_corner', 'two_corners', 'wall'),  # drawn uniformly per rig
        offset=(300.0, 1500.0),     # mm outside the space's edge (each axis)
        spread=(0.0, 1500.0),       # mm along the walls, inward from a corner
        height=(1800.0, 3000.0),
        hfov_deg=(60.0, 100.0),     # wider: the whole room from one side
        min_coverage=0.4,
    ),
    ceiling=dict(
        height=(2600.0, 4000.0),
        radius_scale=(0.0, 0.8),    # horizontal distance from the centre / half diagonal
        azimuth_jitter_deg=25.0,
        tilt_jitter_deg=10.0,       # around the tilt that aims at the aim height
        min_tilt_deg=30.0,          # depression of the optical axis below the horizon
        down_prob=0.3,              # a camera above the centre looking almost straight down
        down_tilt_deg=(75.0, 88.0),
        down_radius=0.5,            # its horizontal distance from the centre, as a
                                    # fraction of its height above the aim height
        yaw_jitter_deg=20.0,        # around the direction of the space centre
        hfov_deg=(60.0, 110.0),
        min_coverage=0.15,
    ),
)
LAYOUT_FAMILIES = tuple(FAMILY_DEFAULTS)

def rig_rng(seed: int) -> np.random.Generator:
    """The rng of a fixed rig's seed: the one the synthetic dataset draws its fixed rig
    from with ``rig_seed=seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed),
                                                                      spawn_key=(7919, ))))


def layout_knobs(family: str, knobs: Optional[dict] = None) -> dict:
    """The knobs of a family: :data:`CAMERA_DEFAULTS` < :data:`FAMILY_DEFAULTS` <
    ``knobs`` (unknown names raise ``ValueError``)."""
    if family not in FAMILY_DEFAULTS:
        raise ValueError(f'unknown layout family {family!r}; families: '
                         f'{list(LAYOUT_FAMILIES)} (named layouts: selfpose3d_mm.datasets.synthetic.rig_config.NAMED_LAYOUTS)')
    return merge_knobs({**CAMERA_DEFAULTS, **FAMILY_DEFAULTS[family]}, knobs or {},
                       f'layout {family!r}')


def uniform_draw(rng, v) -> float:
    """A number, or a uniform draw in an inclusive (min, max) range."""
    if isinstance(v, numbers.Real):
        return float(v)
    lo, hi = (float(x) for x in v)
    if lo > hi:
        raise ValueError(f'range must be (min, max) with min <= max, got {tuple(v)}')
    return float(rng.uniform(lo, hi))


def _count(rng, v) -> int:
    n = int(v) if isinstance(v, numbers.Integral) else int(rng.integers(int(v[0]),
                                                                         int(v[1]) + 1))
    if n < 2:
        raise ValueError(f'a rig needs num_views >= 2, got {v}')
    return n


# --- placement: each family returns a sampler camera index -> (position, aim point) ---
Sampler = Callable[[int], Tuple[np.ndarray, np.ndarray]]


def _aim(rng, c, s, cfg) -> np.ndarray:
    jit = rng.normal(0.0, cfg['look_at_jitter'], 2) * s[:2]
    return np.array([c[0] + jit[0], c[1] + jit[1], uniform_draw(rng, cfg['look_at_height'])])


def _radius(rng, cfg, half_diag: float) -> float:
    if cfg['radius'] is not None:
        return uniform_draw(rng, cfg['radius'])
    return uniform_draw(rng, cfg['radius_scale']) * half_diag


def _ring(rng, C, c, s, cfg) -> Sampler:
    az0 = rng.uniform(0, 2 * math.pi)
    tiers = cfg['tiers'] or (cfg['height'], )
    half_diag = 0.5 * math.hypot(s[0], s[1])

    def place(i):
        az = az0 + 2 * math.pi * i / C + math.radians(
            rng.uniform(-1, 1) * cfg['azimuth_jitter_deg'])
        r = _radius(rng, cfg, half_diag)
        pos = np.array([c[0] + r * math.cos(az), c[1] + r * math.sin(az),
                        uniform_draw(rng, tiers[i % len(tiers)])])
        return pos, _aim(rng, c, s, cfg)
    return place


def _half_ring(rng, C, c, s, cfg) -> Sampler:
    arc = math.radians(uniform_draw(rng, cfg['arc_deg']))
    start = rng.uniform(0, 2 * math.pi) - arc / 2
    half_diag = 0.5 * math.hypot(s[0], s[1])

    def place(i):
        az = start + arc * i / (C - 1) + math.radians(
            rng.uniform(-1, 1) * cfg['azimuth_jitter_deg'])
        r = _radius(rng, cfg, half_diag)
        pos = np.array([c[0] + r * math.cos(az), c[1] + r * math.sin(az),
                        uniform_draw(rng, cfg['height'])])
        return pos, _aim(rng, c, s, cfg)
    return place


def _corner(rng, C, c, s, cfg) -> Sampler:
    mode = str(rng.choice(list(cfg['modes'])))
    half = np.asarray(s[:2]) / 2
    # one wall: its two end corners (signs of x, y) and its outward normal
    axis = int(rng.integers(2))           # the wall runs along this axis
    side = rng.choice([-1.0, 1.0])        # on this side of the other axis
    ends = np.array([[-1.0, side], [1.0, side]]) if axis == 0 else \
        np.array([[side, -1.0], [side, 1.0]])
    if mode == 'one_corner':
        ends = ends[[int(rng.integers(2))]]

    def place(i):
        height = uniform_draw(rng, cfg['height'])
        if mode == 'wall':  # spread along the wall, evenly with jitter
            f = (i + 0.5 + rng.uniform(-0.3, 0.3)) / C
            along = -half[axis] + 2 * half[axis] * f
            xy = np.zeros(2)
            xy[axis] = along
            xy[1 - axis] = side * (half[1 - axis] + uniform_draw(rng, cfg['offset']))
        else:  # around a corner: outside both walls, a little inward along them
            sign = ends[i % len(ends)]
            out = np.array([uniform_draw(rng, cfg['offset']), uniform_draw(rng, cfg['offset'])])
            xy = sign * (half + out)
            k = int(rng.integers(2))
            xy[k] -= sign[k] * uniform_draw(rng, cfg['spread'])
        pos = np.array([c[0] + xy[0], c[1] + xy[1], height])
        return pos, _aim(rng, c, s, cfg)
    return place


def _ceiling(rng, C, c, s, cfg) -> Sampler:
    az0 = rng.uniform(0, 2 * math.pi)
    half_diag = 0.5 * math.hypot(s[0], s[1])

    def place(i):
        h = uniform_draw(rng, cfg['height'])
        aim_z = uniform_draw(rng, cfg['look_at_height'])
        az = az0 + 2 * math.pi * i / C + math.radians(
            rng.uniform(-1, 1) * cfg['azimuth_jitter_deg'])
        down = rng.random() < cfg['down_prob']
        r = (rng.uniform(0, cfg['down_radius']) * (h - aim_z) if down
             else uniform_draw(rng, cfg['radius_scale']) * half_diag)
        pos = np.array([c[0] + r * math.cos(az), c[1] + r * math.sin(az), h])
        if down:
            tilt = uniform_draw(rng, cfg['down_tilt_deg'])
        else:
            tilt = math.degrees(math.atan2(h - aim_z, r)) + rng.uniform(
                -1, 1) * cfg['tilt_jitter_deg']
        tilt = math.radians(min(max(tilt, cfg['min_tilt_deg']), 88.0))  # never vertical
        yaw = (az + math.pi if r > 1.0 else rng.uniform(0, 2 * math.pi)) + math.radians(
            rng.uniform(-1, 1) * cfg['yaw_jitter_deg'])
        d = np.array([math.cos(tilt) * math.cos(yaw), math.cos(tilt) * math.sin(yaw),
                      -math.sin(tilt)])
        return pos, pos + 1000.0 * d
    return place


_FAMILIES = dict(ring=_ring, half_ring=_half_ring, corner=_corner, ceiling=_ceiling)


# --- lens, sensor and the visibility check ---
def probe_points(space_center: Sequence[float], space_size: Sequence[float]) -> np.ndarray:
    """(1 + 50, 3) mm: the centre of the space at 1 m height, then a 5 x 5 grid on the
    floor (or the space's bottom, if above it) and on the top of the space."""
    c, s = np.asarray(space_center, np.float64), np.asarray(space_size, np.float64)
    g = np.linspace(-0.5, 0.5, 5)
    gx, gy = np.meshgrid(c[0] + g * s[0], c[1] + g * s[1], indexing='ij')
    zs = (max(c[2] - s[2] / 2, 0.0), c[2] + s[2] / 2)
    grid = [np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, z)], -1) for z in zs]
    return np.concatenate([[[c[0], c[1], 1000.0]]] + grid)


def _lens_fills_image(dist: np.ndarray, corner_r: float) -> bool:
    """The radial model stays monotone until it reaches the image corners (normalised
    radius ``corner_r``), i.e. every pixel is the image of some ray."""
    k1, k2, _, _, k3 = dist
    r = np.linspace(0.0, 3.0 * corner_r, 600)
    d = r * (1 + r ** 2 * (k1 + r ** 2 * (k2 + r ** 2 * k3)))
    fold = np.flatnonzero(np.diff(d) <= 0)
    top = d[:fold[0] + 1].max() if len(fold) else d[-1]
    return bool(top >= corner_r)


def _sees_space(K, R, t, dist, size, probe, cfg) -> bool:
    cam = MultiViewCameras(K[None], R[None], t[None], dist[None], np.asarray(size)[None])
    uv, valid = cam.project(torch.from_numpy(probe).float(), return_valid=True)
    uv, valid = uv[0].double().numpy(), valid[0].numpy()
    W, H = size
    inside = valid & (uv >= 0).all(-1) & (uv[:, 0] < W) & (uv[:, 1] < H)
    m = cfg['center_margin'] * np.array([W, H])
    centre_ok = valid[0] and (m <= uv[0]).all() and (uv[0] <= np.array([W, H]) - m).all()
    return bool(centre_ok and inside[1:].mean() >= cfg['min_coverage'])


def _image_sizes(rng, C, cfg) -> np.ndarray:
    sizes = np.asarray(cfg['image_sizes'], np.float64).reshape(-1, 2)
    w = cfg['image_size_weights']
    if w is not None:
        w = np.asarray(w, np.float64)
        if len(w) != len(sizes):
            raise ValueError(f'image_size_weights has {len(w)} entries for '
                             f'{len(sizes)} image_sizes')
        w = w / w.sum()
    n = C if rng.random() < cfg['mixed_sizes_prob'] else 1
    return np.tile(sizes[rng.choice(len(sizes), n, p=w)], (C // n, 1))


def _camera(rng, place: Sampler, i: int, size, distorted: bool, probe, cfg):
    """(K, R, t, dist) of camera ``i`` that sees the space, or None after max_attempts."""
    W, H = size
    for _ in range(int(cfg['max_attempts'])):
        pos, target = place(i)
        R = look_at(pos, target, math.radians(rng.uniform(-1, 1) * cfg['roll_deg']))
        fx = (W / 2) / math.tan(math.radians(uniform_draw(rng, cfg['hfov_deg'])) / 2)
        fy = fx * (1 + rng.uniform(-1, 1) * cfg['aspect_jitter'])
        pp = np.array([W, H]) * (0.5 + rng.uniform(-1, 1, 2) * cfg['principal_jitter'])
        K = np.array([[fx, 0, pp[0]], [0, fy, pp[1]], [0, 0, 1]])
        dist = np.zeros(5)
        if distorted:
            dist[:] = [uniform_draw(rng, cfg['k1']), uniform_draw(rng, cfg['k2']),
                       uniform_draw(rng, cfg['p']), uniform_draw(rng, cfg['p']),
                       uniform_draw(rng, cfg['k3'])]
            far = np.abs(np.array([[0, 0], [W, H]]) - pp).max(0)
            if not _lens_fills_image(dist, float(np.hypot(far[0] / fx, far[1] / fy))):
                continue
        t = -R @ pos
        if _sees_space(K, R, t, dist, size, probe, cfg):
            return K, R, t, dist
    return None


def make_layout_rig(family: str, rng: np.random.Generator, space_center: Sequence[float],
                    space_size: Sequence[float], prefix: Optional[str] = None,
                    **knobs) -> MultiViewCameras:
    """A rig of a layout family (module docstring), every camera checked to see the space.

    Args:
        family: one of :data:`LAYOUT_FAMILIES`.
        rng: randomness (the rig is a function of it).
        space_center, space_size: the capture space (mm).
        prefix: camera names are ``f'{prefix}_{i:02d}'`` (default: the family).
        knobs: override :func:`layout_knobs` (unknown names raise ``ValueError``).

    Raises:
        ValueError: a camera found no pose that sees the space in ``max_attempts``.
    """
    cfg = layout_knobs(family, knobs)
    c = tuple(float(v) for v in space_center)
    s = tuple(float(v) for v in space_size)
    C = _count(rng, cfg['num_views'])
    place = _FAMILIES[family](rng, C, c, s, cfg)
    sizes = _image_sizes(rng, C, cfg)
    distorted = rng.random() >= cfg['undistorted_prob']
    probe = probe_points(c, s)
    K, R, t, dist = [], [], [], []
    for i in range(C):  # a handful of cameras, once per rig
        cam = _camera(rng, place, i, sizes[i], distorted, probe, cfg)
        if cam is None:
            raise ValueError(
                f'layout {family!r}: camera {i} of {C} found no pose that sees the capture '
                f'space (centre {c}, size {s}, image {tuple(int(v) for v in sizes[i])}) in '
                f'{cfg["max_attempts"]} attempts; widen hfov_deg, move the cameras '
                f'(height, radius / offset knobs) or lower min_coverage '
                f'({cfg["min_coverage"]})')
        for acc, v in zip((K, R, t, dist), cam):
            acc.append(v)
    return MultiViewCameras(np.array(K), np.stack(R), np.stack(t), np.array(dist), sizes,
                            names=[f'{prefix or family}_{i:02d}' for i in range(C)])
