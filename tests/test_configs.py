"""Every config parses and builds; the Panoptic config fails early with the missing path;
the image-path config runs every stage's losses on rendered frames."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.datasets import multiview_collate

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.relative_to(ROOT / 'configs').as_posix()
                 for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_parses_and_model_builds(name):
    init_default_scope('mmpose')
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    if 'model' in cfg:
        model = MODELS.build(cfg.model)
        assert hasattr(model, 'predict')
    hooks = cfg.get('custom_hooks') or []
    for h in hooks:  # stage lists add up to the schedule
        if h['type'] == 'TrainingStageHook':
            assert sum(s['epochs'] for s in h['stages']) == cfg.train_cfg.max_epochs


def test_panoptic_config_names_the_missing_dataset(tmp_path):
    init_default_scope('mmpose')
    cfg = Config.fromfile(str(ROOT / 'configs' / 'selfpose3d_panoptic.py'))
    ds = copy.deepcopy(cfg.train_dataloader.dataset)
    ds.data_root = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='dataset not found at .*nowhere'):
        DATASETS.build(ds)
    (tmp_path / 'panoptic').mkdir()
    ds.data_root = str(tmp_path / 'panoptic')
    with pytest.raises(FileNotFoundError, match='160422_ultimatum1.*calibration'):
        DATASETS.build(ds)


def test_image_path_config_runs_every_stage():
    init_default_scope('mmpose')
    cfg = Config.fromfile(str(ROOT / 'configs' / 'selfpose3d_synthetic_images.py'))
    small = dict(input_size=(160, 96), heatmap_size=(40, 24))
    model_cfg = cfg.model
    model_cfg.update(small)
    model_cfg.root_head.update(cube_shape=(12, 12, 4), mid_channels=4, threshold=0.0,
                               max_proposals=2)
    model_cfg.pose_head.update(cube_shape=(8, 8, 8), mid_channels=4)
    model = MODELS.build(model_cfg)
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.update(num_samples=1, num_people=(1, 2),
                  rig=dict(type='ring', num_views=3, image_size=(320, 180)))
    for t in ds_cfg.pipeline:
        if 'input_size' in t:
            t['input_size'] = small['input_size']
    ds = DATASETS.build(ds_cfg)
    data = model.data_preprocessor(multiview_collate([ds[0]]), True)
    assert data['inputs'].images.shape == (1, 3, 3, 3, 96, 160)
    stages = cfg.custom_hooks[0]['stages']
    for stage in stages:
        model.set_stage(train=stage['train'], losses=stage['losses'],
                        labels=stage.get('labels', 'soft'))
        model.zero_grad()
        losses = model(**data, mode='loss')
        assert set(losses) <= set(stage['losses']) and losses, stage['name']
        sum(losses.values()).backward()
        trained = [n for n, p in model.named_parameters() if p.grad is not None]
        assert trained, stage['name']
        for n in trained:
            assert any(n.startswith(u + '.') for u in model._trainable), (stage['name'], n)
        if 'heatmap_net_2d' in stage['train']:
            assert any(n.startswith('backbone.') for n in trained), stage['name']
