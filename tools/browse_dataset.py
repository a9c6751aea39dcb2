"""Write pictures of a multi-view dataset's samples, on the real images.

Per sample: ``<out>/<frame>_views.png`` (every view on its image — read from the
sample's ``img_paths``, decoded from the videos, or rendered for the synthetic world —
with its pseudo 2D poses coloured by score, red low to green high, the projected 3D GT
in white, and a legend) and ``<out>/<frame>_scene3d.png`` (capture space, camera
frustums, GT people; grey people are not in the GT, e.g. bystanders outside the space).
Frame ids become file names with ``/`` replaced (``custom_rig/00000012`` →
``custom_rig_00000012``).

    python tools/browse_dataset.py configs/synthetic_world.py --out DIR
    python tools/browse_dataset.py configs/my_studio.py --phase test --out DIR

Datasets that can read images (``with_images``) are built with them on, whatever the
config says (``--no-images``: as configured; grey canvases where a sample has none). A
config's ``linked_settings`` are applied (selfpose3d_mm/apis/config_links.py).
"""
import argparse
import inspect
import os.path as osp
import time

import mmcv
import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.fileio import get
from mmengine.registry import init_default_scope


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Browse a multi-view dataset')
    p.add_argument('config', help='config file')
    p.add_argument('--out', required=True, help='output folder for the PNGs')
    p.add_argument('--phase', default='train', choices=['train', 'val', 'test'])
    p.add_argument('--num', type=int, default=5, help='number of samples')
    p.add_argument('--start', type=int, default=0, help='first sample index')
    p.add_argument('--scale', type=float, default=0.4, help='scale of the view pictures')
    p.add_argument('--no-images', action='store_true',
                   help="keep the dataset's with_images setting (no images forced on)")
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override config settings, e.g. key=value')
    return p.parse_args(argv)


def build_dataset(cfg, phase: str, images: bool):
    """The ``phase`` dataset with an empty pipeline (raw samples: original pixels, all
    people), with ``with_images=True`` when its class takes it and ``images``."""
    from mmpose.registry import DATASETS
    loader = cfg.get(f'{phase}_dataloader')
    if not loader or not loader.get('dataset'):
        raise SystemExit(f'browse_dataset: {cfg.filename} has no {phase}_dataloader.dataset '
                         '(try another --phase)')
    ds_cfg = loader['dataset'].copy()
    ds_cfg['pipeline'] = []
    cls = DATASETS.get(ds_cfg.get('type'))
    if images and cls is not None and 'with_images' in inspect.signature(cls).parameters:
        ds_cfg['with_images'] = True
    try:
        return DATASETS.build(ds_cfg)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f'browse_dataset: {cfg.filename}: {e}') from None


def load_images(info: dict):
    """C RGB images of a sample (``img``, else read from ``img_paths``) or None, and a
    note naming the files that could not be read."""
    if info.get('img') is not None:
        return list(info['img']), ''
    paths = info.get('img_paths')
    if not paths:
        return None, ''
    imgs, missing = [], []
    for path in paths:
        try:
            img = mmcv.imfrombytes(get(path), channel_order='rgb')
        except (FileNotFoundError, OSError):
            img = None
        if img is None:
            missing.append(path)
        imgs.append(img)
    return imgs, (f'cannot read {missing}' if missing else '')


def browse_legend():
    from selfpose3d_mm.visualization import LegendEntry
    return [LegendEntry('pseudo 2D poses (score: red low, green high)', (230, 200, 40),
                        'pose'),
            LegendEntry('3D GT projected', (255, 255, 255), 'input')]


def main(argv=None):
    args = parse_args(argv)
    from selfpose3d_mm.apis import load_config
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    import selfpose3d_mm  # noqa: F401  (registers the components)
    from selfpose3d_mm.visualization import (draw_legend_band, draw_view, montage,
                                             plot_scene_3d, safe_file_stem, save_image)

    dataset = build_dataset(cfg, args.phase, not args.no_images)
    skeleton = dataset.metainfo['skeleton_links']
    end = min(len(dataset), args.start + args.num)
    written = 0
    for idx in range(args.start, end):
        t0 = time.time()
        info = dataset.get_data_info(idx)
        cams = info['cameras']
        J = int(info.get('num_keypoints', dataset.metainfo['num_keypoints']))
        gt = np.asarray(info.get('gt_keypoints_3d', np.zeros((0, J, 3))), np.float64)
        gt_2d = cams.project(torch.from_numpy(gt.reshape(-1, 3)).float())
        gt_2d = gt_2d.numpy().reshape(cams.num_views, *gt.shape[:2], 2)
        imgs, note = load_images(info)
        imgs = imgs or [None] * cams.num_views
        views = []
        for c in range(cams.num_views):
            n = len(info['pseudo_keypoints'][c])
            name = cams.names[c] if cams.names else str(c)
            views.append(draw_view(imgs[c], info['image_sizes'][c], skeleton,
                                   info['pseudo_keypoints'][c],
                                   info['pseudo_keypoint_scores'][c], gt_2d[c],
                                   scale=args.scale,
                                   title=f'{name}: {n} pseudo / {len(gt)} GT'))
        grid = montage(views)
        grid = np.concatenate([grid, draw_legend_band(browse_legend(), grid.shape[1],
                                                      args.scale)], 0)
        frame = str(info.get('frame_id', idx))
        stem = safe_file_stem(frame)
        save_image(grid, osp.join(args.out, f'{stem}_views.png'))
        others = info.get('all_keypoints_3d')
        if others is not None and len(others):
            in_gt = (np.abs(others[:, None] - gt[None]).sum((-1, -2)) < 1e-3).any(1) \
                if len(gt) else np.zeros(len(others), bool)
            others = others[~in_gt]
        scene = plot_scene_3d(cams, skeleton, gt, others, info.get('space_center'),
                              info.get('space_size'), title=frame, people_label='GT person')
        save_image(scene, osp.join(args.out, f'{stem}_scene3d.png'))
        written += 2
        src = 'images' if any(i is not None for i in imgs) else 'no images'
        print(f'[{idx}] {frame}: {len(gt)} GT people, pseudo per view '
              f'{[len(k) for k in info["pseudo_keypoints"]]}, {src}'
              f'{"; " + note if note else ""} ({time.time() - t0:.2f} s)')
    print(f'wrote {written} pictures to {args.out}')


if __name__ == '__main__':
    main()
