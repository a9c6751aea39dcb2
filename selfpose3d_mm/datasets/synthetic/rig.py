"""The generated studio ring of the synthetic world (its default rig), and the camera
aiming both it and the layout families (:mod:`.layouts`) use. Rigs from config dicts
(ring, calibration file, named layout, random draws): :mod:`.rig_config`."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.utils import merge_knobs

__all__ = ['RING_RIG_DEFAULTS', 'make_ring_rig', 'look_at']

# Defaults model a studio: cameras on a ring around the capture space, slightly above
# head height, looking down at its centre, with the lens distortion of HD studio
# cameras (CMU Panoptic's HD cameras have k1 ≈ -0.28, k2 ≈ 0.2, k3 ≈ -0.04).
RING_RIG_DEFAULTS = dict(
    num_views=5,                    # cameras on the ring
    image_size=(1920, 1080),        # (W, H) px
    radius_scale=(1.45, 1.65),      # ring radius / half the space's xy diagonal
    height=(1800.0, 3200.0),        # camera height above the floor (mm)
    hfov_deg=(62.0, 75.0),          # horizontal field of view
    azimuth_jitter_deg=12.0,        # around evenly spaced azimuths
    look_at_jitter=300.0,           # mm, around (space centre x, y, 900 mm)
    look_at_height=900.0,           # mm
    roll_deg=2.0,                   # max absolute roll
    k1=(-0.30, -0.05), k2=(0.0, 0.22), k3=(-0.06, 0.0), p=(-1e-3, 1e-3),
    principal_jitter=0.01,          # fraction of (W, H) the principal point moves
    aspect_jitter=0.003,            # fy / fx - 1
)


def look_at(position: np.ndarray, target: np.ndarray, roll: float) -> np.ndarray:
    """World → camera rotation for a camera at ``position`` looking at ``target``
    (x right, y down in the image; world z up)."""
    z = target - position
    z = z / np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    c, s = math.cos(roll), math.sin(roll)
    roll_m = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    return roll_m @ R


def make_ring_rig(rng: np.random.Generator, space_center: Sequence[float],
                  space_size: Sequence[float], **knobs) -> MultiViewCameras:
    """C cameras around the capture space, each seeing all of it.

    Args:
        rng: randomness (the rig is a function of it).
        space_center, space_size: the capture space (mm).
        knobs: override :data:`RING_RIG_DEFAULTS` (unknown names raise ``ValueError``).
    """
    cfg = merge_knobs(RING_RIG_DEFAULTS, knobs, 'make_ring_rig')
    C = int(cfg['num_views'])
    if C < 2:
        raise ValueError(f'make_ring_rig: num_views must be >= 2, got {C}')
    W, H = (float(v) for v in cfg['image_size'])
    cx, cy = float(space_center[0]), float(space_center[1])
    half_diag = 0.5 * math.hypot(space_size[0], space_size[1])
    u = lambda lo_hi: rng.uniform(*lo_hi)  # noqa: E731
    az0 = rng.uniform(0, 2 * math.pi)
    K, R, t, dist = [], [], [], []
    for i in range(C):  # a handful of cameras, once per rig
        az = az0 + 2 * math.pi * i / C + math.radians(
            rng.uniform(-1, 1) * cfg['azimuth_jitter_deg'])
        r = u(cfg['radius_scale']) * half_diag
        pos = np.array([cx + r * math.cos(az), cy + r * math.sin(az), u(cfg['height'])])
        target = np.array([cx, cy, cfg['look_at_height']]) + rng.normal(
            0, cfg['look_at_jitter'], 3) * np.array([1, 1, 0.3])
        Ri = look_at(pos, target, math.radians(rng.uniform(-1, 1) * cfg['roll_deg']))
        fx = (W / 2) / math.tan(math.radians(u(cfg['hfov_deg'])) / 2)
        fy = fx * (1 + rng.uniform(-1, 1) * cfg['aspect_jitter'])
        ppx = W / 2 + rng.uniform(-1, 1) * cfg['principal_jitter'] * W
        ppy = H / 2 + rng.uniform(-1, 1) * cfg['principal_jitter'] * H
        K.append([[fx, 0, ppx], [0, fy, ppy], [0, 0, 1]])
        R.append(Ri)
        t.append(-Ri @ pos)
        dist.append([u(cfg['k1']), u(cfg['k2']), u(cfg['p']), u(cfg['p']), u(cfg['k3'])])
    return MultiViewCameras(np.array(K), np.stack(R), np.stack(t), np.array(dist),
                            np.tile([W, H], (C, 1)), names=[f'synth_{i:02d}' for i in range(C)])
