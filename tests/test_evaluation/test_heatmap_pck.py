"""heatmap_pck: the peak of each joint inside each known person's box, PCK normalised by
the box's larger side."""
import pytest
import torch

from selfpose3d_mm.evaluation.functional import heatmap_pck
from selfpose3d_mm.geometry.rendering import render_gaussian_heatmaps

W, H = 64, 48


def two_people(J=4):
    g = torch.Generator().manual_seed(0)
    a = torch.rand(J, 2, generator=g) * torch.tensor([12.0, 20.0]) + torch.tensor([4.0, 10.0])
    b = torch.rand(J, 2, generator=g) * torch.tensor([12.0, 20.0]) + torch.tensor([40.0, 12.0])
    return torch.stack([a, b])[None]  # (1, 2, J, 2)


def test_heatmaps_of_the_truth_score_one_and_each_person_reads_its_own_peak():
    kp = two_people()
    vis = torch.ones(kp.shape[:-1], dtype=torch.bool)
    hm = render_gaussian_heatmaps(kp, vis, (W, H), sigma=1.5)       # both people's peaks
    hits, counted = heatmap_pck(hm, kp, vis)
    assert counted.all() and hits.all()
    # a global argmax per joint would give one person the other's peak: the boxes matter
    only_a = render_gaussian_heatmaps(kp[:, :1], vis[:, :1], (W, H), sigma=1.5)
    louder_a = torch.maximum(only_a * 2.0, hm)
    hits, _ = heatmap_pck(louder_a, kp, vis)
    assert hits.all()


def test_a_displaced_joint_is_a_miss_by_the_box_normalised_threshold():
    kp = two_people()
    vis = torch.ones(kp.shape[:-1], dtype=torch.bool)
    size = (kp[0, 0].amax(0) - kp[0, 0].amin(0)).max()
    moved = kp.clone()
    moved[0, 0, 1, 0] += 0.3 * size   # joint 1 of person 0: 0.3 x box size away
    moved[0, 0, 2, 0] += 0.05 * size  # joint 2: within 0.1 x box size
    hm = render_gaussian_heatmaps(moved, vis, (W, H), sigma=1.0)
    hits, counted = heatmap_pck(hm, kp, vis, thr=0.1, box_margin=0.5)
    assert counted.all()
    assert not hits[0, 0, 1] and hits[0, 0, 2] and hits[0, 1].all()
    assert heatmap_pck(hm, kp, vis, thr=0.4, box_margin=0.5)[0][0, 0, 1]


def test_invisible_joints_and_tiny_people_are_not_counted():
    kp = two_people()
    vis = torch.ones(kp.shape[:-1], dtype=torch.bool)
    vis[0, 0, 3] = False
    tiny = kp.clone()
    tiny[0, 1] = tiny[0, 1, :1] + 0.1 * torch.randn(kp.shape[2], 2)  # a 0.3 px person
    hm = render_gaussian_heatmaps(tiny, vis, (W, H), sigma=1.5)
    hits, counted = heatmap_pck(hm, tiny, vis, min_box=2.0)
    assert not counted[0, 0, 3] and counted[0, 0, :3].all()
    assert not counted[0, 1].any() and not hits[0, 1].any()


def test_shape_check():
    with pytest.raises(ValueError, match='keypoints must be'):
        heatmap_pck(torch.zeros(1, 4, H, W), torch.zeros(1, 2, 3, 2), torch.ones(1, 2, 3))
