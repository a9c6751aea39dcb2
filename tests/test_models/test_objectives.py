"""Objectives are modules with their own loss sets; GT can only reach the supervised one."""
import pytest
import torch
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.datasets import multiview_collate

SPACE = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))
INPUT, HM = (320, 192), (80, 48)


def _data(with_gt: bool, sets: int = 3, n: int = 1):
    first = dict(type='MultiViewRandomAffinePair', input_size=INPUT) if sets == 3 else \
        dict(type='MultiViewResize', input_size=INPUT)
    ds = DATASETS.build(dict(
        type='SyntheticMultiViewDataset', split='val', num_samples=n, num_people=(2, 2),
        outside_prob=0.0, **SPACE,
        pipeline=[first, dict(type='MultiViewAffine'),
                  dict(type='PackMultiViewInputs', with_gt=with_gt)]))
    return multiview_collate([ds[i] for i in range(n)])


def _model(objective):
    return MODELS.build(dict(
        type='SelfPose3D', input_size=INPUT, heatmap_size=HM,
        root_head=dict(cube_shape=(16, 16, 8), mid_channels=4, threshold=0.0,
                       max_proposals=2, **SPACE),
        pose_head=dict(cube_shape=(8, 8, 8), mid_channels=4), objective=objective))


def test_self_supervised_training_refuses_samples_that_carry_gt():
    model = _model(dict(type='SelfPose3dObjective'))
    assert model.objective.gt_policy == 'forbidden'
    with pytest.raises(ValueError, match='must never see it.*with_gt=False'):
        model.data_preprocessor(_data(with_gt=True), training=True)
    batch = model.data_preprocessor(_data(with_gt=False), training=True)['inputs']
    assert batch.gt is None
    # evaluation batches may come from a GT pipeline; the batch still carries no GT
    assert model.data_preprocessor(_data(with_gt=True), training=False)['inputs'].gt is None


def test_packing_without_gt_drops_every_gt_field():
    sample = _data(with_gt=False)['data_samples'][0]
    assert 'gt_instances' not in sample
    assert not [k for k in sample.metainfo if k.startswith('gt_')]


def test_supervised_objective_needs_gt_and_names_its_own_losses():
    model = _model(dict(type='VoxelPoseObjective'))
    assert model.objective.gt_policy == 'required'
    with pytest.raises(ValueError, match='some training samples carry none'):
        model.data_preprocessor(_data(with_gt=False, sets=1), training=True)
    data = model.data_preprocessor(_data(with_gt=True, sets=1), training=True)
    assert set(model(**data, mode='loss')) == {'loss_root', 'loss_pose'}  # no 2D net


def test_a_stage_cannot_switch_the_self_supervised_objective_to_gt_losses():
    model = _model(dict(type='SelfPose3dObjective'))
    for gt_loss in ('loss_root', 'loss_pose', 'loss_2d_gt', 'loss_2d'):
        with pytest.raises(KeyError, match='unknown losses'):
            model.set_stage(train=['root_net'], losses={gt_loss: 1.0})
    sup = _model(dict(type='VoxelPoseObjective'))
    with pytest.raises(KeyError, match='unknown losses'):
        sup.set_stage(train=['root_net'], losses=dict(loss_root_syn=1.0))


def test_without_a_schedule_the_self_supervised_objective_trains_its_full_set():
    model = _model(dict(type='SelfPose3dObjective', attention_net=dict(depth=18)))
    data = model.data_preprocessor(_data(with_gt=False), training=True)
    losses = model(**data, mode='loss')
    # heatmap-input mode: no 2D net, so no loss_2d_pseudo; every other loss is on
    assert set(losses) == {'loss_root_syn', 'loss_root_cons', 'loss_pose_hm', 'loss_attn',
                           'loss_pose_l1'}
    assert all(torch.isfinite(v) for v in losses.values())
    weights = model.objective.loss_weights
    assert weights['loss_root_syn'] == 100.0 and weights['loss_pose_l1'] == 0.01


def test_loss_weights_live_in_one_place():
    with pytest.raises(KeyError, match='weights are set once'):
        _model(dict(type='SelfPose3dObjective', losses=dict(joint_l1=dict(loss_weight=0.5))))
    with pytest.raises(KeyError, match='unknown losses'):
        _model(dict(type='SelfPose3dObjective', loss_weights=dict(loss_root=1.0)))
    model = _model(dict(type='SelfPose3dObjective', loss_weights=dict(loss_root_syn=7.0)))
    model.set_stage(train=['root_net'], losses=dict(loss_root_syn=1.0))
    data = model.data_preprocessor(_data(with_gt=False), training=True)
    state = model.objective.generator.get_state()
    one = model(**data, mode='loss')['loss_root_syn']
    model.set_stage(train=['root_net'], losses=dict(loss_root_syn=3.0))
    model.objective.generator.set_state(state)
    three = model(**data, mode='loss')['loss_root_syn']
    assert torch.allclose(three, 3 * one)  # the stage's weight, nothing else, scales it


def test_a_model_without_objective_predicts_but_does_not_train():
    model = _model(None)
    data = model.data_preprocessor(_data(with_gt=True, sets=1), training=False)
    model.eval()
    with torch.no_grad():
        assert len(model(**data, mode='predict')) == 1
    with pytest.raises(RuntimeError, match='no objective'):
        model(**data, mode='loss')
