import importlib.util
import os
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
import torch

# The real-file samples live beside the checkout (never copied into it).
FIXTURES = Path(os.environ.get('SELFPOSE3D_FIXTURES',
                               Path(__file__).resolve().parents[1].parent / 'shared' / 'fixtures'))


def load_tool(name: str):
    """The module of ``tools/<name>.py`` (the tools are scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / 'tools' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'{name}_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixture_path(*parts) -> Path:
    """Path of a real-data fixture file; skips the test when it is absent."""
    p = FIXTURES.joinpath(*parts)
    if not p.exists():
        pytest.skip(f'fixture not available: {p}')
    return p


@pytest.fixture
def ring_rig():
    """A generated 5-view studio rig around an 8 x 8 x 2 m space (Panoptic-like)."""
    from selfpose3d_mm.datasets.synthetic.rig import make_ring_rig
    rng = np.random.default_rng(3)
    return make_ring_rig(rng, (0.0, -500.0, 800.0), (8000.0, 8000.0, 2000.0))


@pytest.fixture
def panoptic_rig():
    from selfpose3d_mm.io import load_panoptic_calibration
    path = fixture_path('panoptic', '160906_band1', 'calibration_160906_band1.json')
    return load_panoptic_calibration(str(path))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


def tiny_staged_run_cfg(work_dir, stages, **overrides) -> dict:
    """The config of a tiny self-supervised run (2 frames, 8³ cubes) scheduled by
    ``TrainingStageHook`` with ``stages``; ``overrides`` replace top-level keys."""
    import copy
    space = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))
    pipeline = [dict(type='MultiViewRandomAffinePair', input_size=(160, 96)),
                dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs', with_gt=False)]
    cfg = dict(
        model=dict(type='SelfPose3D', input_size=(160, 96), heatmap_size=(40, 24),
                   root_head=dict(cube_shape=(8, 8, 4), mid_channels=4, threshold=0.0,
                                  max_proposals=2, **space),
                   pose_head=dict(cube_shape=(8, 8, 8), mid_channels=4),
                   objective=dict(type='SelfPose3dObjective', attention_net=dict(depth=18))),
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='multiview_collate'),
            dataset=dict(type='SyntheticMultiViewDataset', num_samples=2, num_people=(1, 2),
                         pipeline=pipeline, **space)),
        train_cfg=dict(by_epoch=True, max_epochs=sum(s['epochs'] for s in stages)),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1.0)),
        custom_hooks=[dict(type='TrainingStageHook', stages=copy.deepcopy(stages))],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        default_scope='mmpose', randomness=dict(seed=0), log_level='WARNING')
    cfg.update(overrides)
    return cfg
