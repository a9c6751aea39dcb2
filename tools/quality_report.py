"""A quality report of 3D poses on footage without 3D ground truth.

    # the cameras stored in poses3d.json
    python tools/quality_report.py work_dirs/demo/poses3d.json \
        --pseudo-labels data/my_rig/pseudo_labels.json -o work_dirs/quality
    # an npz (no rig inside): give the calibration
    python tools/quality_report.py poses3d.npz --pseudo-labels pl.json \
        --calibration calib.json -o work_dirs/quality

Writes OUT_DIR/quality.json (schema: selfpose3d_mm/apis/quality_report.py) and
quality_heatmap.png, quality_bone_cv.png, quality_timeline.png; prints the summary.
"""
import argparse


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Label-free quality report of 3D poses')
    p.add_argument('poses', help='poses3d.json or poses3d.npz (tools/demo.py)')
    p.add_argument('--pseudo-labels', required=True,
                   help='pseudo-label file of the same frames (tools/pseudo_label.py)')
    p.add_argument('--calibration', help='calibration file (default: the rigs stored in '
                   'poses3d.json)')
    p.add_argument('--calibration-format', choices=['rig', 'panoptic', 'shelf_campus',
                                                    'opencv'], help='default: guessed')
    p.add_argument('--image-size', type=int, nargs=2, metavar=('W', 'H'),
                   help='image size of Shelf/Campus calibration files (they lack it)')
    p.add_argument('-o', '--out-dir', required=True, help='output folder')
    p.add_argument('--match-gate', type=float, default=0.5,
                   help='largest mean distance of a 3D-2D match, x person size (0.5)')
    p.add_argument('--support-gate', type=float, default=0.05,
                   help='a view supports a joint within this error x person size (0.05)')
    p.add_argument('--bone-cv', type=float, default=0.1,
                   help='flag bones whose length std / mean exceeds this (0.1)')
    p.add_argument('--min-track-frames', type=int, default=10,
                   help='shortest track (frames) whose bones are measured (10)')
    p.add_argument('--fps', type=float, default=30.0,
                   help='frame rate, for the tracker when the file has no ids (30)')
    p.add_argument('--no-plots', action='store_true', help='quality.json only')
    args = p.parse_args(argv)
    if args.match_gate <= 0 or args.support_gate <= 0 or args.bone_cv <= 0 or args.fps <= 0:
        p.error('--match-gate, --support-gate, --bone-cv and --fps must be > 0')
    return args


def main(argv=None):
    args = parse_args(argv)
    from selfpose3d_mm.apis.quality_report import quality_report
    from selfpose3d_mm.io import CalibrationError, PseudoLabelError

    try:
        report = quality_report(
            args.poses, args.pseudo_labels, args.out_dir, calibration=args.calibration,
            calibration_format=args.calibration_format,
            calibration_kwargs=dict(image_size=tuple(args.image_size))
            if args.image_size else None, plots=not args.no_plots,
            match_gate=args.match_gate, support_gate=args.support_gate,
            bone_cv_threshold=args.bone_cv, min_track_frames=args.min_track_frames,
            fps=args.fps)
    except (OSError, ValueError, KeyError, CalibrationError, PseudoLabelError) as e:
        raise SystemExit(f'tools/quality_report.py: {e}') from None
    s = report['summary']
    print(f'{report["num_frames"]} frames ({report["num_frames_with_labels"]} with pseudo '
          f'labels); median reprojection error {s["median_error_px"]} px '
          f'({s["median_error_norm"]} x person size); worst view {s["worst_view"]}, worst '
          f'joint {s["worst_joint"]}; {s["frames_without_people"]} frames without people; '
          f'{s["flagged_bones"]} flagged bones')
    for f in report['files']:
        print(f'  {f}')
    return report


if __name__ == '__main__':
    main()
