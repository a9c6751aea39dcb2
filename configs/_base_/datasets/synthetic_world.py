# The embedded synthetic multi-view world (heatmap-input mode: no images).
# A generated 5-camera studio ring around a 6 x 6 x 2 m capture space; 1-5 people per
# sequence, bystanders outside the space in 30% of sequences, a 2D detector with the error
# statistics of a real one (profile 'realistic')
# (selfpose3d_mm/datasets/synthetic/pseudo2d.py documents every knob and its default).
dataset_type = 'SyntheticMultiViewDataset'
space_center = (0.0, 0.0, 800.0)
space_size = (6000.0, 6000.0, 2000.0)
input_size = (480, 256)  # network input (w, h); small enough for 2 CPU cores

world = dict(
    type=dataset_type,
    space_center=space_center,
    space_size=space_size,
    num_people=(1, 5),
    outside_prob=0.3,
    max_outside=2,
    rig=dict(type='ring', num_views=5, image_size=(1920, 1080)),
    rig_seed=0,
    body=dict(),      # PeopleSequence knobs
    pseudo2d=dict(profile='realistic'),  # a real detector's error statistics
    with_images=False,
)

# self-supervised training: x0 + two random affine view-sets, no 3D GT in the samples
selfsup_train_pipeline = [
    dict(type='MultiViewRandomAffinePair', input_size=input_size, rot_factor=45.0,
         scale_range=(0.1, 0.35)),
    dict(type='MultiViewAffine'),
    dict(type='PackMultiViewInputs', with_gt=False),
]
test_pipeline = [
    dict(type='MultiViewResize', input_size=input_size),
    dict(type='MultiViewAffine'),
    dict(type='PackMultiViewInputs'),
]

train_dataloader = dict(
    batch_size=2,
    num_workers=1,
    persistent_workers=True,
    # each sample's augmentation is a function of (seed, epoch, index): exact resume
    sampler=dict(type='EpochSeededSampler', shuffle=True),
    worker_init_fn=dict(type='multiview_worker_init_fn'),  # workers die with the trainer
    collate_fn=dict(type='multiview_collate'),
    dataset=dict(**world, split='train', seed=0, num_samples=2000,
                 pipeline=selfsup_train_pipeline))
val_dataloader = dict(
    batch_size=2,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    worker_init_fn=dict(type='multiview_worker_init_fn'),
    collate_fn=dict(type='multiview_collate'),
    dataset=dict(**world, split='val', seed=0, num_samples=200, test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=2,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    worker_init_fn=dict(type='multiview_worker_init_fn'),
    collate_fn=dict(type='multiview_collate'),
    dataset=dict(**world, split='test', seed=0, num_samples=500, test_mode=True,
                 pipeline=test_pipeline))
