"""Root/pose heads and the detector on small synthetic batches."""
import torch
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.datasets import multiview_collate
from selfpose3d_mm.geometry import make_voxel_grid

SPACE = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))


def test_root_decode_finds_peaks_sorted_and_suppressed():
    head = MODELS.build(dict(type='CuboidProposalHead', cube_shape=(16, 16, 8),
                             max_proposals=3, mid_channels=8, **SPACE))
    vol = torch.zeros(1, 16, 16, 8)
    vol[0, 3, 4, 2], vol[0, 10, 12, 5] = 0.9, 0.6
    vol[0, 3, 5, 2] = 0.8  # neighbour of the first peak: suppressed by NMS
    centers, scores = head.decode(vol)
    assert torch.allclose(scores[0, :2], torch.tensor([0.9, 0.6]))
    assert scores[0, 2] == 0
    grid = make_voxel_grid(torch.tensor(SPACE['space_center']), SPACE['space_size'],
                           (16, 16, 8))
    assert torch.allclose(centers[0, 0], grid[3, 4, 2], atol=1e-3)
    assert torch.allclose(centers[0, 1], grid[10, 12, 5], atol=1e-3)


def test_soft_argmax_returns_the_peak_location():
    head = MODELS.build(dict(type='PoseRegressionHead', num_joints=2, cube_shape=(8, 8, 8),
                             mid_channels=8))
    class Identity(torch.nn.Module):
        def forward(self, x):
            return (x, )

    head.net = Identity()  # test the integral regression alone
    grid = make_voxel_grid(torch.tensor([[100.0, -200.0, 900.0]]), head.cube_size, (8, 8, 8))
    vol = torch.zeros(1, 2, 8, 8, 8)
    vol[0, 0, 1, 2, 3] = 1.0
    vol[0, 1, 6, 6, 0] = 1.0
    joints = head(vol, grid)
    assert torch.allclose(joints[0, 0], grid[0, 1, 2, 3], atol=1.0)
    assert torch.allclose(joints[0, 1], grid[0, 6, 6, 0], atol=1.0)


def _batch(n=2):
    ds = DATASETS.build(dict(
        type='SyntheticMultiViewDataset', split='val', num_samples=n, **SPACE,
        pipeline=[dict(type='MultiViewResize', input_size=(320, 192)),
                  dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs')]))
    return multiview_collate([ds[i] for i in range(n)])


def _model():
    return MODELS.build(dict(
        type='SelfPose3D', input_size=(320, 192), heatmap_size=(80, 48),
        root_channels='all',
        root_head=dict(cube_shape=(16, 16, 8), mid_channels=8, threshold=0.0, **SPACE),
        pose_head=dict(cube_shape=(8, 8, 8), mid_channels=8),
        objective=dict(type='VoxelPoseObjective')))


def test_supervised_loss_falls_and_predict_shapes():
    torch.manual_seed(0)
    model = _model()
    data = model.data_preprocessor(_batch(), training=True)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    pose_losses = []
    for _ in range(25):
        losses = model(**data, mode='loss')
        total = sum(losses.values())
        pose_losses.append(float(losses['loss_pose']))
        opt.zero_grad()
        total.backward()
        opt.step()
    assert sum(pose_losses[-5:]) / 5 < 0.75 * pose_losses[0]  # mm: falls by a quarter
    assert model.pose_head.net.output_layer.weight.grad.abs().sum() > 0
    assert model.root_head.net.output_layer.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(_batch(), False), mode='predict')
    p = out[0].pred_instances
    assert p.keypoints_3d.shape[1:] == (15, 3) and len(p.scores) == len(p.keypoints_3d)
    raw = model(**model.data_preprocessor(_batch(), False), mode='tensor')
    assert raw['root_volume'].shape == (2, 16, 16, 8)


def test_the_batch_is_built_once_with_a_shared_rig_and_cached_root_grid():
    model = _model()
    batch = model.data_preprocessor(_batch(), training=True)['inputs']
    assert batch.shared_rig and batch.rig_id.startswith('SyntheticMultiViewDataset:')
    assert batch.affines.shape == (2, 1, 5, 2, 3) and batch.gt.keypoints.shape[-2:] == (15, 3)
    assert batch.pseudo.keypoints.shape[:3] == (2, 1, 5) and batch.pseudo.keypoints.shape[-1] == 3
    assert batch.grid_keys[0] is not None  # x0 is the same resize in every frame
    again = model.data_preprocessor(_batch(), training=False)['inputs']
    assert again.cameras is batch.cameras  # the rig's device copy is kept, not rebuilt
    assert again.gt is None  # evaluation batches never carry GT (the metric reads samples)
    model.eval()
    with torch.no_grad():
        model(again, mode='tensor')
        model(again, mode='tensor')
    assert model.root_grid.misses == 1 and model.root_grid.hits == 1
    # the batch's pseudo poses are the samples' input-pixel poses in heatmap pixels
    raw = _batch()['data_samples'][0]
    P = raw.pseudo_keypoints.shape[2]
    expect = raw.pseudo_keypoints[0] * torch.tensor([80 / 320, 48 / 192])
    assert torch.allclose(batch.pseudo.keypoints[0, 0, :, :P, :, :2], expect, atol=1e-4)
