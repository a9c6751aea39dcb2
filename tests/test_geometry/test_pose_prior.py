"""The network's pose as a prior of the refined joints
(:mod:`selfpose3d_mm.geometry.pose_prior`, the refinement's ``network_prior`` knob)."""
import numpy as np
import pytest
import torch

from selfpose3d_mm.datasets.synthetic.rig import make_ring_rig
from selfpose3d_mm.geometry.pose_prior import MIN_SIGMA_MM, fuse_network_prior, prior_sigma
from selfpose3d_mm.geometry.pose_refinement import refine_poses, resolve_refinement_knobs
from tests.bodies import SPACE, TEMPLATE


def _scene(seed, num_views=5, noise_px=4.0, net_mm=40.0):
    """One person, a ring rig, 2D joints with Gaussian noise (px) in every view (view c
    holds the person at slot 0) and a 'network' pose = truth + independent noise (mm)."""
    rng = np.random.default_rng(seed)
    cams = make_ring_rig(rng, SPACE['space_center'], SPACE['space_size'],
                         num_views=num_views)
    X = torch.tensor(TEMPLATE + [*rng.uniform(-1500, 1500, 2), 0], dtype=torch.float64)
    uv = cams.to(dtype=torch.float64).project(X)  # (C, J, 2)
    kp = (uv + torch.tensor(rng.normal(0, noise_px, uv.shape))).unsqueeze(1)  # (C, 1, J, 2)
    net = X + torch.tensor(rng.normal(0, net_mm, X.shape))
    return cams.to(dtype=torch.float64), X, kp, net


def _fuse(cams, X_tri, net, kp, **knobs):
    k = resolve_refinement_knobs({'network_prior': 'adaptive', **knobs})
    C, _, J = kp.shape[:3]
    scores = torch.ones(C, 1, J, dtype=torch.float64)
    views = torch.zeros(1, C, dtype=torch.long)
    refined = torch.ones(1, J, dtype=torch.bool)
    return fuse_network_prior(X_tri[None], refined, net[None], cams, kp, scores,
                              scores > 0, views, k)[0]


def _minimise(f, start):
    Y = start.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([Y], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = f(Y)
        loss.backward()
        return loss
    opt.step(closure)
    return Y.detach()


def test_the_fused_joint_minimises_the_2d_error_plus_the_prior():
    """From the 2D poses' own least-squares fit, the one step equals the minimiser of the
    (non-linear) objective: the 2D joints' squared reprojection errors in units of their
    sigma plus the prior's term."""
    cams, X, kp, net = _scene(0, num_views=3, noise_px=4.0, net_mm=60.0)
    sigma = 80.0
    k = resolve_refinement_knobs(dict(network_prior=sigma))
    from selfpose3d_mm.geometry.epipolar import person_scale

    def data_term(Y):
        uv, valid = cams.project(Y.detach(), return_valid=True)
        sig_px = k['obs_sigma'] * person_scale(uv, valid, k['min_scale_px'])  # (C,)
        return (((cams.project(Y) - kp[:, 0]) / sig_px.view(-1, 1, 1)) ** 2).sum()
    X_fit = _minimise(data_term, X)  # what the triangulation returns
    fused = _fuse(cams, X_fit, net, kp, network_prior=sigma)
    Y = _minimise(lambda Y: data_term(Y) + (((Y - net) / sigma) ** 2).sum(), X_fit)
    assert (fused - Y).norm(dim=-1).max() < 1.0
    assert (fused - X_fit).norm(dim=-1).mean() > 5.0  # and the prior did move the joints


def test_many_views_pin_a_joint_and_the_prior_moves_it_along_the_weak_direction():
    cams5, X, kp5, _ = _scene(1, num_views=5, noise_px=0.0)
    net = X + torch.tensor([150.0, -100.0, 80.0], dtype=torch.float64)
    moved5 = (_fuse(cams5, X, net, kp5, network_prior=100.0) - X).norm(dim=-1)
    # five views pin each joint (σ ~ 20 mm at 0.03 person sizes); a prior of σ 100 mm
    # moves it less than a tenth of the way
    assert moved5.max() < 0.1 * (net - X).norm(dim=-1).min()
    # two views: the step lies mostly along the direction the views constrain least
    cams2, X2, kp2, _ = _scene(1, num_views=2, noise_px=0.0)
    net2 = X2 + torch.tensor([150.0, -100.0, 80.0], dtype=torch.float64)
    fused2 = _fuse(cams2, X2, net2, kp2, network_prior=100.0)
    step = fused2 - X2
    assert step.norm(dim=-1).mean() > moved5.mean()
    # the weakest direction of the two views: the least-information eigenvector of the
    # 2D rows' normal matrix (the projection's Jacobians)
    from selfpose3d_mm.geometry.pose_prior import _projection_jacobian
    jac = _projection_jacobian(cams2, X2[None])[0]  # (C, J, 2, 3)
    H = torch.einsum('cjai,cjak->jik', jac, jac)
    weak = torch.linalg.eigh(H).eigenvectors[..., 0]  # (J, 3)
    along = (step * weak).sum(-1).abs()
    assert (along / step.norm(dim=-1)).median() > 0.9


def test_adaptive_sigma_follows_the_disagreement_with_a_floor():
    X = torch.zeros(2, 4, 3, dtype=torch.float64)
    net = X.clone()
    net[0] += torch.tensor([30.0, 0.0, 0.0], dtype=torch.float64)  # 30 mm off on every joint
    refined = torch.ones(2, 4, dtype=torch.bool)
    k = resolve_refinement_knobs(dict(network_prior='adaptive', network_prior_scale=2.0))
    sig = prior_sigma(X, refined, net, k)
    assert sig[0].item() == pytest.approx(2.0 * 30.0 / np.sqrt(3))  # per-axis RMS x 2
    assert sig[1].item() == MIN_SIGMA_MM  # equal poses: the floor
    # joints that were not triangulated do not count
    refined[0, :2] = False
    net[0, :2] += 500.0
    assert prior_sigma(X, refined, net, k)[0] == pytest.approx(sig[0])
    fixed = resolve_refinement_knobs(dict(network_prior=75.0))
    assert torch.equal(prior_sigma(X, refined, net, fixed), torch.full((2, ), 75.0,
                                                                       dtype=torch.float64))


def test_a_network_far_from_the_2d_poses_gets_a_weaker_pull():
    cams, X, kp, _ = _scene(2, num_views=3, noise_px=0.0)
    shift = torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)
    frac = []
    for mm in (40.0, 400.0):
        net = X + mm * shift / shift.norm()
        frac.append(((_fuse(cams, X, net, kp) - X).norm(dim=-1) / mm).mean())
    assert frac[1] < 0.5 * frac[0]


def test_the_prior_lowers_the_error_when_both_estimates_are_noisy():
    """Independent errors of the 2D poses (realistic scale) and of the network: the MAP
    joint is closer to the truth than either (many seeds, every joint)."""
    e_tri, e_fused, e_net = [], [], []
    for seed in range(6):
        cams, X, kp, net = _scene(seed, num_views=3, noise_px=8.0, net_mm=50.0)
        scores = torch.ones(kp.shape[:3])
        off = refine_poses(net.float()[None], cams, kp.float(), scores, network_prior=None,
                           limbs=())[0][0].double()
        on = refine_poses(net.float()[None], cams, kp.float(), scores, limbs=())[0][0].double()
        e_tri.append((off - X).norm(dim=-1).mean())
        e_fused.append((on - X).norm(dim=-1).mean())
        e_net.append((net - X).norm(dim=-1).mean())
    e_tri, e_fused, e_net = (float(np.mean(e)) for e in (e_tri, e_fused, e_net))
    assert e_fused < 0.95 * e_tri and e_fused < e_net, (e_tri, e_fused, e_net)


def test_off_and_unrefined_joints_are_unchanged_and_bad_values_refused():
    cams, X, kp, net = _scene(3)
    scores = torch.ones(kp.shape[:3], dtype=torch.float64)
    views = torch.zeros(1, cams.num_views, dtype=torch.long)
    refined = torch.ones(1, 15, dtype=torch.bool)
    refined[0, 4] = False
    k_off = resolve_refinement_knobs(dict(network_prior=None))
    args = (cams, kp, scores, scores > 0, views)
    assert torch.equal(fuse_network_prior(X[None], refined, net[None], *args, k_off), X[None])
    k_on = resolve_refinement_knobs(dict(network_prior=60.0))
    out = fuse_network_prior(X[None], refined, net[None], *args, k_on)
    assert torch.equal(out[0, 4], X[4]) and not torch.equal(out[0, 5], X[5])
    for bad in ('auto', True, -5.0, 0.0, float('inf')):
        with pytest.raises(ValueError, match='network_prior'):
            resolve_refinement_knobs(dict(network_prior=bad))
    with pytest.raises(ValueError, match='network_prior_scale'):
        resolve_refinement_knobs(dict(network_prior_scale=0.0))
    with pytest.raises(ValueError, match='obs_sigma'):
        resolve_refinement_knobs(dict(obs_sigma=-1.0))
