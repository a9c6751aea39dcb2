# Fine-tune the generalist on your own rig's footage, self-supervised (docs/generalist.md):
# your calibration and 2D pseudo labels (tools/import_2d.py or tools/pseudo_label.py), no
# 3D ground truth. Starts from the weights that ship with the package
# (load_from='generalist': selfpose3d_mm/model_zoo/) and runs a short schedule of the
# SelfPose3d stages; everything about the data is configs/selfpose3d_custom_rig.py's:
#
#   # configs/my_studio_finetune.py
#   _base_ = ['./selfpose3d_finetune_rig.py']
#   data_root = 'data/studio/'
#   images = dict(cam_a='frames/a', cam_b='frames/b', cam_c='frames/c')
#   space_center = (120.0, -340.0, 800.0)     # the lines tools/estimate_space.py prints
#   space_size = (7200.0, 6400.0, 2000.0)
#
#   python tools/train.py configs/my_studio_finetune.py
#   python tools/demo.py configs/my_studio_finetune.py work_dirs/.../epoch_3.pth \
#       --calibration ... --pseudo-labels ...   (refined by the 2D poses; --no-refine: not)
_base_ = ['./selfpose3d_custom_rig.py']

load_from = 'generalist'  # a name of selfpose3d_mm.model_zoo (tools/train.py resolves it)

# ---- the generalist's network: its trained root voxel size (the configured space and
# cube below), searching each frame's capture space (your space_center / space_size)
model = dict(
    root_head=dict(space_from='frame', space_center=(0.0, 0.0, 800.0),
                   space_size=(6000.0, 6000.0, 2000.0), cube_shape=(48, 48, 12),
                   max_proposals=10),
)
# the root net's space is the frames' (the dataset's space_center / space_size): the
# custom-rig template's links into the model's root head are switched off
linked_settings = {'model.root_head.space_center': None,
                   'model.root_head.space_size': None}

# ---- a short schedule: the root net on synthetic roots in your space, then the pose
# net (+ the main job's narrow attention net, which starts afresh: it does not ship with
# the generalist) with the 2D losses, then on hard pseudo labels; 3 passes over your
# frames. The joint loss weighs 1.5 (the main job's CPU-scale weight; the generalist was
# trained with the paper's 0.01): a short fine-tune of a trained pose net is the case the
# weight was measured on (docs/method.md#cpu-scale-schedule)
pose_l1 = 1.5
pose_modules = ['pose_net', 'attention']
custom_hooks = [dict(type='TrainingStageHook', stages=[
    dict(name='root_net', epochs=1, train=['root_net'], lr=2e-4,
         losses=dict(loss_root_syn=100.0, loss_root_cons=1.0)),
    dict(name='pose_l2_l1', epochs=1, train=pose_modules, lr=2e-4,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=pose_l1)),
    dict(name='hard_labels', epochs=1, train=pose_modules, lr=1e-4, labels='hard',
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=pose_l1)),
])]
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=3)
# one capture space per batch (the root net's volume is the frames' space)
train_dataloader = dict(batch_size=1)
test_dataloader = dict(batch_size=1)
