"""Batched unprojection vs a straightforward per-view, per-person loop, at paper scale.

    python benchmarks/unprojection.py [--device cpu|cuda] [--repeats 3]

On the CPU both versions are vectorised over voxels and memory-bound, so they cost about
the same per voxel; the batched path wins by the cached root grid (a fixed rig projects
the whole space once) and, on a GPU, by launching a handful of kernels instead of
~30 per (person, view).

Inputs (identical for both): one frame of the Panoptic-like synthetic rig (5 views with
lens distortion), random heatmaps at 240 x 128, the resize affine of 1920 x 1080 → 960 x 512
→ heatmaps; the root cube (80 x 80 x 20 over 8 x 8 x 2 m, 15 channels as VoxelPose) and 10
person cubes at 64^3 (15 joints). The loop is the textbook implementation: for every person,
for every view, project the cube, sample that view's heatmaps, accumulate with the
in-image mask. Writes benchmarks/results/unprojection.json.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from benchmarks.common import best_of, machine, write_result  # noqa: E402
from selfpose3d_mm.datasets.synthetic.rig_config import build_rig  # noqa: E402
from selfpose3d_mm.geometry import (RootGridCache, apply_affine, compose_affine,  # noqa
                                    heatmap_affine, make_voxel_grid, resize_affine,
                                    unproject_heatmaps)

SPACE_CENTER, SPACE_SIZE = (0.0, -500.0, 800.0), (8000.0, 8000.0, 2000.0)


def loop_unproject(heatmaps, cameras, affines, grids):
    """Reference: one projection + one grid_sample per (frame, cube, view)."""
    B, C, J, h, w = heatmaps.shape
    _, N, X, Y, Z, _ = grids.shape
    out = heatmaps.new_zeros(B, N, J, X, Y, Z)
    scale = heatmaps.new_tensor([2.0 / (w - 1), 2.0 / (h - 1)])
    for b in range(B):
        for n in range(N):
            pts = grids[b, n].reshape(1, -1, 3)
            acc = heatmaps.new_zeros(J, pts.shape[1])
            count = heatmaps.new_zeros(pts.shape[1])
            for c in range(C):
                cam = cameras.select_views([c])
                uv, valid = cam.project(pts, return_valid=True)  # (1, 1, M, 2)
                inside = (valid & cam.in_image(uv))[0, 0].to(heatmaps.dtype)
                g = (apply_affine(uv[0, 0], affines[b, c]) * scale - 1).clamp(-1.1, 1.1)
                s = F.grid_sample(heatmaps[b, c][None], g.view(1, -1, 1, 2),
                                  mode='bilinear', padding_mode='zeros',
                                  align_corners=True)[0, :, :, 0]
                acc += s * inside
                count += inside
            out[b, n] = (acc / (count + 1e-6)).clamp(0, 1).view(J, X, Y, Z)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--out', default='unprojection.json')
    args = p.parse_args()
    dev = torch.device(args.device)
    torch.manual_seed(0)
    rng = np.random.Generator(np.random.PCG64(0))
    cams = build_rig(dict(type='ring', num_views=5, image_size=(1920, 1080)), rng,
                     SPACE_CENTER, SPACE_SIZE).to(dev)
    C, J, B, N = cams.num_views, 15, 1, 10
    A = compose_affine(heatmap_affine((960, 512), (240, 128)),
                       resize_affine(torch.tensor([1920.0, 1080.0]), (960, 512)))
    affines = A.expand(B, C, 2, 3).contiguous().to(dev)
    hm = torch.rand(B, C, J, 128, 240, device=dev)
    root_grid = make_voxel_grid(torch.tensor(SPACE_CENTER, device=dev), SPACE_SIZE,
                                (80, 80, 20))[None, None]  # (1, 1, 80, 80, 20, 3)
    roots = torch.tensor(SPACE_CENTER, device=dev) + (torch.rand(B, N, 3, device=dev) - 0.5) \
        * torch.tensor([6000.0, 6000.0, 400.0], device=dev)
    person_grids = make_voxel_grid(roots, (2000.0, ) * 3, (64, 64, 64))  # (B, N, 64³, 3)

    result = dict(machine=machine(), device=str(dev), views=C, joints=J,
                  heatmap_size=[240, 128], cases={})
    cache = RootGridCache(SPACE_CENTER, SPACE_SIZE, (80, 80, 20))

    def root_cached():  # the production path: the rig's root grid is computed once
        return cache.unproject(hm, cams, affines, key='bench-rig').unsqueeze(1)

    cases = [('root_cube_80x80x20', root_grid, None),
             ('root_cube_80x80x20_cached_grid', root_grid, root_cached),
             ('person_cubes_10x64^3', person_grids, None)]
    with torch.no_grad():
        for name, grids, fn in cases:
            fn = fn or (lambda g=grids: unproject_heatmaps(hm, cams, affines, g))
            batched = fn()
            loop = loop_unproject(hm, cams, affines, grids)
            tb = best_of(fn, args.repeats, dev)
            tl = best_of(lambda: loop_unproject(hm, cams, affines, grids), args.repeats, dev)
            result['cases'][name] = dict(batched_s=tb, loop_s=tl, speedup=tl / tb,
                                         max_abs_diff=float((batched - loop).abs().max()))
            print(name, result['cases'][name], flush=True)
    # the detector's path for one frame: cached root cube + 10 person cubes
    used = ('root_cube_80x80x20_cached_grid', 'person_cubes_10x64^3')
    total_b = sum(result['cases'][k]['batched_s'] for k in used)
    total_l = sum(result['cases'][k]['loop_s'] for k in used)
    result.update(totals_over=list(used), batched_s=total_b, loop_s=total_l,
                  speedup=total_l / total_b,
                  max_abs_diff=max(c['max_abs_diff'] for c in result['cases'].values()))
    print('written', write_result(args.out, result))


if __name__ == '__main__':
    main()
