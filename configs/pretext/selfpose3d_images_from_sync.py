# The image-path SelfPose3d (configs/selfpose3d_synthetic_images.py) starting from the
# backbone the synchronisation + flip pretext learned, instead of a random init: both
# ResNet-18s of the image path, the 2D heatmap net's and the soft attention net's, load it
# through mmengine's `Pretrained` init (applied by the Runner's init_weights; the heads
# keep their own init). The same schedule as the base config.
#
#   python tools/train.py configs/pretext/sync_flip_synthetic.py
#   python tools/extract_backbone.py work_dirs/sync_flip_synthetic/iter_1000.pth \
#       work_dirs/sync_flip_synthetic/backbone.pth
#   python tools/train.py configs/pretext/selfpose3d_images_from_sync.py
#
# Other checkpoint: --cfg-options pretrained_backbone=PATH does not reach the init_cfgs
# below (mmengine copies the variable when this file is parsed): give the two paths,
#   --cfg-options model.heatmap_net_2d.backbone.init_cfg.checkpoint=PATH \
#                 model.objective.attention_net.init_cfg.checkpoint=PATH
# The load_from way instead (one partial checkpoint of the whole model, loaded
# non-strictly):
#   python tools/extract_backbone.py CKPT both.pth \
#       --into backbone. objective.attention_net.backbone.
#   python tools/train.py configs/selfpose3d_synthetic_images.py --cfg-options load_from=both.pth
_base_ = ['../selfpose3d_synthetic_images.py']

pretrained_backbone = 'work_dirs/sync_flip_synthetic/backbone.pth'

model = dict(
    # the 2D heatmap net's ResNet: the file's `backbone.*` entries, prefix removed
    heatmap_net_2d=dict(backbone=dict(init_cfg=dict(
        type='Pretrained', checkpoint=pretrained_backbone, prefix='backbone.'))),
    # the attention net's own ResNet is its `backbone`: the file loads as it is (its
    # HeatmapHead is not in the file and keeps its init)
    objective=dict(attention_net=dict(init_cfg=dict(
        type='Pretrained', checkpoint=pretrained_backbone))),
)
