"""Export a trained SelfPose3D for one fixed rig to TorchScript and ONNX (docs/export.md).

    python tools/export.py CONFIG CHECKPOINT (--calibration RIG [--cameras NAME ...]
        [--image-size W H] | --dataset-split test)
        [--space-center X Y Z --space-size X Y Z]  (models that search each frame's space)
        [--format onnx torchscript] [--parts root_stage pose_stage model_heatmaps ...]
        [-o OUT_DIR] [--opset 18] [--batch-size 1] [--no-verify] [--max-error 1e-3]
        [--timing-runs 5]
        [--device cpu] [--cfg-options k=v ...]

Writes ``OUT_DIR/<part>.onnx`` / ``<part>.pt`` for the parts (default: all the model
has: root stage, pose stage, the whole model from heatmaps, and from 2D poses or from
images) and ``OUT_DIR/export.json`` (rig, affines, inputs/outputs, threshold, checks,
timings). Every file is loaded back and compared with PyTorch on new random inputs; the
per-call times (fastest of the timed calls, ms) are printed. CHECKPOINT ``none`` exports
random weights (for trying the pipeline).
"""
import argparse
import json
import os.path as osp

import torch
from mmengine.config import DictAction

from selfpose3d_mm.apis.export import (DEFAULT_OPSET, EXPORT_FORMATS, EXPORT_PARTS,
                                       export_rig_model, load_model_for_export,
                                       rig_of_dataset)
from selfpose3d_mm.io import CalibrationError, load_cameras
from selfpose3d_mm.utils.safe_load import UnsafeCheckpointError


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Export a SelfPose3D model for a fixed rig')
    p.add_argument('config', help='model config file')
    p.add_argument('checkpoint', help="checkpoint file ('none': random weights)")
    rig = p.add_mutually_exclusive_group(required=True)
    rig.add_argument('--calibration', help='calibration file of the rig (any format '
                     'selfpose3d_mm.io.load_cameras reads)')
    rig.add_argument('--dataset-split', choices=['test', 'val', 'train'],
                     help="take the rig of the config dataset's first frame of this split")
    p.add_argument('--calibration-format', default=None, help='format (guessed if omitted)')
    p.add_argument('--space-center', type=float, nargs=3, metavar=('X', 'Y', 'Z'),
                   help="capture space (mm) for a model whose root net searches each "
                   "frame's space (root_head.space_from='frame', e.g. the generalist)")
    p.add_argument('--space-size', type=float, nargs=3, metavar=('X', 'Y', 'Z'))
    p.add_argument('--cameras', nargs='+', default=None,
                   help='with --calibration: the camera names to use, in this order')
    p.add_argument('--image-size', nargs=2, type=int, metavar=('W', 'H'), default=None,
                   help='with --calibration: image size, for formats that do not store it')
    p.add_argument('--format', nargs='+', default=list(EXPORT_FORMATS),
                   choices=list(EXPORT_FORMATS), help='output formats (default: both)')
    p.add_argument('--parts', nargs='+', default=None, choices=list(EXPORT_PARTS),
                   help='parts to export (default: every part the model has)')
    p.add_argument('-o', '--out-dir', default='work_dirs/export', help='output folder')
    p.add_argument('--opset', type=int, default=DEFAULT_OPSET, help='ONNX opset (>= 17)')
    p.add_argument('--batch-size', type=int, default=1,
                   help='batch of the traced example and of the timings')
    p.add_argument('--no-verify', action='store_true',
                   help='do not load the files back and compare them with PyTorch')
    p.add_argument('--max-error', type=float, default=1e-3,
                   help='normalised difference to PyTorch that fails the export '
                   '(default 1e-3; above 1e-4 a warning)')
    p.add_argument('--timing-runs', type=int, default=5,
                   help='timed calls per file (the fastest is reported; 0: no timing)')
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda[:i]'")
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override settings in the config, key=value')
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error('--batch-size must be >= 1')
    if (args.space_center is None) != (args.space_size is None):
        p.error('give both --space-center and --space-size, or neither')
    return args


def _rig(args):
    kwargs = {} if args.image_size is None else dict(image_size=tuple(args.image_size))
    cameras = load_cameras(args.calibration, args.calibration_format, **kwargs)
    if args.cameras:
        names = list(cameras.names or [])
        missing = [n for n in args.cameras if n not in names]
        if missing:
            raise ValueError(f'--cameras {missing} not in {args.calibration} (cameras: '
                             f'{names})')
        cameras = cameras.select_views([names.index(n) for n in args.cameras])
    return cameras


def _summary(part: str, entry: dict, formats) -> str:
    """One line per part: per-call times and the largest normalised error per format."""
    times = ', '.join(f'{k} {v:.1f} ms' for k, v in entry['time_ms'].items())
    errs = []
    for fmt in formats:
        err = {k: v for k, v in entry.get(f'{fmt}_max_error', {}).items()
               if not k.startswith('compared')}
        if err:
            errs.append(f'{fmt} max error {max(err.values()):.1e}')
    return f'{part}: {times or "not timed"}' + (f'; {", ".join(errs)}' if errs else '')


def main(argv=None):
    args = parse_args(argv)
    ckpt = None if args.checkpoint.lower() == 'none' else args.checkpoint
    torch.manual_seed(0)  # random weights (CHECKPOINT none) are the same every run
    try:
        space = None if args.space_center is None else (args.space_center, args.space_size)
        model, cfg = load_model_for_export(args.config, ckpt, args.cfg_options, args.device,
                                           space=space)
        if args.calibration:
            cameras = _rig(args)
            source = dict(calibration=args.calibration, cameras=cameras.names)
        else:
            cameras = rig_of_dataset(cfg, args.dataset_split)
            source = dict(dataset_split=args.dataset_split)
        manifest = export_rig_model(
            model, cameras, args.out_dir, formats=args.format, parts=args.parts,
            opset=args.opset, batch_size=args.batch_size, verify=not args.no_verify,
            timing_runs=args.timing_runs, max_error=args.max_error,
            meta=dict(config=args.config, checkpoint=ckpt, rig_source=source))
    except (FileNotFoundError, ValueError, CalibrationError, UnsafeCheckpointError) as e:
        raise SystemExit(f'tools/export.py: {e}') from None
    for part, entry in manifest['files'].items():
        print(_summary(part, entry, args.format))
    print(f'written: {osp.abspath(args.out_dir)} (export.json: '
          f'{json.dumps(sorted(manifest["files"]))})')
    return manifest


if __name__ == '__main__':
    main()
