# Fully-supervised VoxelPose on the synthetic world, small enough for 2 CPU cores: the
# upper bound the self-supervised model is compared with (3D GT used in training).
# Heatmap-input mode: the input heatmaps are rendered from the simulated 2D detections.
_base_ = ['./_base_/default_runtime.py', './_base_/datasets/synthetic_world.py']

input_size = {{_base_.input_size}}  # (480, 256)
heatmap_size = (120, 64)
space_center = {{_base_.space_center}}
space_size = {{_base_.space_size}}

# ---- data: VoxelPose trains on the un-augmented views
train_dataloader = dict(dataset=dict(num_samples=1000, pipeline={{_base_.test_pipeline}}))
val_dataloader = dict(dataset=dict(num_samples=100))
test_dataloader = dict(dataset=dict(num_samples=300))

# ---- model
model = dict(
    type='SelfPose3D',
    num_joints=15,
    root_index=2,
    input_size=input_size,
    heatmap_size=heatmap_size,
    heatmap_net_2d=None,  # heatmap-input mode
    heatmap_input=dict(sigma=2.0, use_scores=True),
    root_channels='all',  # VoxelPose: all J channels into the root net
    root_head=dict(type='CuboidProposalHead', space_center=space_center,
                   space_size=space_size, cube_shape=(48, 48, 12), mid_channels=16,
                   max_proposals=8, threshold=0.3, target_sigma=200.0),
    pose_head=dict(type='PoseRegressionHead', cube_size=(2000.0, 2000.0, 2000.0),
                   cube_shape=(24, 24, 24), mid_channels=16, beta=100.0),
    # trained with the 3D GT (root target mostly zeros: weighted up; pose net on cubes
    # at the GT roots from the first iteration)
    objective=dict(type='VoxelPoseObjective',
                   loss_weights=dict(loss_root=100.0, loss_pose=1.0),
                   match_radius=500.0, pose_on_gt_roots=True),
)

# ---- schedule
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=3)  # ~8 min on 2 CPU cores
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3), clip_grad=dict(max_norm=10.0))
param_scheduler = [dict(type='MultiStepLR', milestones=[2], gamma=0.1, by_epoch=True)]

# ---- evaluation
val_evaluator = dict(type='MultiViewPoseAPMetric')
test_evaluator = val_evaluator
