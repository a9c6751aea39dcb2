# SelfPose3d's pseudo-3D protocol on Campus: configs/voxelpose_campus.py trained from the
# 3D poses of a self-supervised model instead of the Panoptic 3D ground truth.
# The two steps of configs/selfpose3d_shelf.py (dump the predictions with
# tools/test.py ... --out data/selfpose3d_poses.npz, then):
#     python tools/train.py configs/selfpose3d_campus.py
_base_ = ['./voxelpose_campus.py']

pseudo_poses = 'data/selfpose3d_poses.npz'
train_dataloader = dict(dataset=dict(poses=dict(
    _delete_=True, type='predictions', path=pseudo_poses,
    score_threshold=0.3)))  # root score: keep confident poses only
