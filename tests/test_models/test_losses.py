"""SelfPose3d losses: root consistency, synthetic roots, attentive heatmap loss,
attention regulariser, Hungarian L1 with hard view attention (hand-computed cases)."""
import itertools

import pytest
import torch
from mmpose.registry import MODELS

import selfpose3d_mm  # noqa: F401  (registers the modules)
from selfpose3d_mm.models.losses import (AttentionRegularizer, AttentiveHeatmapLoss,
                                         HungarianL1Loss, RootConsistencyLoss,
                                         SyntheticRootSampler)


def test_all_registered():
    for name in ('RootConsistencyLoss', 'AttentiveHeatmapLoss', 'AttentionRegularizer',
                 'HungarianL1Loss', 'SoftAttentionNet', 'SyntheticRootSampler'):
        assert MODELS.get(name) is not None, name
    loss = MODELS.build(dict(type='HungarianL1Loss', loss_weight=0.5, norm_size=(960, 512)))
    assert loss.loss_weight == 0.5 and loss.norm_size == (960.0, 512.0)


# ----------------------------------------------------------------- root consistency
def test_root_consistency_zero_when_equal_and_anchor_gets_no_gradient():
    anchor = torch.rand(2, 4, 4, 3, requires_grad=True)
    vols = [anchor.detach().clone().requires_grad_(), anchor.detach().clone()]
    loss = RootConsistencyLoss()(vols, anchor)
    assert loss.item() == 0.0
    loss.backward()
    assert anchor.grad is None
    assert torch.equal(vols[0].grad, torch.zeros_like(anchor))


def test_root_consistency_value_and_gradients():
    anchor = torch.zeros(1, 2, 2, 2, requires_grad=True)
    v1 = torch.ones(1, 2, 2, 2, requires_grad=True)
    v2 = torch.full((1, 2, 2, 2), 2.0, requires_grad=True)
    loss = RootConsistencyLoss(loss_weight=3.0)([v1, v2], anchor)
    assert loss.item() == pytest.approx(3.0 * (1.0 + 4.0))
    loss.backward()
    assert anchor.grad is None
    assert torch.allclose(v1.grad, torch.full_like(v1, 3.0 * 2 * 1 / 8))
    assert torch.allclose(v2.grad, torch.full_like(v2, 3.0 * 2 * 2 / 8))
    # a stacked (K, B, X, Y, Z) tensor gives the same value
    same = RootConsistencyLoss(loss_weight=3.0)(torch.stack([v1, v2]), anchor)
    assert same.item() == pytest.approx(loss.item())


def test_root_consistency_shape_errors():
    with pytest.raises(ValueError, match='volumes\\[1\\]'):
        RootConsistencyLoss()([torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 3)],
                              torch.zeros(1, 2, 2, 2))
    with pytest.raises(ValueError, match='at least one'):
        RootConsistencyLoss()([], torch.zeros(1, 2, 2, 2))
    with pytest.raises(ValueError, match='anchor'):
        RootConsistencyLoss()([torch.zeros(2, 2, 2)], torch.zeros(2, 2, 2))


# ----------------------------------------------------------------- synthetic roots
SPACE = dict(space_center=(0.0, -500.0, 800.0), space_size=(8000.0, 8000.0, 2000.0))


def test_sampler_counts_margins_and_heights():
    s = SyntheticRootSampler(**SPACE, max_people=10, xy_margin=(1000.0, 500.0),
                             z_jitter=50.0)
    g = torch.Generator().manual_seed(1)
    roots, mask = s.sample(2000, generator=g)
    assert roots.shape == (2000, 9, 3) and mask.shape == (2000, 9)
    assert roots.dtype == torch.float32 and mask.dtype == torch.bool
    n = mask.sum(1)
    assert n.min() == 1 and n.max() == 9                 # U{1..K}, drawn per sample
    assert len(torch.unique(n)) == 9
    # the real roots come first, padded ones are zeros
    assert torch.equal(mask, torch.arange(9)[None] < n[:, None])
    assert torch.all(roots[~mask] == 0)
    r = roots[mask]
    assert r[:, 0].min() >= -4000 + 1000 and r[:, 0].max() <= 4000 - 1000
    assert r[:, 1].min() >= -4500 + 500 and r[:, 1].max() <= 3500 - 500
    # x, y cover the allowed area (uniform)
    assert r[:, 0].min() < -2900 and r[:, 0].max() > 2900
    # one height per sample, default range [zmin + 250, zmax - 300] = [50, 1500], + jitter
    z = torch.where(mask, roots[..., 2], torch.nan)
    zmean = z.nanmean(1, keepdim=True)
    assert torch.nanquantile((z - zmean).abs().flatten(), 0.99) < 50 * 3.5
    assert zmean.min() > 50 - 200 and zmean.max() < 1500 + 200
    assert zmean.std() > 300                             # heights differ between samples


def test_sampler_zero_jitter_shares_height_exactly_and_is_deterministic():
    s = SyntheticRootSampler(**SPACE, max_people=5, z_range=(900.0, 1000.0), z_jitter=0.0,
                             xy_margin=((2500.0, 2000.0), (1500.0, 1500.0)))
    roots, mask = s.sample(50, generator=torch.Generator().manual_seed(7))
    assert roots.shape == (50, 4, 3)
    for b in range(50):   # tiny loop in the test only
        zb = roots[b, mask[b], 2]
        assert torch.all(zb == zb[0]) and 900 <= zb[0] <= 1000
    r = roots[mask]
    assert r[:, 0].min() >= -1500 and r[:, 0].max() <= 2000       # authors' Panoptic box
    assert r[:, 1].min() >= -3000 and r[:, 1].max() <= 2000
    again = s.sample(50, generator=torch.Generator().manual_seed(7))
    assert torch.equal(roots, again[0]) and torch.equal(mask, again[1])
    other = s.sample(50, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(roots, other[0])


def test_sampler_rejects_bad_config():
    with pytest.raises(ValueError, match='empty x'):
        SyntheticRootSampler(**SPACE, xy_margin=(5000.0, 0.0))
    with pytest.raises(ValueError, match='max_people'):
        SyntheticRootSampler(**SPACE, max_people=1)


# ----------------------------------------------------------------- heatmap losses
def test_attentive_heatmap_loss_hand_values():
    pred = torch.tensor([1.0, 2.0, 0.0, 3.0]).view(1, 1, 2, 1, 2).requires_grad_()
    target = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 1, 2)
    att = torch.tensor([0.5, 1.0, 2.0, 0.0]).view(1, 1, 2, 1, 2).requires_grad_()
    loss_fn = AttentiveHeatmapLoss(loss_weight=2.0)
    # squared errors 1, 4, 1, 4; plain MSE = 10/4
    assert loss_fn(pred, target).item() == pytest.approx(2.0 * 10 / 4)
    # attention-weighted: 0.5 + 4 + 2 + 0 = 6.5 over 4
    loss = loss_fn(pred, target, att)
    assert loss.item() == pytest.approx(2.0 * 6.5 / 4)
    loss.backward()
    # d/dpred = 2 * w * A * (pred - target) / N ; d/dA = w * (pred - target)^2 / N
    assert torch.allclose(pred.grad.flatten(), torch.tensor([0.5, 2.0, -2.0, 0.0]))
    assert torch.allclose(att.grad.flatten(), torch.tensor([0.5, 2.0, 0.5, 2.0]))
    # per-heatmap weight masks the second joint: mean over the first only
    w = torch.tensor([[[1.0, 0.0]]])
    assert loss_fn(pred, target, att, weight=w).item() == pytest.approx(2.0 * 4.5 / 2)
    assert loss_fn(pred, target, None, weight=w.bool()).item() == pytest.approx(2.0 * 5 / 2)


def test_attentive_heatmap_loss_zero_attention_broadcast_and_errors():
    pred = torch.rand(2, 3, 4, 5, 6, requires_grad=True)
    target = torch.rand(2, 3, 4, 5, 6)
    loss_fn = AttentiveHeatmapLoss()
    zero = loss_fn(pred, target, torch.zeros(2, 3, 4, 5, 6))
    assert zero.item() == 0.0
    att = torch.rand(2, 3, 1, 5, 6)
    assert torch.allclose(loss_fn(pred, target, att),
                          (att * (pred - target) ** 2).mean())
    none = loss_fn(pred, target, None, weight=torch.zeros(2, 3, 4))
    assert none.item() == 0.0
    none.backward()
    assert pred.grad is not None
    with pytest.raises(ValueError, match='attention'):
        loss_fn(pred, target, torch.rand(2, 3, 2, 5, 6))
    with pytest.raises(ValueError, match='target'):
        loss_fn(pred, target[:, :2])
    with pytest.raises(ValueError, match='weight'):
        loss_fn(pred, target, None, weight=torch.ones(2, 3))


def test_attention_regularizer():
    a = torch.tensor([1.0, 0.0, 0.5, 1.0]).view(1, 1, 1, 2, 2).requires_grad_()
    loss = AttentionRegularizer()(a)
    assert loss.item() == pytest.approx(0.1 * (1 + 0.25) / 4)
    loss.backward()
    assert torch.allclose(a.grad.flatten(), 0.1 * 2 * torch.tensor([0.0, -1, -0.5, 0]) / 4)
    assert AttentionRegularizer(loss_weight=1.0)(torch.ones(2, 15, 8, 8)).item() == 0.0
    with pytest.raises(ValueError):
        AttentionRegularizer()(torch.ones(4, 4))


# ----------------------------------------------------------------- Hungarian L1
def _poses(xs, J=1, B=1, C=1):
    """x coordinates (P,) → (B, C, P, J, 2) with y = 0, all joints valid."""
    x = torch.tensor(xs, dtype=torch.float32).view(1, 1, -1, 1, 1).expand(B, C, -1, J, 1)
    pose = torch.cat([x, torch.zeros_like(x)], -1).clone()
    return pose, torch.ones(pose.shape[:4], dtype=torch.bool)


def test_hungarian_optimal_differs_from_greedy():
    # costs (mean |dx|, |dy| over xy = |dx| / 2): c00 = 1, c01 = 2, c10 = 1.5, c11 = 4.5
    # greedy: (0,0) + (1,1) = 5.5 ; optimal: (0,1) + (1,0) = 3.5
    pred, pv = _poses([0.0, 5.0])
    target, tv = _poses([2.0, -4.0])
    pred.requires_grad_()
    loss_fn = HungarianL1Loss(loss_weight=1.0)
    m = loss_fn.match(pred, pv, target, tv)
    assert torch.allclose(m.cost[0, 0], torch.tensor([[1.0, 2.0], [1.5, 4.5]]))
    assert m.pairs(0, 0) == [(0, 1), (1, 0)]
    loss = loss_fn(pred, pv, target, tv)
    assert loss.item() == pytest.approx((2.0 + 1.5) / 2)
    loss.backward()
    # pred 0 (x = 0) pulled towards -4 (d/dx = +0.5 * 1/2), pred 1 (x = 5) towards 2
    assert torch.allclose(pred.grad[0, 0, :, 0, 0], torch.tensor([0.25, 0.25]))
    assert torch.all(pred.grad[..., 1] == 0)          # dy = 0 → sign 0
    # normalisation by (w, h): x / 10 → every cost / 10 (ctor or call)
    assert HungarianL1Loss(1.0, norm_size=(10, 4))(pred, pv, target, tv).item() == \
        pytest.approx(0.175)
    assert loss_fn(pred, pv, target, tv, norm_size=(10, 4)).item() == pytest.approx(0.175)


def test_hungarian_rectangular_both_ways():
    loss_fn = HungarianL1Loss(loss_weight=1.0)
    pred, pv = _poses([0.0, 10.0, 20.0])
    target, tv = _poses([11.0])
    m = loss_fn.match(pred, pv, target, tv)
    assert m.pairs(0, 0) == [(1, 0)]
    assert loss_fn(pred, pv, target, tv).item() == pytest.approx(0.5)
    # the reverse: one prediction, three pseudo persons
    m = loss_fn.match(target, tv, pred, pv)
    assert m.pairs(0, 0) == [(0, 1)]
    assert loss_fn(target, tv, pred, pv).item() == pytest.approx(0.5)


def test_hungarian_invisible_joints_and_empty_persons():
    loss_fn = HungarianL1Loss(loss_weight=1.0)
    J = 3
    pred = torch.zeros(1, 1, 3, J, 2)
    pred[0, 0, 0] = float('nan')                     # person with no valid joint at all
    pred[0, 0, 1, :, 0] = torch.tensor([0.0, 2.0, 1000.0])
    pred[0, 0, 2, :, 0] = 50.0
    pv = torch.ones(1, 1, 3, J, dtype=torch.bool)
    pv[0, 0, 0] = False
    pred.requires_grad_()
    target = torch.zeros(1, 1, 3, J, 2)
    target[0, 0, 1, :, 0] = torch.tensor([4.0, 4.0, 0.0])   # joint 2 invisible below
    target[0, 0, 2, :, 0] = 7.0                              # pseudo person with no joint
    tv = torch.ones(1, 1, 3, J, dtype=torch.bool)
    tv[0, 0, 0] = False
    tv[0, 0, 2] = False
    tv[0, 0, 1, 2] = False
    m = loss_fn.match(pred, pv, target, tv)
    assert not m.matchable[0, 0, 0].any() and not m.matchable[0, 0, :, 0].any()
    assert not m.matchable[0, 0, :, 2].any()
    # pred 1 vs target 1 over joints 0, 1: (|0-4| + |2-4|) / 2 / 2 = 1.5 ; pred 2: 23
    assert m.cost[0, 0, 1, 1].item() == pytest.approx(1.5)
    assert m.cost[0, 0, 2, 1].item() == pytest.approx(23.0)
    assert m.pairs(0, 0) == [(1, 1)]
    loss = loss_fn(pred, pv, target, tv)
    assert loss.item() == pytest.approx(1.5)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    assert torch.all(pred.grad[0, 0, 0] == 0) and torch.all(pred.grad[0, 0, 2] == 0)
    assert pred.grad[0, 0, 1, 2].abs().sum() == 0     # invisible joint: no gradient
    assert torch.allclose(pred.grad[0, 0, 1, :2, 0], torch.tensor([-0.25, -0.25]))


def test_hungarian_never_picks_unmatchable_pairs():
    # A sees only joint 0, X only joint 1: A-X is unmatchable (would cost 0 if not excluded)
    pred = torch.zeros(1, 1, 2, 2, 2)
    pred[0, 0, 0, :, 0] = torch.tensor([20.0, 0.0])   # A
    pred[0, 0, 1, :, 0] = torch.tensor([0.0, 20.0])   # B
    pv = torch.tensor([[True, False], [True, True]]).view(1, 1, 2, 2)
    target = torch.zeros(1, 1, 2, 2, 2)               # X = (., 0), Y = (0, .)
    tv = torch.tensor([[False, True], [True, False]]).view(1, 1, 2, 2)
    loss_fn = HungarianL1Loss(loss_weight=1.0)
    m = loss_fn.match(pred, pv, target, tv)
    assert not m.matchable[0, 0, 0, 0]
    # A-Y = 10, B-X = 10, B-Y = 0: two matchable pairs beat one cheap pair
    assert m.pairs(0, 0) == [(0, 1), (1, 0)]
    assert loss_fn(pred, pv, target, tv).item() == pytest.approx(10.0)
    # with B gone, A can only take Y
    pv2 = pv.clone()
    pv2[0, 0, 1] = False
    assert loss_fn.match(pred, pv2, target, tv).pairs(0, 0) == [(0, 1)]


def test_hungarian_hard_view_attention_and_empty_views():
    # sample 0: views with costs 1, 2, 6 and a 4th view without pseudo persons
    # sample 1: one view with a loss (cost 4), the others have no prediction
    B, C = 2, 4
    pred = torch.zeros(B, C, 1, 1, 2, requires_grad=True)
    pv = torch.ones(B, C, 1, 1, dtype=torch.bool)
    pv[1, 1:] = False
    target = torch.zeros(B, C, 1, 1, 2)
    target[0, :3, 0, 0, 0] = torch.tensor([2.0, 4.0, 12.0])
    target[1, 0, 0, 0, 0] = 8.0
    tv = torch.ones(B, C, 1, 1, dtype=torch.bool)
    tv[0, 3] = False
    loss_fn = HungarianL1Loss(loss_weight=0.1)
    m = loss_fn.match(pred, pv, target, tv)
    assert m.pairs(0, 3) == [] and m.pairs(1, 2) == [] and m.pairs(1, 0) == [(0, 0)]
    loss = loss_fn(pred, pv, target, tv)
    # sample 0 drops the worst view (6): (1 + 2) / 2 ; sample 1 keeps its only view: 4
    assert loss.item() == pytest.approx(0.1 * (1.5 + 4.0) / 2)
    loss.backward()
    assert pred.grad[0, 2].abs().sum() == 0                  # the dropped view
    assert pred.grad[0, 0].abs().sum() > 0 and pred.grad[1, 0].abs().sum() > 0
    no_drop = HungarianL1Loss(loss_weight=0.1, drop_worst_views=0)(pred, pv, target, tv)
    assert no_drop.item() == pytest.approx(0.1 * (3.0 + 4.0) / 2)
    # two views with a loss and drop 2: too few views, nothing dropped
    drop2 = HungarianL1Loss(loss_weight=1.0, drop_worst_views=2)
    assert drop2(pred[:, 1:3], pv[:, 1:3], target[:, 1:3], tv[:, 1:3]).item() == \
        pytest.approx(4.0)   # sample 0: (2 + 6) / 2 ; sample 1 has no loss
    # three views with a loss (1, 2, 6): drop 2 keeps the best one ; sample 1 keeps 4
    assert drop2(pred, pv, target, tv).item() == pytest.approx((1.0 + 4.0) / 2)


def test_hungarian_no_match_is_zero_with_gradient_path():
    pred = torch.rand(2, 3, 2, 15, 2, requires_grad=True)
    pv = torch.ones(2, 3, 2, 15, dtype=torch.bool)
    target = torch.rand(2, 3, 0, 15, 2)
    loss = HungarianL1Loss()(pred, pv, target, torch.zeros(2, 3, 0, 15, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))
    tv = torch.zeros(2, 3, 4, 15, dtype=torch.bool)
    loss = HungarianL1Loss()(pred, pv, torch.rand(2, 3, 4, 15, 2), tv)
    assert loss.item() == 0.0 and loss.requires_grad


def test_hungarian_shape_errors():
    loss_fn = HungarianL1Loss()
    p, pv = torch.zeros(1, 2, 3, 15, 2), torch.ones(1, 2, 3, 15, dtype=torch.bool)
    t, tv = torch.zeros(1, 2, 4, 15, 2), torch.ones(1, 2, 4, 15, dtype=torch.bool)
    with pytest.raises(ValueError, match='pred_valid'):
        loss_fn(p, pv[..., :14], t, tv)
    with pytest.raises(ValueError, match='target must'):
        loss_fn(p, pv, t[:, :1], tv[:, :1])
    with pytest.raises(ValueError, match='target_valid'):
        loss_fn(p, pv, t, tv[:, :, :3])
    with pytest.raises(ValueError, match='pred must'):
        loss_fn(p[..., 0], pv, t, tv)


def _brute_force(pred, pv, target, tv, drop):
    """Loop reference: exhaustive matching (max #pairs, then min cost) per (b, c)."""
    B, C, P, J, _ = pred.shape
    Q = target.shape[2]
    samples = []
    for b in range(B):
        views = []
        for c in range(C):
            cost = {}
            for p in range(P):
                for q in range(Q):
                    both = pv[b, c, p] & tv[b, c, q]
                    if both.any():
                        d = (pred[b, c, p] - target[b, c, q]).abs().mean(-1)
                        cost[p, q] = d[both].mean().item()
            best = (0, 0.0, None)
            for k in range(min(P, Q), 0, -1):
                for ps in itertools.permutations(range(P), k):
                    for qs in itertools.combinations(range(Q), k):
                        pairs = list(zip(ps, qs))
                        if all(pq in cost for pq in pairs):
                            tot = sum(cost[pq] for pq in pairs)
                            if best[2] is None or tot < best[1] - 1e-9:
                                best = (k, tot, pairs)
                if best[2] is not None:
                    break
            if best[2] is not None:
                views.append(best[1] / best[0])
        if views:
            views.sort()
            if len(views) > drop:
                views = views[:len(views) - drop]
            samples.append(sum(views) / len(views))
    return sum(samples) / len(samples) if samples else 0.0


def test_hungarian_matches_loop_reference_on_random_cases():
    g = torch.Generator().manual_seed(0)
    loss_fn = HungarianL1Loss(loss_weight=1.0)
    for _ in range(6):
        B, C, P, Q, J = 2, 3, 3, 3, 4
        pred = torch.rand(B, C, P, J, 2, generator=g) * 100
        target = torch.rand(B, C, Q, J, 2, generator=g) * 100
        pv = torch.rand(B, C, P, J, generator=g) > 0.4
        tv = torch.rand(B, C, Q, J, generator=g) > 0.4
        ref = _brute_force(pred, pv, target, tv, drop=1)
        assert loss_fn(pred, pv, target, tv).item() == pytest.approx(ref, rel=1e-5)
