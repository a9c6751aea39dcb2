"""Write pictures of a multi-view dataset's samples.

Per sample: ``<out>/<frame>_views.png`` (every view with its pseudo 2D poses coloured by
score — red low, green high — and the projected 3D GT in white; the image itself on the
image path, grey otherwise) and ``<out>/<frame>_scene3d.png`` (capture space, camera
frustums, GT people; grey people are not in the GT, e.g. bystanders outside the space).

    python tools/browse_dataset.py configs/synthetic_world.py --out DIR
"""
import argparse
import os.path as osp
import time

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope


def parse_args():
    p = argparse.ArgumentParser(description='Browse a multi-view dataset')
    p.add_argument('config', help='config file')
    p.add_argument('--out', required=True, help='output folder for the PNGs')
    p.add_argument('--phase', default='train', choices=['train', 'val', 'test'])
    p.add_argument('--num', type=int, default=5, help='number of samples')
    p.add_argument('--start', type=int, default=0, help='first sample index')
    p.add_argument('--scale', type=float, default=0.4, help='scale of the view pictures')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override config settings, e.g. key=value')
    return p.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    import selfpose3d_mm  # noqa: F401  (registers the components)
    from mmpose.registry import DATASETS

    from selfpose3d_mm.visualization import draw_view, montage, plot_scene_3d, save_image

    ds_cfg = cfg[f'{args.phase}_dataloader']['dataset'].copy()
    ds_cfg['pipeline'] = []  # raw samples: original pixels, all people
    dataset = DATASETS.build(ds_cfg)
    skeleton = dataset.metainfo['skeleton_links']
    end = min(len(dataset), args.start + args.num)
    for idx in range(args.start, end):
        t0 = time.time()
        info = dataset.get_data_info(idx)
        cams = info['cameras']
        gt = np.asarray(info.get('gt_keypoints_3d', np.zeros((0, 15, 3))))
        gt_2d = cams.project(torch.from_numpy(gt.reshape(-1, 3)).float())
        gt_2d = gt_2d.numpy().reshape(cams.num_views, *gt.shape[:2], 2)
        imgs = info.get('img') or [None] * cams.num_views
        views = []
        for c in range(cams.num_views):
            n = len(info['pseudo_keypoints'][c])
            name = cams.names[c] if cams.names else str(c)
            views.append(draw_view(imgs[c], info['image_sizes'][c], skeleton,
                                   info['pseudo_keypoints'][c],
                                   info['pseudo_keypoint_scores'][c], gt_2d[c],
                                   scale=args.scale,
                                   title=f'{name}: {n} pseudo / {len(gt)} GT'))
        frame = str(info.get('frame_id', idx))
        save_image(montage(views), osp.join(args.out, f'{frame}_views.png'))
        others = info.get('all_keypoints_3d')
        if others is not None and len(others):
            in_gt = (np.abs(others[:, None] - gt[None]).sum((-1, -2)) < 1e-3).any(1) \
                if len(gt) else np.zeros(len(others), bool)
            others = others[~in_gt]
        scene = plot_scene_3d(cams, skeleton, gt, others, info.get('space_center'),
                              info.get('space_size'), title=frame)
        save_image(scene, osp.join(args.out, f'{frame}_scene3d.png'))
        print(f'[{idx}] {frame}: {len(gt)} GT people, pseudo per view '
              f'{[len(k) for k in info["pseudo_keypoints"]]} ({time.time() - t0:.2f} s)')
    print(f'wrote {2 * (end - args.start)} pictures to {args.out}')


if __name__ == '__main__':
    main()
