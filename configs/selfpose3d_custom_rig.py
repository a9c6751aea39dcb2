# SelfPose3d on your own studio: a calibrated rig, per-view images (or videos) and 2D
# pseudo labels, no 3D ground truth. The schedule and the network of
# configs/selfpose3d_synthetic.py (heatmap-input mode: the network renders its input
# heatmaps from the pseudo poses, so the images are not even read), the data of
# CustomRigDataset (selfpose3d_mm/datasets/custom_rig.py documents the layout):
#
#   data/my_rig/calibration.json      python tools/convert_calibration.py SRC \
#                                         data/my_rig/calibration.json --from opencv_yaml
#                                     (or write it by hand: selfpose3d_mm/io/calibration/rig_file.py)
#   data/my_rig/images/<view>/000123.jpg   one folder per camera, same frame numbers
#   data/my_rig/pseudo_labels.json    2D poses of an off-the-shelf detector per frame/view
#                                     (tools/pseudo_label.py), views = the camera names
#
#   python tools/estimate_space.py data/my_rig/calibration.json \
#       --pseudo-labels data/my_rig/pseudo_labels.json          # paste its lines below
#   python tools/browse_dataset.py configs/selfpose3d_custom_rig.py --out vis/
#   python tools/train.py configs/selfpose3d_custom_rig.py
_base_ = ['./selfpose3d_synthetic.py']

data_root = 'data/my_rig/'
calibration = 'calibration.json'
pseudo_labels = 'pseudo_labels.json'
images = 'images/{view}/{frame:06d}.jpg'  # or dict(cam_a='images/cam_a', ...) (folders)
videos = None  # or 'videos/{view}.mp4' (then set images = None; frames decoded in the dataset)
gt_3d = None   # optional 3D GT file (selfpose3d_mm/poses3d) to evaluate with tools/test.py

# ---- the capture space (mm): paste the lines tools/estimate_space.py prints (from the
# cameras and the pseudo poses). None: the generic 8 x 8 x 2 m studio of `root_cube` is
# used and the dataset logs the estimate command; it warns when a given space sticks out
# of the network's root cube (built before any data is read).
space_center = None
space_size = None
root_cube = dict(space_center=space_center or (0.0, 0.0, 800.0),
                 space_size=space_size or (8000.0, 8000.0, 2000.0))

rig = dict(
    type='CustomRigDataset',
    data_root=data_root,
    calibration=calibration,
    pseudo_labels=pseudo_labels,
    images=images,
    videos=videos,
    with_images=False,  # heatmap-input mode; True with an image network (see below)
    frame_range=None,   # (start, stop) frame numbers, half-open
    interval=1,         # keep every n-th frame
    space_center=space_center,
    space_size=space_size,
    root_cube_space=root_cube,
)
train_dataloader = dict(
    dataset=dict(_delete_=True, **rig, pipeline={{_base_.selfsup_train_pipeline}}))
# no 3D GT, no validation; set gt_3d (and the val_* of the base config) to validate
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = dict(
    dataset=dict(_delete_=True, **rig, gt_3d=gt_3d, test_mode=True,
                 pipeline={{_base_.test_pipeline}}))

model = dict(root_head=dict(space_center=root_cube['space_center'],
                            space_size=root_cube['space_size']))
# The image path instead (a 2D network on the frames): take the model, stages and
# photometric pipeline of configs/selfpose3d_synthetic_images.py, set with_images=True
# and put dict(type='LoadMultiViewImages') first in both pipelines (not with videos: the
# dataset decodes those itself).
