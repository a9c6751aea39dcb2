# SelfPose3d on the synthetic world — the README's main job (2 CPU cores, minutes).
# No 3D and no 2D ground truth is used to train: only the cameras and the simulated 2D
# pseudo poses (jitter, swaps, occlusions, misses, ghosts, bystanders). Heatmap-input mode:
# the input heatmaps of every view-set are rendered from its pseudo poses.
# The 3D GT of the held-out split is read by the metric only.
_base_ = ['./_base_/default_runtime.py', './_base_/datasets/synthetic_world.py']

input_size = (480, 256)
heatmap_size = (120, 64)
space_center = {{_base_.space_center}}
space_size = {{_base_.space_size}}

# ---- data: three view-sets per training sample, x0 (resize) and x1, x2 (random
# rotation +-45 deg and zoom, one draw per set shared by its views)
train_pipeline = [
    dict(type='MultiViewRandomAffinePair', input_size=input_size, rot_factor=45.0,
         scale_range=(0.1, 0.35)),
    dict(type='MultiViewAffine'),
    dict(type='PackMultiViewInputs'),
]
test_pipeline = [
    dict(type='MultiViewResize', input_size=input_size),
    dict(type='MultiViewAffine'),
    dict(type='PackMultiViewInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=1,
                        dataset=dict(num_samples=800, pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=1,
                      dataset=dict(num_samples=100, pipeline=test_pipeline))
test_dataloader = dict(batch_size=2, num_workers=1,
                       dataset=dict(num_samples=300, pipeline=test_pipeline))

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
    root_head=dict(type='CuboidProposalHead', space_center=space_center,
                   space_size=space_size, cube_shape=(48, 48, 12), mid_channels=16,
                   max_proposals=8, threshold=0.3, target_sigma=200.0),
    pose_head=dict(type='PoseRegressionHead', cube_size=(2000.0, 2000.0, 2000.0),
                   cube_shape=(24, 24, 24), mid_channels=16, beta=100.0),
    attention_net=dict(type='SoftAttentionNet', depth=18),
    selfsup_cfg=dict(
        sigma=2.0,
        box_thr=0.7, hard_keypoint_thr=0.7, hard_min_joints=3,
        root_syn=dict(max_people=6),
        root_syn_amplitude=(0.5, 1.0),  # rendered pseudo heatmaps peak at the scores
        root_syn_sets=(0, 1, 2)),
)

# ---- the schedule: one run, stages switched by the hook (epochs add up to max_epochs)
pose_modules = ['pose_net', 'attention']
custom_hooks = [dict(type='TrainingStageHook', stages=[
    dict(name='root_net', epochs=1, train=['root_net'], lr=1e-3,
         losses=dict(loss_root_syn=100.0, loss_root_cons=1.0)),
    dict(name='pose_l2', epochs=2, train=pose_modules, lr=1e-3,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1)),
    dict(name='pose_l2_l1', epochs=1, train=pose_modules, lr=5e-4,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=0.01)),
    dict(name='hard_labels', epochs=1, train=pose_modules, lr=1e-4, labels='hard',
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=0.01)),
])]
train_cfg = dict(by_epoch=True, max_epochs=5, val_interval=5)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3), clip_grad=dict(max_norm=10.0))
param_scheduler = []  # the stage hook sets the learning rate

# ---- evaluation (3D GT of the held-out split, never seen in training)
val_evaluator = dict(type='MultiViewPoseAPMetric')
test_evaluator = val_evaluator
