# Ablation: no soft attention (plain MSE heatmap loss, no regulariser) (paper Table 6).
_base_ = ['./selfpose3d_synthetic_short.py']

model = dict(objective=dict(attention_net=None))
pose_modules = ['pose_net']
custom_hooks = [dict(type='TrainingStageHook', stages=[
    dict(name='root_net', epochs=1, train=['root_net'], lr=1e-3,
         losses=dict(loss_root_syn=100.0, loss_root_cons=1.0)),
    dict(name='pose_l2', epochs=1, train=pose_modules, lr=1e-3,
         losses=dict(loss_pose_hm=1.0)),
    dict(name='pose_l2_l1', epochs=1, train=pose_modules, lr=5e-4,
         losses=dict(loss_pose_hm=1.0, loss_pose_l1=0.01)),
])]
