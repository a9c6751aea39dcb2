"""Import the 2D detections of another tool (OpenPose, MMPose) into a pseudo-label file
(selfpose3d_mm/io/pseudo_labels.py; COCO-17, frame keys "{frame:08d}" of the custom rig).

    python tools/import_2d.py --format openpose|mmpose \\
        --views cam01=pose/cam01_json cam02=pose/cam02_json ... --out pseudo_labels.json \\
        [--calibration rig.json] [--offsets cam02=3 | --offsets offsets.json|.csv] \\
        [--keypoint-set auto|coco17|coco18|body25|halpe26|wholebody] [--min-score 0.0] \\
        [--match auto|number|index] [--box-score file|mean|one] [--overwrite]

Per camera a folder of per-frame JSON files (OpenPose --write_json; MMPose
pred_out_dir), or for MMPose one video prediction file. Frame f of the rig is each
camera's file numbered f + offset (the number in its name, or its position with
--match index); a frame a camera lacks is a frame in which it sees nobody. With
--calibration the views are written in the rig's camera order, checked against its
camera names, and its image sizes recorded. Prints a summary (frames, people per view,
missing joints, frames missing per camera). Formats and mappings: docs/formats_2d.md.
"""
import argparse
import os.path as osp

from selfpose3d_mm.io import (CALIBRATION_FORMATS, CalibrationError, PseudoLabelError,
                              load_cameras, save_pseudo_labels)
from selfpose3d_mm.io.keypoints2d import (BOX_SCORES, FORMATS_2D, MATCH_MODES,
                                          Keypoints2DError, format_summary, import_2d)
from selfpose3d_mm.skeleton.keypoint_sets import KEYPOINT_SETS
from selfpose3d_mm.utils.cli import parse_view_map

TOOL = 'tools/import_2d.py'


def _view_map(items, flag):
    return parse_view_map(items, flag, TOOL)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='2D detections of OpenPose / MMPose (one folder of per-frame JSON per '
                    'camera) -> a COCO-17 pseudo-label file',
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument('--format', required=True, choices=FORMATS_2D,
                   help='openpose: --write_json files; mmpose: inferencer predictions')
    p.add_argument('--views', nargs='+', required=True, metavar='VIEW=PATH',
                   help='one folder of per-frame JSON files (mmpose: or one video '
                        'prediction file) per camera')
    p.add_argument('-o', '--out', required=True, help='pseudo-label file (.json) to write')
    p.add_argument('--calibration', help='calibration file (rig, Panoptic, Shelf/Campus, '
                   'OpenCV YAML): camera order, names and image sizes')
    p.add_argument('--calibration-format', choices=CALIBRATION_FORMATS,
                   help='default: guessed')
    p.add_argument('--image-size', type=int, nargs=2, metavar=('W', 'H'),
                   help='image size of Shelf/Campus calibration files (they lack it)')
    p.add_argument('--offsets', nargs='+', metavar='CAM=N|FILE',
                   help='frame offset per camera (rig frame f = file number f + N), as '
                        'CAM=N items or one JSON {camera: N} / CSV camera,N file; '
                        'default 0')
    p.add_argument('--match', default='auto', choices=MATCH_MODES,
                   help='file number: the frame number in the file name, or the position '
                        'in name order (auto: number when every camera\'s names carry one)')
    p.add_argument('--keypoint-set', default='auto', choices=['auto'] + list(KEYPOINT_SETS),
                   help='keypoint set of the files (auto: from the joint count)')
    p.add_argument('--min-score', type=float, default=0.0,
                   help='joints scored below this are written invalid')
    p.add_argument('--box-score', default='file', choices=BOX_SCORES,
                   help="person score: 'file' (MMPose bbox_score; 1 for OpenPose, which has "
                        "none), 'mean' of its valid joint scores, or 'one'")
    p.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    return p.parse_args(argv)


def _camera_order(views: dict, args):
    """(views in the rig's order, image sizes, rig cameras without a view)."""
    if not args.calibration:
        return views, None, []
    kwargs = dict(image_size=tuple(args.image_size)) if args.image_size else {}
    cams = load_cameras(args.calibration, args.calibration_format, **kwargs)
    names = cams.names or [str(i) for i in range(cams.num_views)]
    unknown = [v for v in views if v not in names]
    if unknown:
        raise SystemExit(f'{TOOL}: --views: view(s) {unknown} are not cameras of the '
                         f'calibration {args.calibration} (its cameras: {names})')
    order = [n for n in names if n in views]
    sizes = cams.image_size.double().cpu().numpy()[[names.index(n) for n in order]]
    return {n: views[n] for n in order}, sizes, [n for n in names if n not in views]


def main(argv=None):
    args = parse_args(argv)
    views = _view_map(args.views, '--views')
    if osp.exists(args.out) and not args.overwrite:
        raise SystemExit(f'{TOOL}: {args.out} exists (--overwrite replaces it)')
    try:
        views, sizes, unused = _camera_order(views, args)
        labels, summary = import_2d(views, args.format, args.keypoint_set, args.offsets,
                                    args.match, args.min_score, args.box_score, sizes)
        save_pseudo_labels(args.out, labels)
    except (Keypoints2DError, PseudoLabelError, CalibrationError, FileNotFoundError) as e:
        raise SystemExit(f'{TOOL}: {e}') from None
    print(format_summary(summary))
    if unused:
        print(f'  calibration cameras without 2D detections: {unused} (give the dataset '
              f'views={list(views)})')
    print(f'wrote {args.out}: {summary["frames"]} frames x {len(views)} views '
          f'{list(views)}')
    return dict(out=args.out, summary=summary)


if __name__ == '__main__':
    main()
