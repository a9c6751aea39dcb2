# SelfPose3d on the synthetic world's *rendered images* (the image path): a 2D heatmap net
# (ResNet-18 SimpleBaseline) trained on the pseudo poses, the root net on synthetic roots,
# then end to end with the cross-affine heatmap loss, soft attention on the images and the
# Hungarian L1. Everything else as configs/selfpose3d_synthetic.py.
# Heavier than heatmap-input mode (a CNN per view and view-set): meant for a GPU; on CPU
# shorten it with --cfg-options train_dataloader.dataset.num_samples=...
_base_ = ['./selfpose3d_synthetic.py']

input_size = (480, 256)
num_joints = 15
photometric = [
    dict(type='MultiViewRandAugment', num_ops=2, prob=0.5, sets=(1, 2)),
    dict(type='MultiViewCutout', num_holes=(2, 15), size_range=(20, 40), sets=(1, 2)),
]
train_pipeline = [
    dict(type='MultiViewRandomAffinePair', input_size=input_size, rot_factor=45.0,
         scale_range=(0.1, 0.35)),
    dict(type='MultiViewAffine'),
    *photometric,
    dict(type='PackMultiViewInputs', with_gt=False),
]
train_dataloader = dict(dataset=dict(with_images=True, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(with_images=True))
test_dataloader = dict(dataset=dict(with_images=True))

model = dict(
    heatmap_net_2d=dict(
        _delete_=True,
        backbone=dict(type='ResNet', depth=18),
        head=dict(type='HeatmapHead', in_channels=512, out_channels=num_joints,
                  deconv_out_channels=(256, 256, 256), deconv_kernel_sizes=(4, 4, 4))),
    # on images the attention net has the paper's width (the heatmap-input main job's is
    # narrow), so a pretext ResNet-18 can start it (configs/pretext/)
    objective=dict(attention_net=dict(_delete_=True, type='SoftAttentionNet', depth=18,
                                      in_channels=3)),
)

heatmap_and_pose = ['heatmap_net_2d', 'pose_net', 'attention']
pose_losses = dict(loss_2d_pseudo=1.0, loss_pose_hm=1.0, loss_attn=0.1)
custom_hooks = [dict(type='TrainingStageHook', stages=[
    dict(name='heatmap_net_2d', epochs=2, train=['heatmap_net_2d'], lr=1e-3,
         losses=dict(loss_2d_pseudo=1.0)),
    dict(name='root_net', epochs=1, train=['root_net'], lr=1e-3,
         losses=dict(loss_root_syn=100.0, loss_root_cons=1.0)),
    dict(name='pose_l2', epochs=2, train=heatmap_and_pose, lr=5e-4, losses=pose_losses),
    dict(name='pose_l2_l1', epochs=1, train=heatmap_and_pose, lr=2e-4,
         losses=dict(**pose_losses, loss_pose_l1=0.01)),
    dict(name='hard_labels', epochs=1, train=heatmap_and_pose, lr=1e-4, labels='hard',
         losses=dict(**pose_losses, loss_pose_l1=0.01)),
])]
train_cfg = dict(by_epoch=True, max_epochs=7, val_interval=7)
