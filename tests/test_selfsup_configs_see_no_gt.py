"""Every self-supervised config trains without ground truth, by construction.

For every stage of every ``selfpose3d_*`` config with the SelfPose3d objective: one step on
frames whose 3D GT is poisoned (NaN, 1e9) gives finite losses identical to the step on
the same frames with no GT at all. The image config's 2D-net stage is checked against a
target rendered here, by hand, from the pseudo poses. A child config that replaces
``custom_hooks`` keeps the objective. The Shelf/Campus SelfPose3d configs train on the
model's own predicted 3D poses (pseudo-3D), never on ``actorsGT.mat``.
"""
import copy
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.datasets import multiview_collate

ROOT = Path(__file__).resolve().parents[1]
ALL = sorted(p for p in (ROOT / 'configs').rglob('selfpose3d_*.py') if '_base_' not in p.parts)
SMALL_INPUT, SMALL_HM = (160, 96), (40, 24)


def _cfg(path) -> Config:
    init_default_scope('mmpose')
    return Config.fromfile(str(path))


def _objective(cfg) -> str:
    return cfg.model.get('objective', {}).get('type')


SELFSUP = [p.relative_to(ROOT / 'configs').as_posix() for p in ALL
           if _objective(_cfg(p)) == 'SelfPose3dObjective']


def _small_model(cfg):
    m = copy.deepcopy(cfg.model)
    m.update(input_size=SMALL_INPUT, heatmap_size=SMALL_HM)
    m.root_head.update(cube_shape=(12, 12, 4), mid_channels=4, threshold=0.0, max_proposals=2)
    m.pose_head.update(cube_shape=(8, 8, 8), mid_channels=4)
    if m.get('heatmap_net_2d'):  # a small 2D net: what is tested is where targets come from
        m.heatmap_net_2d.backbone.depth = 18
        m.heatmap_net_2d.head.in_channels = 512
    return MODELS.build(m)


def _train_dataset(cfg, model, gt: str):
    """The config's train pipeline on rendered synthetic frames (any config's data source
    replaced by the embedded world), with the GT removed or poisoned in every frame."""
    pipeline = [dict(t) for t in cfg.train_dataloader.dataset.pipeline
                if t['type'] != 'LoadMultiViewImages']  # rendered images, nothing to load
    for t in pipeline:
        if 'input_size' in t:
            t['input_size'] = SMALL_INPUT
    ds = DATASETS.build(dict(
        type='SyntheticMultiViewDataset', split='train', num_samples=1, num_people=(2, 2),
        outside_prob=0.0, space_center=model.root_head.space_center,
        space_size=model.root_head.space_size, with_images=model.with_heatmap_net,
        rig=dict(type='ring', num_views=3, image_size=(320, 180)), pipeline=pipeline))
    info_of = ds.get_data_info

    def get_data_info(idx):
        info = info_of(idx)
        if gt == 'none':
            for k in [k for k in info if k.startswith('gt_')]:
                del info[k]
        else:
            value = float('nan') if gt == 'nan' else 1e9
            info['gt_keypoints_3d'] = np.full_like(info['gt_keypoints_3d'], value)
        return info

    ds.get_data_info = get_data_info
    return ds


def _stages(cfg):
    for h in cfg.get('custom_hooks') or []:
        if h['type'] == 'TrainingStageHook':
            return h['stages']
    return [None]


def _step(model, cfg, gt: str, stage):
    ds = _train_dataset(cfg, model, gt)
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    data = model.data_preprocessor(multiview_collate([ds[0]]), training=True)
    if stage is not None:
        model.set_stage(train=stage['train'], losses=stage['losses'],
                        labels=stage.get('labels', 'soft'))
    torch.manual_seed(1)
    model.objective.generator.manual_seed(1)
    return {k: v.detach() for k, v in model(**data, mode='loss').items()}


@pytest.mark.parametrize('name', SELFSUP)
def test_every_stage_is_blind_to_poisoned_gt(name):
    cfg = _cfg(ROOT / 'configs' / name)
    model = _small_model(cfg)
    assert model.objective.gt_policy == 'forbidden'
    for stage in _stages(cfg):
        clean = _step(model, cfg, 'none', stage)
        assert clean and all(torch.isfinite(v) for v in clean.values()), (name, stage)
        for poison in ('nan', '1e9'):
            poisoned = _step(model, cfg, poison, stage)
            assert poisoned.keys() == clean.keys()
            for k in clean:
                assert torch.equal(poisoned[k], clean[k]), (name, stage and stage['name'], k)


def test_image_config_2d_stage_targets_are_rendered_from_the_pseudo_poses():
    cfg = _cfg(ROOT / 'configs' / 'selfpose3d_synthetic_images.py')
    model = _small_model(cfg)
    stage = _stages(cfg)[0]
    assert stage['losses'] == dict(loss_2d_pseudo=1.0)
    ds = _train_dataset(cfg, model, 'none')
    np.random.seed(0)
    random.seed(0)
    sample = ds[0]
    data = model.data_preprocessor(multiview_collate([sample]), training=True)
    model.set_stage(train=stage['train'], losses=stage['losses'])
    loss = model(**data, mode='loss')['loss_2d_pseudo']
    # by hand, from the packed sample (input px) and the objective's soft-label rule
    s = data['data_samples'][0]
    obj = model.objective.cfg
    scale = np.array(SMALL_HM, float) / np.array(SMALL_INPUT, float)
    ys, xs = np.mgrid[0:SMALL_HM[1], 0:SMALL_HM[0]]
    with torch.no_grad():
        hms = [model.heatmaps(data['inputs'], k)[0].numpy() for k in range(3)]
    kp = s.pseudo_keypoints.numpy()            # (S, C, P, J, 2)
    vis = s.pseudo_keypoints_visible.numpy()   # (S, C, P, J)
    keep = s.pseudo_person_mask.numpy() & (s.pseudo_bbox_scores.numpy() > obj['box_thr'])
    expected = 0.0
    for k in range(3):
        target = np.zeros_like(hms[k])
        S, C, P, J = vis.shape
        for c in range(C):
            for p in range(P):
                for j in range(J):
                    if vis[k, c, p, j] and keep[c, p]:
                        x, y = kp[k, c, p, j] * scale
                        g = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * obj['sigma'] ** 2))
                        target[c, j] = np.maximum(target[c, j], g)
        assert target.max() > 0.9  # people are in view: the target is not empty
        expected += np.mean((hms[k] - target) ** 2) / 3
    assert float(loss) == pytest.approx(expected, rel=1e-4)


def test_a_child_config_replacing_custom_hooks_keeps_the_objective(tmp_path):
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = ['{(ROOT / 'configs' / 'selfpose3d_synthetic.py').as_posix()}']\n"
                     'custom_hooks = []\n')
    cfg = _cfg(child)
    assert cfg.custom_hooks == []
    model = _small_model(cfg)
    assert type(model.objective).__name__ == 'SelfPose3dObjective'
    losses = _step(model, cfg, 'nan', None)  # no stage: the full self-supervised set
    assert set(losses) == {'loss_root_syn', 'loss_root_cons', 'loss_pose_hm', 'loss_attn',
                           'loss_pose_l1'}
    assert all(torch.isfinite(v) for v in losses.values())


@pytest.mark.parametrize('name', ['selfpose3d_shelf.py', 'selfpose3d_campus.py'])
def test_shelf_campus_selfpose3d_configs_train_on_predicted_poses(name):
    cfg = _cfg(ROOT / 'configs' / name)
    ds = cfg.train_dataloader.dataset
    assert ds.type == 'ShelfCampusSyntheticDataset'  # reads the calibration only
    assert ds.poses.type == 'predictions'            # the self-supervised model's 3D poses
    assert 'gt_file' not in ds and 'actorsGT' not in str(ds)
