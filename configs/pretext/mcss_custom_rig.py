# MCSS pose embedding on your own synchronized footage: a calibrated rig, per-view videos
# (or image folders) of CustomRigDataset (selfpose3d_mm/datasets/custom_rig.py documents
# the layout) and the 3D poses the project already produced on that footage — a
# predictions file of the triangulation baseline or of a trained SelfPose3d model. No
# label: people, their identity across views and the canonical-pose targets all come
# from that file (docs/mcss.md). The network and schedule of
# configs/pretext/mcss_synthetic.py.
#
#   python tools/demo.py --method triangulation --calibration data/my_rig/calibration.json \
#       --pseudo-labels data/my_rig/pseudo_labels.json --pseudo-labels-only \
#       --out-dir data/my_rig/demo                   # -> data/my_rig/demo/poses3d.json
#   python tools/train.py configs/pretext/mcss_custom_rig.py
#   python tools/pose_search.py data/my_rig/demo/poses3d.json --frame 120 \
#       --config configs/pretext/mcss_custom_rig.py \
#       --checkpoint work_dirs/mcss_custom_rig/iter_1200.pth
#
# Use it as the base of your own config (or edit a copy):
#
#   # configs/my_studio_mcss.py
#   _base_ = ['./pretext/mcss_custom_rig.py']
#   data_root = 'data/studio/'
#   videos = dict(cam_a='a.mp4', cam_b='b.mp4', cam_c='c.mp4')
#   predictions = 'data/studio/demo/poses3d.json'
#
# Without a predictions file, `poses = dict(type='triangulation')` triangulates the
# pseudo-label file's 2D poses instead (set pseudo_labels). The settings below are
# top-level variables; `linked_settings` (end of file) carries them into the datasets
# after a child config's overrides (selfpose3d_mm/apis/config_links.py).
_base_ = ['./mcss_synthetic.py']

data_root = 'data/my_rig/'
calibration = 'calibration.json'
videos = 'videos/{view}.mp4'     # a {view} template or dict(view=path); None with images
images = None                    # or 'images/{view}/{frame:06d}.jpg' / dict(view=folder)
pseudo_labels = None             # only for poses=dict(type='triangulation')
# the pseudo-3D poses (tools/demo.py, tools/test.py --out); a path of its own (not under
# data_root)
predictions = 'data/my_rig/demo/poses3d.json'
min_score = 0.3                  # persons of the predictions file scored below are skipped
train_frame_range = None         # (start, stop) frame numbers, half-open; None: all
val_frame_range = None           # frames of the retrieval check; None: the same footage
interval = 1                     # keep every n-th frame
# The minimal time between two instants of a batch is in source frames: 30 = 1 s at 30 fps.
min_frame_gap = 30
frame_scale = 0.25               # work on 1/4-size copies of full-HD frames (crops: 64 px)

__rig = dict(  # (two leading underscores: not kept in the config)
    type='CustomRigDataset',
    data_root=data_root,
    calibration=calibration,
    pseudo_labels=pseudo_labels,
    images=images,
    videos=videos,
    with_images=True,
    interval=interval,
    # the capture space only bounds the triangulation source (a generic studio)
    space_center=(0.0, 0.0, 800.0),
    space_size=(8000.0, 8000.0, 2000.0),
)
__pairs = dict(
    type='MCSSPairDataset',
    poses=dict(type='predictions', path=predictions, min_score=min_score),
    crop_size={{_base_.crop_size}},
    min_joints=8,
    min_box_px=16.0,
    clips=dict(frame_scale=frame_scale, box_padding=0.25),
)
train_dataloader = dict(
    batch_sampler=dict(min_frame_gap=min_frame_gap),
    dataset=dict(_delete_=True, **__pairs, mode='pairs',
                 dataset=dict(**__rig, frame_range=train_frame_range)))
val_dataloader = dict(dataset=dict(
    _delete_=True, **__pairs, mode='views',
    dataset=dict(**__rig, frame_range=val_frame_range)))
test_dataloader = val_dataloader
# no GT: retrieval is scored on the predictions file's own 3D poses
val_evaluator = dict(type='CrossViewRetrievalMetric', ks=(1, 10, 20),
                     pose_field='keypoints_3d', oracle=True)
test_evaluator = val_evaluator

linked_settings = {
    **{f'{split}_dataloader.dataset.dataset.{key}': key
       for split in ('train', 'val', 'test')
       for key in ('data_root', 'calibration', 'pseudo_labels', 'images', 'videos',
                   'interval')},
    **{f'{split}_dataloader.dataset.poses.{key}': key
       for split in ('train', 'val', 'test') for key in ('min_score', )},
    **{f'{split}_dataloader.dataset.poses.path': 'predictions'
       for split in ('train', 'val', 'test')},
    **{f'{split}_dataloader.dataset.clips.frame_scale': 'frame_scale'
       for split in ('train', 'val', 'test')},
    'train_dataloader.batch_sampler.min_frame_gap': 'min_frame_gap',
    'train_dataloader.dataset.dataset.frame_range': 'train_frame_range',
    'val_dataloader.dataset.dataset.frame_range': 'val_frame_range',
    'test_dataloader.dataset.dataset.frame_range': 'val_frame_range',
}
