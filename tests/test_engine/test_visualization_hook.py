"""MultiViewPoseVisualizationHook: a few validation frames drawn into the vis backends."""
import glob
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import torch
from mmengine.structures import InstanceData
from mmengine.visualization import Visualizer

import selfpose3d_mm  # noqa: F401
from selfpose3d_mm.datasets import SyntheticMultiViewDataset
from selfpose3d_mm.visualization import MultiViewPoseVisualizationHook

SPACE = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))
PIPELINE = [dict(type='MultiViewResize', input_size=(480, 256)), dict(type='MultiViewAffine'),
            dict(type='PackMultiViewInputs')]


def _samples(n):
    ds = SyntheticMultiViewDataset(split='val', num_samples=n, num_people=(2, 2),
                                   outside_prob=0.0, pipeline=PIPELINE, test_mode=True,
                                   **SPACE)
    out = []
    for i in range(n):
        s = ds[i]['data_samples']
        gt = s.gt_instances.keypoints_3d
        s.pred_instances = InstanceData(keypoints_3d=gt, scores=torch.ones(len(gt)))
        out.append(s)
    return ds, out


def test_hook_draws_the_first_frames_of_each_evaluation(tmp_path):
    ds, samples = _samples(3)
    vis = Visualizer(name='vis_hook_test', vis_backends=[dict(type='LocalVisBackend')],
                     save_dir=str(tmp_path))
    runner = SimpleNamespace(visualizer=vis, iter=7, val_dataloader=SimpleNamespace(dataset=ds))
    hook = MultiViewPoseVisualizationHook(num_frames=2)
    hook.before_val_epoch(runner)
    hook.after_val_iter(runner, 0, None, samples[:2])
    hook.after_val_iter(runner, 1, None, samples[2:])  # already 2 frames: nothing more
    files = sorted(glob.glob(osp.join(str(tmp_path), '**', '*.png'), recursive=True))
    assert len(files) == 2 and all('val_' in osp.basename(f) and '_7' in f for f in files)
    img = cv2.imread(files[0])
    # views + 3D scene side by side, with drawn people (coloured pixels), not a blank canvas
    assert img.shape[1] > img.shape[0]
    sat = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)[..., 1]
    assert (sat > 80).mean() > 0.002
    # the next evaluation draws again; interval=2 would skip it
    hook.before_val_epoch(runner)
    runner.iter = 9
    hook.after_val_iter(runner, 0, None, samples[:1])
    assert len(glob.glob(osp.join(str(tmp_path), '**', '*.png'), recursive=True)) == 3
    skip = MultiViewPoseVisualizationHook(num_frames=1, interval=2)
    for _ in range(2):
        skip.before_val_epoch(runner)
        skip._drawn = 0
    runner.iter = 11
    skip.after_val_iter(runner, 0, None, samples[:1])
    assert not glob.glob(osp.join(str(tmp_path), '**', '*_11.png'), recursive=True)


def test_input_poses_map_back_to_original_pixels():
    from selfpose3d_mm.visualization.val_hook import _input_poses
    ds, samples = _samples(1)
    info = ds.get_data_info(0)
    uv = _input_poses(samples[0])
    ref = [np.asarray(k) for k in info['pseudo_keypoints']]
    for c in range(len(ref)):
        got = uv[c][:len(ref[c])]
        ok = np.isfinite(got).all(-1)
        assert ok.any()
        np.testing.assert_allclose(got[ok], ref[c][..., :2][ok], atol=0.05)
