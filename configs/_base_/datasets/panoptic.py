# CMU Panoptic, VoxelPose's protocol (docs/method.md#panoptic): 5 HD cameras, body files sampled
# every 3rd (train) / 12th (validation) file, images at 960 x 512 input.
#   <data_root>/<sequence>/calibration_<sequence>.json
#   <data_root>/<sequence>/hdPose3d_stage1_coco19/body3DScene_%08d.json
#   <data_root>/<sequence>/hdImgs/00_XX/00_XX_%08d.jpg
# The frame index is cached under <data_root>/.selfpose3d_cache/ (cache_dir).
dataset_type = 'PanopticMultiViewDataset'
data_root = 'data/panoptic'
cameras = ['00_03', '00_06', '00_12', '00_13', '00_23']
# VoxelPose's training sequences (SelfPose3d trains on the first nine: without band3)
train_sequences = ['160422_ultimatum1', '160224_haggling1', '160226_haggling1',
                   '161202_haggling1', '160906_ian1', '160906_ian2', '160906_ian3',
                   '160906_band1', '160906_band2', '160906_band3']
val_sequences = ['160906_pizza1', '160422_haggling1', '160906_ian5', '160906_band4']
space_center = (0.0, -500.0, 800.0)
space_size = (8000.0, 8000.0, 2000.0)
input_size = (960, 512)

panoptic = dict(type=dataset_type, data_root=data_root, cameras=cameras,
                space_center=space_center, space_size=space_size, with_images=True)
train_pipeline = [
    dict(type='LoadMultiViewImages'),
    dict(type='MultiViewResize', input_size=input_size),
    dict(type='MultiViewAffine'),
    dict(type='PackMultiViewInputs'),
]
test_pipeline = train_pipeline
train_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='EpochSeededSampler', shuffle=True),
    worker_init_fn=dict(type='multiview_worker_init_fn'),
    collate_fn=dict(type='multiview_collate'),
    dataset=dict(**panoptic, sequences=train_sequences, interval=3,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    worker_init_fn=dict(type='multiview_worker_init_fn'),
    collate_fn=dict(type='multiview_collate'),
    dataset=dict(**panoptic, sequences=val_sequences, interval=12, test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
