# VoxelPose on Campus (VoxelPose's protocol): configs/voxelpose_shelf.py in the Campus rig
# (3 views of 360 x 288), tested on the real frames 350-470 and 650-750.
# VoxelPose's Campus settings: 800 x 640 input, 200 x 160 heatmaps, 12 x 12 x 2 m space
# centred at (3000, 4500, 1000) mm, 1-9 synthetic people per sample, a person placed only
# where (x, y, 1 m) projects inside >= 2 views. (VoxelPose renders the Campus test
# heatmaps at peak 1; here the peak is the detection score, as for Shelf.)
# Data layout: data/CampusSeq1/{calibration_campus.json, actorsGT.mat,
# pred_campus_maskrcnn_hrnet_coco.pkl, Camera0..2/} and data/panoptic_training_pose.pkl.
#     python tools/train.py configs/voxelpose_campus.py
_base_ = ['./voxelpose_shelf.py']

dataset = 'campus'
data_root = 'data/CampusSeq1'
input_size = (800, 640)
heatmap_size = (200, 160)
space_center = (3000.0, 4500.0, 1000.0)
space_size = (12000.0, 12000.0, 2000.0)

pipeline = [
    dict(type='MultiViewResize', input_size=input_size),
    dict(type='MultiViewAffine'),
    dict(type='PackMultiViewInputs'),
]
train_dataloader = dict(dataset=dict(
    dataset=dataset, data_root=data_root, space_center=space_center,
    space_size=space_size, pipeline=pipeline))
val_dataloader = dict(dataset=dict(
    dataset=dataset, data_root=data_root, frame_ranges=[(350, 470), (650, 750)],
    space_center=space_center, space_size=space_size, pipeline=pipeline))
test_dataloader = val_dataloader

model = dict(
    input_size=input_size,
    heatmap_size=heatmap_size,
    root_head=dict(space_center=space_center, space_size=space_size),
)

val_evaluator = dict(variant=dataset)
test_evaluator = val_evaluator
