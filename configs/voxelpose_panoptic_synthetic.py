# The paper-scale VoxelPose network of configs/voxelpose_panoptic.py on the synthetic
# world laid out like the Panoptic dome (same space, 5 HD views at 1920 x 1080, rendered
# images), so the paper-scale model is buildable, trainable and benchmarkable without the
# dataset (benchmarks/paper_scale.py). Heavy: meant for a GPU.
_base_ = ['./voxelpose_panoptic.py']

input_size = {{_base_.input_size}}
world = dict(
    type='SyntheticMultiViewDataset',
    space_center={{_base_.space_center}},
    space_size={{_base_.space_size}},
    num_people=(1, 7),
    outside_prob=0.3,
    rig=dict(type='ring', num_views=5, image_size=(1920, 1080)),
    with_images=True,
)
train_pipeline = [  # rendered images: nothing to load
    dict(type='MultiViewResize', input_size=input_size),
    dict(type='MultiViewAffine'),
    dict(type='PackMultiViewInputs'),
]
test_pipeline = train_pipeline
train_dataloader = dict(dataset=dict(
    _delete_=True, **world, split='train', seed=0, num_samples=20000,
    pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    _delete_=True, **world, split='val', seed=0, num_samples=500, test_mode=True,
    pipeline=test_pipeline))
test_dataloader = val_dataloader
