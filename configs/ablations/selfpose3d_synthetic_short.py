# The full self-supervised method on the shorter ablation schedule (the reference row the
# ablations compare with): half the frames per epoch, one epoch per stage.
_base_ = ['../selfpose3d_synthetic.py']

train_dataloader = dict(dataset=dict(num_samples=400))
# the paper-width attention net the README's ablation table was measured with (the main
# job's is narrower since 2026-12-01)
model = dict(objective=dict(attention_net=dict(_delete_=True, type='SoftAttentionNet',
                                               depth=18)))
pose_modules = ['pose_net', 'attention']
custom_hooks = [dict(type='TrainingStageHook', stages=[
    dict(name='root_net', epochs=1, train=['root_net'], lr=1e-3,
         losses=dict(loss_root_syn=100.0, loss_root_cons=1.0)),
    dict(name='pose_l2', epochs=1, train=pose_modules, lr=1e-3,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1)),
    dict(name='pose_l2_l1', epochs=1, train=pose_modules, lr=5e-4,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=0.01)),
])]
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=3)
