# A tiny top-down COCO-17 pose model (ResNet-18 SimpleBaseline, 64 x 128 input, random
# weights) for the tests of tools/pseudo_label.py: it only exercises the mmpose top-down
# inference path (crops, flip test, decoding back to original pixels).
default_scope = 'mmpose'
codec = dict(type='MSRAHeatmap', input_size=(64, 128), heatmap_size=(16, 32), sigma=2)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18),
    head=dict(type='HeatmapHead', in_channels=512, out_channels=17,
              deconv_out_channels=(32, 32, 32), deconv_kernel_sizes=(4, 4, 4),
              loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True),
)
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
# the COCO-17 dataset meta (keypoint names, flip pairs) comes from the dataset class
train_dataloader = dict(dataset=dict(type='CocoDataset'))
test_dataloader = dict(dataset=dict(type='CocoDataset', pipeline=test_pipeline))
