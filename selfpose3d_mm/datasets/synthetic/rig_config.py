"""A rig, and the capture space it films, from a config dict: fixed rigs (the generated
studio ring, a calibration file, a named layout, one rig of a layout family) and the
random rigs of the randomised world (a family, a camera count and a capture space per
draw).

*Named layouts* (:data:`NAMED_LAYOUTS`) are fixed rigs, each a layout family
(:mod:`.layouts`) with fixed knobs and its own capture space: ``studio_ring5``,
``outdoor3`` and ``dome8``. :func:`named_layout` draws one from a seed (the same rig the
synthetic dataset builds from ``rig=dict(type='layout', name=...)`` with ``rig_seed``
equal to that seed). :func:`draw_random_rig` draws a family, a camera count and a
capture space at once (the dataset's ``rig=dict(type='random', ...)``, one draw per
sequence). :func:`build_rig` / :func:`build_rig_world` dispatch a config dict.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.io import load_cameras
from selfpose3d_mm.utils import merge_knobs
from .layouts import LAYOUT_FAMILIES, layout_knobs, make_layout_rig, rig_rng, uniform_draw
from .rig import make_ring_rig

__all__ = ['NAMED_LAYOUTS', 'RANDOM_RIG_DEFAULTS', 'LayoutRig', 'build_rig', 'build_rig_world',
           'check_random_rig', 'draw_random_rig', 'named_layout']

# Fixed rigs: a family, fixed knobs, and the layout's own capture space (mm).
NAMED_LAYOUTS: Dict[str, dict] = dict(
    studio_ring5=dict(  # today's studio: 5 HD cameras around a 6 x 6 m space
        family='ring', space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0),
        knobs=dict(num_views=5, image_sizes=((1920, 1080),), image_size_weights=None,
                   mixed_sizes_prob=0.0, hfov_deg=(62.0, 75.0), radius_scale=(1.45, 1.65),
                   height=(1800.0, 3200.0), k1=(-0.30, -0.05), k2=(0.0, 0.22),
                   k3=(-0.06, 0.0), p=(-1e-3, 1e-3), undistorted_prob=0.0,
                   principal_jitter=0.01)),
    outdoor3=dict(  # 3 tripods far apart around a 10 x 10 m field, longer lenses
        family='half_ring', space_center=(0.0, 0.0, 800.0),
        space_size=(10000.0, 10000.0, 2000.0),
        knobs=dict(num_views=3, arc_deg=(150.0, 200.0), radius=(8000.0, 15000.0),
                   height=(1500.0, 2500.0), image_sizes=((1280, 720), (3840, 2160)),
                   image_size_weights=None, mixed_sizes_prob=0.0, hfov_deg=(35.0, 60.0),
                   look_at_height=(800.0, 1000.0), k1=(-0.15, 0.0), k2=(0.0, 0.1),
                   k3=(-0.02, 0.0), undistorted_prob=0.0, min_coverage=0.4)),
    dome8=dict(  # 8 cameras on two interleaved rings (~2 m and ~3.5 m) around 8 x 8 m
        family='ring', space_center=(0.0, 0.0, 800.0), space_size=(8000.0, 8000.0, 2000.0),
        knobs=dict(num_views=8, tiers=((1800.0, 2200.0), (3300.0, 3700.0)),
                   radius_scale=(1.35, 1.6), azimuth_jitter_deg=5.0,
                   image_sizes=((2048, 1536),), image_size_weights=None,
                   mixed_sizes_prob=0.0, hfov_deg=(60.0, 75.0), k1=(-0.25, -0.05),
                   k2=(0.0, 0.15), k3=(-0.04, 0.0), undistorted_prob=0.0)),
)

# The capture space of a random rig: each entry a number or an inclusive (min, max)
# range; None takes the caller's (the dataset's) value.
RANDOM_RIG_DEFAULTS = dict(
    num_views=(3, 8),
    layouts=LAYOUT_FAMILIES,
    layout_weights=None,            # None: uniform over ``layouts``
    space_size=((3000.0, 10000.0), (3000.0, 10000.0), 2000.0),
    space_center=None,
    knobs=None,                     # knobs for every family of ``layouts``
    layout_knobs=None,              # {family: knobs}, over ``knobs``
)


class LayoutRig(NamedTuple):
    """A rig with the capture space it films (``layout``: the family or named layout,
    ``'ring'`` / ``'file'`` for :func:`build_rig`'s own types)."""
    cameras: MultiViewCameras
    space_center: Tuple[float, float, float]
    space_size: Tuple[float, float, float]
    layout: str


def named_layout(name: str, seed: Optional[int] = 0, rng: Optional[np.random.Generator] = None,
                 **knobs) -> LayoutRig:
    """The fixed rig ``name`` of :data:`NAMED_LAYOUTS` with its capture space.

    Args:
        name: ``'studio_ring5'``, ``'outdoor3'`` or ``'dome8'``.
        seed: the rig seed (:func:`rig_rng`); ignored when ``rng`` is given.
        knobs: override the layout's knobs; ``space_center`` / ``space_size`` override
            its capture space.
    """
    if name not in NAMED_LAYOUTS:
        raise ValueError(f'unknown named layout {name!r}; named layouts: '
                         f'{list(NAMED_LAYOUTS)} (families: {list(LAYOUT_FAMILIES)})')
    spec = NAMED_LAYOUTS[name]
    c = tuple(float(v) for v in knobs.pop('space_center', spec['space_center']))
    s = tuple(float(v) for v in knobs.pop('space_size', spec['space_size']))
    cams = make_layout_rig(spec['family'], rng if rng is not None else rig_rng(seed), c, s,
                           prefix=name, **{**spec['knobs'], **knobs})
    return LayoutRig(cams, c, s, name)


def draw_random_rig(rng: np.random.Generator, default_center: Sequence[float],
                    default_size: Sequence[float], **cfg) -> LayoutRig:
    """A family, a camera count, a capture space and a rig of that family in that space.

    Args:
        rng: randomness (the draw is a function of it).
        default_center, default_size: the caller's space, taken where ``space_center`` /
            ``space_size`` of :data:`RANDOM_RIG_DEFAULTS` (or one of their entries) is
            None.
        cfg: override :data:`RANDOM_RIG_DEFAULTS` (unknown names raise ``ValueError``).
    """
    cfg = check_random_rig(cfg)
    names = list(cfg['layouts'])
    w = cfg['layout_weights']
    w = None if w is None else np.asarray(w, np.float64) / np.sum(w)
    family = names[int(rng.choice(len(names), p=w))]

    def space(v, default):
        v = default if v is None else v
        if len(v) != 3:
            raise ValueError(f'random rig: a capture space needs 3 entries, got {v}')
        return tuple(float(d) if e is None else uniform_draw(rng, e) for e, d in zip(v, default))
    c = space(cfg['space_center'], tuple(default_center))
    s = space(cfg['space_size'], tuple(default_size))
    knobs = {**(cfg['knobs'] or {}), **(cfg['layout_knobs'] or {}).get(family, {}),
             'num_views': cfg['num_views']}
    return LayoutRig(make_layout_rig(family, rng, c, s, **knobs), c, s, family)


def check_random_rig(cfg: dict) -> dict:
    """:data:`RANDOM_RIG_DEFAULTS` merged with ``cfg``, every family's knobs checked."""
    cfg = merge_knobs(RANDOM_RIG_DEFAULTS, cfg, 'random rig')
    names = list(cfg['layouts'])
    if not names:
        raise ValueError('random rig: `layouts` is empty')
    if cfg['layout_weights'] is not None and len(cfg['layout_weights']) != len(names):
        raise ValueError(f'random rig: {len(cfg["layout_weights"])} layout_weights for '
                         f'{len(names)} layouts')
    extra = sorted(set(cfg['layout_knobs'] or {}) - set(names))
    if extra:
        raise ValueError(f'random rig: layout_knobs for {extra}, not in layouts {names}')
    for name in names:  # raises on an unknown family or knob
        layout_knobs(name, {**(cfg['knobs'] or {}),
                            **(cfg['layout_knobs'] or {}).get(name, {})})
    return cfg


def build_rig_world(cfg: Optional[dict], rng: np.random.Generator, space_center,
                    space_size) -> LayoutRig:
    """A rig and the capture space it films, from a config dict.

    ``None``, ``dict(type='ring')``, ``dict(type='file')``: :func:`build_rig` in
    the given space. ``dict(type='layout', name=..., seed=None, **knobs)``: the named
    layout (:func:`named_layout`) with its own space (``space_center`` / ``space_size``
    in the dict override it); ``seed`` gives the rig its own rng instead of ``rng``.
    ``dict(type='layout', layout=<family>, **knobs)``: one rig of that family
    (:func:`make_layout_rig`) in the given space, or in the dict's ``space_center`` /
    ``space_size``. ``dict(type='random', **cfg)``: :func:`draw_random_rig`.
    """
    cfg = dict(cfg or {})
    kind = cfg.get('type', 'ring')
    if kind in ('ring', 'file'):
        cams = build_rig(cfg, rng, space_center, space_size)
        return LayoutRig(cams, tuple(space_center), tuple(space_size), kind)
    cfg.pop('type')
    if kind == 'random':
        return draw_random_rig(rng, space_center, space_size, **cfg)
    if kind != 'layout':
        raise ValueError(f'unknown rig type {kind!r} (use "ring", "file", "layout" or '
                         '"random")')
    name, family = cfg.pop('name', None), cfg.pop('layout', None)
    if (name is None) == (family is None):
        raise ValueError('rig of type "layout" needs exactly one of `name` (a named '
                         f'layout: {list(NAMED_LAYOUTS)}) and `layout` (a family: '
                         f'{list(LAYOUT_FAMILIES)})')
    seed = cfg.pop('seed', None)
    if seed is not None:
        rng = rig_rng(seed)
    if name is not None:
        return named_layout(name, rng=rng, **cfg)
    c = tuple(float(v) for v in cfg.pop('space_center', space_center))
    s = tuple(float(v) for v in cfg.pop('space_size', space_size))
    return LayoutRig(make_layout_rig(family, rng, c, s, **cfg), c, s, family)


def build_rig(cfg: Optional[dict], rng: np.random.Generator, space_center,
              space_size) -> MultiViewCameras:
    """A rig from a config dict.

    ``None`` or ``dict(type='ring', **knobs)``: :func:`make_ring_rig`.
    ``dict(type='file', path=..., fmt=None, **loader_kwargs)``: any calibration file
    :func:`selfpose3d_mm.io.load_cameras` reads (Panoptic, Shelf/Campus, OpenCV
    YAML); ``views=[...]`` keeps a subset.
    ``dict(type='layout', name=...)`` (a named layout) or ``dict(type='layout',
    layout=<family>, **knobs)`` (one rig of a layout family): the cameras of
    :func:`build_rig_world`, which also returns the space a named layout films.
    ``type='random'`` (a new rig and space per sequence) is the synthetic dataset's.
    """
    cfg = dict(cfg or {})
    kind = cfg.pop('type', 'ring')
    if kind == 'layout':
        return build_rig_world(dict(cfg, type='layout'), rng, space_center,
                               space_size).cameras
    if kind == 'random':
        raise ValueError('a rig of type "random" is drawn per sequence by '
                         'SyntheticMultiViewDataset (with its own capture space): use '
                         'rig_config.build_rig_world or draw_random_rig for one draw')
    if kind == 'ring':
        return make_ring_rig(rng, space_center, space_size, **cfg)
    if kind == 'file':
        if 'path' not in cfg:
            raise ValueError('rig of type "file" needs `path`')
        views = cfg.pop('views', None)
        cams = load_cameras(cfg.pop('path'), cfg.pop('fmt', None), **cfg)
        return cams.select_views(views) if views is not None else cams
    raise ValueError(f'unknown rig type {kind!r} (use "ring", "file" or "layout")')
