"""3D poses from calibrated multi-view images or videos (MultiViewPoseInferencer), by any
method: a learned model (CONFIG CHECKPOINT), with refinement (--refine; the main job's
config and those based on it refine unless --no-refine), or the
triangulation baseline (no checkpoint).

    # your rig: a calibration file and one image folder (or video) per camera
    python tools/demo.py CONFIG CHECKPOINT --calibration calib.json \
        --images cam0=data/img/cam0 cam1=data/img/cam1 cam2=data/img/cam2 [--video]
    python tools/demo.py CONFIG CHECKPOINT --calibration calib.json \
        --videos cam0=cam0.mp4 cam1=cam1.mp4 cam2=cam2.mp4 --frames 100
    # heatmap-input models (no heatmap_net_2d) read the 2D poses of a pseudo-label file
    python tools/demo.py configs/selfpose3d_custom_rig.py CKPT --calibration calib.json \
        --images ... --pseudo-labels pseudo_labels.json [--no-refine]
    # a model that ships with the package (trained on many random rigs): no training
    python tools/demo.py --model generalist --calibration calib.json \
        --pseudo-labels pseudo_labels.json --space-center X Y Z --space-size X Y Z
    # the triangulation baseline: a config without checkpoint, or no config at all
    python tools/demo.py configs/triangulation_synthetic.py --calibration calib.json \
        --pseudo-labels pseudo_labels.json [--images ...]
    python tools/demo.py --method triangulation --calibration calib.json \
        --pseudo-labels pseudo_labels.json [--space-center X Y Z --space-size X Y Z]
    # a split of the config's own dataset (e.g. the rendered synthetic world)
    python tools/demo.py configs/selfpose3d_synthetic_images.py CKPT --dataset-split test

Without --images/--videos the frames are those of --pseudo-labels (no pictures of the
images: grey canvases). Writes to --out-dir: poses3d.json, poses3d.npz (schemas:
selfpose3d_mm/io/predictions.py), vis/<frame>_views.jpg and vis/<frame>_3d.jpg,
poses3d.mp4 (--video). docs/demo.md describes the pictures.
"""
import argparse
import copy
import os.path as osp
import time

from mmengine.config import DictAction

from selfpose3d_mm.io.calibration import CALIBRATION_FORMATS
from selfpose3d_mm.model_zoo import PRETRAINED_MODELS
from selfpose3d_mm.utils.cli import parse_view_map


def _view_map(items, flag):
    return parse_view_map(items, flag, 'tools/demo.py')


METHODS = ('triangulation', )


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Multi-view 3D pose demo')
    p.add_argument('config', nargs='?', help='model config file (or --method)')
    p.add_argument('checkpoint', nargs='?', help='checkpoint file (not needed by the '
                   'triangulation baseline)')
    p.add_argument('--method', choices=METHODS, help='a method that needs no config or '
                   'checkpoint, instead of CONFIG')
    p.add_argument('--model', choices=sorted(PRETRAINED_MODELS),
                   help='a model that ships with the package, instead of CONFIG and '
                   'CHECKPOINT (generalist: trained on many random rigs, needs no training '
                   'on yours; docs/generalist.md); a CHECKPOINT after it replaces its weights')
    ref = p.add_mutually_exclusive_group()
    ref.add_argument('--refine', action='store_true', help='refine the learned model\'s 3D '
                     'poses with the 2D poses (model.test_cfg.refine = dict(); needs '
                     '--pseudo-labels with a rig); the main job\'s config and those based '
                     'on it refine already')
    ref.add_argument('--no-refine', action='store_true', help='the learned model\'s own 3D '
                     'poses, even where its config refines them')
    src = p.add_mutually_exclusive_group()
    src.add_argument('--images', nargs='+', metavar='VIEW=DIR',
                     help='one image folder (or {frame} template) per camera')
    src.add_argument('--videos', nargs='+', metavar='VIEW=FILE', help='one video per camera')
    src.add_argument('--dataset-split', choices=['test', 'val', 'train'],
                     help="a split of the config's dataset instead of a rig")
    src.add_argument('--pseudo-labels-only', action='store_true',
                     help='heatmap-input models: the frames of --pseudo-labels, no images')
    p.add_argument('--calibration', help='calibration file (rig, Panoptic, Shelf/Campus, '
                   'OpenCV YAML); required with --images/--videos')
    p.add_argument('--calibration-format', choices=list(CALIBRATION_FORMATS),
                   help='default: guessed (docs/calibration.md)')
    p.add_argument('--image-size', type=int, nargs=2, metavar=('W', 'H'),
                   help='image size of Shelf/Campus calibration files (they lack it)')
    p.add_argument('--pseudo-labels', help='pseudo-label file (heatmap-input models, '
                   'triangulation, --refine)')
    p.add_argument('--space-center', type=float, nargs=3, metavar=('X', 'Y', 'Z'),
                   help='capture space of the rig, mm (tools/estimate_space.py); default: '
                   "the config's, else the network's cube (triangulation: estimated)")
    p.add_argument('--space-size', type=float, nargs=3, metavar=('X', 'Y', 'Z'))
    p.add_argument('--out-dir', default='work_dirs/demo', help='output folder')
    p.add_argument('--frames', type=int, help='only the first N frames')
    p.add_argument('--device', default=None, help="'cpu', 'cuda', 'cuda:0' (default: "
                   'CUDA when available)')
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--score-thr', type=float, default=None,
                   help='keep persons with score > this (default: a learned model\'s '
                   'threshold, 0.3; with --refine: filters the refined people\'s '
                   'evidence scores; triangulation: all)')
    p.add_argument('--video', action='store_true', help='also write poses3d.mp4')
    p.add_argument('--fps', type=float, default=10.0, help='frame rate of the video')
    p.add_argument('--no-pictures', action='store_true', help='no per-frame pictures')
    p.add_argument('--vis-scale', type=float, default=0.4, help='scale of the view pictures')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override config settings, key=value')
    args = p.parse_args(argv)
    if args.config in METHODS and not args.method and not osp.isfile(args.config):
        args.method, args.config = args.config, None  # `demo.py triangulation ...`
    if args.model:
        if args.method:
            p.error('give --model or --method, not both')
        if args.config and args.checkpoint:
            p.error(f'--model {args.model} takes no CONFIG (got {args.config!r})')
        args.checkpoint = args.checkpoint or args.config  # `--model NAME [CHECKPOINT]`
        args.config = None
    if args.method and args.checkpoint:
        p.error(f'--method {args.method} takes no CONFIG or CHECKPOINT')
    if args.method and args.config:
        p.error(f'--method {args.method} takes no CONFIG (got {args.config!r})')
    if not (args.method or args.config or args.model):
        p.error('give a CONFIG [CHECKPOINT], --model generalist or --method triangulation')
    if not (args.images or args.videos or args.dataset_split or args.pseudo_labels):
        p.error('give the frames: --images, --videos, --pseudo-labels (its frames) or '
                '--dataset-split')
    if not args.dataset_split and not args.calibration:
        p.error('--calibration is required with --images / --videos / --pseudo-labels')
    if args.pseudo_labels_only and not args.pseudo_labels:
        p.error('--pseudo-labels-only needs --pseudo-labels')
    if (args.space_center is None) != (args.space_size is None):
        p.error('give both --space-center and --space-size, or neither')
    if args.dataset_split and (args.calibration or args.pseudo_labels or args.space_center):
        p.error('--dataset-split reads the config\'s dataset: no --calibration, '
                '--pseudo-labels or --space-*')
    return args


def build_inferencer(args):
    """The inferencer of ``args`` (config + cfg-options + links, or --method); a learned
    model needs its checkpoint."""
    from mmengine.config import Config

    from selfpose3d_mm.apis import (METHOD_ALIASES, MultiViewPoseInferencer, load_config,
                                    named_model_config)

    if args.method:
        cfg = Config(copy.deepcopy(METHOD_ALIASES[args.method]))
        cfg.merge_from_dict(args.cfg_options)
    elif args.model:
        cfg, weights = named_model_config(args.model, args.cfg_options)  # predicts only
        args.checkpoint = args.checkpoint or weights
    else:
        if not osp.isfile(args.config):
            raise SystemExit(f'tools/demo.py: config file not found: {args.config} (the '
                             'triangulation baseline without a config: --method '
                             'triangulation)')
        cfg = load_config(args.config, args.cfg_options)
    inferencer = MultiViewPoseInferencer(cfg, args.checkpoint, device=args.device)
    if args.method:
        inferencer.config_path = f'--method {args.method}'
    elif args.model:
        inferencer.config_path = f'--model {args.model}'
        inferencer.model_name = args.model
    n_params = sum(p.numel() for p in inferencer.model.parameters())
    if args.checkpoint is None and n_params:
        raise SystemExit(
            f'tools/demo.py: no CHECKPOINT given, but the model of {args.config} '
            f'({type(inferencer.model).__name__}) has {n_params} parameters; pass its '
            'checkpoint (only parameter-free models, e.g. the triangulation baseline, run '
            'without one)')
    return inferencer


def main(argv=None):
    args = parse_args(argv)
    user_errors = (FileNotFoundError, ValueError)  # calibration, labels, images...
    t0 = time.perf_counter()
    try:
        inferencer = build_inferencer(args)
    except user_errors as e:
        raise SystemExit(f'tools/demo.py: {e}') from None
    t_init = time.perf_counter() - t0
    if args.dataset_split:
        inputs = args.dataset_split
    else:
        inputs = dict(calibration=args.calibration, pseudo_labels=args.pseudo_labels,
                      calibration_format=args.calibration_format,
                      calibration_kwargs=dict(image_size=tuple(args.image_size))
                      if args.image_size else None,
                      images=_view_map(args.images, '--images') or None,
                      videos=_view_map(args.videos, '--videos') or None,
                      space_center=args.space_center, space_size=args.space_size)
    try:
        return _run(args, inferencer, inputs, t_init)
    except user_errors as e:
        raise SystemExit(f'tools/demo.py: {e}') from None


def _run(args, inferencer, inputs, t_init):
    gen = inferencer(inputs, out_dir=args.out_dir, batch_size=args.batch_size,
                     max_frames=args.frames, score_thr=args.score_thr,
                     refine=True if args.refine else (False if args.no_refine else None),
                     draw=not args.no_pictures,
                     video=args.video, fps=args.fps, vis_scale=args.vis_scale)
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
