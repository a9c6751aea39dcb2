"""Where is my capture space? Estimating VoxelPose's space cube for a rig.

A VoxelPose-style model looks for people inside one axis-aligned box, the *capture
space* (``space_center``, ``space_size``, mm, internal z-up world); its root net divides
it into voxels. Too small and people are cut off; too large and the voxels are coarse.
:func:`estimate_capture_space` proposes one:

(a) **From the cameras alone.** The floor plane ``z = floor_z`` is sampled on a grid
    (``grid_step`` mm; a coarse pass finds the region, a fine pass measures it); a floor
    point is covered when it projects inside the image (``border`` px in, in front of
    the camera, inside the distortion model's valid range) of at least ``min_views``
    cameras *within their working range*; with ``heights=(0, 900, ...)`` it must be
    covered at every listed height above the floor. The box is the bounding box of the
    covered floor region. Height: a person of ``person_height`` mm fits, as in
    VoxelPose's spaces (z from ``floor_z − 0.1 h`` to ``floor_z + 0.9 h``: the default
    2000 mm gives centre z = 800 mm, size z = 2000 mm).

    *Working range.* Cameras of a studio are aimed at the scene: the point nearest to
    all optical axes (least squares) is where they converge, and a camera's distance to
    it is its working distance ``D``. A point farther than ``working_range · D``
    (default 1.5: a person there looks at most 2/3 the size the camera was set up for)
    does not count for that camera. Without it, any two cameras' distant far fields
    overlap and a ring of studio cameras "covers" 5–10× the area it frames; with it the
    covered box of the synthetic rings is 1.5–3× the space they were built around and
    always contains it. When the axes do not converge (parallel cameras) or converge
    behind a camera, that camera's range is ``max_distance`` (15 m when None), which is
    also an absolute cap when given.
(b) **From pseudo poses as well** (a pseudo-label file). The people of up to
    ``max_frames`` frames are associated across views and triangulated
    (:func:`selfpose3d_mm.geometry.triangulate_people`);
    the horizontal box spans the ``percentiles`` (default 1–99 %) of their roots
    (mid-hip), widened by ``margin`` (default 1000 mm: half a 2 m person cube) on every
    side, and intersected with (a). With fewer than ``min_people`` triangulated people
    it falls back to (a).

The box edges are then rounded outwards to multiples of ``voxel_size`` (default 100 mm:
VoxelPose's Panoptic root voxel, 8 m / 80 voxels), so the sizes are multiples of it and a
root cube of ``space_size / voxel_size`` voxels keeps that resolution.

``python tools/estimate_space.py CALIB [--pseudo-labels F]`` prints the config lines. The
datasets never estimate: a config states its space (``CustomRigDataset`` warns when it
does not fit the network's root cube).
"""
from __future__ import annotations

import math
from typing import Dict, Iterable, Optional, Union

import numpy as np
import torch

from selfpose3d_mm.datasets.pseudo_poses import frame_pseudo_poses
from selfpose3d_mm.geometry import MultiViewCameras, triangulate_people
from selfpose3d_mm.io import PseudoLabels, load_pseudo_labels
from selfpose3d_mm.skeleton import (PANOPTIC15_ANKLES, PANOPTIC15_NAMES,
                                    PANOPTIC15_ROOT_INDEX)
from selfpose3d_mm.utils import merge_knobs

__all__ = ['CAPTURE_SPACE_DEFAULTS', 'working_distances', 'floor_coverage',
           'triangulated_roots', 'estimate_capture_space', 'format_space_config']

CAPTURE_SPACE_DEFAULTS = dict(
    min_views=2,            # cameras that must see a floor point
    grid_step=100.0,        # mm, fine floor grid
    coarse_step=250.0,      # mm, first pass over the whole reachable floor
    floor_z=0.0,            # mm, the floor plane (internal z up)
    heights=(0.0, ),        # mm above the floor at which a point must be seen
    working_range=1.5,      # x working distance (None: off, see the module doc)
    max_distance=None,      # mm, absolute range cap (None: none; 15 m if no convergence)
    border=0.0,             # px, a point must be this far inside the image
    person_height=2000.0,   # mm, z extent of the space
    voxel_size=100.0,       # mm, box edges rounded outwards to multiples of it
    percentiles=(1.0, 99.0),  # robust extent of the triangulated roots
    margin=1000.0,          # mm added around the roots (half a person cube)
    max_frames=100,         # frames triangulated (evenly spread over the file)
    min_people=5,           # triangulated people needed to use them
    root_index=PANOPTIC15_ROOT_INDEX,  # Panoptic-15 mid-hip
)


def _knobs(knobs: dict) -> dict:
    k = merge_knobs(CAPTURE_SPACE_DEFAULTS, knobs, 'estimate_capture_space')
    if int(k['min_views']) < 1:
        raise ValueError(f"min_views must be >= 1, got {k['min_views']}")
    for name in ('grid_step', 'coarse_step', 'person_height', 'voxel_size',
                 'working_range', 'max_distance'):
        if k[name] is not None and not float(k[name]) > 0:
            raise ValueError(f'{name} must be > 0, got {k[name]}')
    return k


def working_distances(cameras: MultiViewCameras, working_range: Optional[float] = 1.5,
                      max_distance: Optional[float] = None) -> np.ndarray:
    """(C,) range (mm) up to which each camera counts (see the module docstring).

    ``working_range ×`` the camera's distance to the least-squares convergence point of
    the optical axes, capped by ``max_distance``; ``max_distance`` (15 m when None) for
    a camera whose axis does not point towards that point, or for all cameras when the
    axes do not converge (near-parallel).
    """
    fallback = float(max_distance) if max_distance is not None else 15000.0
    C = cameras.num_views
    out = np.full(C, fallback)
    if working_range is None or C < 2:
        return out
    axes = cameras.R[:, 2].double().cpu().numpy()  # (C, 3) optical axes, world
    centers = cameras.centers.double().cpu().numpy()
    proj = np.eye(3)[None] - axes[:, :, None] * axes[:, None, :]  # (C, 3, 3)
    A, b = proj.sum(0), np.einsum('cij,cj->i', proj, centers)
    if np.linalg.cond(A) > 1e6:
        return out
    X = np.linalg.solve(A, b)
    to_x = X - centers
    dist = np.linalg.norm(to_x, axis=1)
    ahead = (to_x * axes).sum(1) > 0.5 * dist  # within 60 deg of the optical axis
    rng = float(working_range) * dist
    if max_distance is not None:
        rng = np.minimum(rng, fallback)
    return np.where(ahead, rng, out)


def _count_views(cams: MultiViewCameras, xs: np.ndarray, ys: np.ndarray, k: dict,
                 reach: np.ndarray) -> np.ndarray:
    """(len(ys), len(xs)) number of cameras covering each floor grid point; ``reach``
    (C,) each camera's range (mm)."""
    gx, gy = np.meshgrid(xs, ys)
    ok = None
    centers = cams.centers.double()
    reach = torch.from_numpy(np.asarray(reach, np.float64)).unsqueeze(-1)
    for h in k['heights']:  # a point must be seen at every listed height
        pts = torch.from_numpy(np.stack(
            [gx.ravel(), gy.ravel(), np.full(gx.size, k['floor_z'] + float(h))], -1))
        uv, valid = cams.project(pts, return_valid=True)  # (C, N, 2), (C, N)
        b = float(k['border'])
        wh = cams.image_size.unsqueeze(-2)
        inside = ((uv >= b) & (uv < wh - b)).all(-1)
        near = (pts.unsqueeze(0) - centers.unsqueeze(1)).norm(dim=-1) <= reach
        seen = valid & inside & near
        ok = seen if ok is None else ok & seen
    return ok.sum(0).reshape(gx.shape).numpy()


def _axis(lo: float, hi: float, step: float) -> np.ndarray:
    n = max(int(math.ceil((hi - lo) / step)), 1)
    return lo + step * (np.arange(n + 1))


def floor_coverage(cameras: MultiViewCameras, **knobs) -> Dict[str, np.ndarray]:
    """How many cameras see each point of the floor (two passes, see module doc).

    Returns:
        dict: ``xs`` (X,), ``ys`` (Y,) grid coordinates (mm), ``counts`` (Y, X) int
        cameras seeing the point, ``covered`` (Y, X) bool (``counts >= min_views``),
        ``box`` ((x_lo, y_lo), (x_hi, y_hi)) bounding box of the covered points widened
        by half a grid step, ``area_m2`` covered area, ``reach`` (C,) each camera's
        range (mm, :func:`working_distances`).

    Raises:
        ValueError: no floor point is seen by ``min_views`` cameras (the message gives
        each camera's own coverage).
    """
    k = _knobs(knobs)
    if len(cameras.batch_shape):
        raise ValueError('floor_coverage: pass an unbatched rig')
    cams = cameras.cpu().double()
    c = cams.centers.numpy()
    need = min(int(k['min_views']), cams.num_views)
    if need < int(k['min_views']):
        raise ValueError(f'floor_coverage: min_views={k["min_views"]} but the rig has '
                         f'{cams.num_views} camera(s)')
    reach = working_distances(cams, k['working_range'], k['max_distance'])
    lo, hi = (c[:, :2] - reach[:, None]).min(0), (c[:, :2] + reach[:, None]).max(0)
    step = float(k['coarse_step'])
    xs, ys = _axis(lo[0], hi[0], step), _axis(lo[1], hi[1], step)
    counts = _count_views(cams, xs, ys, k, reach)
    cov = counts >= need
    if not cov.any():
        single = counts.max()
        raise ValueError(
            f'floor_coverage: no floor point (z = {k["floor_z"]} mm) is seen by '
            f'{need} cameras (at most {single} see one point): is the world z up with '
            'the floor at z = floor_z, in mm? (rig file: set `units` and `world_up`)')
    iy, ix = np.nonzero(cov)
    lo = np.array([xs[ix.min()], ys[iy.min()]]) - step
    hi = np.array([xs[ix.max()], ys[iy.max()]]) + step
    step = float(k['grid_step'])
    xs, ys = _axis(lo[0], hi[0], step), _axis(lo[1], hi[1], step)
    counts = _count_views(cams, xs, ys, k, reach)
    cov = counts >= need
    iy, ix = np.nonzero(cov)
    box = (np.array([xs[ix.min()], ys[iy.min()]]) - step / 2,
           np.array([xs[ix.max()], ys[iy.max()]]) + step / 2)
    return dict(xs=xs, ys=ys, counts=counts, covered=cov, box=box,
                area_m2=float(cov.sum()) * step * step / 1e6, reach=reach)


def _pseudo_labels(pseudo_labels, cameras: MultiViewCameras):
    """A :class:`PseudoLabels` whose views are the rig's (by name when it has names)."""
    if isinstance(pseudo_labels, PseudoLabels):
        labels = pseudo_labels
        if cameras.names is not None and labels.views != list(cameras.names):
            labels = labels.subset_views(cameras.names)
    else:
        labels = load_pseudo_labels(str(pseudo_labels), views=cameras.names,
                                    num_joints=len(PANOPTIC15_NAMES))
    if len(labels.views) != cameras.num_views:
        raise ValueError(f'{labels.path}: field `views`: {len(labels.views)} views, the rig '
                         f'has {cameras.num_views} cameras')
    return labels


def triangulated_roots(cameras: MultiViewCameras, pseudo_labels,
                       frames: Optional[Iterable[str]] = None, max_frames: int = 100,
                       root_index: int = PANOPTIC15_ROOT_INDEX,
                       **triangulation) -> Dict[str, np.ndarray]:
    """Triangulate the people of (up to ``max_frames`` evenly spread) frames.

    Args:
        cameras: the unbatched rig (its ``names`` select/order the label file's views).
        pseudo_labels: a pseudo-label file path or :class:`PseudoLabels`.
        frames: frame keys to use (default: all of the file's).
        triangulation: knobs of :data:`~selfpose3d_mm.geometry.TRIANGULATION_DEFAULTS`.

    Returns:
        dict: ``roots`` (N, 3) float64 world mm, ``poses`` (N, 15, 3), ``scores`` (N,),
        ``frames`` the keys used.
    """
    labels = _pseudo_labels(pseudo_labels, cameras)
    J = len(PANOPTIC15_NAMES)
    keys = [f for f in (labels.keys() if frames is None else frames) if f in labels]
    keys = sorted(keys)
    if len(keys) > max_frames:
        keys = [keys[i] for i in np.linspace(0, len(keys) - 1, max_frames).round()
                .astype(int)]
    cams = cameras.cpu()
    poses, scores = [], []
    for key in keys:  # one triangulation per frame
        kps, kp_scores, _ = frame_pseudo_poses(labels, key, skeleton='panoptic15')
        Q = max(len(k) for k in kps)
        if Q == 0:
            continue
        C = len(kps)
        kp = np.zeros((C, Q, J, 2), np.float64)
        sc = np.zeros((C, Q, J), np.float64)
        mask = np.zeros((C, Q), bool)
        for c in range(C):
            n = len(kps[c])
            kp[c, :n], sc[c, :n], mask[c, :n] = kps[c], kp_scores[c], True
        out = triangulate_people(torch.from_numpy(kp), torch.from_numpy(sc),
                                 torch.from_numpy(mask), cams, **triangulation)
        poses.append(out['keypoints_3d'].double().numpy())
        scores.append(out['scores'].double().numpy())
    P = np.concatenate(poses) if poses else np.zeros((0, J, 3))
    return dict(roots=P[:, root_index], poses=P,
                scores=np.concatenate(scores) if scores else np.zeros(0), frames=keys)


def _round_box(lo: np.ndarray, hi: np.ndarray, v: float):
    lo, hi = np.floor(lo / v) * v, np.ceil(hi / v) * v
    hi = np.where(hi - lo < v, lo + v, hi)
    return (lo + hi) / 2, hi - lo


def estimate_capture_space(cameras: MultiViewCameras,
                           pseudo_labels: Union[str, PseudoLabels, None] = None,
                           frames: Optional[Iterable[str]] = None,
                           triangulation: Optional[dict] = None,
                           **knobs) -> dict:
    """Estimate the capture space of a rig (see the module docstring).

    Args:
        cameras: the unbatched rig, internal convention (mm, z up).
        pseudo_labels: optional pseudo-label file path or :class:`PseudoLabels` (its
            views must be the rig's cameras).
        frames: frame keys of the pseudo labels to use (default all).
        triangulation: knobs of :func:`~selfpose3d_mm.geometry.triangulate_people`.
        **knobs: overrides of :data:`CAPTURE_SPACE_DEFAULTS`.

    Returns:
        dict: ``space_center`` (3,) and ``space_size`` (3,) tuples of float mm, ``method``
        (``'cameras'`` or ``'cameras+poses'``) and ``details`` (the camera-only box
        ``camera_box`` (lo, hi), its ``covered_area_m2``, and with poses ``num_frames``,
        ``num_people``, ``root_box``, ``floor_z_poses`` (median lowest-ankle height of
        the triangulated people, a check of ``floor_z``) and ``note`` when they were not
        used).
    """
    k = _knobs(knobs)
    cov = floor_coverage(cameras, **{n: k[n] for n in (
        'min_views', 'grid_step', 'coarse_step', 'floor_z', 'heights', 'working_range',
        'max_distance', 'border')})
    cam_lo, cam_hi = cov['box']
    h, f = float(k['person_height']), float(k['floor_z'])
    z_lo, z_hi = f - 0.1 * h, f + 0.9 * h
    details = dict(camera_box=(tuple(cam_lo.tolist()), tuple(cam_hi.tolist())),
                   covered_area_m2=cov['area_m2'], min_views=int(k['min_views']),
                   camera_range_mm=tuple(round(float(r)) for r in cov['reach']),
                   voxel_size=float(k['voxel_size']))
    lo, hi, method = cam_lo, cam_hi, 'cameras'
    if pseudo_labels is not None:
        tri = triangulated_roots(cameras, pseudo_labels, frames, int(k['max_frames']),
                                 int(k['root_index']), **(triangulation or {}))
        roots = tri['roots']
        details.update(num_frames=len(tri['frames']), num_people=len(roots))
        if len(roots) >= int(k['min_people']):
            p_lo = np.percentile(roots[:, :2], k['percentiles'][0], axis=0) - k['margin']
            p_hi = np.percentile(roots[:, :2], k['percentiles'][1], axis=0) + k['margin']
            details['root_box'] = (tuple(p_lo.tolist()), tuple(p_hi.tolist()))
            ankles = tri['poses'][:, list(PANOPTIC15_ANKLES), 2].min(1)
            details['floor_z_poses'] = float(np.median(ankles))
            lo, hi = np.maximum(p_lo, cam_lo), np.minimum(p_hi, cam_hi)
            if (lo < hi).all():
                method = 'cameras+poses'
            else:  # the people stand where the cameras cannot see the floor?
                lo, hi = cam_lo, cam_hi
                details['note'] = ('the triangulated people are outside the floor region '
                                   'the cameras cover; camera-only estimate kept')
        else:
            details['note'] = (f'{len(roots)} people triangulated (< min_people = '
                               f'{k["min_people"]}); camera-only estimate kept')
    center, size = _round_box(np.array([lo[0], lo[1], z_lo]),
                              np.array([hi[0], hi[1], z_hi]), float(k['voxel_size']))
    return dict(space_center=tuple(float(v) for v in center),
                space_size=tuple(float(v) for v in size), method=method, details=details)


def format_space_config(estimate: dict) -> str:
    """The config lines of an estimate (``space_center = (...)`` / ``space_size = ...``)
    and, as a comment, the root cube shape that keeps the ``voxel_size`` resolution."""
    c, s = estimate['space_center'], estimate['space_size']
    v = estimate['details'].get('voxel_size', CAPTURE_SPACE_DEFAULTS['voxel_size'])
    shape = tuple(int(round(x / v)) for x in s)
    fmt = lambda t: '(' + ', '.join(f'{x:.1f}' for x in t) + ')'  # noqa: E731
    return (f'space_center = {fmt(c)}\n'
            f'space_size = {fmt(s)}\n'
            f'# root cube of {v:g} mm voxels: cube_shape = {shape} '
            f'(estimated from {estimate["method"]})')
