"""Unprojection: a point rendered in every view peaks at that point in 3D; batching and
the cached root grid agree with a straightforward per-view loop."""
import pytest
import torch

from selfpose3d_mm.geometry import (RootGridCache, apply_affine, compose_affine,
                                    heatmap_affine, make_voxel_grid,
                                    render_gaussian_heatmaps, resize_affine,
                                    unproject_heatmaps, voxel_size)

INPUT, HEATMAP = (960, 512), (240, 128)


def _affines(cams):
    A_in = resize_affine(cams.image_size, INPUT)
    return compose_affine(heatmap_affine(INPUT, HEATMAP).expand_as(A_in), A_in)  # (C, 2, 3)


def _render_points(cams, points, J=1):
    """points (B, P, 3) → heatmaps (B, C, J, h, w) with every joint at the point."""
    A = _affines(cams)
    uv = cams.project(points)  # (B, C, P, 2)
    hm_uv = apply_affine(uv, A)
    kp = hm_uv.unsqueeze(-2).expand(*hm_uv.shape[:-1], J, 2)
    return render_gaussian_heatmaps(kp, None, HEATMAP, sigma=2.0), A


@pytest.mark.parametrize('shape', [(80, 80, 20), (16, 16, 8)])
def test_unprojected_point_peaks_at_the_point(ring_rig, shape):
    center, size = (0.0, -500.0, 800.0), (8000.0, 8000.0, 2000.0)
    points = torch.tensor([[[1234.0, -1777.0, 950.0]], [[-2500.0, 1100.0, 400.0]]])
    hm, A = _render_points(ring_rig, points)
    cache = RootGridCache(center, size, shape)
    vol = cache.unproject(hm, ring_rig, A.expand(len(points), -1, -1, -1))  # (B, 1, X, Y, Z)
    grid = make_voxel_grid(torch.tensor(center), size, shape)
    step = voxel_size(size, shape)
    for b in range(points.shape[0]):
        idx = torch.unravel_index(vol[b, 0].argmax(), shape)
        peak = grid[idx]
        assert ((peak - points[b, 0]).abs() <= step * 1.0 + 1e-3).all(), (peak, points[b, 0])
        assert 0 < vol[b, 0].max() <= 1


def test_person_cubes_batched_equal_loop(ring_rig):
    B, N, J = 2, 3, 4
    centers = torch.tensor([[0.0, -500.0, 900.0]]).repeat(B, N, 1) + torch.randn(B, N, 3) * 800
    hm = torch.rand(B, ring_rig.num_views, J, *HEATMAP[::-1])
    A = _affines(ring_rig).expand(B, -1, -1, -1)
    grids = make_voxel_grid(centers, (2000.0, ) * 3, (8, 8, 8))  # (B, N, 8, 8, 8, 3)
    vols = unproject_heatmaps(hm, ring_rig, A, grids)
    assert vols.shape == (B, N, J, 8, 8, 8)
    for block in (100, 512, 10**9):  # memory blocks (CPU) give the same volumes
        assert torch.allclose(
            unproject_heatmaps(hm, ring_rig, A, grids, block_voxels=block), vols, atol=1e-6)
    # reference: per batch item, per cube, per view, plain projection + bilinear lookup
    w, h = HEATMAP
    for b in range(B):
        for n in range(N):
            pts = grids[b, n].reshape(-1, 3)
            acc = torch.zeros(J, pts.shape[0])
            cnt = torch.zeros(pts.shape[0])
            for c in range(ring_rig.num_views):
                cam = ring_rig.select_views([c])
                uv, valid = cam.project(pts, return_valid=True)
                inside = valid[0] & cam.in_image(uv)[0]
                g = apply_affine(uv[0], A[b, c])
                g = (g / torch.tensor([w - 1.0, h - 1.0]) * 2 - 1).clamp(-1.1, 1.1)
                s = torch.nn.functional.grid_sample(hm[b, c][None], g[None, :, None],
                                                    align_corners=True)[0, :, :, 0]
                acc += s * inside
                cnt += inside
            ref = (acc / (cnt + 1e-6)).clamp(0, 1).reshape(J, 8, 8, 8)
            assert torch.allclose(vols[b, n], ref, atol=1e-5)


def test_root_grid_cache_hits_under_its_key_and_matches_the_uncached_grid(ring_rig):
    cache = RootGridCache((0.0, -500.0, 800.0), (8000.0, 8000.0, 2000.0), (16, 16, 4))
    hm = torch.rand(2, ring_rig.num_views, 1, *HEATMAP[::-1])
    A = _affines(ring_rig).expand(2, -1, -1, -1)
    v1 = cache.unproject(hm, ring_rig, A, key='rig0|set0')
    v2 = cache.unproject(hm, ring_rig, A, key='rig0|set0')
    assert cache.misses == 1 and cache.hits == 1  # one computation for the whole batch
    assert torch.equal(v1, v2)
    fresh = cache.unproject(hm, ring_rig, A)  # no key: computed, not cached
    assert torch.allclose(fresh, v1, atol=1e-6) and cache.misses == 1
    moved = ring_rig.select_views([1, 2, 3, 4, 0])  # another rig has another key
    v3 = cache.unproject(hm, moved, A, key='rig1|set0')
    assert cache.misses == 2 and torch.allclose(v3, cache.unproject(hm, moved, A), atol=1e-6)
    batched = ring_rig.expand(2)  # per-frame rigs are never cached, key or not
    cache.unproject(hm, batched, A, key='rig0|set0')
    assert cache.misses == 2 and cache.hits == 1


def test_gradients_reach_heatmaps(ring_rig):
    hm = torch.rand(1, ring_rig.num_views, 2, *HEATMAP[::-1]).mul(0.5).requires_grad_()
    grids = make_voxel_grid(torch.tensor([[[0.0, -500.0, 900.0]]]), (2000.0, ) * 3, (4, 4, 4))
    vol = unproject_heatmaps(hm, ring_rig, _affines(ring_rig)[None], grids)
    vol.sum().backward()
    assert hm.grad.abs().sum() > 0


def test_shape_errors_are_clear(ring_rig):
    with pytest.raises(ValueError, match='grids'):
        unproject_heatmaps(torch.rand(1, 5, 1, 8, 8), ring_rig, _affines(ring_rig)[None],
                           torch.zeros(1, 4, 4, 4, 3))
