# The randomised synthetic world (heatmap-input mode: no images): every sequence gets a
# rig and a capture space of its own, drawn from (rig_seed, split, sequence), so the
# val/test rigs are held out from training. A rig has 3-8 cameras in one of four layouts
# (ring, half-ring, corner, ceiling) with random positions, heights, tilts, roll, fields
# of view, lens distortion, image sizes and aspect ratios (portrait now and then); a space
# is 3-10 m x 3-10 m x 2 m. 1-5 people per sequence, bystanders outside the space in 30%
# of sequences, a 2D detector with the error statistics of a real one ('realistic').
# Every knob and its default: selfpose3d_mm/datasets/synthetic/{layouts,rig_config}.py;
# docs/synthetic_rigs.md explains the layouts and the named test rigs below.
#
# batch_size=1: frames of different rigs have different numbers of views, which
# multiview_collate cannot batch (it raises); with a single num_views, e.g. (5, 5), larger
# batches work. Images of any size and aspect ratio are letterboxed into input_size by
# MultiViewResize / MultiViewRandomAffinePair. Each sample carries its own space_center /
# space_size: a model reads it with root_head.space_from='frame' (one space per batch,
# another reason for batch_size=1); with space_from='config' its root cube stays fixed.
dataset_type = 'SyntheticMultiViewDataset'
space_center = (0.0, 0.0, 800.0)    # fills the entries the rig's space leaves None
space_size = (6000.0, 6000.0, 2000.0)
input_size = (480, 256)  # network input (w, h); small enough for 2 CPU cores

random_rigs = dict(
    type='random',
    num_views=(3, 8),
    layouts=('ring', 'half_ring', 'corner', 'ceiling'),
    layout_weights=None,  # uniform
    space_size=((3000.0, 10000.0), (3000.0, 10000.0), 2000.0),
    space_center=None,    # the dataset's
    knobs=None,           # lens / sensor knobs of every layout
    layout_knobs=None,    # {layout: knobs}
)

world = dict(
    type=dataset_type,
    space_center=space_center,
    space_size=space_size,
    num_people=(1, 5),
    outside_prob=0.3,
    max_outside=2,
    rig=random_rigs,
    rig_seed=0,
    frames_per_sequence=10,  # 10 frames per rig: 200 rigs in 2000 training frames
    body=dict(),      # PeopleSequence knobs
    pseudo2d=dict(profile='realistic'),  # a real detector's error statistics
    with_images=False,
)

# the three named test rigs, each with its own capture space (a named layout's space
# overrides the dataset's); rig_seed picks the draw of each
named_layout_worlds = {
    name: {**world, 'rig': dict(type='layout', name=name), 'frames_per_sequence': 50}
    for name in ('studio_ring5', 'outdoor3', 'dome8')}

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
    batch_size=1,  # rigs differ in their number of views (see above)
    num_workers=1,
    persistent_workers=True,
    # each sample's augmentation is a function of (seed, epoch, index): exact resume
    sampler=dict(type='EpochSeededSampler', shuffle=True),
    worker_init_fn=dict(type='multiview_worker_init_fn'),  # workers die with the trainer
    collate_fn=dict(type='multiview_collate'),
    dataset=dict(**world, split='train', seed=0, num_samples=2000,
                 pipeline=selfsup_train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    worker_init_fn=dict(type='multiview_worker_init_fn'),
    collate_fn=dict(type='multiview_collate'),
    dataset=dict(**world, split='val', seed=0, num_samples=200, test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    worker_init_fn=dict(type='multiview_worker_init_fn'),
    collate_fn=dict(type='multiview_collate'),
    dataset=dict(**world, split='test', seed=0, num_samples=500, test_mode=True,
                 pipeline=test_pipeline))
