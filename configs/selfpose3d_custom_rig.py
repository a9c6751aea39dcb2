# SelfPose3d on your own studio: a calibrated rig, per-view images (or videos) and 2D
# pseudo labels, no 3D ground truth. The schedule and the network of
# configs/selfpose3d_synthetic.py (heatmap-input mode: the network renders its input
# heatmaps from the pseudo poses, so the images are not even read), the data of
# CustomRigDataset (selfpose3d_mm/datasets/custom_rig.py documents the layout):
#
#   data/my_rig/calibration.json      python tools/convert_calibration.py SRC \
#                                         data/my_rig/calibration.json --from opencv_yaml
#                                     (or by hand: selfpose3d_mm/io/calibration/rig_file.py)
#   data/my_rig/images/<view>/000123.jpg   one folder per camera, same frame numbers
#   data/my_rig/pseudo_labels.json    2D poses of an off-the-shelf detector per frame/view
#                                     (tools/pseudo_label.py), views = the camera names
#
# Use it as the base of your own config (or edit a copy):
#
#   # configs/my_studio.py
#   _base_ = ['./selfpose3d_custom_rig.py']
#   data_root = 'data/studio/'
#   images = dict(cam_a='frames/a', cam_b='frames/b', cam_c='frames/c')
#   space_center = (120.0, -340.0, 800.0)     # the lines tools/estimate_space.py prints
#   space_size = (7200.0, 6400.0, 2000.0)
#
#   python tools/estimate_space.py data/studio/calibration.json \
#       --pseudo-labels data/studio/pseudo_labels.json          # paste its lines
#   python tools/browse_dataset.py configs/my_studio.py --out vis/
#   python tools/train.py configs/my_studio.py
#
# The settings below are top-level variables; `linked_settings` (end of file) carries
# them into the datasets and the model *after* a child config's overrides
# (selfpose3d_mm/apis/config_links.py: mmengine alone would copy them into the dicts
# when this file is parsed, and a child's `data_root = ...` would change nothing).

_base_ = ['./selfpose3d_synthetic.py']

data_root = 'data/my_rig/'
calibration = 'calibration.json'
pseudo_labels = 'pseudo_labels.json'
# The frames. Not defined here, so that a child config may give either form:
#   images = 'images/{view}/{frame:06d}.jpg'   (the default: a {view}/{frame} template)
#   images = dict(cam_a='images/cam_a', ...)   (one folder per camera)
#   videos = 'videos/{view}.mp4'  or  dict(cam_a='videos/a.mp4', ...)   (then images = None;
#                                  the dataset decodes the frames itself)
gt_3d = None        # optional 3D GT file (selfpose3d_mm/poses3d): tools/test.py evaluates
frame_range = None  # (start, stop) frame numbers, half-open
interval = 1        # keep every n-th frame

# ---- the capture space (mm): paste the lines tools/estimate_space.py prints (from the
# cameras and the pseudo poses). None: the generic 8 x 8 x 2 m studio of `root_cube` is
# used and the dataset logs the estimate command; given, it is also the network's root
# cube (the space it searches), and the dataset warns when it sticks out of a root cube
# set otherwise.
space_center = None
space_size = None
root_cube = dict(space_center=(0.0, 0.0, 800.0), space_size=(8000.0, 8000.0, 2000.0))

__rig = dict(  # (a name with two leading underscores: not kept in the config)
    type='CustomRigDataset',
    data_root=data_root,
    calibration=calibration,
    pseudo_labels=pseudo_labels,
    images='images/{view}/{frame:06d}.jpg',
    videos=None,
    with_images=False,  # heatmap-input mode; True with an image network (see below)
    frame_range=frame_range,
    interval=interval,
    space_center=space_center,
    space_size=space_size,
    root_cube_space=root_cube,
)
train_dataloader = dict(
    dataset=dict(_delete_=True, **__rig, pipeline={{_base_.selfsup_train_pipeline}}))
# no 3D GT, no validation; set gt_3d (and the val_* of the base config) to validate
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = dict(
    dataset=dict(_delete_=True, **__rig, gt_3d=gt_3d, test_mode=True,
                 pipeline={{_base_.test_pipeline}}))

model = dict(root_head=dict(space_center=space_center or root_cube['space_center'],
                            space_size=space_size or root_cube['space_size']))
# Crowds: the root net learns from up to root_syn.max_people - 1 synthetic people per
# frame and keeps root_head.max_proposals people (this base: 5 and 8). For a busier
# space, e.g. up to 10 people in a frame, a child config sets
#   model = dict(root_head=dict(max_proposals=12),
#                objective=dict(root_syn=dict(max_people=11)))
# (the README's hard setting, 6-10 people on 3 cameras, is trained so).

# ---- where each setting goes (target path: top-level setting, or a tuple: the first
# that is not None). Applied by the tools once the config is merged
# (selfpose3d_mm.apis.apply_linked_settings); a setting a child leaves undefined keeps the
# value above.
linked_settings = {
    **{f'{split}_dataloader.dataset.{key}': key
       for split in ('train', 'test')
       for key in ('data_root', 'calibration', 'pseudo_labels', 'images', 'videos',
                   'frame_range', 'interval', 'space_center', 'space_size')},
    **{f'{split}_dataloader.dataset.root_cube_space.{key}': (key, f'root_cube.{key}')
       for split in ('train', 'test') for key in ('space_center', 'space_size')},
    'test_dataloader.dataset.gt_3d': 'gt_3d',
    'model.root_head.space_center': ('space_center', 'root_cube.space_center'),
    'model.root_head.space_size': ('space_size', 'root_cube.space_size'),
}
# The image path instead (a 2D network on the frames): take the model, stages and
# photometric pipeline of configs/selfpose3d_synthetic_images.py, set with_images=True
# and put dict(type='LoadMultiViewImages') first in both pipelines (not with videos: the
# dataset decodes those itself).
