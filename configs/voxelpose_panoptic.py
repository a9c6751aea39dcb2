# Fully-supervised VoxelPose at the paper's settings on CMU Panoptic:
# 5 views at 960 x 512 input, 240 x 128 heatmaps from a ResNet-50 SimpleBaseline, an
# 8 x 8 x 2 m space centred at (0, -500, 800) mm in an 80 x 80 x 20 root cube, 2 m person
# cubes at 64^3, up to 10 people, proposal threshold 0.3.
#
# Data: configs/_base_/datasets/panoptic.py (VoxelPose's 10 training / 4 validation
# sequences under data/panoptic; the 3D GT supervises, no pseudo labels). Without the
# dataset, configs/voxelpose_panoptic_synthetic.py runs the same network on the synthetic
# world laid out like the dome (benchmarks/paper_scale.py). Heavy: meant for a GPU.
_base_ = ['./_base_/default_runtime.py', './_base_/datasets/panoptic.py']

input_size = {{_base_.input_size}}  # (960, 512)
heatmap_size = (240, 128)
space_center = {{_base_.space_center}}
space_size = {{_base_.space_size}}
num_joints = 15

# ---- model
model = dict(
    type='SelfPose3D',
    num_joints=num_joints,
    root_index=2,
    input_size=input_size,
    heatmap_size=heatmap_size,
    heatmap_net_2d=dict(  # SimpleBaseline "pose_resnet": ResNet-50 + 3 deconvolutions
        backbone=dict(type='ResNet', depth=50),
        head=dict(type='HeatmapHead', in_channels=2048, out_channels=num_joints,
                  deconv_out_channels=(256, 256, 256), deconv_kernel_sizes=(4, 4, 4))),
    root_channels='all',  # VoxelPose; SelfPose3d feeds the root channel only
    root_head=dict(type='CuboidProposalHead', space_center=space_center,
                   space_size=space_size, cube_shape=(80, 80, 20), mid_channels=32,
                   max_proposals=10, threshold=0.3, target_sigma=200.0),
    pose_head=dict(type='PoseRegressionHead', cube_size=(2000.0, 2000.0, 2000.0),
                   cube_shape=(64, 64, 64), mid_channels=32, beta=100.0),
    # trained with the 3D GT: 2D net on the projected GT, root net on the GT roots
    # (its target is mostly zeros: weighted up), pose net on matched proposals
    objective=dict(type='VoxelPoseObjective',
                   loss_weights=dict(loss_2d_gt=1.0, loss_root=100.0, loss_pose=1.0),
                   match_radius=500.0, pose_on_gt_roots=False, sigma_2d=2.0),
)

# ---- schedule (VoxelPose: Adam 1e-4, 10 epochs)
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=1)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-4))
param_scheduler = [dict(type='MultiStepLR', milestones=[8], gamma=0.1, by_epoch=True)]

# ---- evaluation
val_evaluator = dict(type='MultiViewPoseAPMetric')
test_evaluator = val_evaluator
