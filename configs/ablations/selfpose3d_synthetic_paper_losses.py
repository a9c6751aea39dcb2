# Ablation: the main job with the paper's losses only — no triangulated pseudo-3D
# targets (loss_root_3d, loss_pose_3d; docs/method.md#triangulated-pseudo-3d-targets).
# The README's "paper's losses only" rows.
_base_ = ['../selfpose3d_synthetic.py']

# the README's rows were tested at the earlier proposal threshold
model = dict(test_cfg=dict(threshold=0.15))

pose_l1 = 1.5
pose_modules = ['pose_net', 'attention']
custom_hooks = [dict(type='TrainingStageHook', stages=[
    dict(name='root_net', epochs=1, train=['root_net'], lr=1e-3,
         losses=dict(loss_root_syn=100.0, loss_root_cons=1.0)),
    dict(name='pose_l2', epochs=1, train=pose_modules, lr=1e-3,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1)),
    dict(name='pose_l2_l1', epochs=1, train=pose_modules, lr=5e-4,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=pose_l1)),
    dict(name='hard_labels', epochs=1, train=pose_modules, lr=1e-4, labels='hard',
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=pose_l1)),
])]
