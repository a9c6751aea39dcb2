"""The self-supervised objective inside the detector, on noise-free synthetic frames."""
import dataclasses

import pytest
import torch
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.datasets import multiview_collate
from selfpose3d_mm.datasets.synthetic.pseudo2d import PSEUDO2D_PERFECT

SPACE = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))
INPUT, HM = (320, 192), (80, 48)


def _dataset(n=1, num_people=(1, 1), pseudo2d=PSEUDO2D_PERFECT, seed=0):
    return DATASETS.build(dict(
        type='SyntheticMultiViewDataset', split='val', seed=seed, num_samples=n,
        num_people=num_people, outside_prob=0.0, pseudo2d=pseudo2d, **SPACE,
        pipeline=[dict(type='MultiViewRandomAffinePair', input_size=INPUT, rot_prob=1.0),
                  dict(type='MultiViewAffine'),
                  dict(type='PackMultiViewInputs', with_gt=False)]))


def _batch(n=1, **kw):
    ds = _dataset(n, **kw)
    return multiview_collate([ds[i] for i in range(n)])


def _gt(n=1, **kw):
    """The 3D GT of the same frames (read here for checks; the model never gets it)."""
    ds = _dataset(n, **kw)
    return [torch.from_numpy(ds.get_data_info(i)['gt_keypoints_3d']).float() for i in range(n)]


def _model(**kw):
    return MODELS.build(dict(
        type='SelfPose3D', input_size=INPUT, heatmap_size=HM,
        root_head=dict(cube_shape=(16, 16, 8), mid_channels=4, threshold=0.0,
                       max_proposals=2, **SPACE),
        pose_head=dict(cube_shape=(8, 8, 8), mid_channels=4),
        objective=dict(type='SelfPose3dObjective', **kw)))


def _cross_view(model, batch, Y, on):
    obj = model.objective
    labels = [obj.pseudo_labels(batch, k) for k in range(3)]
    M = Y.shape[0]
    b_idx = torch.zeros(M, dtype=torch.long)
    k_idx = torch.arange(M)
    return obj.cross_view_losses(model, batch, {1: Y, 2: Y}, b_idx, k_idx, M, labels,
                                 {1: None, 2: None}, on)


def test_cross_affine_loss_vanishes_for_the_true_pose_and_grows_with_an_offset():
    model = _model()
    batch = model.data_preprocessor(_batch(), True)['inputs']
    gt = _gt()[0]
    on = {'loss_pose_hm', 'loss_pose_l1'}
    values = []
    for offset in (0.0, 30.0, 100.0, 300.0):
        losses = _cross_view(model, batch, gt + torch.tensor([offset, 0.0, 0.0]), on)
        values.append({k: float(v) for k, v in losses.items()})
    hm = [v['loss_pose_hm'] for v in values]
    l1 = [v['loss_pose_l1'] for v in values]
    assert hm[0] < 0.05 * hm[2] and l1[0] < 0.05 * l1[2]
    assert hm[0] < hm[1] < hm[2] < hm[3]
    assert l1[0] < l1[1] < l1[2] < l1[3]
    assert l1[0] < 1e-3  # normalised heatmap px: noise-free labels are matched exactly


def test_gradients_reach_the_pose_net_through_the_rendering():
    model = _model(attention_net=dict(depth=18))
    model.set_stage(train=['pose_net', 'attention'],
                    losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=0.01))
    data = model.data_preprocessor(_batch(num_people=(2, 2)), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_pose_hm', 'loss_attn', 'loss_pose_l1'}
    sum(losses.values()).backward()
    assert model.pose_head.net.output_layer.weight.grad.abs().sum() > 0
    assert model.objective.attention_net.head.final_layer.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.root_head.parameters())  # frozen


def test_root_evidence_is_affine_invariant_and_consistency_zero_for_one_affine():
    model = _model()
    model.set_stage(train=['root_net'], losses=dict(loss_root_cons=1.0))
    batch = model.data_preprocessor(_batch(), True)['inputs']
    # the same affine for all three sets: the consistency loss is exactly zero
    same = dataclasses.replace(
        batch, affines=batch.affines[:, [0, 0, 0]], grid_keys=batch.grid_keys[:1] * 3,
        pseudo=dataclasses.replace(batch.pseudo, keypoints=batch.pseudo.keypoints[:, [0, 0, 0]],
                                   visible=batch.pseudo.visible[:, [0, 0, 0]]))
    loss = model(same, mode='loss')['loss_root_cons']
    assert float(loss) < 1e-10
    # different affines: the world-space root evidence agrees
    hm = [model.heatmaps(batch, k)[:, :, 2:3] for k in range(3)]
    g = [model.root_grid.unproject(hm[k], batch.cameras, batch.affines[:, k])[:, 0]
         for k in range(3)]
    root = _gt()[0][0, 2]
    vox = (root - torch.tensor(SPACE['space_center'])) / torch.tensor(SPACE['space_size']) \
        + 0.5
    root_idx = (vox * (torch.tensor(g[0].shape[1:]) - 1)).round()
    for k in range(3):  # each set's evidence peaks at the true root (±1 voxel)
        peak = torch.stack(torch.unravel_index(g[k][0].argmax(), g[k][0].shape))
        assert (peak - root_idx).abs().max() <= 1, k
        assert g[k].max() > 0.8 * g[0].max()  # every view agrees in every set
    assert float(loss) < 1e-10


def test_soft_and_hard_label_sets():
    model = _model(box_thr=0.7, hard_keypoint_thr=0.7, hard_min_joints=3)
    batch = model.data_preprocessor(
        _batch(n=2, num_people=(3, 4), pseudo2d=dict(), seed=3), True)['inputs']
    soft = model.objective.pseudo_labels(batch, 1)[1]
    model.set_stage(train=['pose_net'], losses=dict(loss_pose_hm=1.0), labels='hard')
    hard = model.objective.pseudo_labels(batch, 1)[1]
    scores = batch.pseudo.keypoints[:, 1, ..., 2]
    box = batch.pseudo.bbox_scores
    assert not (hard & ~soft).any()                      # hard ⊂ soft
    assert not soft[box <= 0.7].any()                    # low boxes dropped in both
    assert not hard[scores < 0.7].any()                  # low joints dropped in hard
    n = hard.sum(-1)
    assert ((n == 0) | (n >= 3)).all()                   # persons need >= 3 joints
    assert hard.sum() < soft.sum()


def test_self_supervised_stage_needs_three_view_sets():
    model = _model()
    model.set_stage(train=['pose_net'], losses=dict(loss_pose_hm=1.0))
    ds = DATASETS.build(dict(
        type='SyntheticMultiViewDataset', split='val', num_samples=1, **SPACE,
        pipeline=[dict(type='MultiViewResize', input_size=INPUT),
                  dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs', with_gt=False)]))
    data = model.data_preprocessor(multiview_collate([ds[0]]), True)
    with pytest.raises(ValueError, match='3 view-sets'):
        model(**data, mode='loss')


def test_triangulated_targets_come_from_the_pseudo_poses_of_the_person_nearest_each_proposal():
    """loss_pose_3d's targets: with noise-free pseudo poses, the triangulation of x⁰'s
    2D poses is the true pose of the person nearest each proposal; a proposal far from
    everyone gets no target, and the loss is 0 for the true poses."""
    model = _model()
    batch = model.data_preprocessor(_batch(n=2, num_people=(2, 3), seed=4), True)['inputs']
    gt = _gt(n=2, num_people=(2, 3), seed=4)
    root = model.root_index
    # proposals: near every person of frame 1 and of frame 0 (60 mm off), and one far away
    b_idx = torch.tensor([1] * len(gt[1]) + [0] * len(gt[0]) + [0])
    truth = torch.cat([gt[1], gt[0], gt[0][:1]])
    centers = truth[:, root] + torch.tensor([60.0, -40.0, 20.0])
    centers[-1] = torch.tensor([2900.0, 2900.0, 900.0])
    obj = model.objective
    X, tri, people = obj.triangulated_people(batch, obj.pseudo_labels(batch, 0))
    assert people.sum(1).tolist() == [len(g) for g in gt]
    target, mask = obj.triangulated_targets(model, (X, tri, people), centers, b_idx)
    assert not mask[-1].any()                          # nobody within 500 mm
    assert mask[:-1].float().mean() > 0.9              # joints seen by >= 2 views
    err = (target[:-1] - truth[:-1]).norm(dim=-1)[mask[:-1]]
    assert float(err.max()) < 5.0                      # mm: the true joints
    assert float(model.pose_head.loss(truth, target, mask)) < 2.0
    assert float(model.pose_head.loss(truth + 100.0, target, mask)) > 90.0


def test_the_triangulated_3d_loss_trains_the_pose_net_and_is_off_by_default():
    # an untrained root net proposes anywhere: every proposal takes the nearest person
    model = _model(pseudo_3d=dict(match_radius=1e5))
    assert model.objective.active['loss_pose_3d'] == 0.0  # not in the paper
    model.set_stage(train=['pose_net'], losses=dict(loss_pose_3d=1.0))
    data = model.data_preprocessor(_batch(num_people=(2, 2)), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_pose_3d'} and float(losses['loss_pose_3d']) > 0
    losses['loss_pose_3d'].backward()
    assert model.pose_head.net.output_layer.weight.grad.abs().sum() > 0
    with pytest.raises(KeyError, match='pseudo_3d'):
        _model(pseudo_3d=dict(radius=300.0))


def test_the_3d_loss_compares_the_view_sets_it_is_given():
    """pseudo_3d.view_sets: (1, 2) by default (the augmented sets); 0 adds a pose-net pass
    on the un-augmented views. The loss is the mean over the sets it names."""
    data = None
    loss = {}
    for sets in ((0, ), (1, 2), (0, 1, 2)):
        torch.manual_seed(0)
        model = _model(pseudo_3d=dict(match_radius=1e5, view_sets=sets))
        model.set_stage(train=['pose_net'], losses=dict(loss_pose_3d=1.0))
        if data is None:
            data = model.data_preprocessor(_batch(num_people=(2, 2)), True)
        loss[sets] = float(model(**data, mode='loss')['loss_pose_3d'])
    assert loss[(0, )] != pytest.approx(loss[(1, 2)], rel=1e-3)  # x⁰ is another input
    assert 3 * loss[(0, 1, 2)] == pytest.approx(loss[(0, )] + 2 * loss[(1, 2)], rel=1e-4)
    for bad in ((), (3, ), (1, 1)):
        with pytest.raises(ValueError, match='view_sets'):
            _model(pseudo_3d=dict(view_sets=bad))


def test_the_triangulated_root_loss_reaches_the_root_net_and_targets_the_true_roots():
    """loss_root_3d: the root volumes against 3D Gaussians at the triangulated roots;
    its gradient reaches the root net."""
    model = _model()
    model.set_stage(train=['root_net'], losses=dict(loss_root_3d=1.0))
    data = model.data_preprocessor(_batch(num_people=(2, 2)), True)
    loss = model(**data, mode='loss')['loss_root_3d']
    loss.backward()
    assert model.root_head.net.output_layer.weight.grad.abs().sum() > 0
    batch, obj = data['inputs'], model.objective
    X, _, people = obj.triangulated_people(batch, obj.pseudo_labels(batch, 0))
    truth = _gt(num_people=(2, 2))[0][:, model.root_index]
    assert float(torch.cdist(truth, X[0, people[0], model.root_index]).min(1).values.max()) < 5


def test_pseudo_synthetic_root_amplitudes_follow_the_2d_root_scores():
    """root_syn_amplitude='pseudo': the synthetic roots' peaks are drawn from the batch's
    2D root-joint scores (the peaks the root net meets in its input); a range draws
    uniformly; no 2D person gives peaks of 1; a bad value is refused."""
    model = _model(root_syn_amplitude='pseudo')
    batch = model.data_preprocessor(_batch(num_people=(2, 2)), True)['inputs']
    kp = batch.pseudo.keypoints.clone()  # (B, S, C, P, J, 3): x, y, score
    person = torch.arange(kp.shape[3]).view(1, 1, 1, -1)
    kp[..., model.root_index, 2] = torch.where(person == 0, 0.2, 0.9)
    batch = dataclasses.replace(batch, pseudo=dataclasses.replace(batch.pseudo, keypoints=kp))
    uv = torch.zeros(1, batch.num_views, 400, 2)
    amp = model.objective.synthetic_root_amplitudes(model, batch, 0, uv)
    assert amp.shape == (1, batch.num_views, 400)
    values, counts = amp.unique(return_counts=True)
    assert torch.allclose(values, torch.tensor([0.2, 0.9])) and counts.min() > 100
    ranged = _model(root_syn_amplitude=(0.5, 1.0)).objective
    amp = ranged.synthetic_root_amplitudes(model, batch, 0, uv)
    assert 0.5 <= float(amp.min()) < 0.55 and 0.95 < float(amp.max()) <= 1.0
    empty = dataclasses.replace(batch, pseudo=dataclasses.replace(
        batch.pseudo, person_mask=torch.zeros_like(batch.pseudo.person_mask)))
    assert torch.equal(model.objective.synthetic_root_amplitudes(model, empty, 0, uv),
                       torch.ones(1, batch.num_views, 400))
    for bad in ('scores', (0.9, 0.5), (1.0,)):
        with pytest.raises(ValueError, match='root_syn_amplitude'):
            _model(root_syn_amplitude=bad)
