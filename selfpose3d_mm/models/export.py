"""The 3D stages of a trained :class:`SelfPose3D` for one FIXED rig, as plain modules
that TorchScript (``torch.jit.trace``) and ONNX (``torch.onnx.export``) can take.

The rig's cameras and the un-augmented view-set's affines (keep-aspect resize to the
network input, then input → heatmap pixels: what the test pipeline and the data
preprocessor give every frame) become constants: the whole-space sampling grid of the
root volume is computed once here and held as a buffer, and the person cubes are
projected through the rig held by the module. Every output equals the one of the
model's own stages (``SelfPose3D._detect`` / ``pose_from_proposals``), to float
rounding; ``docs/export.md`` says what is exported and how.

=================  ==============================================  ==========================
module             inputs                                          outputs
=================  ==============================================  ==========================
RootStage          heatmaps (B, C, J, h, w)                        root_volume (B, X, Y, Z),
                                                                   centers (B, K, 3) mm,
                                                                   scores (B, K)
PoseStage          heatmaps (B, C, J, h, w), centers (B, K, 3)     joints (B, K, J, 3) mm
HeatmapModel       heatmaps (B, C, J, h, w)                        centers, scores, joints
Poses2dModel       keypoints (B, C, P, J, 2) original image px,    centers, scores, joints
                   keypoint_scores (B, C, P, J),
                   keypoint_visible (B, C, P, J)
ImagesModel        images (B, C, 3, H, W) RGB 0-255, each view     centers, scores, joints
                   already resized to the network input (H, W)
=================  ==============================================  ==========================

All K = ``max_proposals`` proposals come out, sorted by score; the model's threshold
(``test_cfg.threshold``, else the root head's) selects the detected persons downstream,
as ``SelfPose3D.predict`` does.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from selfpose3d_mm.geometry import (MultiViewCameras, apply_affine, compose_affine,
                                    heatmap_affine, make_voxel_grid, projection_sampling_grid,
                                    render_gaussian_heatmaps, resize_affine, sample_views,
                                    unproject_heatmaps)

__all__ = ['rig_input_affines', 'rig_heatmap_affines', 'RootStage', 'PoseStage',
           'HeatmapModel', 'Poses2dModel', 'ImagesModel', 'build_export_modules']


def rig_input_affines(cameras: MultiViewCameras, input_size: Sequence[int]) -> Tensor:
    """(C, 2, 3) original pixel → network-input pixel of the un-augmented view-set: the
    test pipeline's keep-aspect ``MultiViewResize`` (computed in float64, kept float32)."""
    if len(cameras.batch_shape):
        raise ValueError('an export takes one fixed (unbatched) rig')
    return resize_affine(cameras.image_size.detach().cpu().double(), input_size).float()


def rig_heatmap_affines(cameras: MultiViewCameras, input_size: Sequence[int],
                        heatmap_size: Sequence[int]) -> Tensor:
    """(C, 2, 3) original pixel → heatmap pixel: :func:`rig_input_affines` composed with
    the data preprocessor's input → heatmap affine, as a test batch carries it."""
    to_input = rig_input_affines(cameras, input_size)
    to_heatmap = heatmap_affine(input_size, heatmap_size).expand_as(to_input)
    return compose_affine(to_heatmap, to_input).to(cameras.device)


class _FixedRig(nn.Module):
    """The rig (cameras + heatmap affines) of an export, on the model's device.

    The cameras are constants of the exported graph (a camera structure held by the
    module, moved by ``.to()``); the distortion model's validity limit is computed once
    here, before any tracing (it is found with numpy, which no exporter traces)."""

    def __init__(self, model, cameras: MultiViewCameras):
        super().__init__()
        device = next(model.parameters()).device
        self.cameras = self._ready(cameras.to(device=device, dtype=torch.float32).clone())
        self.register_buffer('affines', rig_heatmap_affines(self.cameras, model.input_size,
                                                            model.heatmap_size))
        self.register_buffer('input_affines',
                             rig_input_affines(self.cameras, model.input_size).to(device))
        self.register_buffer('to_heatmap', heatmap_affine(model.input_size,
                                                          model.heatmap_size, device=device))
        self.input_size = tuple(model.input_size)  # (w, h)
        self.heatmap_size = tuple(model.heatmap_size)
        self.num_views = self.cameras.num_views

    @staticmethod
    def _ready(cams: MultiViewCameras) -> MultiViewCameras:
        cams.project(cams.t.new_zeros(1, 1, 3))  # computes and keeps the limit
        return cams

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        self.cameras = self._ready(self.cameras.to(self.affines.device))
        return self


class RootStage(nn.Module):
    """Heatmaps → whole-space root volume (precomputed sampling grid) → root net →
    top-K proposals (3D max-pool NMS)."""

    def __init__(self, model, rig: _FixedRig):
        super().__init__()
        self.rig, self.root_head = rig, model.root_head
        self.num_joints = model.num_joints
        lo = 0 if model.root_channels == 'all' else model.root_index
        self.channels = (lo, lo + model.root_head.in_channels)
        pts = model.root_grid.points(rig.affines.device)[None]
        grid, mask = projection_sampling_grid(rig.cameras, rig.affines[None], pts,
                                              rig.heatmap_size)
        self.register_buffer('root_grid', grid[0].contiguous())   # (C, M, 2)
        self.register_buffer('root_mask', mask[0].contiguous())   # (C, M)

    def volume(self, heatmaps: Tensor) -> Tensor:
        B = heatmaps.shape[0]
        x = heatmaps[:, :, self.channels[0]:self.channels[1]]
        vol = sample_views(x, self.root_grid.expand(B, -1, -1, -1),
                           self.root_mask.expand(B, -1, -1))
        return self.root_head(vol.reshape(B, x.shape[2], *self.root_head.cube_shape))

    def forward(self, heatmaps: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        root = self.volume(heatmaps)
        centers, scores = self.root_head.decode(root)
        return root, centers, scores


class PoseStage(nn.Module):
    """Heatmaps + proposal centres → per-proposal cubes (projected through the fixed rig)
    → pose net → soft-argmax joints. ``block_voxels``: see ``unproject_heatmaps`` (None:
    one block, a graph without a loop)."""

    def __init__(self, model, rig: _FixedRig, block_voxels: Optional[int] = None):
        super().__init__()
        self.rig, self.pose_head = rig, model.pose_head
        self.num_joints = model.num_joints
        self.block_voxels = block_voxels

    def forward(self, heatmaps: Tensor, centers: Tensor) -> Tensor:
        B, K = centers.shape[:2]
        head = self.pose_head
        grids = make_voxel_grid(centers, head.cube_size, head.cube_shape)  # (B, K, X, Y, Z, 3)
        block = self.block_voxels or K * grids[0, 0].numel() // 3
        vols = unproject_heatmaps(heatmaps, self.rig.cameras,
                                  self.rig.affines.expand(B, -1, -1, -1), grids, block)
        joints = head(vols.flatten(0, 1), grids.flatten(0, 1))
        return joints.reshape(B, K, self.num_joints, 3)


class HeatmapModel(nn.Module):
    """Heatmaps → proposals → joints of every proposal."""

    def __init__(self, root: RootStage, pose: PoseStage):
        super().__init__()
        self.root, self.pose = root, pose

    def forward(self, heatmaps: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        _, centers, scores = self.root(heatmaps)
        return centers, scores, self.pose(heatmaps, centers)


class Poses2dModel(nn.Module):
    """The heatmap-input model from 2D poses: each view's keypoints (original image
    pixels, P persons padded with ``keypoint_visible = 0``) taken to the network input
    (a keypoint outside it is not drawn, as ``MultiViewAffine`` marks it) and to heatmap
    pixels, rendered as the model renders them (``heatmap_input``: sigma, peak = score,
    minimum score), then :class:`HeatmapModel`."""

    def __init__(self, model, heatmap_model: HeatmapModel):
        super().__init__()
        self.model = heatmap_model
        self.render = dict(model.heatmap_input)

    def forward(self, keypoints: Tensor, keypoint_scores: Tensor, keypoint_visible: Tensor
                ) -> Tuple[Tensor, Tensor, Tensor]:
        rig = self.model.root.rig
        kp = apply_affine(keypoints, rig.input_affines[:, None])  # per view: (C, 1, 2, 3)
        size = kp.new_tensor(rig.input_size)
        inside = ((kp >= 0) & (kp < size)).all(-1)
        kp = apply_affine(kp, rig.to_heatmap)
        cfg = self.render
        vis = (keypoint_visible > 0) & inside & (keypoint_scores > 0) \
            & (keypoint_scores > cfg['min_score'])
        amp = keypoint_scores.clamp(0, 1) if cfg['use_scores'] else None
        hm = render_gaussian_heatmaps(kp, vis, rig.heatmap_size, cfg['sigma'], amp)
        return self.model(hm)


class ImagesModel(nn.Module):
    """The image-path model: every view's RGB image (0-255, warped to the network input
    by the rig's resize, ``cv2.warpAffine`` with the manifest's ``input_affines``),
    normalised as the data preprocessor does, the 2D heatmap net, then
    :class:`HeatmapModel`."""

    def __init__(self, model, heatmap_model: HeatmapModel):
        super().__init__()
        self.model = heatmap_model
        self.backbone, self.head_2d = model.backbone, model.head_2d
        pre = model.data_preprocessor
        self.register_buffer('mean', pre.mean.detach().clone())
        self.register_buffer('std', pre.std.detach().clone())

    def forward(self, images: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        x = (images.float() - self.mean) / self.std
        hm = self.head_2d.forward(self.backbone(x.flatten(0, 1)))
        return self.model(hm.view(*images.shape[:2], *hm.shape[1:]))


def build_export_modules(model, cameras: MultiViewCameras,
                         block_voxels: Optional[int] = None) -> dict:
    """``{'root_stage', 'pose_stage', 'model_heatmaps', + 'model_poses2d' or
    'model_images'}`` of a ``SelfPose3D`` for ``cameras`` (one rig), in eval mode on the
    model's device: the 2D-pose front end for heatmap-input models, the image front end
    for image-path models (``heatmap_net_2d`` set)."""
    model.eval()
    rig = _FixedRig(model, cameras)
    root = RootStage(model, rig)
    pose = PoseStage(model, rig, block_voxels)
    full = HeatmapModel(root, pose)
    out = dict(root_stage=root, pose_stage=pose, model_heatmaps=full)
    if model.with_heatmap_net:
        out['model_images'] = ImagesModel(model, full)
    else:
        out['model_poses2d'] = Poses2dModel(model, full)
    return {k: m.eval() for k, m in out.items()}
