"""The self-supervised losses inside the detector, on noise-free synthetic frames."""
import pytest
import torch
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.datasets import multiview_collate
from selfpose3d_mm.datasets.synthetic.pseudo2d import PSEUDO2D_PERFECT
from selfpose3d_mm.models.detectors.utils import batch_cameras

SPACE = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))
INPUT, HM = (320, 192), (80, 48)


def _batch(n=1, num_people=(1, 1), pseudo2d=PSEUDO2D_PERFECT, seed=0):
    ds = DATASETS.build(dict(
        type='SyntheticMultiViewDataset', split='val', seed=seed, num_samples=n,
        num_people=num_people, outside_prob=0.0, pseudo2d=pseudo2d, **SPACE,
        pipeline=[dict(type='MultiViewRandomAffinePair', input_size=INPUT, rot_prob=1.0),
                  dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs')]))
    return multiview_collate([ds[i] for i in range(n)])


def _model(**kw):
    return MODELS.build(dict(
        type='SelfPose3D', input_size=INPUT, heatmap_size=HM,
        root_head=dict(cube_shape=(16, 16, 8), mid_channels=4, threshold=0.0,
                       max_proposals=2, **SPACE),
        pose_head=dict(cube_shape=(8, 8, 8), mid_channels=4), **kw))


def _cross_view(model, data, Y, on):
    samples = data['data_samples']
    cams = batch_cameras(samples)
    A = [model.heatmap_affines(samples, k) for k in range(3)]
    labels = [model.pseudo_labels(samples, k) for k in range(3)]
    M = Y.shape[0]
    b_idx = torch.zeros(M, dtype=torch.long)
    k_idx = torch.arange(M)
    return model.cross_view_losses({1: Y, 2: Y}, b_idx, k_idx, 1, M, cams, A, labels,
                                   {1: None, 2: None}, on)


def test_cross_affine_loss_vanishes_for_the_true_pose_and_grows_with_an_offset():
    model = _model()
    data = model.data_preprocessor(_batch(), True)
    gt = data['data_samples'][0].gt_instances.keypoints_3d.float()
    on = {'loss_pose_hm', 'loss_pose_l1'}
    values = []
    for offset in (0.0, 30.0, 100.0, 300.0):
        losses = _cross_view(model, data, gt + torch.tensor([offset, 0.0, 0.0]), on)
        values.append({k: float(v) for k, v in losses.items()})
    hm = [v['loss_pose_hm'] for v in values]
    l1 = [v['loss_pose_l1'] for v in values]
    assert hm[0] < 0.05 * hm[2] and l1[0] < 0.05 * l1[2]
    assert hm[0] < hm[1] < hm[2] < hm[3]
    assert l1[0] < l1[1] < l1[2] < l1[3]
    assert l1[0] < 1e-3  # normalised input px: noise-free labels are matched exactly


def test_gradients_reach_the_pose_net_through_the_rendering():
    model = _model(attention_net=dict(depth=18))
    model.set_stage(train=['pose_net', 'attention'],
                    losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=0.01))
    data = model.data_preprocessor(_batch(num_people=(2, 2)), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_pose_hm', 'loss_attn', 'loss_pose_l1'}
    sum(losses.values()).backward()
    assert model.pose_head.net.output_layer.weight.grad.abs().sum() > 0
    assert model.attention_net.head.final_layer.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.root_head.parameters())  # frozen


def test_root_evidence_is_affine_invariant_and_consistency_zero_for_one_affine():
    model = _model()
    model.set_stage(train=['root_net'], losses=dict(loss_root_cons=1.0))
    data = model.data_preprocessor(_batch(), True)
    samples = data['data_samples']
    # the same affine for all three sets: the consistency loss is exactly zero
    same = [type(s)(metainfo=s.metainfo, **dict(s.items())) for s in samples]
    for s in same:
        s.affines = s.affines[[0, 0, 0]]
        s.pseudo_keypoints = s.pseudo_keypoints[[0, 0, 0]]
        s.pseudo_keypoints_visible = s.pseudo_keypoints_visible[[0, 0, 0]]
    loss = model(inputs=data['inputs'], data_samples=same, mode='loss')['loss_root_cons']
    assert float(loss) < 1e-10
    # different affines: the world-space root evidence agrees
    cams = batch_cameras(samples)
    A = [model.heatmap_affines(samples, k) for k in range(3)]
    hm = [model.render_input_heatmaps(samples, k)[:, :, 2:3] for k in range(3)]
    g = [model.root_grid.unproject(hm[k], cams, A[k], use_cache=False)[:, 0] for k in range(3)]
    root = samples[0].gt_instances.keypoints_3d[0, 2]
    vox = (root - torch.tensor(SPACE['space_center'])) / torch.tensor(SPACE['space_size']) \
        + 0.5
    root_idx = (vox * (torch.tensor(g[0].shape[1:]) - 1)).round()
    for k in range(3):  # each set's evidence peaks at the true root (±1 voxel)
        peak = torch.stack(torch.unravel_index(g[k][0].argmax(), g[k][0].shape))
        assert (peak - root_idx).abs().max() <= 1, k
        assert g[k].max() > 0.8 * g[0].max()  # every view agrees in every set
    assert float(loss) < 1e-10


def test_soft_and_hard_label_sets():
    model = _model(selfsup_cfg=dict(box_thr=0.7, hard_keypoint_thr=0.7, hard_min_joints=3))
    data = model.data_preprocessor(_batch(n=2, num_people=(3, 4), pseudo2d=dict(), seed=3),
                                   True)
    samples = data['data_samples']
    soft = model.pseudo_labels(samples, 1)[2]
    model.set_stage(train=['pose_net'], losses=dict(loss_pose_hm=1.0), labels='hard')
    hard = model.pseudo_labels(samples, 1)[2]
    scores = torch.stack([s.pseudo_keypoint_scores for s in samples])
    box = torch.stack([s.pseudo_bbox_scores for s in samples])
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
                  dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs')]))
    data = model.data_preprocessor(multiview_collate([ds[0]]), True)
    with pytest.raises(ValueError, match='3 view-sets'):
        model(**data, mode='loss')
