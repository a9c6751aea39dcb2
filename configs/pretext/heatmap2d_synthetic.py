# The image path's 2D heatmap net fine-tuned on a few pseudo-labelled frames of the
# footage the pretexts learned from: the transfer test of docs/pretext.md. The same
# schedule starts from a random init, from the sync+flip backbone or from the MCSS
# backbone (`tools/extract_backbone.py` writes either):
#
#   python tools/train.py configs/pretext/heatmap2d_synthetic.py            # random init
#   python tools/train.py configs/pretext/heatmap2d_synthetic.py --cfg-options \
#       model.heatmap_net_2d.backbone.init_cfg.type=Pretrained \
#       model.heatmap_net_2d.backbone.init_cfg.prefix=backbone. \
#       model.heatmap_net_2d.backbone.init_cfg.checkpoint=work_dirs/sync_flip_synthetic/backbone.pth
#
# Only the first stage of the image path (the 2D net on the pseudo poses, loss_2d_pseudo);
# the 3D networks are not trained here. benchmarks/pretext.py --parts finetune scores the
# result (2D PCK@0.1 on held-out frames; the 3D readout through the generalist).
# CPU-sized: 320 x 192 input, a 128-channel deconvolution head (the image path's is 256),
# 200 frames, 2 epochs; on a GPU keep the image path's head and input size.
_base_ = ['../selfpose3d_synthetic_images.py']

input_size = (320, 192)
heatmap_size = (80, 48)
num_frames = 200                 # pseudo-labelled frames (the N)

# ---- the footage of configs/pretext/*_synthetic.py: a 4-camera ring, 480 x 270 frames,
# 1-3 people walking most of the time; the pseudo poses of the realistic 2D detector
footage = dict(
    num_people=(1, 3),
    outside_prob=0.0,
    body=dict(activity_bias=(0.5, 1.0)),
    rig=dict(type='ring', num_views=4, image_size=(480, 270)),
    frames_per_sequence=50,
    frame_interval=6,
)
train_pipeline = [
    # x0 (resize) and one randomly rotated / zoomed set; photometric noise on the latter
    dict(type='MultiViewRandomAffinePair', input_size=input_size, rot_factor=45.0,
         scale_range=(0.1, 0.35), num_augmented=1),
    dict(type='MultiViewAffine'),
    dict(type='MultiViewRandAugment', num_ops=2, prob=0.5, sets=(1, )),
    dict(type='PackMultiViewInputs', with_gt=False),
]
test_pipeline = [
    dict(type='MultiViewResize', input_size=input_size),
    dict(type='MultiViewAffine'),
    dict(type='PackMultiViewInputs'),
]
train_dataloader = dict(dataset=dict(**footage, num_samples=num_frames,
                                     pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(**footage, num_samples=300, pipeline=test_pipeline))

model = dict(
    input_size=input_size,
    heatmap_size=heatmap_size,
    heatmap_net_2d=dict(
        backbone=dict(type='ResNet', depth=18),
        head=dict(deconv_out_channels=(128, 128, 128))),
)

# ---- one stage: the 2D net on the pseudo poses (no 3D network is trained)
custom_hooks = [dict(type='TrainingStageHook', stages=[
    dict(name='heatmap_net_2d', epochs=2, train=['heatmap_net_2d'], lr=1e-3,
         losses=dict(loss_2d_pseudo=1.0)),
])]
train_cfg = dict(by_epoch=True, max_epochs=2)
val_dataloader = val_cfg = val_evaluator = None   # no 3D validation: the 3D nets are untrained
default_hooks = dict(checkpoint=dict(interval=1, save_best=None, max_keep_ckpts=1))
