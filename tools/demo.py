"""3D poses from calibrated multi-view images or videos (MultiViewPoseInferencer).

    # your rig: a calibration file and one image folder (or video) per camera
    python tools/demo.py CONFIG CHECKPOINT --calibration calib.json \
        --images cam0=data/img/cam0 cam1=data/img/cam1 cam2=data/img/cam2 [--video]
    python tools/demo.py CONFIG CHECKPOINT --calibration calib.json \
        --videos cam0=cam0.mp4 cam1=cam1.mp4 cam2=cam2.mp4 --frames 100
    # heatmap-input models (no heatmap_net_2d) read the 2D poses of a pseudo-label file
    python tools/demo.py configs/selfpose3d_custom_rig.py CKPT --calibration calib.json \
        --images ... --pseudo-labels pseudo_labels.json
    # a split of the config's own dataset (e.g. the rendered synthetic world)
    python tools/demo.py configs/selfpose3d_synthetic_images.py CKPT --dataset-split test

Writes to --out-dir: poses3d.json, poses3d.npz (schemas: selfpose3d_mm/io/
predictions.py), vis/<frame>_views.jpg and vis/<frame>_3d.jpg, poses3d.mp4 (--video).
"""
import argparse
import time

from mmengine.config import DictAction


def _view_map(items, flag):
    out = {}
    for item in items or []:
        view, sep, path = item.partition('=')
        if not sep or not view or not path:
            raise SystemExit(f'tools/demo.py: {flag} takes VIEW=PATH items, got {item!r}')
        if view in out:
            raise SystemExit(f'tools/demo.py: {flag}: view {view!r} given twice')
        out[view] = path
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Multi-view 3D pose demo')
    p.add_argument('config', help='model config file')
    p.add_argument('checkpoint', help='checkpoint file')
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--images', nargs='+', metavar='VIEW=DIR',
                     help='one image folder (or {frame} template) per camera')
    src.add_argument('--videos', nargs='+', metavar='VIEW=FILE', help='one video per camera')
    src.add_argument('--dataset-split', choices=['test', 'val', 'train'],
                     help="a split of the config's dataset instead of a rig")
    src.add_argument('--pseudo-labels-only', action='store_true',
                     help='heatmap-input models: the frames of --pseudo-labels, no images')
    p.add_argument('--calibration', help='calibration file (rig, Panoptic, Shelf/Campus, '
                   'OpenCV YAML); required with --images/--videos')
    p.add_argument('--calibration-format', choices=['rig', 'panoptic', 'shelf_campus',
                                                    'opencv'], help='default: guessed')
    p.add_argument('--image-size', type=int, nargs=2, metavar=('W', 'H'),
                   help='image size of Shelf/Campus calibration files (they lack it)')
    p.add_argument('--pseudo-labels', help='pseudo-label file (heatmap-input models)')
    p.add_argument('--out-dir', default='work_dirs/demo', help='output folder')
    p.add_argument('--frames', type=int, help='only the first N frames')
    p.add_argument('--device', default=None, help="'cpu', 'cuda', 'cuda:0' (default: "
                   'CUDA when available)')
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--score-thr', type=float, default=None,
                   help='keep persons with root score > this (default: the model\'s, 0.3)')
    p.add_argument('--video', action='store_true', help='also write poses3d.mp4')
    p.add_argument('--fps', type=float, default=10.0, help='frame rate of the video')
    p.add_argument('--no-pictures', action='store_true', help='no per-frame pictures')
    p.add_argument('--vis-scale', type=float, default=0.4, help='scale of the view pictures')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override config settings, key=value')
    args = p.parse_args(argv)
    if (args.images or args.videos or args.pseudo_labels_only) and not args.calibration:
        p.error('--calibration is required with --images / --videos / --pseudo-labels-only')
    if args.pseudo_labels_only and not args.pseudo_labels:
        p.error('--pseudo-labels-only needs --pseudo-labels')
    if args.dataset_split and (args.calibration or args.pseudo_labels):
        p.error('--dataset-split reads the config\'s dataset: no --calibration or '
                '--pseudo-labels')
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config

    from selfpose3d_mm.apis import MultiViewPoseInferencer

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    t0 = time.perf_counter()
    inferencer = MultiViewPoseInferencer(cfg, args.checkpoint, device=args.device)
    t_init = time.perf_counter() - t0
    if args.dataset_split:
        inputs = args.dataset_split
    else:
        inputs = dict(calibration=args.calibration, pseudo_labels=args.pseudo_labels,
                      calibration_format=args.calibration_format,
                      calibration_kwargs=dict(image_size=tuple(args.image_size))
                      if args.image_size else None,
                      images=_view_map(args.images, '--images') or None,
                      videos=_view_map(args.videos, '--videos') or None)
    gen = inferencer(inputs, out_dir=args.out_dir, batch_size=args.batch_size,
                     max_frames=args.frames, score_thr=args.score_thr,
                     draw=not args.no_pictures, video=args.video, fps=args.fps,
                     vis_scale=args.vis_scale)
    n, t_start, totals = 0, time.perf_counter(), dict(load=0.0, forward=0.0, draw=0.0)
    for r in gen:
        n += 1
        for k in totals:
            totals[k] += r['time'][k]
        t = r['time']
        print(f'[{r["index"]}] {r["frame_id"]}: {len(r["scores"])} persons '
              f'(scores {[round(float(s), 2) for s in r["scores"]]}); load '
              f'{t["load"]:.2f} s, forward {t["forward"]:.2f} s, draw {t["draw"]:.2f} s',
              flush=True)
    wall = time.perf_counter() - t_start
    out = inferencer.last_outputs
    print(f'model built in {t_init:.1f} s; {n} frames in {wall:.1f} s '
          f'({wall / max(n, 1):.2f} s/frame: load {totals["load"] / max(n, 1):.2f}, '
          f'forward {totals["forward"] / max(n, 1):.2f}, draw '
          f'{totals["draw"] / max(n, 1):.2f})')
    for k, v in out.items():
        print(f'{k}: {v}')
    return out


if __name__ == '__main__':
    main()
