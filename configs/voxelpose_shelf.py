# VoxelPose on Shelf (VoxelPose's protocol): trained only on synthetic 3D people placed in
# the Shelf space and seen by the real Shelf rig, tested on the real frames 300-600 with
# the Mask R-CNN + HRNet detections as input and the PCP metric (actors 1-3).
# Heatmap-input mode: no image backbone; the input heatmaps are rendered from the 2D
# poses (training: projected synthetic people with VoxelPose's amplitude perturbations;
# test: the detections, COCO-17 -> Panoptic-15, peak = keypoint score).
# Network at VoxelPose's Shelf settings (800 x 608 input, 200 x 152 heatmaps, 80 x 80 x 20
# root cube over 8 x 8 x 2 m, 64^3 person cubes, proposal threshold 0.1, 30 epochs of 3000
# samples, Adam 1e-4): meant for a GPU. benchmarks/shelf_fixture_pcp.py trains a CPU-sized
# variant.
# Data layout (VoxelPose's): data/Shelf/{calibration_shelf.json, actorsGT.mat,
# pred_shelf_maskrcnn_hrnet_coco.pkl, Camera0..4/} and data/panoptic_training_pose.pkl.
#     python tools/train.py configs/voxelpose_shelf.py
#     python tools/test.py configs/voxelpose_shelf.py work_dirs/voxelpose_shelf/best_PCP_epoch_*.pth
# No pose bank at hand? train_dataloader.dataset.poses = dict(type='generator') places the
# synthetic world's people instead.
_base_ = ['./voxelpose_synthetic.py']

dataset = 'shelf'
data_root = 'data/Shelf'
pose_bank = 'data/panoptic_training_pose.pkl'
input_size = (800, 608)
heatmap_size = (200, 152)
space_center = (450.0, -320.0, 800.0)
space_size = (8000.0, 8000.0, 2000.0)

# ---- data: VoxelPose trains and tests on the un-augmented views
pipeline = [
    dict(type='MultiViewResize', input_size=input_size),
    dict(type='MultiViewAffine'),
    dict(type='PackMultiViewInputs'),
]
train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    dataset=dict(
        _delete_=True,
        type='ShelfCampusSyntheticDataset',
        dataset=dataset,
        data_root=data_root,
        poses=dict(type='bank', path=pose_bank),
        num_samples=3000,
        seed=0,
        space_center=space_center,
        space_size=space_size,
        pipeline=pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    dataset=dict(
        _delete_=True,
        type='ShelfCampusDataset',
        dataset=dataset,
        data_root=data_root,
        frame_ranges=[(300, 600)],
        space_center=space_center,
        space_size=space_size,
        test_mode=True,
        pipeline=pipeline))
test_dataloader = val_dataloader

# ---- model (heatmap-input VoxelPose)
model = dict(
    input_size=input_size,
    heatmap_size=heatmap_size,
    heatmap_input=dict(sigma=3.0, use_scores=True),
    root_head=dict(space_center=space_center, space_size=space_size, cube_shape=(80, 80, 20),
                   mid_channels=32, max_proposals=10, threshold=0.1),
    pose_head=dict(cube_shape=(64, 64, 64), mid_channels=32),
    objective=dict(pose_on_gt_roots=False),  # VoxelPose: proposals matched within 500 mm
)

# ---- schedule (VoxelPose: Adam 1e-4, no decay, 30 epochs)
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-4))
param_scheduler = []

# ---- evaluation: PCP over actors 1-3 (0-based 0, 1, 2)
val_evaluator = dict(_delete_=True, type='PCPMetric', variant=dataset, actors=(0, 1, 2))
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='PCP', rule='greater'))
