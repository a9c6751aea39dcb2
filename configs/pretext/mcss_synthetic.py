# MCSS (Mitra et al.) on the synthetic world's rendered sequences: a view-invariant pose
# embedding learned from the same person at the same instant in two views (anchor /
# positive) against the hardest other pose of the batch, plus a shallow head regressing
# the canonical 3D pose. No ground truth in training: people, their identity across views
# and the canonical-pose targets come from the pseudo-3D poses of the triangulation
# baseline, run by the dataset on each frame's simulated 2D detections when it is built
# (on the fly, once per frame, a few ms each; docs/mcss.md).
#
#   python tools/train.py configs/pretext/mcss_synthetic.py
#   python tools/test.py configs/pretext/mcss_synthetic.py \
#       work_dirs/mcss_synthetic/best_*.pth
#   python tools/extract_backbone.py work_dirs/mcss_synthetic/best_*.pth \
#       work_dirs/mcss_synthetic/backbone.pth     # -> the image-path SelfPose3d (transfer)
#
# CPU-sized (64 px crops, ResNet-18, 1200 iterations: 8-12 min on 2 cores); the paper
# uses 224 px crops and far longer schedules: raise crop_size, max_iters and the data.
_base_ = ['../_base_/default_runtime.py']
custom_imports = dict(imports=['selfpose3d_mm',
                               'selfpose3d_mm.datasets.pretext.mcss_batches',
                               'selfpose3d_mm.models.pretext.mcss',
                               'selfpose3d_mm.models.losses.contrastive',
                               'selfpose3d_mm.evaluation.metrics.retrieval'],
                      allow_failed_imports=False)

# ---- the footage: rendered synthetic sequences (50 frames 6 source frames apart = 10 s at
# 30 fps per sequence), a 4-camera ring; the 3D GT is read by the validation metric only
world = dict(
    type='SyntheticMultiViewDataset',
    space_center=(0.0, 0.0, 800.0),
    space_size=(6000.0, 6000.0, 2000.0),
    num_people=(1, 3),
    outside_prob=0.0,
    rig=dict(type='ring', num_views=4, image_size=(480, 270)),
    frames_per_sequence=50,
    frame_interval=6,
    with_images=True,
)

# ---- the pairs
crop_size = 64             # square person crops (paper: 224)
pairs = dict(
    type='MCSSPairDataset',
    poses=dict(type='triangulation'),   # pseudo-3D: triangulation of the pseudo 2D poses
    crop_size=crop_size,
    min_joints=8,          # projected joints inside a view for it to see the person
    min_box_px=16.0,       # smallest person box (px) worth a crop
    clips=dict(frame_scale=1.0, box_padding=0.25),
)
batch_sampler = dict(
    type='MCSSBatchSampler',
    min_frame_gap=30,      # no two instants of a batch closer than 30 source frames (1 s)
    same_instant=True,     # other people of the same instant may share the batch
)

train_dataloader = dict(
    batch_size=16,         # pairs per batch: the negatives come from the batch
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),   # its seed / epoch seed the batches
    batch_sampler=batch_sampler,
    worker_init_fn=dict(type='multiview_worker_init_fn'),
    dataset=dict(**pairs, mode='pairs',
                 dataset=dict(**world, split='train', seed=0, num_samples=400)))
val_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    worker_init_fn=dict(type='multiview_worker_init_fn'),
    dataset=dict(**pairs, mode='views', test_mode=True,
                 dataset=dict(**world, split='val', seed=0, num_samples=100)))
test_dataloader = val_dataloader
# cross-view retrieval, scored on the synthetic GT pose of each retrieved person
# (pose_field='keypoints_3d': on the pseudo-3D poses, as on footage without GT)
val_evaluator = dict(type='CrossViewRetrievalMetric', ks=(1, 10, 20),
                     pose_field='gt_keypoints_3d', oracle=True)
test_evaluator = val_evaluator

# ---- the network: ResNet-18 (BatchNorm without affine), GAP, FC, BN (no affine) ->
# 128-d unit vector; canonical-pose MLP on the embedding; MCSS loss (hardest in-batch
# negative, margin 0.6, beta 0.3 bone lengths)
model = dict(
    type='MCSSEmbedder',
    backbone=dict(type='ResNet', depth=18),      # norm_cfg defaults to BN(affine=False)
    embedding_dim=128,
    embedding_bn=True,     # False: FC -> L2 norm (collapses onto a point on short runs)
    canonical_head=dict(num_joints=15, hidden=(256,)),
    loss=dict(type='MCSSContrastiveLoss', margin=0.6, beta=0.3, form='triplet',
              pose_unit='bone'),
    canonical_loss_weight=1.0,
    detach_head=False,
    data_preprocessor=dict(type='PairDataPreprocessor'),   # ImageNet mean / std
)

# ---- schedule
max_iters = 1200
train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=300)
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
    checkpoint=dict(interval=300, by_epoch=False, save_best='retrieval/mean_pa_mpjpe@1',
                    rule='less', max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
