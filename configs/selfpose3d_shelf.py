# SelfPose3d's pseudo-3D protocol on Shelf: VoxelPose's synthetic training in the Shelf
# rig (configs/voxelpose_shelf.py), but the 3D people placed in the space are the 3D poses
# a *self-supervised* model predicted, not the Panoptic 3D ground truth of
# panoptic_training_pose.pkl: no 3D (or 2D) annotation is used anywhere.
#
# Two steps:
# 1. Predict 3D poses on the self-supervised model's training frames and dump them
#    (tools/test.py --out writes selfpose3d_mm/io/predictions.py's npz: keypoints_3d
#    (F, P, 15, 3) mm and scores (F, P), NaN-padded, frame_ids (F,)). The paper's route, a
#    SelfPose3d model trained on CMU Panoptic, predicting its training sequences:
#        python tools/test.py configs/selfpose3d_panoptic.py CKPT --out data/selfpose3d_poses.npz \
#            --cfg-options test_dataloader.dataset.sequences="[...train sequences...]"
#    or, with no dataset on disk, the synthetic world's self-supervised model:
#        python tools/train.py configs/selfpose3d_synthetic.py
#        python tools/test.py configs/selfpose3d_synthetic.py \
#            work_dirs/selfpose3d_synthetic/epoch_5.pth --out data/selfpose3d_poses.npz \
#            --cfg-options test_dataloader.dataset.split=train
# 2. Train VoxelPose-style on Shelf from those poses (re-centred, rotated, re-placed):
#        python tools/train.py configs/selfpose3d_shelf.py
#    (another dump: --cfg-options train_dataloader.dataset.poses.path=...)
_base_ = ['./voxelpose_shelf.py']

pseudo_poses = 'data/selfpose3d_poses.npz'
train_dataloader = dict(dataset=dict(poses=dict(
    _delete_=True, type='predictions', path=pseudo_poses,
    score_threshold=0.3)))  # root score: keep confident poses only
