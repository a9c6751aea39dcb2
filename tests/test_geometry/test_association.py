"""Multi-person association and triangulation (the learning-free baseline): exact
recovery from noise-free projections, ghost and out-of-space rejection, left/right swaps,
outliers, empty inputs, and the registered model through the data pipeline and the AP
metric."""
import numpy as np
import pytest
import torch
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.geometry import (EpipolarRig, TRIANGULATION_DEFAULTS,
                                    resolve_triangulation_knobs, triangulate_people)
from selfpose3d_mm.geometry.association import extend_clusters
from selfpose3d_mm.geometry.cluster_triangulation import (merge_duplicate_clusters,
                                                          solve_clusters)
from selfpose3d_mm.geometry.epipolar import flip_permutation, person_scale
from selfpose3d_mm.datasets import multiview_collate
from selfpose3d_mm.datasets.synthetic.body import PeopleSequence
from selfpose3d_mm.datasets.synthetic.rig import make_ring_rig
from selfpose3d_mm.evaluation import MultiViewPoseAPMetric

SPACE = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))
FLIP = TRIANGULATION_DEFAULTS['flip_pairs']


def _scene(num_people=4, num_outside=0, seed=1):
    """A 5-view ring rig and P people (J=15) at one instant: rig, (P, J, 3), inside."""
    rng = np.random.default_rng(seed)
    rig = make_ring_rig(rng, SPACE['space_center'], SPACE['space_size'])
    people = PeopleSequence(rng, num_people, SPACE['space_center'], SPACE['space_size'],
                            num_outside=num_outside)
    X = torch.from_numpy(people.joints(np.array([0.7]))[0])
    return rig, X, people.inside


def _observe(rig, X, seed=0):
    """Noise-free projections with the person order shuffled per view.

    Returns keypoints (C, P, J, 2), scores (C, P, J) (1 inside the image, else 0),
    mask (C, P) and order (C, P): ``order[c, q]`` = the 3D person seen as person q of
    view c.
    """
    P, J = X.shape[:2]
    C = rig.num_views
    uv, valid = rig.project(X.reshape(-1, 3).float(), return_valid=True)
    seen = (valid & rig.in_image(uv)).view(C, P, J).float()
    uv = uv.double().view(C, P, J, 2)
    rng = np.random.default_rng(seed)
    order = torch.from_numpy(np.stack([rng.permutation(P) for _ in range(C)]))
    kp = torch.stack([uv[c, order[c]] for c in range(C)])
    sc = torch.stack([seen[c, order[c]] for c in range(C)])
    return kp, sc, torch.ones(C, P, dtype=torch.bool), order


def _errors(pred, gt):
    """(N, G) MPJPE and (N, G) max joint error."""
    d = (pred.double()[:, None] - gt.double()[None]).norm(dim=-1)
    return d.mean(-1), d.amax(-1)


def _matched_max_error(pred, gt):
    """Each GT's best prediction: (G,) max joint error (mm)."""
    mean, mx = _errors(pred, gt)
    best = mean.argmin(0)
    return mx[best, torch.arange(len(gt))]


def test_noise_free_people_recovered_exactly_and_associated():
    rig, X, _ = _scene(num_people=4)
    kp, sc, mask, order = _observe(rig, X)
    out = triangulate_people(kp, sc, mask, rig, **SPACE)
    pred, scores = out['keypoints_3d'], out['scores']
    assert pred.shape == (4, 15, 3) and scores.shape == (4, )
    assert (_matched_max_error(pred, X) < 1.0).all()  # mm
    assert (scores > 0.5).all() and (scores <= 1).all()
    assert (scores[:-1] >= scores[1:]).all()  # sorted
    # every view's person is the same 3D person
    gt_of_pred = _errors(pred, X)[0].argmin(1)
    for n in range(4):
        idx = out['person_index'][n]
        assert (idx >= 0).all()
        assert all(int(order[c, idx[c]]) == int(gt_of_pred[n]) for c in range(5))


def test_ghost_seen_by_one_view_is_rejected():
    rig, X, _ = _scene(num_people=3)
    kp, sc, mask, _ = _observe(rig, X)
    C, P, J = sc.shape
    # a fourth, plausible person inside the space that only view 0 detects
    rig2, X2, _ = _scene(num_people=1, seed=7)
    ghost = rig.project(X2.reshape(-1, 3).float()).double()[0].view(1, J, 2)
    kp = torch.cat([kp, torch.zeros(C, 1, J, 2)], 1)
    kp[0, P] = ghost[0]
    sc = torch.cat([sc, torch.zeros(C, 1, J)], 1)
    sc[0, P] = 1.0
    mask = torch.cat([mask, torch.zeros(C, 1, dtype=torch.bool)], 1)
    mask[0, P] = True
    out = triangulate_people(kp, sc, mask, rig, **SPACE)
    assert len(out['scores']) == 3
    assert (_matched_max_error(out['keypoints_3d'], X) < 1.0).all()
    assert not (out['person_index'][:, 0] == P).any()
    # the same detection in a second view makes it a real (triangulable) person
    kp[1, P] = rig.project(X2.reshape(-1, 3).float()).double()[1].view(J, 2)
    sc[1, P], mask[1, P] = 1.0, True
    assert len(triangulate_people(kp, sc, mask, rig, **SPACE)['scores']) == 4


def test_person_outside_the_space_is_dropped():
    rig, X, inside = _scene(num_people=2, num_outside=1, seed=3)
    assert inside.tolist() == [True, True, False]
    kp, sc, mask, _ = _observe(rig, X)
    out = triangulate_people(kp, sc, mask, rig, **SPACE)
    assert len(out['scores']) == 2
    assert (_matched_max_error(out['keypoints_3d'], X[:2]) < 1.0).all()
    # the bystander is a real person: without a capture space it is kept
    out = triangulate_people(kp, sc, mask, rig)
    assert len(out['scores']) == 3
    assert (_matched_max_error(out['keypoints_3d'], X) < 1.0).all()


def _swap(kp, sc, c, q, pairs, factor=1.0):
    for a, b in pairs:
        kp[c, q, [a, b]] = kp[c, q, [b, a]]
        sc[c, q, [a, b]] *= factor


def test_left_right_swaps_are_repaired():
    rig, X, _ = _scene(num_people=3, seed=5)
    kp, sc, mask, _ = _observe(rig, X)
    _swap(kp, sc, 1, 0, FLIP)          # a whole person seen back-to-front
    _swap(kp, sc, 3, 1, [FLIP[2]])     # one wrist pair of another person
    _swap(kp, sc, 4, 1, [FLIP[4]])     # one knee pair
    out = triangulate_people(kp, sc, mask, rig, **SPACE)
    assert len(out['scores']) == 3
    assert (_matched_max_error(out['keypoints_3d'], X) < 1.0).all()
    # repaired, not merely rejected as outliers: every view still supports its person
    assert (out['person_index'] >= 0).all()


def test_left_right_swap_with_two_views_goes_to_the_less_confident_view():
    rig, X, _ = _scene(num_people=1, seed=11)
    rig2 = rig.select_views([0, 2])
    kp, sc, mask, _ = _observe(rig2, X)
    _swap(kp, sc, 1, 0, [FLIP[1], FLIP[5]], factor=0.85)  # elbows and ankles of view 1
    out = triangulate_people(kp, sc, mask, rig2, **SPACE)
    assert len(out['scores']) == 1
    assert (_matched_max_error(out['keypoints_3d'], X) < 1.0).all()


def test_outlier_views_are_rejected_and_noise_is_averaged():
    rig, X, _ = _scene(num_people=3, seed=2)
    kp, sc, mask, _ = _observe(rig, X)
    kp[0, :, 5] += 60.0   # every wrist of view 0 is off by 85 px
    kp[2, 1, 13] -= 50.0  # one knee of view 2
    out = triangulate_people(kp, sc, mask, rig, **SPACE)
    assert len(out['scores']) == 3
    assert (_matched_max_error(out['keypoints_3d'], X) < 1.0).all()
    # 2 px Gaussian noise: centimetre accuracy, nobody lost
    g = torch.Generator().manual_seed(0)
    noisy = kp + 2.0 * torch.randn(kp.shape, generator=g, dtype=kp.dtype)
    out = triangulate_people(noisy, sc, mask, rig, **SPACE)
    assert len(out['scores']) == 3
    assert (_errors(out['keypoints_3d'], X)[0].amin(0) < 20.0).all()


def test_split_clusters_are_merged_and_free_persons_attached():
    rig, X, _ = _scene(num_people=2, seed=4)
    kp, sc, mask, order = _observe(rig, X)
    k = resolve_triangulation_knobs({})
    obs_rig = EpipolarRig(rig)
    conf = sc >= k['min_joint_score']
    xn = rig.undistort_points(kp.view(5, -1, 2)).double().view(kp.shape)
    obs = dict(kp=kp, xn=xn, xh=torch.cat([xn, torch.ones_like(xn[..., :1])], -1),
               w=sc.double() * conf, raw=sc.double(), conf=conf, mask=mask,
               scale=person_scale(kp, conf, k['min_scale_px']))
    pairs = torch.tensor(FLIP)
    flip = flip_permutation(15, pairs)
    q0 = [int((order[c] == 0).nonzero()) for c in range(5)]  # person 0 in each view
    # person 0 split over two clusters with disjoint views -> merged into one
    idx = torch.tensor([[q0[0], q0[1], -1, -1, -1], [-1, -1, q0[2], q0[3], q0[4]]])
    state = merge_duplicate_clusters(obs_rig, solve_clusters(obs_rig, idx, obs, pairs, k),
                                     obs, pairs, k)
    assert state['idx'].tolist() == [q0]
    assert (state['X'] - X[0]).norm(dim=-1).max() < 1.0
    # person 0 known to views 0-1 only: its detections in views 2-4 are attached
    state = solve_clusters(obs_rig, idx[:1], obs, pairs, k)
    assert extend_clusters(obs_rig, state, obs, flip, k).tolist() == [q0]


def test_empty_inputs_give_empty_outputs():
    rig, _, _ = _scene(num_people=1)
    J = 15
    for Q in (0, 3):
        out = triangulate_people(torch.zeros(5, Q, J, 2), torch.zeros(5, Q, J),
                                 torch.zeros(5, Q, dtype=torch.bool), rig, **SPACE)
        assert out['keypoints_3d'].shape == (0, J, 3) and out['scores'].shape == (0, )
        assert out['person_index'].shape == (0, 5)
    # persons in one view only: nothing can be triangulated
    rig1, X, _ = _scene(num_people=2)
    kp, sc, mask, _ = _observe(rig1, X)
    mask[1:] = False
    out = triangulate_people(kp, sc, mask, rig1, **SPACE)
    assert out['keypoints_3d'].shape == (0, J, 3) and out['scores'].shape == (0, )
    with pytest.raises(ValueError, match='unknown knob'):
        triangulate_people(kp, sc, mask, rig1, assoc_treshold=0.1)
    with pytest.raises(ValueError, match='min_views'):
        triangulate_people(kp, sc, mask, rig1, min_views=1)


def test_model_predict_on_the_synthetic_dataset_scores_high_ap():
    ds = DATASETS.build(dict(
        type='SyntheticMultiViewDataset', split='val', num_samples=6,
        frames_per_sequence=2, **SPACE,
        pipeline=[dict(type='MultiViewResize', input_size=(480, 256)),
                  dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs')]))
    model = MODELS.build(dict(type='TriangulationBaseline'))  # space from the metainfo
    assert sum(p.numel() for p in model.parameters()) == 0
    metric = MultiViewPoseAPMetric()
    for start in (0, 2, 4):
        data = multiview_collate([ds[i] for i in range(start, start + 2)])
        samples = model.test_step(data)
        for s in samples:
            assert s.pred_instances.keypoints_3d.shape[1:] == (15, 3)
            assert len(s.pred_instances.scores) == len(s.pred_instances.keypoints_3d)
        metric.process(data, samples)
    # the 2D poses are mapped back to the original pixels exactly
    info = ds.get_data_info(4)  # the first frame of the last batch
    kp, _, mask = model.observations(model.data_preprocessor(data)['inputs'], 0)
    for c in range(5):
        n = int(mask[c].sum())
        assert torch.allclose(kp[c, :n].float(), torch.from_numpy(info['pseudo_keypoints'][c]),
                              atol=1e-2)
    m = metric.compute_metrics(metric.results)
    assert m['AP100'] > 80 and m['Recall@500'] > 90, m
    assert m['MPJPE'] < 50, m
    with pytest.raises(RuntimeError, match='no trainable parameters'):
        model(data['inputs'], data['data_samples'], mode='loss')
