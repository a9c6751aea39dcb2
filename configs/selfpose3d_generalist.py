# The generalist: one SelfPose3d model for rigs it has never seen (docs/generalist.md).
# Heatmap-input mode: the network never sees pixels, only where each view's 2D joints
# fall, so it is trained self-supervised (no 3D, no 2D ground truth) on the randomised
# synthetic world, a new rig and capture space every 10 frames (3-8 cameras, ring /
# half-ring / corner / ceiling layouts, 3-10 m spaces, the realistic 2D detector), and
# reads any calibrated rig and its 2D poses at test time:
#
#   python tools/demo.py --model generalist --calibration calib.toml \
#       --pseudo-labels pseudo.json --space-center X Y Z --space-size X Y Z
#
# Same network and objective as the main job (configs/selfpose3d_synthetic.py), with the
# root net on each frame's capture space at its trained voxel size (space_from='frame').
_base_ = ['./_base_/default_runtime.py', './_base_/datasets/synthetic_rigs.py']

input_size = {{_base_.input_size}}  # (480, 256)
heatmap_size = (120, 64)

# ---- data: the randomised world; x0 + two random affine view-sets per training frame;
# a new rig every 2 frames: 200 rigs and capture spaces
train_dataloader = dict(dataset=dict(num_samples=400, frames_per_sequence=2))
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
    root_channels='root',  # SelfPose3d: the root net sees the root heatmap only
    # the configured space and cube set the trained root voxel (127.7 x 127.7 x 181.8 mm,
    # the main job's); each frame's space is searched at that voxel size
    root_head=dict(type='CuboidProposalHead', space_center=(0.0, 0.0, 800.0),
                   space_size=(6000.0, 6000.0, 2000.0), cube_shape=(48, 48, 12),
                   space_from='frame', mid_channels=16, max_proposals=10, threshold=0.3,
                   target_sigma=200.0),
    pose_head=dict(type='PoseRegressionHead', cube_size=(2000.0, 2000.0, 2000.0),
                   cube_shape=(24, 24, 24), mid_channels=16, beta=100.0),
    objective=dict(
        type='SelfPose3dObjective',
        attention_net=dict(type='SoftAttentionNet', depth=18),
        sigma=2.0,
        box_thr=0.7, hard_keypoint_thr=0.7, hard_min_joints=3,
        root_syn=dict(max_people=6),
        root_syn_amplitude=(0.5, 1.0),  # rendered pseudo heatmaps peak at the scores
        root_syn_sets=(0, 1, 2)),
    # proposals kept at test time: on rigs it has not seen it scores people lower than the
    # main job does on its own rig (val split, 60 frames of random rigs, with refinement:
    # threshold 0.15 -> Recall@500 73.7, AP50 15.5; 0.05 -> 83.2, 17.1)
    test_cfg=dict(threshold=0.05),
)

# ---- the schedule: stages switched by the hook (epochs add up to max_epochs);
# 1600 frames (batch 1) in all
pose_modules = ['pose_net', 'attention']
custom_hooks = [dict(type='TrainingStageHook', stages=[
    dict(name='root_net', epochs=1, train=['root_net'], lr=1e-3,
         losses=dict(loss_root_syn=100.0, loss_root_cons=1.0)),
    dict(name='pose_l2', epochs=1, train=pose_modules, lr=1e-3,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1)),
    dict(name='pose_l2_l1', epochs=1, train=pose_modules, lr=5e-4,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=0.01)),
    dict(name='hard_labels', epochs=1, train=pose_modules, lr=1e-4, labels='hard',
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=0.01)),
])]
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=4)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3), clip_grad=dict(max_norm=10.0))
param_scheduler = []  # the stage hook sets the learning rate

# ---- evaluation (3D GT of the held-out rigs, read by the metric only)
val_evaluator = dict(type='MultiViewPoseAPMetric')
test_evaluator = val_evaluator
