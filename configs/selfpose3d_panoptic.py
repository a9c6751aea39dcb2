# SelfPose3d on CMU Panoptic at the paper's settings and schedule, as one run.
# The network of configs/voxelpose_panoptic.py (5 views at 960 x 512, ResNet-50 heatmaps at
# 240 x 128, 80 x 80 x 20 root cube over 8 x 8 x 2 m, 64^3 person cubes, 10 people), the root
# net on the root heatmap only, a ResNet-18 soft-attention net, and the paper's stages:
# 2D net on pseudo labels (20 epochs) -> root net on synthetic roots + consistency (1) ->
# end-to-end L2 (5) -> + L1 (3) -> hard labels (2).
# Data: CMU Panoptic under data/panoptic (configs/_base_/datasets/panoptic.py) with the 2D
# pseudo labels of tools/pseudo_label.py in data/panoptic/pseudo_labels_train.json (frame
# keys "<sequence>/<frame:08d>", the base's five cameras); the 3D GT only evaluates.
_base_ = ['./voxelpose_panoptic.py']

pseudo_labels = 'data/panoptic/pseudo_labels_train.json'
# SelfPose3d's training sequences (VoxelPose's without 160906_band3); validation as
# VoxelPose (the base)
train_sequences = ['160422_ultimatum1', '160224_haggling1', '160226_haggling1',
                   '161202_haggling1', '160906_ian1', '160906_ian2', '160906_ian3',
                   '160906_band1', '160906_band2']
input_size = (960, 512)

train_pipeline = [
    dict(type='LoadMultiViewImages'),
    dict(type='MultiViewRandomAffinePair', input_size=input_size, rot_factor=45.0,
         scale_range=(0.1, 0.35)),
    dict(type='MultiViewAffine'),
    dict(type='MultiViewRandAugment', num_ops=2, prob=0.5, sets=(1, 2)),
    dict(type='MultiViewCutout', num_holes=(2, 15), size_range=(20, 40), sets=(1, 2)),
    dict(type='PackMultiViewInputs', with_gt=False),  # the 3D GT only evaluates
]
train_dataloader = dict(dataset=dict(
    sequences=train_sequences, interval=3, pseudo_labels=pseudo_labels,
    pipeline=train_pipeline))

model = dict(
    root_channels='root',
    objective=dict(
        _delete_=True,
        type='SelfPose3dObjective',  # 2D pseudo poses only; never the GT
        attention_net=dict(type='SoftAttentionNet', depth=18),
        box_thr=0.7, hard_keypoint_thr=0.7, hard_min_joints=3, sigma=3.0,
        root_syn=dict(max_people=10)),
)

heatmap_and_pose = ['heatmap_net_2d', 'pose_net', 'attention']
pose_losses = dict(loss_2d_pseudo=1.0, loss_pose_hm=1.0, loss_attn=0.1)
custom_hooks = [dict(type='TrainingStageHook', stages=[
    dict(name='heatmap_net_2d', epochs=20, train=['heatmap_net_2d'], lr=1e-4,
         lr_steps=[10, 15], losses=dict(loss_2d_pseudo=1.0)),
    dict(name='root_net', epochs=1, train=['root_net'], lr=1e-4,
         losses=dict(loss_root_syn=100.0, loss_root_cons=1.0)),
    dict(name='pose_l2', epochs=5, train=heatmap_and_pose, lr=1e-4, losses=pose_losses),
    dict(name='pose_l2_l1', epochs=3, train=heatmap_and_pose, lr=5e-5,
         losses=dict(**pose_losses, loss_pose_l1=0.01)),
    dict(name='hard_labels', epochs=2, train=heatmap_and_pose, lr=5e-5, labels='hard',
         losses=dict(**pose_losses, loss_pose_l1=0.01)),
])]
train_cfg = dict(by_epoch=True, max_epochs=31, val_interval=1)
param_scheduler = []  # the stage hook sets the learning rate
