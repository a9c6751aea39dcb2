"""N-view DLT triangulation round trips through the full camera model."""
import torch

from selfpose3d_mm.geometry import triangulate_dlt, triangulate_points


def test_projection_triangulation_round_trip(panoptic_rig):
    pts = torch.randn(2, 40, 3, dtype=torch.float64) * torch.tensor([800., 800, 400]) \
        + torch.tensor([0., 0, 900])
    cams = panoptic_rig.double()
    uv, valid = cams.project(pts, return_valid=True)  # (2, C, N, 2) with distortion
    seen = (valid & cams.in_image(uv)).double()  # what the cameras really see
    X = triangulate_points(panoptic_rig, uv, seen)
    ok = seen.sum(1) >= 2
    assert ok.float().mean() > 0.9
    assert (X - pts)[ok].abs().max() < 1e-3  # mm


def test_weights_drop_a_corrupted_view(ring_rig):
    pts = torch.tensor([[300.0, -200.0, 900.0], [-800.0, 400.0, 1500.0]], dtype=torch.float64)
    uv = ring_rig.double().project(pts)
    uv[1] += 80.0  # view 1 is wrong
    w = torch.ones(ring_rig.num_views, 2, dtype=torch.float64)
    assert (triangulate_points(ring_rig, uv) - pts).norm(dim=-1).max() > 10
    w[1] = 0
    assert (triangulate_points(ring_rig, uv, w) - pts).abs().max() < 1e-3
    w[2:] = 0
    assert torch.isnan(triangulate_points(ring_rig, uv, w)).all()  # one view left


def test_dlt_on_ideal_cameras():
    P = torch.zeros(3, 3, 4, dtype=torch.float64)
    for i, tx in enumerate((-1.0, 0.0, 1.0)):
        P[i, :, :3] = torch.eye(3, dtype=torch.float64)
        P[i, 0, 3] = tx
    X = torch.tensor([[0.2, -0.1, 4.0]], dtype=torch.float64)
    proj = (P[:, :, :3] @ X.T + P[:, :, 3:]).transpose(1, 2)
    x = proj[..., :2] / proj[..., 2:]
    assert torch.allclose(triangulate_dlt(x, P), X, atol=1e-10)
