"""Predictions through a real DataLoader are finite and bit-identical, with or without
data workers, run after run.

The bug this guards against: a worker sent the dataset's own camera tensors, whose
storage torch moves into shared memory in place (freeing the old buffer) on the queue's
feeder thread while the worker computes the next sample from them; that sample then
held garbage now and then (about one run in five with 2 workers before the fix)."""
import copy

import torch
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpose.registry import DATASETS, MODELS

import selfpose3d_mm  # noqa: F401  (registers the components)

SPACE = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))
LOADER = dict(
    batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='multiview_collate'),
    dataset=dict(type='SyntheticMultiViewDataset', split='test', num_samples=6,
                 num_people=(1, 4), test_mode=True, **SPACE,
                 pipeline=[dict(type='MultiViewResize', input_size=(160, 96)),
                           dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs')]))


def _predict(model, workers: int):
    cfg = copy.deepcopy(LOADER)
    cfg.update(num_workers=workers, persistent_workers=workers > 0)
    out = []
    with torch.no_grad():
        for data in Runner.build_dataloader(cfg):
            out += [s.pred_instances.keypoints_3d.clone() for s in model.test_step(data)]
    return torch.stack(out)


def test_predictions_repeat_bit_for_bit_with_workers():
    init_default_scope('mmpose')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='SelfPose3D', input_size=(160, 96), heatmap_size=(40, 24), root_channels='all',
        root_head=dict(cube_shape=(8, 8, 4), mid_channels=4, max_proposals=4, **SPACE),
        pose_head=dict(cube_shape=(8, 8, 8), mid_channels=4),
        test_cfg=dict(threshold=-1.0)))  # every proposal: 4 people per frame
    model.eval()
    ref = _predict(model, 0)
    assert ref.shape == (6, 4, 15, 3) and torch.isfinite(ref).all()
    for workers in (2, 1) * 5 + (0, ):
        assert torch.equal(_predict(model, workers), ref), workers


def test_a_sample_never_carries_the_datasets_own_tensors():
    init_default_scope('mmpose')
    ds = DATASETS.build(copy.deepcopy(LOADER['dataset']))
    cams = ds[0]['data_samples'].cameras
    for field in ('K', 'R', 't', 'dist', 'image_size'):
        own = getattr(ds.cameras, field)
        assert getattr(cams, field).data_ptr() != own.data_ptr(), field
