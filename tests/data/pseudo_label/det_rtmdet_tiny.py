# A tiny RTMDet person detector for the tests of tools/pseudo_label.py (random weights,
# one class, 160 x 160 input). Not a real detector: it only exercises the mmdet
# inference path (pipeline, batching, rescaling to original pixels).
default_scope = 'mmdet'
norm_cfg = dict(type='BN')
act_cfg = dict(type='SiLU', inplace=True)
model = dict(
    type='RTMDet',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[103.53, 116.28, 123.675],
                           std=[57.375, 57.12, 58.395], bgr_to_rgb=False,
                           batch_augments=None),
    backbone=dict(type='CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor=0.167,
                  widen_factor=0.125, channel_attention=True, norm_cfg=norm_cfg,
                  act_cfg=act_cfg),
    neck=dict(type='CSPNeXtPAFPN', in_channels=[32, 64, 128], out_channels=32,
              num_csp_blocks=1, expand_ratio=0.5, norm_cfg=norm_cfg, act_cfg=act_cfg),
    bbox_head=dict(type='RTMDetSepBNHead', num_classes=1, in_channels=32, stacked_convs=1,
                   feat_channels=32,
                   anchor_generator=dict(type='MlvlPointGenerator', offset=0,
                                         strides=[8, 16, 32]),
                   bbox_coder=dict(type='DistancePointBBoxCoder'),
                   loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0,
                                 loss_weight=1.0),
                   loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
                   with_objectness=False, exp_on_reg=True, share_conv=True,
                   pred_kernel_size=1, norm_cfg=norm_cfg, act_cfg=act_cfg),
    test_cfg=dict(nms_pre=100, min_bbox_size=4, score_thr=0.0,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=3),
)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(160, 160), keep_ratio=True),
    dict(type='Pad', size=(160, 160), pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
test_dataloader = dict(dataset=dict(type='CocoDataset', data_root='', ann_file='',
                                    pipeline=test_pipeline))
