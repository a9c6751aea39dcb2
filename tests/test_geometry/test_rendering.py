"""Differentiable heatmap rendering and 3D Gaussian volume targets."""
import torch

from selfpose3d_mm.geometry import gaussian_volume, make_voxel_grid, render_gaussian_heatmaps


def test_subpixel_peak_and_max_over_persons():
    pts = torch.tensor([[[[10.3, 7.6]], [[30.0, 20.0]]]])  # (1, P=2, J=1, 2)
    hm = render_gaussian_heatmaps(pts, None, (48, 32), sigma=2.0)
    assert hm.shape == (1, 1, 32, 48)
    # centroid of the first blob = the float position (no quantisation)
    patch = hm[0, 0, :16, :20]
    ys, xs = torch.meshgrid(torch.arange(16.), torch.arange(20.), indexing='ij')
    c = torch.stack([(patch * xs).sum() / patch.sum(), (patch * ys).sum() / patch.sum()])
    assert torch.allclose(c, torch.tensor([10.3, 7.6]), atol=0.02)
    assert torch.isclose(hm[0, 0, 20, 30], torch.tensor(1.0))  # max, not sum
    vis = torch.tensor([[[True], [False]]])
    hm2 = render_gaussian_heatmaps(pts, vis, (48, 32), sigma=2.0)
    assert hm2[0, 0, 20, 30] < 1e-6


def test_gradients_match_finite_differences():
    pts = torch.tensor([[[[5.3, 4.7], [9.1, 3.2]], [[6.0, 5.5], [2.2, 8.8]]]],
                       dtype=torch.float64, requires_grad=True)  # (1, P=2, J=2, 2)
    amp = torch.rand(1, 2, 2, dtype=torch.float64, requires_grad=True)
    weight = torch.rand(1, 2, 12, 16, dtype=torch.float64)

    def f(p, a):
        return (render_gaussian_heatmaps(p, None, (16, 12), 1.5, amplitude=a) * weight).sum()

    assert torch.autograd.gradcheck(f, (pts, amp), eps=1e-6, atol=1e-5)


def test_empty_person_axis():
    hm = render_gaussian_heatmaps(torch.zeros(2, 5, 0, 15, 2), None, (24, 16))
    assert hm.shape == (2, 5, 15, 16, 24) and hm.abs().sum() == 0


def test_gaussian_volume_peaks_at_points():
    center, size, shape = (0.0, 0.0, 1000.0), (4000.0, 4000.0, 2000.0), (41, 41, 21)
    pts = torch.tensor([[[1000.0, -500.0, 1200.0], [-1500.0, 1500.0, 500.0]]])
    vol = gaussian_volume(pts, None, center, size, shape, sigma=200.0)
    grid = make_voxel_grid(torch.tensor(center), size, shape)
    for p in pts[0]:
        d = (grid - p).norm(dim=-1)
        idx = torch.unravel_index(d.argmin(), shape)
        assert torch.isclose(vol[0][idx], torch.tensor(1.0), atol=1e-5)
    far = (grid - pts[0, 0]).norm(dim=-1).gt(1500) & (grid - pts[0, 1]).norm(dim=-1).gt(1500)
    assert vol[0][far].max() < 1e-5
    masked = gaussian_volume(pts, torch.tensor([[True, False]]), center, size, shape)
    assert masked[0][torch.unravel_index((grid - pts[0, 1]).norm(dim=-1).argmin(), shape)] < 1e-5


def test_sum_reduction_matches_max_apart_and_clips_overlaps():
    pts = torch.tensor([[[[10.3, 7.6], [3.0, 3.0]], [[30.0, 20.0], [40.0, 5.0]]]],
                       dtype=torch.float64, requires_grad=True)  # (1, P=2, J=2, 2)
    vis = torch.tensor([[[True, True], [True, False]]])
    hm_max = render_gaussian_heatmaps(pts, vis, (48, 32), 2.0)
    hm_sum = render_gaussian_heatmaps(pts, vis, (48, 32), 2.0, reduce='sum')
    assert torch.allclose(hm_max, hm_sum, atol=1e-6)  # people far apart: identical
    over = render_gaussian_heatmaps(pts[:, [0, 0]], None, (48, 32), 2.0, reduce='sum')
    assert over.max() <= 1.0 and torch.isclose(over[0, 0, 8, 10], torch.tensor(1.0,
                                                                               dtype=over.dtype))
    weight = torch.rand(1, 2, 32, 48, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda p: (render_gaussian_heatmaps(p, vis, (48, 32), 2.0, reduce='sum') * weight
                   ).sum(), (pts, ), eps=1e-6, atol=1e-5)
