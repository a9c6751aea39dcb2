# Synchronisation + flip pretext on your own synchronized footage: a calibrated rig and
# per-view videos (or image folders) of CustomRigDataset (selfpose3d_mm/datasets/
# custom_rig.py documents the layout). No label needed: the person crops come from the
# foreground of each view's median background, or from 2D pseudo poses when you give
# them (tools/pseudo_label.py / tools/import_2d.py); the same person in two views is found
# with the calibration. The network and schedule of configs/pretext/sync_flip_synthetic.py.
#
#   data/my_rig/calibration.json        python tools/convert_calibration.py SRC -o ...
#   data/my_rig/videos/<view>.mp4       one video per camera, same start, same rate
#
# Use it as the base of your own config (or edit a copy):
#
#   # configs/my_studio_sync.py
#   _base_ = ['./pretext/sync_flip_custom_rig.py']
#   data_root = 'data/studio/'
#   videos = dict(cam_a='a.mp4', cam_b='b.mp4', cam_c='c.mp4')
#   # or image folders: images = dict(cam_a='frames/a', ...); videos = None
#
#   python tools/train.py configs/my_studio_sync.py
#   python tools/extract_backbone.py work_dirs/my_studio_sync/iter_1000.pth backbone.pth
#
# The settings below are top-level variables; `linked_settings` (end of file) carries
# them into the datasets after a child config's overrides (selfpose3d_mm/apis/
# config_links.py).
_base_ = ['./sync_flip_synthetic.py']

data_root = 'data/my_rig/'
calibration = 'calibration.json'
videos = 'videos/{view}.mp4'    # a {view} template or dict(view=path); None with images
pseudo_labels = None            # optional 2D poses: crops from them instead of foreground
train_frame_range = None        # (start, stop) frame numbers, half-open; None: all
val_frame_range = None          # frames of the accuracy check; None: the same footage
interval = 1                    # keep every n-th frame
# Time offsets are in source frames: the paper's 4 and 128 are at 50 fps; at 25 fps use
# about 2 and 64, at 100 fps 8 and 256.
d_min, d_max = 4, 128
frame_scale = 0.25              # work on 1/4-size copies of full-HD frames (crops: 64 px)
fg_threshold = 25.0             # foreground: largest RGB difference to the median (0-255)

__rig = dict(  # (two leading underscores: not kept in the config)
    type='CustomRigDataset',
    data_root=data_root,
    calibration=calibration,
    pseudo_labels=pseudo_labels,
    images=None,
    videos=videos,
    with_images=True,
    interval=interval,
    # the capture space plays no part in the pretext (a generic studio)
    space_center=(0.0, 0.0, 800.0),
    space_size=(8000.0, 8000.0, 2000.0),
)
__clips = dict(frame_scale=frame_scale, background_frames=16, fg_threshold=fg_threshold,
               box_padding=0.25)
train_dataloader = dict(dataset=dict(
    d_min=d_min, d_max=d_max, clips=__clips,
    dataset=dict(_delete_=True, **__rig, frame_range=train_frame_range)))
val_dataloader = dict(dataset=dict(
    d_min=d_min, d_max=d_max, clips=__clips, num_samples=200,
    dataset=dict(_delete_=True, **__rig, frame_range=val_frame_range)))
test_dataloader = val_dataloader

linked_settings = {
    **{f'{split}_dataloader.dataset.dataset.{key}': key
       for split in ('train', 'val', 'test')
       for key in ('data_root', 'calibration', 'pseudo_labels', 'images', 'videos',
                   'interval')},
    **{f'{split}_dataloader.dataset.{key}': key
       for split in ('train', 'val', 'test') for key in ('d_min', 'd_max')},
    **{f'{split}_dataloader.dataset.clips.{key}': key
       for split in ('train', 'val', 'test') for key in ('frame_scale', 'fg_threshold')},
    'train_dataloader.dataset.dataset.frame_range': 'train_frame_range',
    'val_dataloader.dataset.dataset.frame_range': 'val_frame_range',
    'test_dataloader.dataset.dataset.frame_range': 'val_frame_range',
}
