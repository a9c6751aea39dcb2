# Synchronisation + flip pretext (Jenni & Favaro) on the synthetic world's rendered
# sequences: a Siamese ResNet-18 learns whether two crops of one person from two views
# show the same instant, and whether one of them was mirrored. No label of any kind:
# the pairs come from the footage and the rig alone (docs/pretext.md).
#
#   python tools/train.py configs/pretext/sync_flip_synthetic.py
#   python tools/extract_backbone.py work_dirs/sync_flip_synthetic/best_*.pth \
#       work_dirs/sync_flip_synthetic/backbone.pth
#   python tools/train.py configs/pretext/selfpose3d_images_from_sync.py
#
# CPU-sized (64 px crops, ResNet-18, 1000 iterations: 12-16 min on 2 cores); the paper
# trains on 224 px crops for far longer: raise crop_size, max_iters and the data.
_base_ = ['../_base_/default_runtime.py']
custom_imports = dict(imports=['selfpose3d_mm', 'selfpose3d_mm.datasets.pretext',
                               'selfpose3d_mm.models.pretext',
                               'selfpose3d_mm.evaluation.metrics.pretext_accuracy'],
                      allow_failed_imports=False)

# ---- the footage: rendered synthetic sequences (50 frames 6 source frames apart = 10 s
# at 30 fps per sequence), a 4-camera ring; the pretext never reads the 3D GT. People walk
# most of the time: the median background is clean only where they move.
world = dict(
    type='SyntheticMultiViewDataset',
    space_center=(0.0, 0.0, 800.0),
    space_size=(6000.0, 6000.0, 2000.0),
    num_people=(1, 3),
    outside_prob=0.0,
    body=dict(activity_bias=(0.5, 1.0)),   # walking propensity (-1 stand .. 1 walk)
    rig=dict(type='ring', num_views=4, image_size=(480, 270)),
    frames_per_sequence=50,
    frame_interval=6,
    with_images=True,
)

# ---- the pairs
crop_size = 64          # square crops centred on the person (paper: 224)
pairs = dict(
    type='SyncFlipPairDataset',
    crop_size=crop_size,
    d_min=4, d_max=128,   # non-synchronized: 4 < |t2 - t1| < 128 source frames
    # 2/3 synchronized, half of them with one crop mirrored: the sync head (which skips
    # flipped pairs) sees 1/3 synchronized and 1/3 not, balanced; the flip head too
    sync_prob=2 / 3,
    flip_prob=0.5,
    background='mix',     # removal or substitution, 50:50; 'none' = ablation without
    substitute_prob=0.5,
    fill='noise',         # what replaces the removed background ('noise' or 'constant')
    clips=dict(
        frame_scale=1.0,        # < 1: work on smaller copies of large frames
        background_frames=16,   # frames per sequence in the median background
        fg_threshold=25.0,      # foreground: largest RGB difference to the median
        box_padding=0.25,       # crop square = longer box side x 1.25
    ),
)

train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    # each item is a pure function of (seed, epoch, index): exact resume
    sampler=dict(type='EpochSeededSampler', shuffle=True),
    worker_init_fn=dict(type='multiview_worker_init_fn'),
    dataset=dict(**pairs, dataset=dict(**world, split='train', seed=0, num_samples=400)))
val_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    worker_init_fn=dict(type='multiview_worker_init_fn'),
    dataset=dict(**pairs, seed=1, test_mode=True,
                 dataset=dict(**world, split='val', seed=0, num_samples=100)))
test_dataloader = val_dataloader
val_evaluator = dict(type='PretextAccuracy')   # pretext/sync_acc, pretext/flip_acc
test_evaluator = val_evaluator

# ---- the network: shared ResNet-18, GAP, product + ReLU fusion, two binary heads
model = dict(
    type='SyncFlipNet',
    backbone=dict(type='ResNet', depth=18),
    hidden_channels=None,                       # linear heads
    loss_weights=dict(sync=1.0, flip=1.0),
    data_preprocessor=dict(type='PairDataPreprocessor'),   # ImageNet mean / std
)

# ---- schedule
max_iters = 1000
train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=250)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(type='GuardedOptimWrapper',
                     optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters, T_max=max_iters),
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=250, by_epoch=False, save_best='pretext/sync_acc',
                    rule='greater', max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
