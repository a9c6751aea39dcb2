"""Estimate the capture space of a rig and print the config lines to paste.

    python tools/estimate_space.py CALIB [--pseudo-labels F] [--format FMT]
        [--image-size W H] [--cameras NAME ...] [--min-views N] [--person-height MM]
        [--voxel-size MM] [--max-frames N]

From the cameras alone: the floor region seen by >= --min-views cameras within their
working range; with --pseudo-labels: the triangulated people's roots (1-99 %) plus 1 m,
inside that region (selfpose3d_mm/apis/capture_space.py explains both). Prints::

    space_center = (x, y, z)
    space_size = (sx, sy, sz)
    # root cube of 100 mm voxels: cube_shape = (...)

for configs/selfpose3d_custom_rig.py (or any config's ``space_center``/``space_size``).
"""
import argparse
import sys

from selfpose3d_mm.apis.capture_space import estimate_capture_space, format_space_config
from selfpose3d_mm.io import load_cameras


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Estimate the capture space of a rig')
    p.add_argument('calibration', help='calibration file (rig file or any supported format)')
    p.add_argument('--pseudo-labels', default=None, help='pseudo-label file of the rig')
    p.add_argument('--format', default=None,
                   choices=['rig', 'panoptic', 'shelf_campus', 'opencv', 'opencv_yaml'],
                   help='calibration format (guessed when omitted)')
    p.add_argument('--image-size', nargs=2, type=int, metavar=('W', 'H'), default=None,
                   help='image size (Shelf/Campus calibration files do not store it)')
    p.add_argument('--cameras', nargs='+', default=None, help='camera names to use')
    p.add_argument('--min-views', type=int, default=2,
                   help='cameras that must see a floor point (default 2)')
    p.add_argument('--person-height', type=float, default=2000.0,
                   help='z extent of the space in mm (default 2000)')
    p.add_argument('--voxel-size', type=float, default=100.0,
                   help='sizes are rounded up to multiples of it, mm (default 100)')
    p.add_argument('--max-frames', type=int, default=100,
                   help='pseudo-labelled frames triangulated (default 100)')
    p.add_argument('--verbose', action='store_true', help='also print the details')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    kwargs = {}
    if args.image_size is not None:
        kwargs['image_size'] = tuple(args.image_size)
    cams = load_cameras(args.calibration, args.format, **kwargs)
    if args.cameras:
        names = cams.names or [str(i) for i in range(cams.num_views)]
        missing = [n for n in args.cameras if n not in names]
        if missing:
            raise SystemExit(f'estimate_space: cameras {missing} not in {args.calibration} '
                             f'(it has {names})')
        cams = cams.select_views([names.index(n) for n in args.cameras])
    est = estimate_capture_space(cams, args.pseudo_labels, min_views=args.min_views,
                                 person_height=args.person_height,
                                 voxel_size=args.voxel_size, max_frames=args.max_frames)
    print(format_space_config(est))
    if args.verbose or 'note' in est['details']:
        for k, v in est['details'].items():
            print(f'# {k}: {v}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
