# The main job with three times its pose stages: 1620 pose iterations (the supervised
# configs/voxelpose_synthetic.py gets 1500), to measure what the schedule's length buys
# the network alone (README, Realistic 2D input; docs/method.md#what-limits-the-pose-net-
# at-cpu-scale). About 35 min of training on 2 CPU cores: not the main job.
_base_ = ['../selfpose3d_synthetic.py']

# the main job's stages and weights; only the pose stages' epochs differ
pose_l1, root_3d, pose_3d = {{_base_.pose_l1}}, {{_base_.root_3d}}, {{_base_.pose_3d}}
pose_modules = {{_base_.pose_modules}}
custom_hooks = [dict(type='TrainingStageHook', stages=[
    dict(name='root_net', epochs=1, train=['root_net'], lr=1e-3,
         losses=dict(loss_root_syn=100.0, loss_root_cons=1.0, loss_root_3d=root_3d)),
    dict(name='pose_l2', epochs=3, train=pose_modules, lr=1e-3,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_3d=pose_3d)),
    dict(name='pose_l2_l1', epochs=3, train=pose_modules, lr=5e-4,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=pose_l1,
                     loss_pose_3d=pose_3d)),
    dict(name='hard_labels', epochs=3, train=pose_modules, lr=1e-4, labels='hard',
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=pose_l1,
                     loss_pose_3d=pose_3d)),
])]
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=10)
