"""Test-time refinement of predicted 3D poses with the frame's 2D poses
(:mod:`selfpose3d_mm.geometry.pose_refinement` and the detector's ``test_cfg.refine``)."""
import argparse
import dataclasses

import numpy as np
import pytest
import torch
from mmengine.config import Config, DictAction
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.datasets import multiview_collate
from selfpose3d_mm.datasets.synthetic.pseudo2d import PSEUDO2D_PERFECT
from selfpose3d_mm.datasets.synthetic.rig import make_ring_rig
from selfpose3d_mm.geometry import triangulate_points
from selfpose3d_mm.geometry.association import TRIANGULATION_DEFAULTS
from selfpose3d_mm.geometry.pose_evidence import TIE_BREAK, person_scores, pose_evidence
from selfpose3d_mm.geometry.pose_refinement import (REFINEMENT_DEFAULTS, refine_poses,
                                                    resolve_refinement_knobs)
from selfpose3d_mm.skeleton import PANOPTIC15_FLIP_PAIRS
from selfpose3d_mm.models.detectors.refine import refine_cfg, refine_frame
from tests.bodies import SPACE, TEMPLATE

L_WRIST, L_ELBOW = 5, 4


def _mpjpe(a, b):
    return float((a - b).norm(dim=-1).mean())


def _scene(seed=0, noise_px=3.0, n=3):
    """3 people, a 5-view ring rig (with lens distortion), noisy 2D with one outlier view
    per joint, person order shuffled per view; the 'network' = truth + ~60 mm bias."""
    rng = np.random.default_rng(seed)
    cams = make_ring_rig(rng, SPACE['space_center'], SPACE['space_size'])
    people = []
    for _ in range(n):
        a = rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        p = TEMPLATE * rng.uniform(0.9, 1.1) @ rot.T
        people.append(p + [*rng.uniform(-2000, 2000, 2), 0] + rng.normal(0, 20, p.shape))
    X = torch.tensor(np.stack(people), dtype=torch.float32)
    C, J = cams.num_views, X.shape[1]
    uv = cams.project(X.reshape(-1, 3)).view(C, n, J, 2)
    noisy = uv + torch.tensor(rng.normal(0, noise_px, uv.shape), dtype=torch.float32)
    outlier = torch.nn.functional.one_hot(torch.as_tensor(rng.integers(0, C, (n, J))),
                                          C).permute(2, 0, 1).bool()  # (C, n, J)
    d, ang = rng.uniform(60, 150, (n, J)), rng.uniform(0, 2 * np.pi, (n, J))
    off = torch.tensor(np.stack([d * np.cos(ang), d * np.sin(ang)], -1), dtype=torch.float32)
    noisy = torch.where(outlier.unsqueeze(-1), noisy + off, noisy)
    scores = torch.tensor(rng.uniform(0.5, 1.0, (C, n, J)), dtype=torch.float32)
    perm = torch.stack([torch.as_tensor(rng.permutation(n)) for _ in range(C)])  # (C, n)
    views = torch.arange(C).unsqueeze(1)
    bias = rng.normal(0, 35, (n, 1, 3)) + rng.normal(0, 15, (n, J, 3))
    return dict(cams=cams, X=X, pred=X + torch.tensor(bias, dtype=torch.float32),
                kp=noisy[views, perm], scores=scores[views, perm], perm=perm,
                noisy=noisy, outlier=outlier, uv=uv)


def test_refinement_matches_shuffled_people_and_rejects_outlier_views():
    for seed in range(3):
        s = _scene(seed)
        out, mask, matches, _ = refine_poses(s['pred'], s['cams'], s['kp'], s['scores'],
                                             torch.ones(5, 3, dtype=torch.bool),
                                             solver='irls')
        # every person found in every view despite the shuffled order
        assert torch.equal(matches, s['perm'].argsort(1).T), seed
        # the oracle: true matching, noisy 2D, the outlier views left out
        oracle = triangulate_points(s['cams'], s['noisy'].transpose(0, 1),
                                    (~s['outlier']).float().transpose(0, 1))
        noise_free = triangulate_points(s['cams'], s['uv'].transpose(0, 1))
        e_in, e_out = _mpjpe(s['pred'], s['X']), _mpjpe(out, s['X'])
        e_oracle = _mpjpe(oracle, s['X'])
        assert _mpjpe(noise_free, s['X']) < 1.0
        assert mask.float().mean() > 0.9, seed
        assert e_out < 0.45 * e_in, (seed, e_in, e_out)
        assert e_out < 1.2 * e_oracle + 3.0, (seed, e_out, e_oracle)
        # plain score-weighted DLT of all matched views is hurt by the outliers
        plain = triangulate_points(s['cams'], s['noisy'].transpose(0, 1),
                                   s['scores'].new_ones(3, 5, 15))
        assert _mpjpe(plain, s['X']) > 1.5 * e_out


def _depth(cams, X, view):
    return cams.world_to_camera(X.reshape(-1, 3))[view, :, 2].view(X.shape[:-1])


def test_a_joint_seen_by_one_view_goes_on_its_ray_at_the_networks_depth():
    s = _scene(1)
    cams, kp, X = s['cams'], s['kp'].clone(), s['X']
    scores = s['scores'].clone()
    scores[1:, :, L_WRIST] = 0  # the left wrists: only view 0 sees them, ...
    slot0 = s['perm'][0].argsort()  # each person's index in view 0
    kp[0, slot0, L_WRIST] = s['uv'][0, :, L_WRIST]  # ... without the scene's outliers
    # a network far off on the wrists (600 mm across view 0's line of sight, as a
    # CPU-scale network places joints it has no evidence for), right on their depth
    pred = s['pred'].clone()
    across = torch.linalg.cross(cams.R[0, 2], torch.tensor([0.0, 0.0, 1.0]))
    pred[:, L_WRIST] = X[:, L_WRIST] + 600.0 * across / across.norm()
    for solver in ('irls', 'clusters'):
        out, mask, _, _ = refine_poses(pred, cams, kp, scores, solver=solver,
                                    triangulation=dict(flip_pairs=()), network_prior=None)
        assert mask[:, L_WRIST].all(), solver
        uv = cams.project(out[:, L_WRIST])[0]  # (3, 2) in view 0
        assert (uv - kp[0, slot0, L_WRIST]).norm(dim=-1).max() < 0.5, solver
        assert torch.allclose(_depth(cams, out[:, L_WRIST], 0),
                              _depth(cams, pred[:, L_WRIST], 0), atol=1e-2)
        assert _mpjpe(out[:, L_WRIST], X[:, L_WRIST]) < 60.0, solver  # was 600
        assert mask[:, L_ELBOW].all()  # the others triangulated
        assert _mpjpe(out[:, L_ELBOW], X[:, L_ELBOW]) < 0.6 * _mpjpe(
            s['pred'][:, L_ELBOW], X[:, L_ELBOW])
    # fill='median_depth': the same ray, at the person's median depth in that view
    out, mask, _, _ = refine_poses(pred, cams, kp, scores, fill='median_depth', limbs=(),
                                   network_prior=None)
    others = [j for j in range(15) if j != L_WRIST]
    assert mask[:, L_WRIST].all()
    assert torch.allclose(_depth(cams, out[:, L_WRIST], 0),
                          _depth(cams, out[:, others], 0).median(-1).values, atol=1e-2)
    # fill='network' keeps the network's joint; so does a joint no view sees
    out, mask, _, _ = refine_poses(pred, cams, kp, scores, fill='network')
    assert not mask[:, L_WRIST].any() and torch.equal(out[:, L_WRIST], pred[:, L_WRIST])
    scores[0, :, L_WRIST] = 0
    out, mask, _, _ = refine_poses(pred, cams, kp, scores)
    assert not mask[:, L_WRIST].any() and torch.equal(out[:, L_WRIST], pred[:, L_WRIST])


def test_the_fill_takes_the_view_an_accurate_network_backs():
    s = _scene(0, noise_px=0.5)
    cams, kp, X = s['cams'], s['kp'].clone(), s['X']
    slot = s['perm'].argsort(1)  # (C, 3) each person's index per view
    scores = s['scores'].clone()
    scores[2:, :, L_WRIST] = 0  # two views see the wrists
    scores[0, :, L_WRIST], scores[1, :, L_WRIST] = 0.3, 0.95
    kp[1, slot[1], L_WRIST] += torch.tensor([120.0, -90.0])  # the better-scored is wrong
    pred = X + torch.tensor([20.0, -15.0, 10.0])  # an accurate network
    out, mask, _, _ = refine_poses(pred, cams, kp, scores, solver='irls')
    uv = cams.project(out[:, L_WRIST])[0]
    assert (uv - kp[0, slot[0], L_WRIST]).norm(dim=-1).max() < 0.5  # view 0's ray
    assert _mpjpe(out[:, L_WRIST], X[:, L_WRIST]) < 40.0


def test_a_person_without_a_2d_match_is_unchanged():
    s = _scene(2)
    far = s['pred'][:1] + torch.tensor([0.0, 0.0, 0.0])
    far[..., :2] = s['pred'][0, :, :2] + torch.tensor([2600.0, -2600.0])  # nobody there
    poses = torch.cat([s['pred'], far])
    out, mask, matches, _ = refine_poses(poses, s['cams'], s['kp'], s['scores'])
    assert (matches[3] == -1).all() and not mask[3].any()
    assert torch.equal(out[3], poses[3])
    assert (matches[:3] >= 0).all()
    # no 2D person at all (P = 0): everything unchanged
    out, mask, matches, _ = refine_poses(poses, s['cams'], s['kp'][:, :0], s['scores'][:, :0])
    assert torch.equal(out, poses) and not mask.any() and (matches == -1).all()


def _seen_in(s, views_of_person):
    """(C, n) person mask keeping person ``i`` only in views ``views_of_person[i]``."""
    C, n = s['perm'].shape
    keep = torch.zeros(C, n, dtype=torch.bool)
    for i, views in enumerate(views_of_person):  # the 2D person at slot q is perm[c, q]
        keep[list(views)] |= s['perm'][list(views)] == i
    return keep


@pytest.mark.parametrize('solver', ['clusters', 'irls'])
def test_the_evidence_grows_with_the_views_that_support_a_person(solver):
    s = _scene(1)
    # person 0 in all five views, person 1 in two, person 2 in one
    mask = _seen_in(s, [range(5), (0, 2), (3,)])
    _, _, _, ev = refine_poses(s['pred'], s['cams'], s['kp'], s['scores'], mask,
                               solver=solver)
    assert ev.dtype == torch.float64 and ((ev >= 0) & (ev <= 1)).all()
    assert ev[0] > ev[1] > 0 and ev[0] > 0.3
    assert ev[2] == 0  # one view cannot triangulate a person
    # a view whose 2D person has its left and right swapped supports the pose as well
    out, refined, matches, _ = refine_poses(s['pred'], s['cams'], s['kp'], s['scores'],
                                            mask, solver=solver)
    k = resolve_refinement_knobs({})
    conf = (s['scores'] >= k['min_joint_score']) & mask.unsqueeze(-1)
    cams = s['cams'].to(dtype=torch.float64)

    def evidence(kp, scores, conf):
        return pose_evidence(out.double(), refined, cams, kp.double(), scores, conf,
                             matches, k)
    swap = torch.arange(15)
    pairs = torch.as_tensor(PANOPTIC15_FLIP_PAIRS)
    swap[pairs[:, 0]], swap[pairs[:, 1]] = pairs[:, 1], pairs[:, 0]
    q = int((s['perm'][4] == 0).nonzero())
    kp, scores, conf2 = s['kp'].clone(), s['scores'].clone(), conf.clone()
    kp[4, q], scores[4, q], conf2[4, q] = kp[4, q, swap], scores[4, q, swap], conf[4, q, swap]
    base = evidence(s['kp'], s['scores'], conf)
    assert torch.allclose(evidence(kp, scores, conf2), base, atol=1e-9)
    # larger 2D errors in the views: less evidence
    noisy = s['kp'] + torch.randn(s['kp'].shape, generator=torch.Generator().manual_seed(0)) * 8
    _, _, _, worse = refine_poses(s['pred'], s['cams'], noisy, s['scores'], mask,
                                  solver=solver)
    assert worse[0] < 0.8 * ev[0]


def test_person_scores_modes():
    net, ev = torch.tensor([0.9, 0.2]), torch.tensor([0.1, 0.8], dtype=torch.float64)
    assert torch.equal(person_scores(net, ev, 'network'), net)
    got = person_scores(net, ev, 'evidence')
    t = TIE_BREAK
    assert got.dtype == torch.float32
    assert torch.allclose(got, (1 - t) * ev.float() + t * net)
    assert torch.allclose(person_scores(net, ev, 'product'),
                          (1 - t) * torch.tensor([0.09, 0.16]) + t * net)
    # no evidence: the root score still orders the people, and none scores 0
    none = person_scores(net, torch.zeros(2, dtype=torch.float64), 'evidence')
    assert (none > 0).all() and none[0] > none[1]
    with pytest.raises(ValueError, match='score'):
        person_scores(net, ev, 'mean')
    with pytest.raises(ValueError, match="'score'"):
        refine_poses(torch.zeros(1, 15, 3), make_ring_rig(np.random.default_rng(0),
                                                          SPACE['space_center'],
                                                          SPACE['space_size']),
                     torch.zeros(5, 1, 15, 2), torch.zeros(5, 1, 15), score='root')


def test_a_consistent_but_wrong_2d_joint_that_breaks_a_bone_is_rejected():
    s = _scene(0, noise_px=0.5)
    X = s['X']
    # every view puts person 0's left wrist 180 mm further along the forearm: the views
    # agree (so triangulation alone would accept it) but the forearm grows by ~70 %
    fore = X[0, L_WRIST] - X[0, L_ELBOW]
    wrong = X[0, L_WRIST] + 180.0 * fore / fore.norm()
    uv = s['cams'].project(wrong.view(1, 3))[:, 0]  # (C, 2)
    kp = s['kp'].clone()
    slot = s['perm'].argsort(1)[:, 0]  # person 0's index in each view
    kp[torch.arange(5), slot, L_WRIST] = uv
    pred = s['pred'].clone()
    pred[0] = X[0] + torch.tensor([20.0, -15.0, 10.0])  # an accurate network for person 0
    out, mask, _, _ = refine_poses(pred, s['cams'], kp, s['scores'], solver='irls')
    assert not mask[0, L_WRIST] and torch.equal(out[0, L_WRIST], pred[0, L_WRIST])
    assert mask[0, L_ELBOW] and mask[1:].float().mean() > 0.9
    # with the bone check off it would have moved onto the wrong point
    out2, mask2, _, _ = refine_poses(pred, s['cams'], kp, s['scores'], limbs=(), solver='irls',
                                     network_prior=None)
    assert mask2[0, L_WRIST] and (out2[0, L_WRIST] - wrong).norm() < 20.0


def test_knobs_are_validated_and_the_cfg_values_understood():
    with pytest.raises(ValueError, match='match_thresh'):
        refine_cfg(dict(match_thresh=0.3))
    with pytest.raises(ValueError, match='min_views'):
        refine_cfg(dict(min_views=1))
    with pytest.raises(ValueError, match='test_cfg.refine'):
        refine_cfg('yes')
    assert refine_cfg(None) is None and refine_cfg(False) is None
    assert refine_cfg(True) == {} and refine_cfg(dict(gate=0.2)) == dict(gate=0.2)
    # what tools/test.py's --cfg-options hands over
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    for opt, want in (('model.test_cfg.refine=dict()', {}), ('model.test_cfg.refine={}', {}),
                      ('model.test_cfg.refine.gate=0.2', dict(gate=0.2))):
        cfg = Config(dict(model=dict(type='SelfPose3D')))
        cfg.merge_from_dict(parser.parse_args(['--cfg-options', opt]).cfg_options)
        assert refine_cfg(cfg.model.test_cfg.refine) == want, opt
    assert set(REFINEMENT_DEFAULTS) >= {'match_threshold', 'gate', 'min_views', 'limbs'}


# ----------------------------------------------------------------------------- detector
def _frames(n=2, people=2):
    ds = DATASETS.build(dict(
        type='SyntheticMultiViewDataset', split='test', num_samples=n, test_mode=True,
        num_people=(people, people), outside_prob=0.0, pseudo2d=PSEUDO2D_PERFECT, **SPACE,
        pipeline=[dict(type='MultiViewResize', input_size=(160, 96)),
                  dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs')]))
    gt = [torch.from_numpy(ds.get_data_info(i)['gt_keypoints_3d']).float()[..., :3]
          for i in range(n)]
    return multiview_collate([ds[i] for i in range(n)]), gt


def _model(**test_cfg):
    return MODELS.build(dict(
        type='SelfPose3D', input_size=(160, 96), heatmap_size=(40, 24), root_channels='all',
        root_head=dict(cube_shape=(8, 8, 4), mid_channels=4, max_proposals=2, **SPACE),
        pose_head=dict(cube_shape=(8, 8, 8), mid_channels=4),
        test_cfg=dict(threshold=-1.0, **test_cfg))).eval()


def _predict(model, data):
    with torch.no_grad():
        return model(**model.data_preprocessor(data, False), mode='predict')


def test_detector_refines_only_when_asked():
    data, gt = _frames()
    torch.manual_seed(0)
    model = _model()
    base = [s.pred_instances.keypoints_3d.clone() for s in _predict(model, data)]
    for off in (None, False):
        model.test_cfg['refine'] = off
        again = _predict(model, data)
        assert all(torch.equal(a.pred_instances.keypoints_3d, b)
                   for a, b in zip(again, base))
        assert 'refined_mask' not in again[0].pred_instances
    # the network's output replaced by the GT + a 60 mm error (2 proposals = 2 people)
    noisy = torch.cat(gt) + torch.randn(4, 1, 3) * 35 + torch.randn(4, 15, 3) * 15
    model.pose_from_proposals = lambda *a, **k: noisy.clone()
    model.test_cfg['refine'] = dict()  # the defaults
    out = _predict(model, data)
    for b, s in enumerate(out):
        p = s.pred_instances
        assert p.keypoints_3d.shape == (2, 15, 3) and p.refined_mask.shape == (2, 15)
        assert p.refined_mask.float().mean() > 0.8
        before, after = noisy[2 * b:2 * b + 2], p.keypoints_3d
        # GT order of people is arbitrary in the output: compare each to its own GT
        assert _mpjpe(after, gt[b]) < 0.3 * _mpjpe(before, gt[b]), b
        # the people's scores are now the 2D poses' evidence: both seen well in every view
        assert ((p.scores > 0.3) & (p.scores <= 1)).all(), p.scores
    # score='network' keeps the root net's scores
    evidence_scores = [s.pred_instances.scores.clone() for s in out]
    model.test_cfg['refine'] = dict(score='network')
    kept = _predict(model, data)
    model.test_cfg['refine'] = None
    plain = _predict(model, data)
    for a, b, r in zip(kept, plain, evidence_scores):
        assert torch.equal(a.pred_instances.scores, b.pred_instances.scores)
        assert (a.pred_instances.scores - r).abs().min() > 1e-3


def test_detector_refinement_runs_on_the_networks_own_output_and_needs_2d_poses():
    data, _ = _frames(n=1)
    model = _model(refine=dict())
    out = _predict(model, data)[0].pred_instances
    assert torch.isfinite(out.keypoints_3d).all() and out.refined_mask.dtype == torch.bool
    batch = model.data_preprocessor(data, False)['inputs']
    with pytest.raises(ValueError, match='2D poses'):
        refine_frame(dataclasses.replace(batch, pseudo=None), 0, out.keypoints_3d,
                     out.scores, {})


def test_clusters_solver_uses_the_baseline_solver_on_the_matched_people():
    from selfpose3d_mm.geometry.association import triangulate_clusters
    for seed in range(2):
        s = _scene(seed)
        mask = torch.ones(5, 3, dtype=torch.bool)
        # no left/right swaps in this scene: the flip fixing is off (its random outliers
        # of 60-150 px can look like a swap to it)
        knobs = dict(solver='clusters', triangulation=dict(flip_pairs=()), network_prior=None)
        out, refined, matches, _ = refine_poses(s['pred'], s['cams'], s['kp'], s['scores'],
                                             mask, **knobs)
        assert torch.equal(matches, s['perm'].argsort(1).T), seed
        assert refined.float().mean() > 0.9, seed
        oracle = triangulate_points(s['cams'], s['noisy'].transpose(0, 1),
                                    (~s['outlier']).float().transpose(0, 1))
        # the hypothesise-and-verify solver finds the outlier views without the network
        assert _mpjpe(out, s['X']) < 1.2 * _mpjpe(oracle, s['X']) + 3.0, seed
        # the same as triangulating the true clusters directly, in the clusters' order
        tri = triangulate_clusters(s['kp'], s['scores'], mask, s['cams'], matches,
                                   flip_pairs=())
        ok = tri['triangulated']
        assert torch.allclose(out[ok].double(), tri['keypoints_3d'][ok], atol=1e-3)


def test_triangulate_clusters_keeps_the_callers_order_and_drops_thin_clusters():
    from selfpose3d_mm.geometry.association import triangulate_clusters
    s = _scene(0, noise_px=0.5)
    true = s['perm'].argsort(1).T  # (3, C) each person's index per view
    clusters = torch.cat([true.flip(0)[:2], torch.full((1, 5), -1)])  # persons 2, 1, none
    clusters[0, 1:] = -1  # person 2: one view only, nothing to triangulate
    clusters = torch.cat([clusters, true[:1]])  # person 0 last
    tri = triangulate_clusters(s['kp'], s['scores'], torch.ones(5, 3, dtype=torch.bool),
                               s['cams'], clusters, flip_pairs=())
    assert not tri['triangulated'][0].any() and not tri['triangulated'][2].any()
    assert torch.isnan(tri['keypoints_3d'][0]).all()
    for row, person in ((1, 1), (3, 0)):
        ok = tri['triangulated'][row]
        assert ok.float().mean() > 0.8
        err = (tri['keypoints_3d'][row][ok] - s['X'][person][ok].double()).norm(dim=-1)
        assert float(err.mean()) < 40.0, (row, float(err.mean()))
    with pytest.raises(ValueError, match='two clusters'):
        triangulate_clusters(s['kp'], s['scores'], torch.ones(5, 3, dtype=torch.bool),
                             s['cams'], torch.cat([true[:1], true[:1]]))


def test_unknown_solver_and_triangulation_knobs_are_refused():
    s = _scene(0)
    with pytest.raises(ValueError, match='solver'):
        refine_poses(s['pred'], s['cams'], s['kp'], s['scores'], solver='ransac')
    with pytest.raises(ValueError, match='reproj_treshold'):
        refine_poses(s['pred'], s['cams'], s['kp'], s['scores'], solver='clusters',
                     triangulation=dict(reproj_treshold=0.1))


def test_the_triangulation_knobs_are_resolved_once_and_the_users_win():
    k = resolve_refinement_knobs(dict(min_scale_px=20.0, triangulation=dict(error_clip=0.3)))
    tk = k['triangulation']
    assert set(tk) == set(TRIANGULATION_DEFAULTS)  # complete: the evidence reads it as is
    assert tk['min_scale_px'] == 20.0 and tk['error_clip'] == 0.3
    assert tk['min_joint_score'] == REFINEMENT_DEFAULTS['min_joint_score']
    # a floor the triangulation sets itself overrides the refinement's
    tk = resolve_refinement_knobs(dict(triangulation=dict(min_scale_px=8.0)))['triangulation']
    assert tk['min_scale_px'] == 8.0


# ----------------------------------------------------------------------- missed people
def test_the_people_the_network_missed_are_recovered_once():
    from selfpose3d_mm.geometry.missed_people import recover_missed_people
    s = _scene(1)
    mask = torch.ones(5, 3, dtype=torch.bool)
    k = resolve_refinement_knobs(dict(recover_missed=True))
    for seen in ([0, 1], [0, 1, 2]):  # the network missed person 2, or nobody
        out, _, matches, _ = refine_poses(s['pred'][seen], s['cams'], s['kp'], s['scores'],
                                          mask)
        added = recover_missed_people(s['kp'], s['scores'], mask, s['cams'], matches,
                                      out[:, 2], k)
        assert len(added['scores']) == 3 - len(seen), seen
    assert _mpjpe(added_of(s, [0, 1], k)['keypoints_3d'][0], s['X'][2]) < 80  # person 2
    # a network person claiming too few of a person's views: the rest triangulate to a
    # duplicate, which the root distance drops
    k_far = resolve_refinement_knobs(dict(recover_missed=True, recover_min_distance_mm=0.0))
    matches = torch.full((1, 5), -1)
    matches[0, 0] = int((s['perm'][0] == 0).nonzero())
    dup = recover_missed_people(s['kp'], s['scores'], mask, s['cams'], matches,
                                s['X'][:1, 2], k_far)
    assert len(dup['scores']) == 3  # person 0 again from its 4 free views, and 1, 2
    kept = recover_missed_people(s['kp'], s['scores'], mask, s['cams'], matches,
                                 s['X'][:1, 2], k)
    assert len(kept['scores']) == 2
    with pytest.raises(ValueError, match='recover_missed'):
        resolve_refinement_knobs(dict(recover_missed='yes'))


def added_of(s, seen, k):
    from selfpose3d_mm.geometry.missed_people import recover_missed_people
    mask = torch.ones(5, 3, dtype=torch.bool)
    out, _, matches, _ = refine_poses(s['pred'][seen], s['cams'], s['kp'], s['scores'], mask)
    return recover_missed_people(s['kp'], s['scores'], mask, s['cams'], matches, out[:, 2], k)


def test_detector_adds_the_people_it_missed_unless_told_not_to():
    data, gt = _frames()
    model = _model(refine=dict(recover_missed=False))
    model.root_head.max_proposals = 1  # one proposal per frame, on its first person
    net = torch.stack([g[0] for g in gt]) + torch.randn(2, 15, 3) * 10
    model.pose_from_proposals = lambda *a, **k: net.clone()
    plain = _predict(model, data)
    assert all(len(s.pred_instances.scores) == 1 and not s.pred_instances.recovered.any()
               for s in plain)
    model.test_cfg['refine'] = dict()  # the defaults recover them
    for b, s in enumerate(_predict(model, data)):
        p = s.pred_instances
        assert len(p.scores) == 2 and p.recovered.tolist() == [False, True], b
        assert p.keypoints_3d.shape == (2, 15, 3) and p.refined_mask.shape == (2, 15)
        assert _mpjpe(p.keypoints_3d[1], gt[b][1]) < 30  # the missed person, triangulated
        assert torch.allclose(p.root_centers[1], p.keypoints_3d[1, 2])
        assert 0 < float(p.scores[1]) <= 1
